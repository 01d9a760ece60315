// The systematic scenarios: every way the table below maps or pins a page
// of a file (a source, thread T0 and the NIC), against every operation
// that changes the file's layout (one case per change).  The change is
// made by thread T1, in a second process so its fds are its own; for a
// MAP_DIRECT lease the source's own thread makes it, between its setup and
// what it does after, because the race there is with the NIC and the
// lease-break timer, and a second user thread multiplies the states
// (100,000 to 300,000 a row) without a lock in common to add.  They are
// written from the operations, not from the bugs: no row names a variant
// or a flag.  `npm run scenarios` writes them to scenarios/sys-*.json.

import type { Config, Fault, NicOp, Op, ScenarioFile } from '../models/testcase.ts';

const DAX = 0; // two written pages
const PAGECACHE = 1; // two cached pages
const DAX_SPARSE = 2; // two pages, both holes

const CONFIG: Config = {
  files: [
    { owner: 0, dax: true, reflink: false, size: 2, sparse: false },
    { owner: 0, dax: false, reflink: false, size: 2, sparse: false },
    { owner: 0, dax: true, reflink: false, size: 2, sparse: true },
  ],
  procs: [{ uid: 0, capLease: false }, { uid: 0, capLease: false }],
  blocks: 6,
  leaseBreakTime: 1,
  pmd: true,
};

const FILE_NAMES = ['A DAX file', 'A page-cache file', 'A sparse DAX file'];

// The layout changes, each on fd 0 of T1's process (the source's file),
// or on the file by its name (`changesOf`).  T1 closes its fd after the
// change, so an unlinked file can go once T0 lets it.
export const CHANGES: { name: string; op: Op }[] = [
  { name: 'truncates it to nothing', op: { op: 'truncate', fd: 0, size: 0 } },
  { name: 'truncates it to one page', op: { op: 'truncate', fd: 0, size: 1 } },
  { name: 'punches a hole over page 0', op: { op: 'fallocate', fd: 0, mode: 'punch', off: 0, len: 0 } },
  { name: 'allocates page 1 (fallocate)', op: { op: 'fallocate', fd: 0, mode: 'alloc', off: 1, len: 0 } },
  { name: 'writes page 1 (write(2))', op: { op: 'write', fd: 0, off: 1, val: 9 } },
  { name: 'truncates it by name to one page (truncate(2))', op: { op: 'truncate_path', file: 0, size: 1 } },
  { name: 'unlinks it', op: { op: 'unlink', file: 0 } },
  { name: 'zeroes page 0 (FALLOC_FL_ZERO_RANGE)', op: { op: 'fallocate', fd: 0, mode: 'zero', off: 0, len: 0 } },
  { name: 'collapses page 0 out of it (FALLOC_FL_COLLAPSE_RANGE)', op: { op: 'fallocate', fd: 0, mode: 'collapse', off: 0, len: 0 } },
  { name: 'inserts a hole at page 0 (FALLOC_FL_INSERT_RANGE)', op: { op: 'fallocate', fd: 0, mode: 'insert', off: 0, len: 0 } },
  { name: 'clones page 0 onto page 1 (FICLONERANGE)', op: { op: 'clone', fd: 0, src: 0, soff: 0, doff: 1, len: 1 } },
];

interface Source {
  name: string;
  about: string; // what T0 (and the NIC) do, a clause
  file: number;
  ops: Op[]; // T0, in process 0
  self?: Op[]; // T0 makes the change itself, then does these
  nic?: NicOp[];
  faults?: Fault[];
}

