// The reference model: what the kernel promises, atomic and lock-free.
//
// The implementation model drives it in lockstep through a small set of
// actions, each called at the implementation step that linearizes it:
//   invoke      syscall entry (fd and mapping lookups, static checks)
//   writeFault  a write fault on one page (allocation, COW, SIGBUS)
//   daxWriteBegin  an O_DIRECT write to a DAX file allocated its block
//   breakLeases __break_lease marks the file's layout leases breaking
//   leaseBreak  __break_lease for an open or truncate marks the fcntl leases
//               it conflicts with
//   leaseTimedOut  the kernel downgraded or removed an fcntl lease whose
//               deadline had passed
//   commit      the operation's one atomic effect, or its dynamic failure
//   dioLand     a device DMA of an O_DIRECT request
//   nicDma      a NIC DMA by IOVA
//   leaseExpire the kernel revokes a lease after lease-break-time
//   complete    syscall return: the result is compared here
// Each action checks the promise; a broken promise is recorded as a
// divergence.  The reference reads the variant's contract and kernel
// version, never its flags.

import type { Contract, KernelVersion } from '../variants/index.ts';
import { HOLDS_FILE_OPS, cloneRange, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_ZERO_RANGE, FALLOC_MODES, LIMITS, fallocRange, initialValue, madviseSpan, mrSpan, uringSpan, type Op, type NicOp, type TestCase } from '../testcase.ts';
import { ANY, HOLE, LEASE_FILE, LEASE_LAYOUT, LEASE_MAP, LEASE_MR, UNWRITTEN, WRITTEN, type Encoding, type AbstractState, type Result } from '../abstract.ts';
import { divergence, type Divergence } from '../../properties/classes.ts';

interface RFile {
  linked: boolean; // it still has its name
  uid: number;
  dax: boolean;
  reflink: boolean;
  size: number;
  state: number[]; // per page, all LIMITS.blockMapPages of them (past pagesPerFile only blocks INSERT_RANGE pushed past EOF)
  page: Page[]; // what each page holds; a page that leaves the file is replaced by a fresh one
  blk: number[]; // DAX: the storage a clone shared the page's with others (an id), 0 for its own
}

interface RFd {
  file: number;
  write: boolean;
  ofid: number; // identity of the open file description
}

interface RMap {
  id: number;
  file: number;
  pgoff: number;
  npages: number;
  shared: boolean;
  direct: boolean;
  sync: boolean;
  write: boolean;
  valid: boolean;
  cow: (Page | null)[];
  forked: boolean[]; // a private copy fork write-protected, until this mapping writes it
  lease: number; // lease id or -1
  ofid: number; // the open file it maps, which it keeps open
  fileWrite: boolean; // that open is for writing
}

interface RProc {
  uid: number;
  capLease: boolean;
  alive: boolean;
  fds: (RFd | null)[];
  maps: RMap[];
  sigio: number[];
  pinned: number; // pages registrations have charged to RLIMIT_MEMLOCK
  ring: RRing | null; // the buffer registered with the process's io_uring
}

// An io_uring registered buffer: the pages it pinned, charged to its
// user's RLIMIT_MEMLOCK until it is unregistered and no request under way
// uses it.
interface RRing {
  targets: Target[];
  uid: number;
  refs: number;
  live: boolean;
}

// An fcntl(F_SETLEASE) lease, held by one open of a file.  A conflicting
// open or truncate(2) breaks it: the holder gets SIGIO and has until the
// deadline (lease-break-time on) to downgrade or give it up.  A downgrade
// deadline is kept once answered, only to know when time still matters
// (conform sleeps a tick for real then); no promise reads it.
interface RFileLease {
  ofid: number;
  file: number;
  type: number; // F_RDLCK or F_WRLCK
  unlockPending: boolean;
  downgradePending: boolean;
  breakDeadline: number; // 0: none
  downgradeDeadline: number; // 0: none
  fasync: { proc: number; fd: number }; // where SIGIO goes
}

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
const SIGIO = 29;

// A layout lease: MAP_DIRECT's, lease_direct's, or a pNFS client's (its
// process) on one file.  A pNFS lease is set before the layout is handed
// out, and holds the block map only once it is (granted).
interface RLease {
  id: number;
  holder: 'map' | 'mr' | 'layout';
  holderId: number;
  granted: boolean;
  file: number;
  breaking: boolean;
  since: number;
  notify: { proc: number; fd: number; ofid: number } | null;
  refs: number; // mappings sharing a MAP_DIRECT lease (fork)
}

// A page of memory: a file's page, or a private copy.  Pins hold the
// object itself, so a page that leaves its file or mapping lives on,
// invisibly, for as long as something pinned it.  A private copy fork
// shares is one object in both processes' mappings until one of them
// writes it (excl: false meanwhile).
interface Page {
  v: number;
  excl?: boolean;
}

export type Target = { kind: 'page'; page: Page } | { kind: 'zero' };

// A new private copy holding `v`, its process's own.
const privateCopy = (v: number): Page => ({ v, excl: true });

interface RMr {
  id: number;
  proc: number;
  span: number;
  targets: Target[];
  revoked: boolean;
  live: boolean;
  lease: number;
}

interface RDio {
  id: number;
  aio: boolean;
  open: RFd; // the open file it was issued on, which AIO keeps open until it completes
  holeRead: boolean; // a read of a hole zeroes the buffer at submission (iomap_dio_hole_actor)
  dir: 'read' | 'write';
  file: number;
  off: number;
  target: Target;
  landed: boolean;
  completed: boolean; // its pin dropped (bio_endio)
}

interface Pending {
  op: Op;
  proc: number;
  fd: RFd | null;
  fdnum: number;
  map: number; // mapping id resolved at entry, -1 if none
  mapFile: number; // that mapping's file, and whether it is shared
  mapShared: boolean;
  mr: number;
  earlyError: string | null;
  earlyAllowed: string[];
  fdPut: boolean; // the call has put its fdget reference
  lateError: string | null; // the error once every fault has passed
  committed: boolean;
  expected: Result;
  interrupted: boolean;
  allocFailed: string[];
  failed: string | null; // dynamic failure decided by a fault (SIGBUS, EFAULT)
  dio: RDio | null; // the O_DIRECT request it issued
  holeRead: boolean; // an O_DIRECT read that found a hole at its lookup
  pins: Target[]; // pages pinned by get_user_pages, in order
  charged: number; // pages a registration charged to RLIMIT_MEMLOCK
  opening: RFd | null; // the open an open(2) makes: a reader or writer from its start
  file: number; // the file truncate(2) names, a writer from its start
  broke: boolean; // it found fcntl leases to break
  killed: boolean; // its thread was killed (exit_group): what it returns reaches no one
  ring: RRing | null; // the registered buffer a fixed read or write uses
  ringTarget: Target | null; // ... and its page
  src: RFd | null; // the open a clone copies from, which it holds like its fd
}

const P = LIMITS.pagesPerFile;

// The errors a fallocate mode that combines exclusive modes may get, or
// none: the promise does not fix which of the two (4.18 and 6.1 test
// one rule at a time, 6.18 switches over the modes).
function fallocModeRefused(mode: number): string[] {
  if (mode & FALLOC_FL_PUNCH_HOLE && (mode & FALLOC_FL_ZERO_RANGE || !(mode & FALLOC_FL_KEEP_SIZE))) return ['EOPNOTSUPP'];
  const only = (m: number, also: number) => mode & m && mode & ~(m | also);
  if (only(FALLOC_FL_COLLAPSE_RANGE, 0) || only(FALLOC_FL_INSERT_RANGE, 0) || only(FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_KEEP_SIZE)) return ['EINVAL', 'EOPNOTSUPP'];
  return [];
}

export class Reference {
  clock = 0;
  readonly lbt: number;
  readonly nblocks: number;
  files: RFile[];
  procs: RProc[];
  leases: RLease[] = [];
  fileLeases: RFileLease[] = [];
  mrs: RMr[] = [];
  inflight: RDio[] = [];
  pending: (Pending | null)[];
  divergence: Divergence | null = null;
  version = 0; // counts the actions taken, so a caller knows when to look again
  lastNicResult: Result | null = null; // what the model's last NIC work request returned
  private nextMap = 0;
  private nextMr = 0;
  private nextOfid = 0;
  private nextLease = 0;
  private userLocked: number[] = new Array(8).fill(0); // io_uring's charge per uid

  constructor(readonly contract: Contract, tc: TestCase, readonly kernel: KernelVersion = 'linux-mainline') {
    this.lbt = tc.config.leaseBreakTime;
    this.nblocks = tc.config.blocks;
    this.files = tc.config.files.map((f, i) => {
      const state = new Array<number>(LIMITS.blockMapPages).fill(HOLE);
      const page = Array.from({ length: LIMITS.blockMapPages }, () => ({ v: 0 }));
      for (let pg = 0; pg < f.size; pg++) {
        if (!f.sparse) {
          state[pg] = WRITTEN;
          page[pg].v = initialValue(i, pg);
        }
      }
      return { linked: true, uid: f.owner, dax: f.dax, reflink: f.reflink, size: f.size, state, page, blk: new Array(LIMITS.blockMapPages).fill(0) };
    });
    this.procs = tc.config.procs.map((p) => ({ uid: p.uid, capLease: p.capLease, alive: true, fds: new Array(LIMITS.fds).fill(null), maps: [], sigio: [], pinned: 0, ring: null }));
    this.pending = new Array(tc.threads.length).fill(null);
  }

