// Hand-written programs for the model tests: files, the ops they use
// most, and a test case with its schedule left to the runner.

import type { FallocMode, FileSpec, Op, TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import { expectation, type Expectation } from '../fuzz/conform.ts';

export const dax = (size: number, sparse = false): FileSpec => ({ owner: 0, dax: true, reflink: false, size, sparse });
export const pagecache = (size: number): FileSpec => ({ owner: 0, dax: false, reflink: false, size, sparse: false });

export function tc(files: FileSpec[], threads: Op[][], more: Partial<TestCase> = {}): TestCase {
  return {
    config: { files, procs: [{ uid: 0, capLease: false }], blocks: 8, leaseBreakTime: 45 },
    threads: threads.map((ops) => ({ proc: 0, ops, loop: false })),
    nic: [],
    schedule: [],
    cycle: [],
    faults: [],
    ...more,
  };
}

export const open = (file: number, write = true): Op => ({ op: 'open', file, write });
export const mmap = (fd: number, more: Partial<Extract<Op, { op: 'mmap' }>> = {}): Op => ({ op: 'mmap', fd, off: 0, len: 0, type: 'shared', sync: false, direct: false, write: true, ...more });
export const reg = (map: number, page = 0, npages = 0, unaligned = false): Op => ({ op: 'reg_mr', map, page, npages, unaligned });

// fcntl leases (test/leases.test.ts, and on the real kernel in
// test/conform.test.ts): each program with what the real 6.1 kernel gave.
export const setlease = (type: 'rd' | 'wr' | 'unlck', fd = 0): Op => ({ op: 'fcntl_setlease', fd, type });
export const getlease = (fd = 0): Op => ({ op: 'fcntl_getlease', fd });
export const sigwait: Op = { op: 'sigtimedwait' };
const nonblockRead: Op = { op: 'open', file: 0, write: false, nonblock: true };
// F_RDLCK 0, F_WRLCK 1, F_UNLCK 2; SIGIO 29.
export const LEASE_PROGRAMS: { name: string; ops: Op[]; kernel: (number | string)[] }[] = [
  // a write lease on a read-only open; a read-only O_NONBLOCK open breaks it (downgrade pending: F_GETLEASE says F_RDLCK), SIGIO once, the holder downgrades
  { name: 'downgrade', ops: [open(0, false), setlease('wr'), getlease(), nonblockRead, getlease(), sigwait, sigwait, setlease('rd'), getlease()], kernel: [0, 0, 1, 'EAGAIN', 0, 29, 'EAGAIN', 0, 0] },
  // the holder's own write open waits lease-break-time; the kernel then removes the lease
  { name: 'timeout', ops: [open(0, false), setlease('wr'), open(0, true), getlease(), sigwait], kernel: [0, 0, 1, 2, 29] },
  // truncate(2) by name breaks a read lease and waits as an open for writing does; ftruncate breaks none
  { name: 'truncate', ops: [open(0, false), setlease('rd'), { op: 'truncate_path', file: 0, size: 1 }, getlease(), sigwait], kernel: [0, 0, 0, 2, 29] },
  // no read lease beside a writer, the caller's own open included; a write lease on the only open; F_UNLCK of nothing is EAGAIN
  { name: 'refusals', ops: [open(0, true), setlease('rd'), setlease('wr'), setlease('unlck'), setlease('unlck')], kernel: [0, 'EAGAIN', 0, 0, 'EAGAIN'] },
  // a downgrade answered, the write lease taken again: a second on, the old deadline downgrades it (staleLeaseDowngrade)
  { name: 'stale-downgrade', ops: [open(0, false), setlease('wr'), nonblockRead, setlease('rd'), setlease('wr'), getlease(), { op: 'tick' }, getlease()], kernel: [0, 0, 'EAGAIN', 0, 0, 1, 0, 0] },
];


// fallocate's modes (test/fallocate.test.ts, and on the real kernel in
// test/conform.test.ts): each program with what the real 6.1 kernel gave
// and the file at the end ("<bytes> <dax> <middle byte of each page>").
// A file's pages start as 10 * (file + 1) + page + 1.
export const falloc = (mode: FallocMode, off: number, len = 0, fd = 0): Op => ({ op: 'fallocate', fd, mode, off, len });
const load = (page: number): Op => ({ op: 'load', map: 0, page });
export const FALLOC_PROGRAMS: { name: string; files: FileSpec[]; ops: Op[]; kernel: (number | string)[]; file: string }[] = [
  // page 1 leaves, page 2 moves down into it, under a mapping; a collapse reaching EOF is refused
  { name: 'collapse', files: [dax(3)], ops: [open(0), mmap(0, { len: 1 }), load(1), falloc('collapse', 1), load(1), load(0), falloc('collapse', 1)], kernel: [0, 0, 12, 0, 13, 11, 'EINVAL'], file: '8192 1 11 13' },
  { name: 'collapse, page cache', files: [pagecache(3)], ops: [open(0), mmap(0, { len: 1 }), load(1), falloc('collapse', 1), load(1), load(0), falloc('collapse', 1)], kernel: [0, 0, 12, 0, 13, 11, 'EINVAL'], file: '8192 0 11 13' },
  // a hole opens at page 0; at EOF is refused, and past RLIMIT_FSIZE (four pages) EFBIG
  { name: 'insert', files: [dax(2)], ops: [open(0), mmap(0, { len: 1 }), load(0), falloc('insert', 0), load(0), load(1), falloc('insert', 3), falloc('insert', 1, 1)], kernel: [0, 0, 11, 0, 0, 11, 'EINVAL', 'EFBIG'], file: '12288 1 0 11 12' },
  { name: 'insert, page cache', files: [pagecache(2)], ops: [open(0), mmap(0, { len: 1 }), load(0), falloc('insert', 0), load(0), load(1), falloc('insert', 3), falloc('insert', 1, 1)], kernel: [0, 0, 11, 0, 0, 11, 'EINVAL', 'EFBIG'], file: '12288 0 0 11 12' },
  // zeroed in place; past EOF with KEEP_SIZE the size stays, without it grows
  { name: 'zero', files: [dax(2)], ops: [open(0), falloc('zero', 0), falloc('zero_keep', 2), falloc('unshare_keep', 3), falloc('alloc', 3)], kernel: [0, 0, 0, 0, 0], file: '16384 1 0 12 0 0' },
  // combinations refused, before the file is looked at: a read-only fd gets EBADF only for a mode that passes
  { name: 'refused', files: [dax(1)], ops: [open(0), falloc('punch_nokeep', 0), falloc('zero_punch', 0), falloc('collapse_keep', 0), falloc('unshare_zero', 0), falloc('unshare', 0), open(0, false), falloc('alloc', 0, 0, 1), falloc('collapse_keep', 0, 0, 1)], kernel: [0, 'EOPNOTSUPP', 'EOPNOTSUPP', 'EINVAL', 'EINVAL', 0, 1, 'EBADF', 'EINVAL'], file: '4096 1 11' },
];

// io_uring fixed buffers (test/io_uring.test.ts, and on the real kernel in
// test/conform.test.ts): each program with what the real 6.1 kernel gave.
export const uringReg = (map = 0, page = 0, npages = 0): Op => ({ op: 'uring_register', map, page, npages });
export const uringUnreg: Op = { op: 'uring_unregister' };
export const uringRead = (off: number, page = 0, fd = 0): Op => ({ op: 'uring_read_fixed', fd, off, page });
export const uringWrite = (off: number, page = 0, fd = 0): Op => ({ op: 'uring_write_fixed', fd, off, page });
const store = (page: number, val: number): Op => ({ op: 'store', map: 0, page, val });
export const URING_PROGRAMS: { name: string; files: FileSpec[]; ops: Op[]; kernel: (number | string)[]; file: string }[] = [
  // fs-DAX refused whatever the mapping; nothing registered: the fixed ops find no buffer, unregister none
  { name: 'dax shared', files: [dax(2)], ops: [open(0), mmap(0, { len: 1 }), uringReg(0, 0, 1), uringRead(0), uringWrite(1), uringUnreg], kernel: [0, 0, 'EOPNOTSUPP', 'EFAULT', 'EFAULT', 'ENXIO'], file: '8192 1 11 12' },
  { name: 'dax private, written', files: [dax(2)], ops: [open(0), mmap(0, { type: 'private' }), store(0, 7), uringReg(), uringRead(1), load(0), uringWrite(0)], kernel: [0, 0, 0, 'EOPNOTSUPP', 'EFAULT', 7, 'EFAULT'], file: '8192 1 11 12' },
  // a page-cache file's private mapping: pinned for writing (a private copy made), then refused as file-backed; the copy stays
  { name: 'page cache private', files: [pagecache(2)], ops: [open(0), mmap(0, { type: 'private' }), uringReg(), { op: 'write', fd: 0, off: 0, val: 5 }, load(0)], kernel: [0, 0, 'EOPNOTSUPP', 0, 11], file: '8192 0 5 12' },
  // shared: refused as file-backed once pinned; read-only: FOLL_WRITE faults (EFAULT) first; no mapping at all: EFAULT
  { name: 'page cache shared', files: [pagecache(2)], ops: [open(0), mmap(0, { len: 1 }), uringReg(), open(0, false), mmap(1, { write: false }), uringReg(1), { op: 'munmap', map: 0 }, { op: 'munmap', map: 0 }, uringReg()], kernel: [0, 0, 'EOPNOTSUPP', 1, 0, 'EFAULT', 0, 0, 'EFAULT'], file: '8192 0 11 12' },
  // no buffer: EFAULT before the fd is looked up (6.1); a write to a read-only fd
  { name: 'no buffer', files: [dax(1)], ops: [open(0, false), uringRead(0, 0, 3), uringWrite(0, 0, 0), uringUnreg], kernel: [0, 'EFAULT', 'EFAULT', 'ENXIO'], file: '4096 1 11' },
];

// FICLONERANGE (test/reflink.test.ts, and on the real kernel in
// test/conform.test.ts): each program with what the real 6.1 kernel gave
// and every file at the end.  The guest's XFS has reflink; two DAX files
// share blocks, a write to a shared page copies it first.
export const clone = (fd: number, src: number, soff = 0, doff = 0, len = 0): Op => ({ op: 'clone', fd, src, soff, doff, len });
const write = (fd: number, off: number, val: number): Op => ({ op: 'write', fd, off, val });
const loadOf = (map: number, page: number): Op => ({ op: 'load', map, page });
const sharedThenWritten: Op[] = [open(0), open(1), clone(1, 0), mmap(1), load(0), write(0, 0, 5), load(0), store(0, 7), load(0), write(1, 1, 8)];
export const CLONE_PROGRAMS: { name: string; files: FileSpec[]; ops: Op[]; kernel: (number | string)[]; after: string[] }[] = [
  // file 1 becomes file 0; a write to either afterwards is its own (write(2), then a store through file 1's mapping)
  { name: 'dax', files: [dax(2), dax(2)], ops: sharedThenWritten, kernel: [0, 1, 0, 0, 11, 0, 11, 0, 7, 0], after: ['8192 1 5 12', '8192 1 7 8'] },
  { name: 'page cache', files: [pagecache(2), pagecache(2)], ops: sharedThenWritten, kernel: [0, 1, 0, 0, 11, 0, 11, 0, 7, 0], after: ['8192 0 5 12', '8192 0 7 8'] },
  // DAX with page cache either way, onto a read-only open (EBADF), one page onto itself, a range past EOF, one overlapping within a file; then page 0 onto page 1 of the same file
  { name: 'refused', files: [dax(2), pagecache(2), dax(2)], ops: [open(0), open(1), open(2, false), clone(1, 0), clone(0, 1), clone(2, 0), clone(0, 0, 0, 0, 1), clone(0, 0, 0, 1, 2), clone(0, 2, 1, 0, 2), clone(0, 0, 0, 1, 1)], kernel: [0, 1, 2, 'EINVAL', 'EINVAL', 'EBADF', 'EINVAL', 'EINVAL', 'EINVAL', 0], after: ['8192 1 11 11', '8192 0 21 22', '8192 1 31 32'] },
  // past the destination's EOF (a hole between); from the source's EOF (nothing), past it (EINVAL)
  { name: 'range', files: [dax(2), dax(2)], ops: [open(0), open(1), clone(1, 0, 1, 3, 1), clone(1, 0, 2, 0, 0), clone(1, 0, 3, 0, 0)], kernel: [0, 1, 0, 0, 'EINVAL'], after: ['8192 1 11 12', '16384 1 21 22 0 12'] },
  // a DAX O_DIRECT write from a mapping of the clone to its shared page 1, then FALLOC_FL_UNSHARE_RANGE of the source's page 0
  { name: 'unshare', files: [dax(2), dax(2)], ops: [open(0), open(1), clone(1, 0), mmap(1), load(0), { op: 'dio_write', fd: 1, off: 1, map: 0, page: 0, aio: false }, load(0), falloc('unshare', 0, 0, 0), load(1)], kernel: [0, 1, 0, 0, 11, 0, 11, 0, 11], after: ['8192 1 11 12', '8192 1 11 11'] },
];

// The write(2) that copies file 0's page off the block it shares with
// file 1 leaves file 0's mapping on that block in 6.1
// (`daxCowWriteKeepsMappings`): a load through it reads the old data,
// and once file 1 writes its page in place, file 1's.  Mainline unmaps.
export const STALE_AFTER_COW: { files: FileSpec[]; ops: Op[]; linux61: (number | string)[]; mainline: (number | string)[]; after: string[] } = {
  files: [dax(2), dax(2)],
  ops: [open(0), open(1), mmap(0), mmap(1), clone(1, 0), load(0), loadOf(1, 0), write(0, 0, 5), load(0), loadOf(1, 0), write(1, 0, 7), load(0), loadOf(1, 0)],
  linux61: [0, 1, 0, 0, 0, 11, 11, 0, 11, 11, 0, 7, 7],
  mainline: [0, 1, 0, 0, 0, 11, 11, 0, 5, 11, 0, 5, 7],
  after: ['8192 1 5 12', '8192 1 7 12'],
};

// A refused COLLAPSE_RANGE over a registered page-cache page (conform
// found it, seed 1): 6.1 drops the range from the page cache before the
// collapse's checks (`fallocateFlushesFirst`), so the registration keeps
// the old page and the write after it goes to a fresh one; the NIC's
// write never reaches the file.  The real 6.1 kernel's file at the end.
export const COLLAPSE_REFUSED_PINNED: { testCase: TestCase; linux61: string; unflushed: string } = {
  testCase: {
    ...tc([{ owner: 0, dax: false, reflink: false, size: 3, sparse: true }], [[
      { op: 'open', file: 2, write: true, nonblock: false },
      { op: 'mmap', fd: 0, off: 1, len: 1, type: 'shared', sync: false, direct: true, write: true },
      { op: 'reg_mr', map: 0, page: 1, npages: 1, unaligned: false },
      { op: 'fallocate', fd: 0, mode: 'collapse', off: 1, len: 2 },
      { op: 'write', fd: 0, off: 2, val: 7 },
    ]]),
    nic: [{ op: 'rdma_write', mr: 2, page: 2, val: 5, at: 2 }],
  },
  linux61: '12288 0 0 0 7',
  unflushed: '12288 0 0 0 5',
};

// conform --threads' mutant (test/linearize.test.ts, and on the real kernel in
// test/conform.test.ts): the reference with one wrong answer, a load returning what
// its page held before the last store to it.
export function staleLoads(variant: Variant, t: TestCase, keepRef = false): Expectation {
  const e = expectation(variant, t, keepRef);
  const ops = t.threads[0].ops;
  const last = ops.length - 1;
  if (ops[last]?.op !== 'load') return e;
  const s = ops.map((o, i) => (o.op === 'store' ? i : -1)).filter((i) => i >= 0).pop();
  if (s === undefined) return e;
  const without = expectation(variant, { ...t, threads: [{ ...t.threads[0], ops: ops.filter((_, i) => i !== s) }] });
  return { ...e, steps: e.steps.map((x, i) => (i === last ? { ...x, expected: without.steps[last - 1]?.expected ?? x.expected } : x)) };
}