const open = (file: number, write = true): Op => ({ op: 'open', file, write });
const mmap = (fd: number, type: 'shared' | 'private' | 'validate', more: { off?: number; len?: number; direct?: boolean; sync?: boolean; write?: boolean } = {}): Op => ({
  op: 'mmap', fd, off: more.off ?? 0, len: more.len ?? 1, type, sync: more.sync ?? false, direct: more.direct ?? false, write: more.write ?? true,
});
const store = (page = 0, val = 3): Op => ({ op: 'store', map: 0, page, val });
const load = (page = 0): Op => ({ op: 'load', map: 0, page });
const dioRead = (aio: boolean): Op => ({ op: 'dio_read', fd: 1, off: 0, map: 0, page: 0, aio });
const reg = (map = 0, unaligned = false): Op => ({ op: 'reg_mr', map, page: 0, npages: 0, unaligned });
const layoutget: Op = { op: 'layoutget', fd: 0 };
const layoutreturn: Op = { op: 'layoutreturn', fd: 0 };
const setlease = (type: 'rd' | 'wr' | 'unlck'): Op => ({ op: 'fcntl_setlease', fd: 0, type });
const getlease: Op = { op: 'fcntl_getlease', fd: 0 };
const nicWrites: NicOp[] = [{ op: 'rdma_write', mr: 0, page: 0, val: 5, at: 0 }, { op: 'rdma_write', mr: 0, page: 0, val: 6, at: 1 }];