  private diverge(cls: Parameters<typeof divergence>[0], message: string, detail?: unknown): void {
    if (!this.divergence) this.divergence = divergence(cls, message, detail);
  }

  // ---- lookups shared with the implementation's index rules ----

  openFds(proc: number): number[] {
    const out: number[] = [];
    this.procs[proc].fds.forEach((f, i) => f && out.push(i));
    return out;
  }

  // The lowest fd neither open nor handed to an open under way.
  private freeFd(proc: number): number {
    const taken = new Set(this.pending.flatMap((q) => (q && q.proc === proc && q.opening && !q.committed ? [q.fdnum] : [])));
    return this.procs[proc].fds.findIndex((f, i) => f === null && !taken.has(i));
  }

  // The opens of files that are still open: by an fd, a mapping, a call
  // under way on an fd, an open(2) under way (one that will fail with
  // EWOULDBLOCK too: it counts until it returns), or AIO in flight.
  private liveOpens(except = -1): Map<number, RFd> {
    const out = new Map<number, RFd>();
    for (const pr of this.procs) {
      for (const f of pr.fds) if (f) out.set(f.ofid, f);
      for (const m of pr.maps) out.set(m.ofid, { file: m.file, write: m.fileWrite, ofid: m.ofid });
    }
    for (const [tid, q] of this.pending.entries()) {
      if (tid === except) continue;
      if (q?.opening) out.set(q.opening.ofid, q.opening);
      if (q?.fd && !q.fdPut && HOLDS_FILE_OPS.has(q.op.op)) out.set(q.fd.ofid, q.fd); // a call holds the file it works on (fdget) until its fdput
      if (q?.src && !q.fdPut) out.set(q.src.ofid, q.src);
    }
    for (const d of this.inflight) if (d.aio) out.set(d.open.ofid, d.open);
    return out;
  }

  // Who has the file open for reading only and for writing (truncate(2)
  // counts as a writer while it runs).
  private openCounts(file: number): { readers: number; writers: number } {
    let readers = 0;
    let writers = 0;
    for (const o of this.liveOpens().values()) {
      if (o.file !== file) continue;
      if (o.write) writers++;
      else readers++;
    }
    for (const q of this.pending) if (q?.op.op === 'truncate_path' && q.file === file) writers++;
    return { readers, writers };
  }

  // An open nothing holds any more takes its fcntl lease with it.
  private closeIfUnused(ofid: number, except = -1): void {
    if (this.liveOpens(except).has(ofid)) return;
    this.fileLeases = this.fileLeases.filter((l) => l.ofid !== ofid);
  }

  private liveMrsOf(proc: number): RMr[] {
    return this.mrs.filter((m) => m.live && m.proc === proc);
  }

  private findMap(id: number): { proc: number; map: RMap } | null {
    for (let p = 0; p < this.procs.length; p++) {
      const m = this.procs[p].maps.find((x) => x.id === id);
      if (m) return { proc: p, map: m };
    }
    return null;
  }

  // A lease that holds the block map: not released or revoked, breaking
  // or not (a pNFS lease once its layout is handed out).
  hasLiveLease(file: number): boolean {
    return this.leases.some((l) => l.file === file && l.granted);
  }

  // Whether the block map of `file` may change now though a lease holds
  // it: the reference's last actions were a write fault that allocated in
  // it, which no upstream kernel recalls a pNFS layout for
  // (fs/xfs/xfs_pnfs.c: "mmap writes would also benefit from this sort of
  // synchronization, but ... we don't bother").
  changeAllowedUnderLease(file: number): boolean {
    return this.faultAllocated.file === file && this.faultAllocated.version === this.version;
  }
  private faultAllocated = { file: -1, version: -1 };

  // Blocks no file uses: a page a clone shares with others counts once.
  private freeBlocks(): number {
    let used = 0;
    const shared = new Set<number>();
    for (const f of this.files) {
      if (!f.dax) continue;
      f.state.forEach((st, pg) => {
        if (st === HOLE) return;
        if (f.blk[pg] === 0) used++;
        else shared.add(f.blk[pg]);
      });
    }
    return this.nblocks - used - shared.size;
  }

  // Whether some written page of the file shares its storage with another.
  sharesStorage(file: number): boolean {
    const f = this.files[file];
    return f.blk.some((b) => b > 0) && f.state.some((_, pg) => this.sharedPage(f, pg));
  }

  // A written DAX page whose storage another file page shares: a write
  // to it needs a block of its own first (copy-on-write).
  private sharedPage(f: RFile, pg: number): boolean {
    if (!f.dax || f.state[pg] !== WRITTEN || f.blk[pg] === 0) return false;
    let n = 0;
    for (const g of this.files) g.state.forEach((st, q) => st === WRITTEN && g.blk[q] === f.blk[pg] && n++);
    return n > 1;
  }

  // The copy-on-write of a shared page, false if no block is free.
  private unshare(f: RFile, pg: number): boolean {
    if (!this.sharedPage(f, pg)) return true;
    if (this.freeBlocks() === 0) return false;
    f.blk[pg] = 0;
    return true;
  }

  private p(tid: number): Pending {
    const p = this.pending[tid];
    if (!p) throw new Error(`reference: thread ${tid} has no pending operation`);
    return p;
  }

  // ---- invoke ----

  // The fd and the mapping an op names (an index modulo what the process
  // has), resolved at entry; false if it has none.
  private resolveFd(p: Pending, pr: RProc): boolean {
    const fds = this.openFds(p.proc);
    if (fds.length === 0) return false;
    p.fdnum = fds[(p.op as { fd: number }).fd % fds.length];
    p.fd = pr.fds[p.fdnum];
    return true;
  }

  private resolveMap(p: Pending, pr: RProc): boolean {
    if (pr.maps.length === 0) return false;
    const m = pr.maps[(p.op as { map: number }).map % pr.maps.length];
    p.map = m.id;
    p.mapFile = m.file;
    p.mapShared = m.shared;
    return true;
  }

  invoke(tid: number, proc: number, op: Op): void {
    this.version++;
    const p: Pending = {
      op, proc, fd: null, fdnum: -1, map: -1, mapFile: -1, mapShared: false, mr: -1, earlyError: null, earlyAllowed: [], fdPut: false, lateError: null, charged: 0,
      committed: false, expected: ANY, interrupted: false, allocFailed: [], failed: null, dio: null, holeRead: false, pins: [],
      opening: null, file: -1, broke: false, ring: null, ringTarget: null, killed: false, src: null,
    };
    this.pending[tid] = p;
    const pr = this.procs[proc];
    switch (op.op) {
      case 'open': {
        // get_unused_fd_flags, then do_dentry_open counts the file open
        p.fdnum = this.freeFd(proc);
        if (p.fdnum < 0) { p.earlyError = 'EMFILE'; break; }
        if (!this.files[op.file % this.files.length].linked) { p.earlyError = 'ENOENT'; break; }
        p.opening = { file: op.file % this.files.length, write: op.write, ofid: this.nextOfid++ };
        break;
      }
      case 'truncate_path':
      case 'unlink':
        p.file = op.file % this.files.length;
        if (!this.files[p.file].linked) p.earlyError = 'ENOENT';
        break;
      case 'fork':
      case 'tick':
      case 'sigtimedwait':
        break;
      case 'fcntl_setlease':
        if (!this.resolveFd(p, pr)) p.earlyError = 'EBADF';
        else if (this.files[p.fd!.file].uid !== pr.uid && !pr.capLease) p.earlyError = 'EACCES';
        break;
      case 'fcntl_getlease':
        if (!this.resolveFd(p, pr)) p.earlyError = 'EBADF';
        break;
      case 'close':
        if (!this.resolveFd(p, pr)) p.earlyError = 'EBADF';
        break;
      case 'mmap': {
        if (!this.resolveFd(p, pr)) { p.earlyError = 'EBADF'; break; }
        const f = this.files[p.fd!.file];
        const shared = op.type !== 'private';
        // mm/mmap.c do_mmap: unknown MAP_SHARED_VALIDATE flags first, then PROT_WRITE
        if (op.type === 'validate' && op.direct && this.contract === 'upstream') p.earlyError = 'EOPNOTSUPP';
        else if (shared && op.write && !p.fd!.write) p.earlyError = 'EACCES';
        else if (op.sync && !f.dax) p.earlyError = 'EOPNOTSUPP'; // VM_SYNC whatever the type: xfs_file_mmap refuses it without DAX
        else if (op.type === 'validate' && op.direct && (!f.dax || f.reflink)) p.earlyError = 'EPERM';
        else if (op.type === 'validate' && op.direct && f.uid !== pr.uid && !pr.capLease) p.earlyError = 'EACCES';
        break;
      }
      case 'munmap':
        if (!this.resolveMap(p, pr)) p.earlyError = 'EINVAL';
        break;
      case 'madvise_dontneed':
        this.resolveMap(p, pr);
        break;
      case 'load':
        if (!this.resolveMap(p, pr)) p.earlyError = 'SIGSEGV';
        break;
      case 'store':
        if (!this.resolveMap(p, pr) || !this.findMap(p.map)!.map.write) p.earlyError = 'SIGSEGV';
        break;
      case 'write':
        if (!this.resolveFd(p, pr) || !p.fd!.write) p.earlyError = 'EBADF';
        break;
      // with no mapping, the buffer is unmapped: the pin fails (EFAULT),
      // unless a read at the end of the file returns 0 before pinning
      case 'dio_read':
        if (!this.resolveFd(p, pr)) p.earlyError = 'EBADF';
        else this.resolveMap(p, pr);
        break;
      case 'dio_write':
        if (!this.resolveFd(p, pr) || !p.fd!.write) p.earlyError = 'EBADF';
        else this.resolveMap(p, pr);
        break;
      case 'truncate':
        if (!this.resolveFd(p, pr)) p.earlyError = 'EBADF';
        else if (!p.fd!.write) p.earlyError = 'EINVAL';
        break;
      case 'clone': {
        // the ioctl's fd, the source's, then generic_file_rw_checks
        const fds = this.openFds(proc);
        if (!this.resolveFd(p, pr)) { p.earlyError = 'EBADF'; break; }
        p.src = pr.fds[fds[op.src % fds.length]];
        if (!p.fd!.write) p.earlyError = 'EBADF';
        break;
      }
      case 'fallocate': {
        // a combination of exclusive modes is refused, EINVAL or EOPNOTSUPP as the version tests it
        const refused = fallocModeRefused(FALLOC_MODES[op.mode]);
        if (!this.resolveFd(p, pr)) p.earlyError = 'EBADF';
        else if (refused.length) {
          p.earlyError = refused[0];
          p.earlyAllowed.push(...refused.slice(1));
        } else if (!p.fd!.write) p.earlyError = 'EBADF';
        break;
      }
      case 'reg_mr': {
        // RLIMIT_MEMLOCK is checked before anything is looked up
        const mapped = this.resolveMap(p, pr);
        const { first, span } = mrSpan(op, mapped ? this.findMap(p.map)!.map.npages : null);
        if (pr.pinned + span > LIMITS.memlockPages) { p.earlyError = 'ENOMEM'; break; }
        if (!mapped) { p.earlyError = 'EFAULT'; break; }
        pr.pinned += span;
        p.charged = span;
        const m = this.findMap(p.map)!.map;
        const f = this.files[m.file];
        // 6.18 refuses a long-term write pin of a file that needs dirty
        // tracking: a shared mapping of a page-cache file
        if (!f.dax && m.shared && this.kernel === 'linux-mainline') p.earlyError = 'EFAULT';
        else if (f.dax && this.contract === 'mapdirect') {
          // with lease_direct, a DAX registration must come from a MAP_DIRECT
          // mapping; a revision may defer lease_direct altogether (v9)
          if (!m.direct) p.earlyError = 'EOPNOTSUPP';
          else p.earlyAllowed.push('EOPNOTSUPP');
        } else if (f.dax && this.kernel === 'linux-4.18') {
          p.lateError = 'EOPNOTSUPP'; // get_user_pages_longterm faults the range in, then refuses any fs-DAX vma
        } else if (f.dax) {
          // FOLL_LONGTERM refuses fs-DAX but for private copies the lockless
          // walk pins (present and writable: not write-protected by a fork)
          let copies = !m.shared;
          let forked = false;
          for (let pg = first; pg < first + span; pg++) {
            if (!m.cow[pg]) copies = false;
            else if (m.forked[pg]) forked = true;
          }
          if (!copies) p.earlyError = 'EOPNOTSUPP';
          else if (forked) p.earlyAllowed.push('EOPNOTSUPP');
        }
        break;
      }
      case 'uring_register':
        if (this.kernel === 'linux-4.18') p.earlyError = 'ENOSYS';
        else this.resolveMap(p, pr);
        break;
      case 'uring_unregister':
        if (this.kernel === 'linux-4.18') p.earlyError = 'ENOSYS';
        else if (!pr.ring) p.earlyError = 'ENXIO';
        break;
      case 'uring_read_fixed':
      case 'uring_write_fixed': {
        // 6.1 finds the buffer slot empty at prep, before the file
        const ring = pr.ring;
        if (this.kernel === 'linux-4.18') p.earlyError = 'ENOSYS';
        else if (!ring && this.kernel === 'linux-6.1') p.earlyError = 'EFAULT';
        else if (!this.resolveFd(p, pr)) p.earlyError = 'EBADF';
        else if (!ring) p.earlyError = 'EFAULT';
        else if (op.op === 'uring_write_fixed' && !p.fd!.write) p.earlyError = 'EBADF';
        else {
          ring.refs++;
          p.ring = ring;
          p.ringTarget = ring.targets[op.page % ring.targets.length];
        }
        break;
      }
      case 'layoutget':
      case 'layoutreturn':
        if (!this.resolveFd(p, pr)) p.earlyError = 'EBADF';
        break;
      case 'fcntl_map_direct':
        p.earlyError = this.resolveFd(p, pr) ? 'EINVAL' : 'EBADF'; // no such fcntl command in the final API
        break;
      case 'dereg_mr': {
        const mine = this.liveMrsOf(proc);
        if (mine.length === 0) p.earlyError = 'ENOENT'; // no registration: a handle the kernel never gave
        else p.mr = mine[op.mr % mine.length].id;
        break;
      }
    }
  }

  // A long-term pin of a buffer begins (io_uring's, under its lock):
  // what it may end in, but EBUSY and RLIMIT_MEMLOCK (decided later), from
  // the mapping as it is now.  Each version refuses a long-term pin of
  // fs-DAX; 6.1 refuses every file mapping once its pages are pinned
  // (private copies made), mainline a shared page-cache mapping (dirty
  // tracking), and a private DAX mapping but for the private copies the
  // lockless walk pins, part of the buffer pinned being EFAULT.
  pinBegin(tid: number): void {
    this.version++;
    const p = this.p(tid);
    const op = p.op as Extract<Op, { op: 'uring_register' }>;
    const m = this.findMap(p.map)!.map;
    const f = this.files[m.file];
    if (this.kernel === 'linux-6.1' || (f.dax && m.shared)) { p.lateError = 'EOPNOTSUPP'; return; }
    if (!f.dax) {
      if (m.shared) p.lateError = 'EFAULT';
      return;
    }
    // a copy fork shared may be write-protected: the walk may stop there
    const { first, span } = uringSpan(op, m.npages);
    let lo = 0;
    while (lo < span && m.cow[first + lo] && !m.forked[first + lo]) lo++;
    let hi = lo;
    while (hi < span && m.cow[first + hi]) hi++;
    const outcomes = new Set<string>();
    for (let n = lo; n <= hi; n++) outcomes.add(n === span ? 'ok' : n === 0 ? 'EOPNOTSUPP' : 'EFAULT');
    if (!outcomes.delete('ok')) {
      const [first_, ...rest] = [...outcomes];
      p.lateError = first_;
      p.earlyAllowed.push(...rest);
    } else p.earlyAllowed.push(...outcomes);
  }

  // ---- lease breaks and faults ----

  // __break_lease: every active lease on the file starts breaking; the
  // holder of a MAP_DIRECT lease gets SIGIO if the fd it mapped with is
  // still the one it opened.
  breakLeases(file: number): void {
    this.version++;
    this.startBreak(file);
  }

  private startBreak(file: number): void {
    for (const l of this.leases) {
      if (l.file !== file || l.breaking) continue;
      l.breaking = true;
      l.since = this.clock;
      if (l.notify && this.procs[l.notify.proc].fds[l.notify.fd]?.ofid === l.notify.ofid) {
        this.procs[l.notify.proc].sigio.push(l.notify.fd);
      }
    }
  }

  // An open(2) or truncate(2) breaks the fcntl leases it conflicts with:
  // all of them for writing, write leases for reading.  Each holder gets
  // SIGIO the first time; the break has a deadline lease-break-time on.
  // With O_NONBLOCK the open then fails (EWOULDBLOCK); otherwise it may
  // take effect only once no such lease is left.
  leaseBreak(tid: number, file: number, write: boolean): void {
    this.version++;
    const p = this.p(tid);
    let conflicts = false;
    for (const l of this.fileLeases) {
      if (l.file !== file || !(write || l.type === F_WRLCK)) continue;
      conflicts = true;
      if (write) {
        if (l.unlockPending) continue;
        l.unlockPending = true;
        l.breakDeadline = this.clock + this.lbt;
      } else {
        if (l.unlockPending || l.downgradePending) continue;
        l.downgradePending = true;
        l.downgradeDeadline = this.clock + this.lbt;
      }
      this.procs[l.fasync.proc].sigio.push(-1);
    }
    if (!conflicts) this.diverge('result-mismatch', `${p.op.op} broke the leases on file ${file}, none of which it conflicts with`, { thread: tid });
    p.broke = true;
    if (p.op.op === 'open' && p.op.nonblock) p.earlyError = 'EAGAIN';
  }