const SOURCES: Source[] = [
  { name: 'store', about: 'stores through a shared mapping of it and loads again', file: DAX, ops: [open(DAX), mmap(0, 'shared'), store(), load()] },
  { name: 'private-copy', about: 'stores through a private mapping of it (a copy) and loads again', file: DAX, ops: [open(DAX), mmap(0, 'private'), store(), load()] },
  { name: 'dio-buffer', about: 'maps it whole (a PMD), stores, and reads a page-cache file with O_DIRECT into the mapping', file: DAX, ops: [open(DAX), open(PAGECACHE), mmap(0, 'shared'), store(), dioRead(false), load()] },
  { name: 'aio-buffer-unmapped', about: 'maps it, stores, submits an AIO O_DIRECT read of a page-cache file into the mapping and unmaps it with the read in flight', file: DAX, ops: [open(DAX), open(PAGECACHE), mmap(0, 'shared'), store(), dioRead(true), { op: 'munmap', map: 0 }] },
  { name: 'aio-buffer-closed', about: 'maps it, stores, submits an AIO O_DIRECT read of a page-cache file into the mapping, and unmaps and closes it with the read in flight', file: DAX, ops: [open(DAX), open(PAGECACHE), mmap(0, 'shared'), store(), dioRead(true), { op: 'munmap', map: 0 }, { op: 'close', fd: 0 }] },
  { name: 'aio-buffer-exit', about: 'maps it, stores, submits an AIO O_DIRECT read of a page-cache file into the mapping and exits with the read in flight', file: DAX, ops: [open(DAX), open(PAGECACHE), mmap(0, 'shared'), store(), dioRead(true), { op: 'exit' }] },
  { name: 'registered', about: 'registers a shared mapping of it for RDMA, which the NIC writes through at time 0 and 1', file: DAX, ops: [open(DAX), mmap(0, 'shared', { len: 0 }), reg(), load()], nic: nicWrites },
  { name: 'registered-copy', about: 'registers a private copy of it for RDMA, which the NIC writes through', file: DAX, ops: [open(DAX), mmap(0, 'private', { len: 0 }), store(), reg(), load()], nic: nicWrites },
  { name: 'registered-copy-dontneed', about: 'registers a private copy of it for RDMA, drops the copy with MADV_DONTNEED, and loads; the NIC writes through the registration', file: DAX, ops: [open(DAX), mmap(0, 'private', { len: 0 }), store(), reg(), { op: 'madvise_dontneed', map: 0, page: 0, npages: 0 }, load()], nic: nicWrites },
  { name: 'uring-copy', about: 'registers a private copy of it with io_uring, reads a page-cache file into it with READ_FIXED, writes it back with WRITE_FIXED to page 1, and loads', file: DAX, ops: [open(DAX), open(PAGECACHE), mmap(0, 'private', { len: 0 }), store(), { op: 'uring_register', map: 0, page: 0, npages: 0 }, { op: 'uring_read_fixed', fd: 1, off: 1, page: 0 }, { op: 'uring_write_fixed', fd: 0, off: 1, page: 0 }, load()] },
  { name: 'clone-shared', about: 'clones it whole onto a sparse DAX file, which shares its blocks, and loads page 1 through a shared mapping before and twice after', file: DAX, ops: [open(DAX), open(DAX_SPARSE), mmap(0, 'shared'), load(1), { op: 'clone', fd: 1, src: 0, soff: 0, doff: 0, len: 0 }, load(1), load(1)] },
  { name: 'clone-dio-buffer', about: 'clones it whole onto a sparse DAX file, maps its page 1, and submits an AIO O_DIRECT write to a page-cache file from it', file: DAX, ops: [open(DAX), open(DAX_SPARSE), open(PAGECACHE), { op: 'clone', fd: 1, src: 0, soff: 0, doff: 0, len: 0 }, mmap(0, 'shared', { off: 1 }), { op: 'dio_write', fd: 2, off: 0, map: 0, page: 0, aio: true }, load()] },
  { name: 'pagecache-registered', about: 'registers a shared mapping of it for RDMA, which the NIC writes through', file: PAGECACHE, ops: [open(PAGECACHE), mmap(0, 'shared', { len: 0 }), reg(), load()], nic: nicWrites },
  { name: 'pagecache-aio', about: 'submits an AIO O_DIRECT write to it from a mapping of it', file: PAGECACHE, ops: [open(PAGECACHE), mmap(0, 'shared', { len: 0 }), { op: 'dio_write', fd: 0, off: 0, map: 0, page: 0, aio: true }, load()] },
  { name: 'map-sync', about: 'maps it MAP_SHARED_VALIDATE|MAP_SYNC and loads', file: PAGECACHE, ops: [open(PAGECACHE), mmap(0, 'validate', { len: 0, sync: true }), load()] },
  { name: 'map-direct', about: 'maps it with MAP_DIRECT and stores, changes it, and loads', file: DAX, ops: [open(DAX), mmap(0, 'validate', { len: 0, direct: true }), store()], self: [load()] },
  { name: 'map-direct-hole', about: 'maps it with MAP_DIRECT and stores into a hole, changes it, and loads', file: DAX_SPARSE, ops: [open(DAX_SPARSE), mmap(0, 'validate', { len: 0, direct: true }), store()], self: [load()] },
  { name: 'map-direct-private', about: 'maps it MAP_PRIVATE|MAP_DIRECT, stores and loads', file: DAX, ops: [open(DAX), mmap(0, 'private', { len: 0, direct: true }), store(), load()] },
  { name: 'map-direct-registered', about: 'registers an unaligned buffer in a MAP_DIRECT mapping of it, which the NIC writes through at time 0 and 1, changes it, then registers a private mapping of a page-cache file', file: DAX, ops: [open(DAX), mmap(0, 'validate', { direct: true }), reg(0, true)], self: [open(PAGECACHE), mmap(1, 'private', { len: 0 }), reg(1)], nic: [{ op: 'rdma_write', mr: 0, page: 0, val: 5, at: 0 }, { op: 'rdma_write', mr: 0, page: 1, val: 6, at: 1 }] },
  { name: 'map-direct-fd-reuse', about: 'maps it with MAP_DIRECT, closes the fd, opens the file again into the same number, and changes it', file: DAX, ops: [open(DAX), mmap(0, 'validate', { len: 0, direct: true, write: false }), { op: 'close', fd: 0 }, open(DAX)], self: [] },
  { name: 'pnfs-layout', about: 'takes a pNFS layout of it (an NFS client\'s LAYOUTGET), waits a second and returns it', file: DAX, ops: [open(DAX), layoutget, { op: 'tick' }, layoutreturn] },
  { name: 'pnfs-layout-again', about: 'takes a pNFS layout of it, and two seconds on, past a recall\'s fence, takes another', file: DAX, ops: [open(DAX), layoutget, { op: 'tick' }, { op: 'tick' }, layoutget] },
  { name: 'pnfs-layout-fault', about: 'maps it, takes a pNFS layout of it, and stores into a hole (a fault that allocates under the layout) and loads', file: DAX_SPARSE, ops: [open(DAX_SPARSE), mmap(0, 'shared'), layoutget, store(), load()] },
  { name: 'pnfs-layout-interrupted', about: 'takes a pNFS layout of it, while T1\'s first allocation fails and a signal hits its first sleep', file: DAX, ops: [open(DAX), layoutget], faults: [{ kind: 'alloc', thread: 1, nth: 0 }, { kind: 'signal', thread: 1, nth: 0 }] },
  { name: 'fcntl-lease', about: 'opens it read-only, takes a write lease, waits for the SIGIO of a break, downgrades the lease and asks which it holds', file: DAX, ops: [open(DAX, false), setlease('wr'), { op: 'sigtimedwait' }, setlease('rd'), getlease] },
  { name: 'fcntl-lease-upgrade', about: 'takes a write lease on a read-only open, breaks it with an O_NONBLOCK read-only open of its own, downgrades, takes the write lease again, waits a second and asks which it holds', file: DAX, ops: [open(DAX, false), setlease('wr'), { op: 'open', file: DAX, write: false, nonblock: true }, setlease('rd'), setlease('wr'), { op: 'tick' }, getlease] },
  { name: 'map-direct-interrupted', about: 'maps it with MAP_DIRECT, while T1\'s first allocation fails and a signal hits its first sleep', file: DAX, ops: [open(DAX), mmap(0, 'validate', { len: 0, direct: true, write: false })], faults: [{ kind: 'alloc', thread: 1, nth: 0 }, { kind: 'signal', thread: 1, nth: 0 }] },
];

export const SYSTEMATIC_PREFIX = 'sys-';

// Each row's scenario, by the name of its file in scenarios/.
export function systematicScenarios(): Map<string, ScenarioFile> {
  return new Map(SOURCES.map((s) => [SYSTEMATIC_PREFIX + s.name, scenarioOf(s)]));
}

// A change names the source's file: by T1's fd 0, or by name.
export function changesOf(file: number): Op[] {
  return CHANGES.map((c) => (c.op.op === 'truncate_path' || c.op.op === 'unlink' ? { ...c.op, file } : c.op));
}

function scenarioOf(s: Source): ScenarioFile {
  const change = { oneOf: changesOf(s.file) };
  const threads: ScenarioFile['threads'] = s.self
    ? [{ proc: 0, loop: false, ops: [...s.ops, change, ...s.self] }]
    : [{ proc: 0, loop: false, ops: s.ops }, { proc: 1, loop: false, ops: [open(s.file), change, { op: 'close', fd: 0 }] }];
  const who = s.self ? 'the change: it' : 'T1, in another process,';
  return {
    about: `${FILE_NAMES[s.file]}: T0 ${s.about}; ${who} ${CHANGES.map((c) => c.name).join(', or ')}${s.self ? '' : ', and closes the file'}`,
    config: CONFIG,
    threads,
    nic: s.nic ?? [],
    faults: s.faults ?? [],
  };
}

// A scenario file as the shipped ones are laid out: a key a line, a
// thread a line.
export function scenarioText(sc: ScenarioFile): string {
  const j = JSON.stringify;
  const threads = sc.threads.map((t) => j(t)).join(',\n             ');
  return `{"about": ${j(sc.about)},\n "config": ${j(sc.config)},\n "threads": [${threads}],\n "nic": ${j(sc.nic)}, "faults": ${j(sc.faults)}}\n`;
}