  // The kernel downgraded (F_RDLCK) or removed (F_UNLCK) the fcntl lease
  // of open `ofid`: only once a break's deadline has passed, and only what
  // that break asked for.
  leaseTimedOut(ofid: number, to: number): void {
    this.version++;
    const l = this.fileLeases.find((x) => x.ofid === ofid);
    if (!l) {
      this.diverge('result-mismatch', `kernel timed out the lease of open ${ofid}, which holds none`);
      return;
    }
    const deadline = to === F_UNLCK ? l.breakDeadline : l.downgradeDeadline;
    if (deadline === 0 || this.clock < deadline) this.diverge('result-mismatch', `kernel timed out the lease of open ${ofid} at t=${this.clock}, before its deadline ${deadline}`);
    if (to === F_UNLCK) {
      if (!l.unlockPending) this.diverge('result-mismatch', `kernel removed the lease of open ${ofid}, which nothing was breaking`);
      this.fileLeases = this.fileLeases.filter((x) => x !== l);
      return;
    }
    if (l.downgradePending) {
      l.type = F_RDLCK;
      l.downgradePending = false;
    } else if (l.type === F_WRLCK) {
      this.diverge('result-mismatch', `kernel downgraded the write lease of open ${ofid} to a read lease though no break asked for it (the deadline of a break its holder had answered, t=${deadline})`);
      l.type = F_RDLCK;
    }
  }

  // How a failed fault surfaces: a signal for a CPU access, EFAULT for
  // get_user_pages.
  private faultFails(p: Pending, unmapped: boolean): false {
    const cpu = p.op.op === 'load' || p.op.op === 'store';
    p.failed = cpu ? (unmapped ? 'SIGSEGV' : 'SIGBUS') : 'EFAULT';
    return false;
  }

  // An O_DIRECT read of a hole or unwritten extent into a buffer it cannot
  // reach: a short read on DAX (dax_iomap_iter), and on a page-cache file
  // in 4.18, whose iomap_dio_actor returns what iov_iter_zero zeroed; 6.1
  // and later fail it with EFAULT (iomap_dio_hole_iter).
  private holeReadIsShort(file: number, off: number): boolean {
    const f = this.files[file];
    return (f.dax || this.kernel === 'linux-4.18') && f.size > 0 && f.state[off % f.size] !== WRITTEN;
  }

  // The implementation's O_DIRECT read found a hole or unwritten extent at
  // its lookup (iomap_begin): the reference must see one too, and the read
  // then zeroes the buffer whatever comes later.
  dioHoleRead(tid: number): void {
    this.version++;
    const p = this.p(tid);
    const f = p.fd ? this.files[p.fd.file] : null;
    if (p.op.op !== 'dio_read' || !f || f.size === 0 || f.state[p.op.off % f.size] === WRITTEN) {
      this.diverge('result-mismatch', `${p.op.op} read a hole where the file has data`, { thread: tid });
      return;
    }
    p.holeRead = true;
  }

  // An O_DIRECT write to a DAX file copies into a block that iomap_begin
  // allocates, zeroes and marks written first (XFS_BMAPI_ZERO for
  // IOMAP_DAX), so a copy that then faults on its buffer leaves it so.
  daxWriteBegin(tid: number): void {
    this.version++;
    const p = this.p(tid);
    if (p.op.op !== 'dio_write') return;
    const f = this.files[p.fd!.file];
    const pg = f.size ? p.op.off % f.size : 0; // a write to an empty file writes its first page, past EOF until it lands
    if (this.sharedPage(f, pg)) {
      this.unshare(f, pg);
      return;
    }
    if (f.state[pg] === HOLE && this.freeBlocks() === 0) return;
    f.state[pg] = WRITTEN;
    f.page[pg].v = 0;
  }

  // A write fault on page `page` of a shared DAX mapping may map the whole
  // PMD around it, and allocates (zeroed) the hole or unwritten extent at
  // the PMD's start to do so: page `other` of the mapping, in the same PMD
  // and below EOF, gets a zeroed block.
  hugeFaultAllocates(tid: number, mapId: number, page: number, other: number): void {
    this.version++;
    const found = this.findMap(mapId);
    const m = found?.map;
    const f = m ? this.files[m.file] : null;
    const pmd = (q: number) => Math.floor((m!.pgoff + q) / LIMITS.pmdPages);
    const pg = m ? m.pgoff + other : -1;
    if (!m || !f || !f.dax || !m.shared || !m.write || !m.valid || other < 0 || other >= m.npages || pmd(other) !== pmd(page) || pg >= f.size || f.state[pg] === WRITTEN || (f.state[pg] === HOLE && this.freeBlocks() === 0)) {
      this.diverge('result-mismatch', `a write fault on page ${page} of mapping ${mapId} allocated page ${other}, outside the PMD it may fill`, { thread: tid });
      return;
    }
    f.state[pg] = WRITTEN;
    f.page[pg].v = 0;
    this.faultAllocated = { file: m.file, version: this.version };
  }

  // nfsd set the lease for a pNFS client's first layout of the file,
  // before it takes the IOLOCK to hand the layout out; refused
  // (NFS4ERR_DELAY) while another lease on the file is being broken.
  layoutSetlease(tid: number): void {
    this.version++;
    const p = this.p(tid);
    const file = p.fd!.file;
    if (this.leases.some((l) => l.file === file && l.breaking) || this.fileLeases.some((l) => l.file === file && l.unlockPending)) {
      p.earlyError = 'NFS4ERR_DELAY';
      return;
    }
    this.leases.push({ id: this.nextLease++, holder: 'layout', holderId: p.proc, granted: false, file, breaking: false, since: 0, notify: null, refs: 1 });
  }

  private layoutOf(proc: number, file: number): RLease | undefined {
    return this.leases.find((l) => l.holder === 'layout' && l.holderId === proc && l.file === file);
  }

  // A read fault on page `page` of mapping `mapId`: SIGBUS past EOF or on
  // a revoked mapping.
  readFault(tid: number, mapId: number, page: number): boolean {
    this.version++;
    const p = this.p(tid);
    const found = this.findMap(mapId);
    if (!found) return this.faultFails(p, true);
    const m = found.map;
    if (!m.valid || m.pgoff + page >= this.files[m.file].size) return this.faultFails(p, false);
    return true;
  }

  // A write fault (a store, or gup with FOLL_WRITE) on page `page` of
  // mapping `mapId`: copy-on-write, or allocation of a hole or unwritten
  // extent.  Under a layout lease such a fault starts the lease break and
  // fails (MAP_DIRECT, 004).
  writeFault(tid: number, mapId: number, page: number): boolean {
    this.version++;
    // the fault that just allocated (the rest of a PMD) goes on
    if (this.faultAllocated.version === this.version - 1) this.faultAllocated.version = this.version;
    const p = this.p(tid);
    const found = this.findMap(mapId);
    if (!found) return this.faultFails(p, true);
    const m = found.map;
    const f = this.files[m.file];
    const pg = m.pgoff + page;
    if (!m.write) return this.faultFails(p, true);
    // a copy already there is the process's page: no file, no EOF
    if (!m.shared && m.cow[page]) {
      this.ownCopy(m, page);
      m.forked[page] = false;
      return true;
    }
    if (!m.valid || pg >= f.size) return this.faultFails(p, false);
    if (!m.shared) {
      m.cow[page] = privateCopy(f.page[pg].v);
      m.forked[page] = false;
      return true;
    }
    if (this.sharedPage(f, pg)) {
      if (!this.unshare(f, pg)) return this.faultFails(p, false);
      this.faultAllocated = { file: m.file, version: this.version };
      return true;
    }
    if (f.state[pg] === WRITTEN) return true;
    // MAP_DIRECT's iomap_begin breaks every layout lease on the file (004)
    if (f.dax && this.contract === 'mapdirect' && this.leases.some((l) => l.file === m.file)) {
      this.startBreak(m.file);
      return this.faultFails(p, false);
    }
    if (f.dax && f.state[pg] === HOLE && this.freeBlocks() === 0) return this.faultFails(p, false);
    f.state[pg] = WRITTEN;
    f.page[pg].v = 0;
    this.faultAllocated = { file: m.file, version: this.version };
    return true;
  }

  // Whether fork finds a private copy pinned for DMA (FOLL_PIN): by a
  // registration (not in 4.18, which has no FOLL_PIN), or by an O_DIRECT
  // request not yet completed where O_DIRECT pins (mainline).
  private pinnedForDma(copy: Page): boolean {
    if (this.kernel === 'linux-4.18') return false;
    const dio = this.kernel === 'linux-mainline';
    const holds = (ts: Target[]) => ts.some((x) => x.kind === 'page' && x.page === copy);
    if (this.mrs.some((mr) => mr.live && !mr.revoked && holds(mr.targets))) return true;
    if (this.procs.some((x) => x.ring && holds(x.ring.targets))) return true;
    if (this.pending.some((q) => q?.ring && !q.ring.live && holds(q.ring.targets))) return true;
    if (dio && this.inflight.some((d) => !d.completed && holds([d.target]))) return true;
    return this.pending.some((p) => p !== null && !p.committed && p.failed === null && p.allocFailed.length === 0 &&
      (p.op.op === 'reg_mr' || p.op.op === 'uring_register' || (dio && (p.op.op === 'dio_read' || p.op.op === 'dio_write') && !this.files[p.fd!.file].dax)) && holds(p.pins));
  }

  // An unshare fault: a FOLL_PIN read pin of a copy fork shared makes it
  // the process's own, leaving it read-only.
  unshareFault(tid: number, mapId: number, page: number): void {
    this.version++;
    const m = this.findMap(mapId)?.map;
    const copy = m?.cow[page];
    if (!m || !copy || this.kernel === 'linux-4.18') {
      this.diverge('result-mismatch', `an unshare fault on page ${page} of mapping ${mapId}, which holds no copy fork shared`, { thread: tid });
      return;
    }
    this.ownCopy(m, page);
  }

  // The mapping's copy of `page` becomes its own: a copy fork shared is
  // copied (one that no one else references could be kept instead, and no
  // one could tell).
  private ownCopy(m: RMap, page: number): void {
    const copy = m.cow[page]!;
    if (!copy.excl) m.cow[page] = privateCopy(copy.v);
  }

  // get_user_pages took a reference on page `page` of mapping `mapId`.
  // A pin of a page that already left the file is recorded as detached:
  // whatever reaches it lands nowhere a user can see.
  pin(tid: number, mapId: number, page: number, write: boolean): void {
    this.version++;
    const p = this.p(tid);
    const found = this.findMap(mapId);
    if (!found) {
      p.pins.push({ kind: 'zero' });
      return;
    }
    const m = found.map;
    const f = this.files[m.file];
    const pg = m.pgoff + page;
    const copy = m.shared ? null : m.cow[page];
    if (copy) p.pins.push({ kind: 'page', page: copy });
    else if (!m.shared && write) {
      this.diverge('result-mismatch', 'get_user_pages pinned a private page for writing without breaking copy-on-write');
      p.pins.push({ kind: 'zero' });
    }
    else if (pg < f.size && f.state[pg] === WRITTEN) p.pins.push({ kind: 'page', page: f.page[pg] });
    else if (write) p.pins.push({ kind: 'page', page: { v: 0 } }); // not the file's: nothing reaches it
    else p.pins.push({ kind: 'zero' });
  }

  // get_user_pages_fast backed off the page it read from the pte (its
  // recheck saw the pte change, or the page was being freed): the pin
  // taken at the pte read is dropped, and the slow path pins afresh.
  unpin(tid: number): void {
    this.version++;
    this.p(tid).pins.pop();
  }

  // ---- commit: the one atomic effect ----

  commit(tid: number): number {
    this.version++;
    const p = this.p(tid);
    if (p.committed) throw new Error(`reference: ${p.op.op} of thread ${tid} committed twice`);
    p.committed = true;
    if (p.interrupted) this.diverge('result-mismatch', `${p.op.op} took effect after a signal interrupted its wait (expected EINTR)`);
    if (p.earlyError !== null) {
      p.expected = p.earlyError;
      return -1;
    }
    if (p.op.op === 'uring_register' && this.procs[p.proc].ring) {
      p.expected = 'EBUSY';
      return -1;
    }
    // a DAX read of a hole zeroes the buffer with iov_iter_zero, which
    // stops where the buffer cannot be reached (a fault that failed, or
    // could not allocate): a short read, no error
    if (p.op.op === 'dio_read' && p.pins.length === 0 && this.holeReadIsShort(p.fd!.file, p.op.off)) {
      p.expected = 0;
      return -1;
    }
    if (p.failed !== null || p.lateError !== null) {
      p.expected = (p.failed ?? p.lateError)!;
      return -1;
    }
    const op = p.op;
    const pr = this.procs[p.proc];
    switch (op.op) {
      case 'open': {
        const o = p.opening!;
        this.noConflictingLease(p, o.file, o.write);
        pr.fds[p.fdnum] = o;
        p.expected = p.fdnum;
        break;
      }
      case 'close': {
        // close(2) holds no reference of its own (filp_close, no fdget)
        pr.fds[p.fdnum] = null;
        this.closeIfUnused(p.fd!.ofid, tid);
        p.expected = 0;
        break;
      }
      case 'fcntl_setlease':
        p.expected = this.setlease(p, op.type === 'rd' ? F_RDLCK : op.type === 'wr' ? F_WRLCK : F_UNLCK);
        break;
      case 'fcntl_getlease': {
        const l = this.fileLeases.find((x) => x.ofid === p.fd!.ofid);
        p.expected = !l || l.unlockPending ? F_UNLCK : l.downgradePending ? F_RDLCK : l.type;
        break;
      }
      case 'sigtimedwait':
        p.expected = pr.sigio.length ? SIGIO : 'EAGAIN';
        pr.sigio = [];
        break;
      case 'mmap': {
        if (pr.maps.length >= LIMITS.mapsPerProc) { p.expected = 'ENOMEM'; break; }
        const fd = p.fd!;
        const direct = this.contract === 'mapdirect' && op.type === 'validate' && op.direct;
        const npages = 1 + (op.len % LIMITS.mapPages);
        const m: RMap = {
          id: this.nextMap++, file: fd.file, pgoff: op.off % P, npages, shared: op.type !== 'private', direct,
          sync: op.sync, write: op.write, valid: true, cow: new Array(npages).fill(null), forked: new Array(npages).fill(false), lease: -1,
          ofid: fd.ofid, fileWrite: fd.write,
        };
        if (direct) {
          const l: RLease = { id: this.nextLease++, holder: 'map', holderId: m.id, granted: true, file: fd.file, breaking: false, since: 0, notify: { proc: p.proc, fd: p.fdnum, ofid: fd.ofid }, refs: 1 };
          this.leases.push(l);
          m.lease = l.id;
        }
        pr.maps.push(m);
        p.expected = m.id;
        break;
      }
      case 'munmap': {
        const i = pr.maps.findIndex((m) => m.id === p.map);
        if (i >= 0) this.unmap(pr.maps.splice(i, 1)[0]);
        p.expected = 0;
        break;
      }
      case 'madvise_dontneed': {
        // the private copies go; the next access reads the file again
        const found = this.findMap(p.map);
        if (!found) { p.expected = 'ENOMEM'; break; }
        const m = found.map;
        const { first, span } = madviseSpan(op, m.npages);
        for (let pg = first; pg < first + span; pg++) {
          m.cow[pg] = null;
          m.forked[pg] = false;
        }
        p.expected = 0;
        break;
      }
      case 'fork': {
        if (this.procs.length >= LIMITS.maxProcs) { p.expected = 'EAGAIN'; break; }
        const child: RProc = { uid: pr.uid, capLease: pr.capLease, alive: true, fds: pr.fds.map((f) => (f ? { ...f } : null)), maps: [], sigio: [], pinned: 0, ring: null };
        for (const m of pr.maps) {
          const c: RMap = { ...m, id: this.nextMap++, cow: [...m.cow], forked: [...m.forked] };
          m.cow.forEach((copy, pg) => {
            if (!copy) return;
            if (copy.excl && this.pinnedForDma(copy)) {
              c.cow[pg] = privateCopy(copy.v);
              c.forked[pg] = false;
              return;
            }
            copy.excl = false;
            m.forked[pg] = c.forked[pg] = true;
          });
          if (m.lease >= 0) this.leases.find((l) => l.id === m.lease)!.refs++;
          child.maps.push(c);
        }
        this.procs.push(child);
        p.expected = this.procs.length - 1;
        break;
      }
      case 'load': {
        const found = this.findMap(p.map);
        if (!found) { p.expected = 'SIGSEGV'; break; }
        const m = found.map;
        const f = this.files[m.file];
        const pg = m.pgoff + (op.page % m.npages);
        if (!m.valid || pg >= f.size) p.expected = 'SIGBUS';
        else if (!m.shared && m.cow[op.page % m.npages]) p.expected = m.cow[op.page % m.npages]!.v;
        else p.expected = f.page[pg].v;
        break;
      }
      case 'store': {
        const found = this.findMap(p.map);
        if (!found) { p.expected = 'SIGSEGV'; break; }
        const m = found.map;
        const f = this.files[m.file];
        const page = op.page % m.npages;
        const pg = m.pgoff + page;
        if (!m.valid || pg >= f.size) { p.expected = 'SIGBUS'; break; }
        if (!m.shared) {
          const copy = m.cow[page];
          if (!copy) this.diverge('result-mismatch', 'store landed in a private mapping before its copy-on-write fault');
          else copy.v = op.val;
        } else {
          if (f.state[pg] !== WRITTEN) this.diverge('result-mismatch', `store landed in page ${pg} of file ${m.file} before a write fault allocated it`);
          f.state[pg] = WRITTEN;
          f.page[pg].v = op.val;
        }
        p.expected = 0;
        break;
      }
      case 'write':
      case 'uring_write_fixed': {
        const file = p.fd!.file;
        const f = this.files[file];
        if (this.hasLiveLease(file)) this.diverge('result-mismatch', `write(2) to file ${file} completed while a layout lease was held on it`);
        const off = op.off % P;
        if (f.dax && f.state[off] === HOLE && this.freeBlocks() === 0) { p.expected = 'ENOSPC'; break; }
        if (!this.unshare(f, off)) { p.expected = 'ENOSPC'; break; }
        f.state[off] = WRITTEN;
        f.page[off].v = op.op === 'write' ? op.val : this.readTarget(p.ringTarget!);
        f.size = Math.max(f.size, off + 1);
        p.expected = 0;
        break;
      }
      case 'clone':
        p.expected = this.commitClone(p, op);
        break;
      case 'unlink': {
        const f = this.files[p.file];
        p.expected = f.linked ? 0 : 'ENOENT'; // another unlink of the name came first
        f.linked = false;
        break;
      }
      case 'truncate':
      case 'truncate_path': {
        const file = op.op === 'truncate' ? p.fd!.file : p.file;
        if (op.op === 'truncate_path') this.noConflictingLease(p, file, true);
        if (this.hasLiveLease(file)) this.diverge('result-mismatch', `truncate of file ${file} completed while a layout lease was held on it`);
        const size = op.size % (P + 1);
        this.truncateTo(file, size);
        p.expected = 0;
        break;
      }
      case 'fallocate': {
        const file = p.fd!.file;
        const f = this.files[file];
        if (this.hasLiveLease(file)) this.diverge('result-mismatch', `fallocate of file ${file} completed while a layout lease was held on it`);
        const { off, end } = fallocRange(op);
        const len = end - off;
        const mode = FALLOC_MODES[op.mode];
        p.expected = 0;
        if (mode & FALLOC_FL_PUNCH_HOLE) {
          for (let pg = off; pg < end; pg++) this.removePage(f, pg); // past EOF too
        } else if (mode & FALLOC_FL_COLLAPSE_RANGE) {
          // the range leaves the file and what follows moves down over it
          if (end >= f.size) { p.expected = 'EINVAL'; break; }
          const size = f.size - len;
          for (let pg = off; pg < end; pg++) this.removePage(f, pg);
          for (let pg = end; pg < f.state.length; pg++) this.movePage(f, pg, pg - len);
          this.truncateTo(file, size);
        } else if (mode & FALLOC_FL_INSERT_RANGE) {
          // a hole opens at the offset; RLIMIT_FSIZE (the span an op can name) bounds the size
          if (off >= f.size) { p.expected = 'EINVAL'; break; }
          if (f.size + len > P) { p.expected = 'EFBIG'; break; }
          f.size += len;
          for (let pg = f.state.length - 1 - len; pg >= off; pg--) this.movePage(f, pg, pg + len);
        } else {
          // UNSHARE_RANGE: each shared page gets its own block, in order, while there are any
          if (mode & FALLOC_FL_UNSHARE_RANGE && !this.unshareRange(f, off, end)) { p.expected = 'ENOSPC'; break; }
          // zeroed (ZERO_RANGE), or kept; unwritten extents over the holes; the size grows unless KEEP_SIZE
          if (mode & FALLOC_FL_ZERO_RANGE) {
            for (let pg = off; pg < end; pg++) this.removePage(f, pg);
            // a failed allocation after the punch leaves the holes
            if (p.allocFailed.includes('ENOSPC')) { p.expected = 'ENOSPC'; break; }
          }
          let need = 0;
          for (let pg = off; pg < end; pg++) if (f.state[pg] === HOLE) need++;
          if (f.dax && need > this.freeBlocks()) { p.expected = 'ENOSPC'; break; }
          for (let pg = off; pg < end; pg++) if (f.state[pg] === HOLE) f.state[pg] = UNWRITTEN;
          if (!(mode & FALLOC_FL_KEEP_SIZE)) f.size = Math.max(f.size, end);
        }
        break;
      }
      case 'dio_read':
      case 'dio_write':
        return this.commitDio(p, op);
      case 'reg_mr': {
        // the pinned pages make the registration, whatever became of the vma since
        const f = this.files[p.mapFile];
        const mr: RMr = { id: this.nextMr++, proc: p.proc, span: p.pins.length, targets: [...p.pins], revoked: false, live: true, lease: -1 };
        if (this.contract === 'mapdirect' && f.dax && p.mapShared) {
          const l: RLease = { id: this.nextLease++, holder: 'mr', holderId: mr.id, granted: true, file: p.mapFile, breaking: false, since: 0, notify: null, refs: 1 };
          this.leases.push(l);
          mr.lease = l.id;
        }
        this.mrs.push(mr);
        p.expected = mr.id;
        break;
      }
      case 'uring_register': {
        if (this.userLocked[pr.uid] + p.pins.length > LIMITS.memlockPages) { p.expected = 'ENOMEM'; break; }
        this.userLocked[pr.uid] += p.pins.length;
        pr.ring = { targets: [...p.pins], uid: pr.uid, refs: 0, live: true };
        p.expected = 0;
        break;
      }
      case 'uring_unregister': {
        this.ringFree(pr);
        p.expected = 0;
        break;
      }
      case 'uring_read_fixed': {
        const f = this.files[p.fd!.file];
        const off = op.off % P;
        if (off < f.size) this.writeTarget(p.ringTarget!, f.page[off].v);
        p.expected = 0;
        break;
      }
      case 'dereg_mr': {
        this.deregister(this.mrs.find((x) => x.id === p.mr)!);
        p.expected = 0;
        break;
      }
      case 'layoutget': {
        // the layout is handed out under the IOLOCK, after the recall
        // check: none while any layout of the file is being recalled
        const file = p.fd!.file;
        const l = this.layoutOf(p.proc, file);
        if (!l || this.leases.some((x) => x.file === file && x.holder === 'layout' && x.breaking)) p.expected = 'NFS4ERR_RECALLCONFLICT';
        else if (this.files[file].reflink) p.expected = 'NFS4ERR_LAYOUTUNAVAILABLE'; // xfs_fs_map_blocks: no reflinked file
        else {
          l.granted = true;
          p.expected = 0;
        }
        break;
      }
      case 'layoutreturn': {
        const l = this.layoutOf(p.proc, p.fd!.file);
        if (l) this.removeLease(l.id);
        p.expected = l ? 0 : 'NFS4ERR_BAD_STATEID';
        break;
      }
      case 'tick':
        p.expected = 0;
        break;
    }
    return -1;
  }

  // An open(2) or truncate(2) takes effect with no fcntl lease left that
  // it conflicts with (one whose deadline passed is gone by then).
  private noConflictingLease(p: Pending, file: number, write: boolean): void {
    const l = this.fileLeases.find((x) => x.file === file && (write || x.type === F_WRLCK));
    if (l) this.diverge('result-mismatch', `${p.op.op} of file ${file} took effect while open ${l.ofid} held a ${l.type === F_WRLCK ? 'write' : 'read'} lease on it${p.broke ? '' : ' that it never broke'}`);
  }

  // fcntl(F_SETLEASE): the result, and the lease as it then is.  A read
  // lease wants no writer, a write lease no open but the caller's; no new
  // lease while another open's lease is being given up, no write lease
  // beside anyone else's lease of either kind.  The caller's own lease
  // changes type, its pending breaks answered as far as the new type
  // answers them.
  private setlease(p: Pending, arg: number): Result {
    const me = p.fd!;
    const mine = this.fileLeases.find((x) => x.ofid === me.ofid);
    if (arg === F_UNLCK) {
      if (!mine) return 'EAGAIN';
      this.fileLeases = this.fileLeases.filter((x) => x !== mine);
      return 0;
    }
    const { readers, writers } = this.openCounts(me.file);
    if (arg === F_RDLCK && writers > 0) return 'EAGAIN';
    if (arg === F_WRLCK && (writers !== (me.write ? 1 : 0) || readers !== (me.write ? 0 : 1))) return 'EAGAIN';
    const others = [...this.fileLeases.filter((x) => x.file === me.file && x !== mine), ...this.leases.filter((x) => x.file === me.file)];
    if (others.length && arg === F_WRLCK) return 'EAGAIN';
    if (others.some((x) => ('ofid' in x ? x.unlockPending : x.breaking))) return 'EAGAIN';
    const fasync = { proc: mine ? mine.fasync.proc : p.proc, fd: p.fdnum }; // the file keeps its first owner
    if (mine) {
      mine.type = arg;
      if (arg === F_RDLCK) mine.downgradePending = false;
      mine.fasync = fasync;
    } else {
      this.fileLeases.push({ ofid: me.ofid, file: me.file, type: arg, unlockPending: false, downgradePending: false, breakDeadline: 0, downgradeDeadline: 0, fasync });
    }
    return 0;
  }

  // FICLONERANGE: the destination's range gets the source's written pages
  // (their values; DAX: their storage, shared), and holes for the rest but
  // where both are unwritten.  4.18 shares no DAX file's blocks.
  private commitClone(p: Pending, op: Extract<Op, { op: 'clone' }>): Result {
    const sfile = p.src!.file;
    const dfile = p.fd!.file;
    const s = this.files[sfile];
    const d = this.files[dfile];
    if (this.hasLiveLease(dfile)) this.diverge('result-mismatch', `a clone onto file ${dfile} completed while a layout lease was held on it`);
    const old = this.kernel === 'linux-4.18';
    if (old ? s.dax || d.dax : s.dax !== d.dax) return 'EINVAL';
    const { soff, doff, len: asked } = cloneRange(op);
    if (old && s.size === 0) return 0;
    let len = asked;
    if (len === 0) {
      if (soff === s.size) return 0;
      len = s.size - soff;
    }
    if (len <= 0 || soff + len > s.size || doff + len > P) return 'EINVAL';
    if (sfile === dfile && doff + len > soff && doff < soff + len) return 'EINVAL';
    s.reflink = true;
    d.reflink = true;
    for (let i = 0; i < len; i++) {
      const spg = soff + i;
      const dpg = doff + i;
      if (s.state[spg] === UNWRITTEN && d.state[dpg] === UNWRITTEN) continue;
      this.removePage(d, dpg);
      if (s.state[spg] !== WRITTEN) continue;
      d.state[dpg] = WRITTEN;
      d.page[dpg] = { v: s.page[spg].v };
      if (!s.dax) continue;
      if (s.blk[spg] === 0) s.blk[spg] = ++this.nextBlk;
      d.blk[dpg] = s.blk[spg];
    }
    d.size = Math.max(d.size, doff + len);
    return 0;
  }
  private nextBlk = 0;

  private commitDio(p: Pending, op: Extract<Op, { op: 'dio_read' | 'dio_write' }>): number {
    const file = p.fd!.file;
    const s = this.files[file];
    if (op.op === 'dio_write' && this.hasLiveLease(file)) this.diverge('result-mismatch', `O_DIRECT write to file ${file} started while a layout lease was held on it`);
    if (s.size === 0 && op.op === 'dio_read') {
      p.expected = 0;
      return -1;
    }
    const off = s.size ? op.off % s.size : 0; // a write to an empty file writes its first page
    // a DAX write allocates its block before it looks at the buffer
    if (op.op === 'dio_write' && s.dax && (s.state[off] === HOLE || this.sharedPage(s, off)) && this.freeBlocks() === 0) { p.expected = 'ENOSPC'; return -1; }
    const target = p.pins[0];
    if (!target) {
      this.diverge('result-mismatch', `${op.op} submitted I/O without pinning its buffer`);
      p.expected = 0;
      return -1;
    }
    if (op.op === 'dio_write' && s.state[off] !== WRITTEN) {
      // the model gives O_DIRECT writes a zeroed, written extent up front
      s.state[off] = WRITTEN;
      s.page[off].v = 0;
    }
    const holeRead = op.op === 'dio_read' && (p.holeRead || s.state[off] !== WRITTEN);
    let id = 0; // the lowest request id free, as a tag allocator hands them out
    while (this.inflight.some((x) => x.id === id)) id++;
    const d: RDio = { id, aio: op.aio, open: p.fd!, holeRead, dir: op.op === 'dio_read' ? 'read' : 'write', file, off, target, landed: false, completed: false };
    this.inflight.push(d);
    p.dio = d;
    p.expected = 0;
    return d.id;
  }

  // A file's new size, smaller or larger: what lies past it goes, and with
  // it the private copies of those pages.
  private truncateTo(file: number, size: number): void {
    const f = this.files[file];
    for (let pg = size; pg < f.state.length; pg++) this.removePage(f, pg);
    f.size = size;
    for (const pr of this.procs) {
      for (const m of pr.maps) {
        if (m.file !== file || m.shared) continue;
        m.cow.forEach((_, i) => {
          if (m.pgoff + i >= size) m.cow[i] = null;
        });
      }
    }
  }

  private unshareRange(f: RFile, off: number, end: number): boolean {
    for (let pg = off; pg < end; pg++) if (!this.unshare(f, pg)) return false;
    return true;
  }

  // A page of the file, what it holds and whoever holds that, now at
  // another offset, which was a hole.
  private movePage(f: RFile, from: number, to: number): void {
    f.state[to] = f.state[from];
    f.page[to] = f.page[from];
    f.blk[to] = f.blk[from];
    f.state[from] = HOLE;
    f.page[from] = { v: 0 };
    f.blk[from] = 0;
  }

  private removePage(f: RFile, pg: number): void {
    if (f.state[pg] !== HOLE) f.page[pg] = { v: 0 };
    f.state[pg] = HOLE;
    f.blk[pg] = 0;
  }

  // A mapping goes (munmap, exit_mmap): its lease with its last mapping,
  // and its hold on the open file.
  private unmap(m: RMap): void {
    this.dropMapLease(m);
    this.closeIfUnused(m.ofid);
  }

  // A registration goes, with its charge and its lease.
  private deregister(mr: RMr): void {
    mr.live = false;
    this.procs[mr.proc].pinned -= mr.span;
    this.removeLease(mr.lease);
  }

  // The process's io_uring buffer leaves its table; its pages stay pinned
  // and charged while a request under way holds it (ringPut).
  private ringFree(pr: RProc): void {
    const ring = pr.ring;
    if (!ring) return;
    pr.ring = null;
    ring.live = false;
    if (ring.refs === 0) this.userLocked[ring.uid] -= ring.targets.length;
  }

  private ringPut(ring: RRing): void {
    if (--ring.refs === 0 && !ring.live) this.userLocked[ring.uid] -= ring.targets.length;
  }

  private dropMapLease(m: RMap): void {
    if (m.lease < 0) return;
    const l = this.leases.find((x) => x.id === m.lease);
    if (l && --l.refs === 0) this.removeLease(l.id);
  }

  private removeLease(id: number): void {
    const i = this.leases.findIndex((l) => l.id === id);
    if (i >= 0) this.leases.splice(i, 1);
  }

  // ---- device and NIC DMA ----

  private readTarget(t: Target): number {
    return t.kind === 'zero' ? 0 : t.page.v;
  }

  private writeTarget(t: Target, v: number): void {
    if (t.kind === 'page') t.page.v = v;
  }

  dioLand(id: number): void {
    this.version++;
    const d = this.inflight.find((x) => x.id === id);
    if (!d) {
      this.diverge('result-mismatch', `device DMA for O_DIRECT request ${id}, which the reference never issued`);
      return;
    }
    if (d.landed) this.diverge('result-mismatch', `O_DIRECT request ${id} transferred twice`);
    d.landed = true;
    const s = this.files[d.file];
    if (d.dir === 'read') {
      this.writeTarget(d.target, !d.holeRead && d.off < s.size ? s.page[d.off].v : 0);
    } else {
      const v = this.readTarget(d.target);
      s.size = Math.max(s.size, d.off + 1); // the size moves as the write completes
      s.state[d.off] = WRITTEN;
      s.page[d.off].v = v;
    }
  }

  // The request completed: its pin is gone.  (A synchronous request's
  // caller takes it off when it returns.)
  dioComplete(id: number): void {
    this.version++;
    const d = this.inflight.find((x) => x.id === id);
    if (!d) return;
    d.completed = true;
    if (!d.aio) return;
    this.inflight = this.inflight.filter((x) => x !== d);
    this.closeIfUnused(d.open.ofid);
  }

  // The kernel freed the blocks of an unlinked file nothing holds any
  // more (xfs_inactive): its pages leave it as in a truncate to nothing
  // (a pinned one lives on, its own), and its space is free.  Thread
  // `tid` does it, on its way out of a call whose own hold on the file
  // has ended, or a kernel thread does.
  inodeFreed(tid: number, file: number): void {
    this.version++;
    const f = this.files[file];
    const open = [...this.liveOpens(tid).values()].some((o) => o.file === file) || this.pending.some((q, i) => i !== tid && q?.op.op === 'truncate_path' && q.file === file);
    const leased = this.leases.some((l) => l.file === file);
    if (f.linked || open || leased) this.diverge('result-mismatch', `the blocks of file ${file} were freed while it ${f.linked ? 'still had its name' : open ? 'was still open' : 'still had a layout lease'}`);
    for (let pg = 0; pg < f.state.length; pg++) this.removePage(f, pg);
    f.size = 0;
  }

  // The NIC's view of registrations: every live one, in registration order.
  liveMrs(): RMr[] {
    return this.mrs.filter((m) => m.live);
  }

  // The kernel took a page-cache page out of the cache (an O_DIRECT
  // write's invalidation): the file reads back the same data from a fresh
  // page, and a pin keeps the old one.
  pageCacheDrop(file: number, pg: number): void {
    this.version++;
    const s = this.files[file];
    s.page[pg] = { v: s.page[pg].v };
  }

  nicDma(op: NicOp, got: Result): void {
    this.version++;
    this.lastNicResult = got;
    const live = this.liveMrs();
    if (live.length === 0) return;
    const mr = live[op.mr % live.length];
    const t = mr.targets[op.page % mr.span];
    let expected: Result;
    if (mr.revoked) expected = 'IOMMU_FAULT';
    else if (op.op === 'rdma_write') {
      this.writeTarget(t, op.val);
      expected = 0;
    } else expected = this.readTarget(t);
    if (expected !== ANY && expected !== got) {
      this.diverge('result-mismatch', `NIC ${op.op} through registration ${mr.id} page ${op.page % mr.span}: expected ${expected}, got ${got}`, { expected, got });
    }
  }

  // ---- kernel-initiated events ----

  // A pNFS client has two lease periods (lease-break-time here) to
  // return a recalled layout before nfsd fences it (`file` names which of
  // its layouts).
  leaseExpire(holder: 'map' | 'mr' | 'layout', holderId: number, file = -1): void {
    this.version++;
    const l = this.leases.find((x) => x.holder === holder && x.holderId === holderId && (holder !== 'layout' || x.file === file));
    if (!l) {
      this.diverge('result-mismatch', `kernel revoked the lease of ${holder} ${holderId}, which holds none`);
      return;
    }
    const [due, wait] = holder === 'layout' ? [l.since + 2 * this.lbt, `2 lease periods (${l.since}+2*${this.lbt})`] : [l.since + this.lbt, `lease-break-time (${l.since}+${this.lbt})`];
    if (!l.breaking) this.diverge('result-mismatch', `kernel revoked the lease of ${holder} ${holderId} without breaking it first`);
    else if (this.clock < due) this.diverge('result-mismatch', `kernel revoked the lease of ${holder} ${holderId} at t=${this.clock}, before ${wait}`);
    if (holder === 'map') {
      for (const pr of this.procs) for (const m of pr.maps) if (m.lease === l.id) { m.valid = false; m.lease = -1; }
    } else if (holder === 'mr') {
      const mr = this.mrs.find((m) => m.id === holderId);
      if (mr) { mr.revoked = true; mr.lease = -1; }
    }
    this.removeLease(l.id);
  }

  setClock(t: number): void {
    this.version++;
    if (t < this.clock) this.diverge('result-mismatch', `clock went backwards from ${this.clock} to ${t}`);
    this.clock = t;
  }

  // A signal ended an interruptible wait (`lease`: for a layout lease to
  // be broken).  Upstream, xfs_break_leased_layouts polls on while the
  // lease stays (its blocking break's error is overwritten, 4.18 to 6.18):
  // the call is not ended by it.
  interrupted(tid: number, lease = false): void {
    this.version++;
    const p = this.pending[tid];
    // upstream's xfs_break_layouts loses a layout wait's error and waits
    // again; a clone breaks layouts with break_layout itself, which returns it
    if (lease && this.contract === 'upstream' && p?.op.op !== 'clone') return;
    if (p && !p.committed) p.interrupted = true;
  }

  // The call has put the file it held (fdput, on its way out): it holds
  // it no longer, though its result is not back yet (task work first).
  fdput(tid: number): void {
    this.version++;
    const p = this.pending[tid];
    if (!p?.fd) return;
    p.fdPut = true;
    this.closeIfUnused(p.fd.ofid);
    if (p.src) this.closeIfUnused(p.src.ofid);
  }

  // ---- process exit ----

  // exit_group killed the thread with this call under way.
  killed(tid: number): void {
    this.version++;
    const p = this.pending[tid];
    if (p) p.killed = true;
  }

  // The process's address space goes (exit_mmap), once the AIO it had in
  // flight has landed: every mapping, as munmap takes each.
  exitMm(proc: number): void {
    this.version++;
    const pr = this.procs[proc];
    for (const m of pr.maps.splice(0)) this.unmap(m);
  }

  // Its files go (exit_files), each as close(2) would, and with them its
  // registrations and its ring's buffer; the process is gone.
  exitFiles(proc: number): void {
    this.version++;
    const pr = this.procs[proc];
    pr.fds.forEach((fd, i) => {
      if (!fd) return;
      pr.fds[i] = null;
      this.closeIfUnused(fd.ofid);
    });
    for (const mr of this.liveMrsOf(proc)) this.deregister(mr);
    this.ringFree(pr);
    pr.alive = false;
  }

  allocFailed(tid: number, errno: string): void {
    this.version++;
    const p = this.pending[tid];
    if (p) p.allocFailed.push(errno);
  }

  // ---- complete: compare the result ----

  complete(tid: number, got: Result): void {
    this.version++;
    const p = this.p(tid);
    this.pending[tid] = null;
    if (typeof got === 'string') this.procs[p.proc].pinned -= p.charged; // a failed registration gives its charge back
    if (p.ring) this.ringPut(p.ring);
    if (p.fd) this.closeIfUnused(p.fd.ofid); // its own reference to the file goes
    const allowed: Result[] = [];
    if (p.committed) {
      allowed.push(p.expected);
      const d = p.dio;
      if (d && !d.aio) {
        if (!d.landed) this.diverge('result-mismatch', `${p.op.op} returned before its DMA completed`);
        this.inflight = this.inflight.filter((x) => x !== d);
      }
    } else {
      if (p.interrupted) allowed.push('EINTR');
      else if (p.earlyError !== null) allowed.push(p.earlyError);
      else if (p.failed !== null) allowed.push(p.failed);
      else if (p.lateError !== null) allowed.push(p.lateError);
      allowed.push(...p.earlyAllowed, ...p.allocFailed);
    }
    if (p.killed || p.op.op === 'exit') return; // exit_group never returns, nor does a killed thread's call
    if (allowed.includes(ANY) || allowed.includes(got)) return;
    const want = allowed.length ? allowed.join(' or ') : 'the operation to take effect';
    this.diverge('result-mismatch', `${p.op.op} returned ${got}, expected ${want}`, { op: p.op, got, expected: allowed });
  }

  // ---- the abstract state ----

  // abstract(), written as models/abstract.ts encodes it.
  encode(out: Encoding): void {
    out.n = 0;
    out.put(this.clock);
    out.put(this.files.length);
    for (const f of this.files) {
      out.file(f.linked, f.size);
      for (let i = 0; i < f.size; i++) out.page(f.state[i], f.state[i] === WRITTEN ? f.page[i].v : 0);
    }
    out.put(this.procs.length);
    for (const pr of this.procs) {
      out.put(+pr.alive);
      const fds = out.begin();
      for (let fd = 0; fd < pr.fds.length; fd++) {
        const f = pr.fds[fd];
        if (!f) continue;
        out.item(fds);
        out.fd(fd, f.file, f.write);
      }
      out.put(pr.maps.length);
      for (const m of pr.maps) {
        out.map(m.id, m.file, m.pgoff, m.npages, m.shared, m.direct, m.sync, m.write, m.valid, m.cow.length);
        for (const c of m.cow) out.cow(c ? c.v : null);
      }
      out.put(pr.sigio.length);
      for (const fd of pr.sigio) out.put(fd);
    }
    const leases = out.begin();
    for (const l of this.leases) {
      out.item(leases);
      out.lease(l.holder === 'map' ? LEASE_MAP : l.holder === 'layout' ? LEASE_LAYOUT : LEASE_MR, l.holderId, l.file, l.breaking, l.since);
    }
    for (const l of this.fileLeases) {
      out.item(leases);
      out.lease(LEASE_FILE, l.ofid, l.file, l.unlockPending || l.downgradePending, l.breakDeadline, leaseMode(l), l.downgradePending ? l.downgradeDeadline : 0);
    }
    out.sortLeases(leases);
    const mrs = out.begin();
    for (const m of this.mrs) {
      if (!m.live) continue;
      out.item(mrs);
      out.mr(m.id, m.proc, m.span, m.revoked);
    }
  }

  abstract(): AbstractState {
    return {
      clock: this.clock,
      files: this.files.map((f) => ({
        linked: f.linked,
        size: f.size,
        state: f.state.slice(0, f.size),
        data: f.page.slice(0, f.size).map((pg, i) => (f.state[i] === WRITTEN ? pg.v : 0)),
      })),
      procs: this.procs.map((pr) => ({
        alive: pr.alive,
        fds: pr.fds.flatMap((f, fd) => (f ? [{ fd, file: f.file, write: f.write }] : [])),
        maps: pr.maps.map((m) => ({
          id: m.id, file: m.file, pgoff: m.pgoff, npages: m.npages, shared: m.shared, direct: m.direct,
          sync: m.sync, write: m.write, valid: m.valid, cow: m.cow.map((c) => (c ? c.v : null)),
        })),
        sigio: [...pr.sigio],
      })),
      leases: [
        ...this.leases.map((l) => ({ holder: `${l.holder}:${l.holderId}`, file: l.file, breaking: l.breaking, since: l.breaking ? l.since : 0, mode: 0, downgrade: 0 })),
        ...this.fileLeases.map((l) => ({ holder: `lease:${l.ofid}`, file: l.file, breaking: l.unlockPending || l.downgradePending, since: l.breakDeadline, mode: leaseMode(l), downgrade: l.downgradePending ? l.downgradeDeadline : 0 })),
      ]
        .sort((a, b) => (a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : a.file - b.file)),
      mrs: this.mrs.filter((m) => m.live).map((m) => ({ id: m.id, proc: m.proc, span: m.span, revoked: m.revoked })),
    };
  }
}

// An fcntl lease's type and pending breaks, as the abstract state writes them.
function leaseMode(l: RFileLease): number {
  return l.type + (l.unlockPending ? 2 : 0) + (l.downgradePending ? 4 : 0);
}
