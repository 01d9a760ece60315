// The implementation model's core: kernel state, threads, and the step
// engine.  Kernel functions are procedures made of labelled steps
// (PlusCal style); one call to step() runs exactly one label of one
// thread atomically.  A step returns the label to run next, or the result
// of call()/ret()/sleep(), which manage the thread's stack and blocking.

import { LIMITS, initialValue, type Op, type TestCase, type NicOp } from '../testcase.ts';
import type { Variant, Flags } from '../variants/index.ts';
import type { Reference } from '../reference/index.ts';
import { ERESTARTSYS } from '../errno.ts';

export const RUNNING = 0;
export const BLOCKED = 1;
export const DONE = 2;

export type ThreadKind = 'proc' | 'device' | 'nic' | 'timer' | 'kworker';

export type Wait = '' | 'rwsem' | 'page' | 'lease' | 'dio' | 'dio_tag' | 'inode_dio' | 'timer' | 'rcu';

// A special return value from a step, as opposed to the next label.
export type Ctl = { readonly ctl: string };
export const WAIT: Ctl = { ctl: 'wait' };
export const CALLED: Ctl = { ctl: 'call' };
export const RETURNED: Ctl = { ctl: 'return' };
export type Next = string | Ctl;

export interface Frame {
  fn: Fn<any>;
  pc: number;
}

export type Step<F extends Frame> = (k: Kernel, t: Thread, f: F) => Next;

export interface Fn<F extends Frame> {
  name: string;
  labels: string[];
  index: Map<string, number>;
  steps: Step<F>[];
}

// Defines a kernel function: its labels, in order, each one atomic step.
export function fn<F extends Frame>(name: string, steps: Record<string, Step<F>>): Fn<F> {
  const labels = Object.keys(steps);
  return { name, labels, index: new Map(labels.map((l, i) => [l, i])), steps: labels.map((l) => steps[l]) };
}

export interface Thread {
  id: number;
  kind: ThreadKind;
  name: string;
  proc: number; // process index, -1 for kernel threads and devices
  prog: Op[];
  loop: boolean;
  ip: number; // index of the current op in prog
  stack: Frame[];
  status: number;
  wait: Wait;
  waitId: number;
  waitSeq: number;
  waitMode: number; // for rwsem waiters: 0 read, 1 write
  rv: number; // value returned by the last callee or wait
  rv2: number; // second return value (the `retry` out-parameter of xfs_break_*)
  sigpending: boolean;
  sleeps: number; // interruptible sleeps so far (signal injection counts these)
  allocs: number; // fallible allocations so far (allocation failure injection)
  held: number[]; // rwsem ids held, in acquisition order
  fdget: number; // the struct file fdget holds for the call under way, -1 if none
  fdgetSrc: number; // ... and the second one a clone holds (its source), -1 if none
  taskWork: number[]; // inodes whose last iput waits for the return to user space (__fput's task_work)
  exiting: boolean; // the call has its result (exitRv) and runs its task_work
  exitRv: number;
  killed: boolean; // SIGKILL from exit_group: no op after the one under way, then do_exit
  exited: boolean; // do_exit has run
  sleepInterruptible: boolean; // the sleep it is in can be ended by a signal
}

// ---- kernel objects ----

export interface RwSem {
  id: number;
  cls: 'i_rwsem' | 'mmap_sem' | 'mmaplock' | 'uring_lock';
  owner: number; // inode or process it belongs to
  writer: number; // tid or -1
  readers: number[];
}

export interface Inode {
  id: number;
  uid: number;
  dax: boolean;
  reflink: boolean;
  size: number;
  bmap: Int16Array; // DAX: block backing each page, -1 for a hole
  unwritten: Uint8Array; // extent allocated but not yet written
  cache: Int16Array; // non-DAX: page cache page holding each page, -1 if none
  daxEntry: Uint8Array; // DAX: the mapping's xarray entry over each page (DAX_NONE ...)
  iolock: number; // XFS_IOLOCK (the VFS i_rwsem)
  mmaplock: number; // XFS_MMAPLOCK
  dioCount: number; // i_dio_count
  writeAccess: number; // get_write_access() holders other than open files: a truncate(2) under way
  nlink: number; // names: 1, or 0 once unlinked
  freeing: boolean; // I_FREEING: its last reference is gone and eviction has begun
}

export interface Filp {
  id: number;
  inode: number;
  write: boolean;
  refs: number; // fd table entries, vmas and system calls under way holding this struct file
  mapDirect: boolean; // marked with fcntl(F_MAP_DIRECT) (v5)
  ofid: number; // which open this is, counted as the reference counts them
}

export interface Vma {
  id: number; // mapping id, as the reference numbers them
  filp: number;
  inode: number;
  pgoff: number;
  npages: number;
  shared: boolean;
  direct: boolean; // MAP_DIRECT
  sync: boolean;
  write: boolean;
  pte: Int16Array; // page mapped at each page, or -1
  pteWrite: Uint8Array;
  pteEpoch: Int32Array; // allocation epoch of the page when the pte was installed
  cow: Int16Array; // private copy of each page: an anonymous page id, or -1
  pmd: Uint8Array; // what the pmd over each page holds: PMD_NONE, PMD_TABLE or PMD_HUGE
  lease: number; // file_lock id backing a MAP_DIRECT vma, -1 otherwise
}

export interface Proc {
  id: number;
  uid: number;
  capLease: boolean;
  capImmutable: boolean;
  fds: Int16Array; // filp id per fd number, -1 when free
  vmas: Vma[];
  mmapSem: number;
  sigio: number[]; // si_fd of every SIGIO delivered
  pinnedVm: number; // mm->pinned_vm: pages charged by registrations
  ring: IoRing; // the process's own io_uring instance
  dead: boolean; // its last thread has exited: no mm, no files
}

// An io_uring instance (io_ring_ctx): its uring_lock, made at the first
// registration, and its table of one registered buffer.
export interface IoRing {
  lock: number;
  buf: IoMappedUbuf | null;
}

// A registered buffer (io_mapped_ubuf): its pinned pages, charged to its
// user's locked_vm; requests under way hold it (the rsrc node reference),
// so an unregister while one is in flight unpins only when it ends.
export interface IoMappedUbuf {
  pins: Pin[];
  uid: number;
  refs: number;
  live: boolean;
}

// A lease on the inode's flc_lease list (fs/locks.c file_lock): an
// fcntl(F_SETLEASE) lease (FL_LEASE), or an FL_LAYOUT lease with the
// MAP_DIRECT, lease_direct or pNFS layout state that hangs off it
// (fs/mapdirect.c map_direct_state, fs/nfsd/nfs4layouts.c
// nfs4_layout_stateid).
export interface FileLock {
  id: number;
  inode: number;
  kind: 'lease' | 'map_direct' | 'lease_direct' | 'nfsd_layout';
  holder: number; // the struct file (lease), mapping id (map_direct), registration id (lease_direct), or the NFS client's process (nfsd_layout)
  type: number; // fl_type: F_RDLCK or F_WRLCK
  granted: boolean; // a layout was handed out under it (nfsd_layout; the others hold from the start)
  onList: boolean; // on the inode's lease list, where breakers see it
  breaking: boolean; // lease_breaking(): FL_UNLOCK_PENDING or FL_DOWNGRADE_PENDING
  unlockPending: boolean; // FL_UNLOCK_PENDING
  downgradePending: boolean; // FL_DOWNGRADE_PENDING
  breakTime: number; // FL_LEASE: fl_break_time (0: none); FL_LAYOUT: when the break started, the holder's own timeout counting from it
  downgradeTime: number; // FL_LEASE: fl_downgrade_time (0: none), which nothing but the next read breaker resets
  unbreakable: boolean; // a seal (MAP_DIRECT v4/v5): breaking it fails with ETXTBSY
  valid: boolean; // MAPDIRECT_VALID
  vmaRefs: number; // mds_vmaref
  fasync: { proc: number; fd: number; filp: number } | null; // where lm_break sends SIGIO
}

// A pinned page: the page, and what it was when pinned.
export interface Pin {
  page: number; // page id, ANON_PAGE or ZERO_PAGE
  epoch: number;
  inode: number; // origin (file, page), -1 for anonymous memory
  index: number;
  anon: number; // the anonymous page, for ANON_PAGE
  follPin: boolean; // FOLL_PIN, not a plain reference (FOLL_GET)
}

// An RDMA memory registration (ib_umem + ib_mr).
export interface Mr {
  id: number;
  proc: number;
  span: number;
  pins: Pin[];
  pinned: boolean; // page references still held
  iova: number;
  iovaPages: number; // IOVA pages the DMA API mapped
  sgPages: number; // pages iommu_sg_num_pages() counts: not the extra page of an unaligned buffer
  lease: number;
  revoked: boolean;
  live: boolean;
}

// An O_DIRECT request on its way through the block layer.
export interface DioReq {
  refId: number;
  tid: number; // the submitter, which sleeps on it unless it is AIO
  dir: 'read' | 'write'; // read: device writes the user buffer
  aio: boolean;
  filp: number; // AIO: the struct file its kiocb holds until it completes; -1 otherwise
  inode: number; // the file side
  off: number;
  filePage: number; // page the device reads or writes on the file side, or ZERO_PAGE
  fileEpoch: number;
  buf: Pin;
}

// A sleep timer wakes its thread whatever it waits on (schedule_timeout).
export type Timer = { deadline: number; kind: 'sleep'; tid: number } | { deadline: number; kind: 'work'; work: Work };

export type Work = { kind: 'map_direct_invalidate' | 'ib_umem_lease_break' | 'nfsd4_layout_fence'; lease: number } | { kind: 'delayed_fput'; inode: number };

// A pmd entry: none, a page table of ptes, or a huge mapping of a whole
// PMD (LIMITS.pmdPages pages) of the file.
export const PMD_NONE = 0;
export const PMD_TABLE = 1;
export const PMD_HUGE = 2;

// A DAX xarray entry (fs/dax.c): none, a PTE-order entry of any kind, a
// PMD-order entry for a mapped extent, or an empty or zero-page PMD entry.
export const DAX_NONE = 0;
export const DAX_PTE = 1;
export const DAX_PMD = 2;
export const DAX_PMD_ZERO = 3;

export const ZERO_PAGE = -3;
export const ANON_PAGE = -2;

// What a step did that the general checks look at.
export type Event =
  | { kind: 'access'; who: 'cpu' | 'dio' | 'nic'; tid: number; page: number; epoch: number; inode: number; index: number; write: boolean; held: boolean }
  | { kind: 'iova'; iova: number; issuedFor: number; reached: number }
  | { kind: 'sigio'; proc: number; fd: number; filp: number; inode: number }
  | { kind: 'lock'; tid: number; lock: number; cls: string; write: boolean; held: number[] }
  | { kind: 'blockmap'; inode: number }
  | { kind: 'put_page'; page: number; count: number };

export class Kernel {
  readonly flags: Flags;
  readonly mapdirect: boolean; // the MAP_DIRECT / lease_direct machinery exists
  clock = 0;
  readonly lbt: number;
  readonly nblocks: number;
  readonly npages: number;
  readonly hugePmd: boolean; // a PMD spans LIMITS.pmdPages pages of a file, not more than any file
  // struct page for every page: persistent-memory pages first (page b is
  // block b), then page-cache pages.
  pageRef: Int32Array;
  pageData: Int32Array;
  pageOwner: Int16Array; // inode that owns the page's block or cache slot, -1 if free
  pageIndex: Int16Array;
  pageEpoch: Int32Array; // bumped on every allocation
  refcount: Uint8Array; // per block, the files mapping it (the refcount btree counts the shared ones)
  blockFree: number[]; // xfs free space: a LIFO, so freed blocks are reused first
  cacheFree: number[];
  // Anonymous pages (private copies), referenced by the vmas that map them
  // (two once fork shares one) and by pins; a page outlives its vmas while
  // pinned.  Each says whether one process owns it (PageAnonExclusive) and
  // how many of its references are FOLL_PIN pins (page_maybe_dma_pinned).
  anonData: number[] = [];
  anonRef: number[] = [];
  anonExclusive: number[] = [];
  anonPinned: number[] = [];
  anonFree: number[] = [];
  inodes: Inode[];
  filps: (Filp | null)[] = [];
  procs: Proc[] = [];
  threads: Thread[] = [];
  locks: RwSem[] = [];
  leases: FileLock[] = [];
  mrs: Mr[] = [];
  userLockedVm: number[] = new Array(8).fill(0); // user_struct locked_vm per uid: io_uring's charge against RLIMIT_MEMLOCK
  dioQueue: DioReq[] = [];
  tagHandedTo: number[] = []; // submitters a completing request handed its device tag to
  timers: Timer[] = [];
  work: Work[] = [];
  // IOMMU page table: IOVA page -> page, and which registration mapped it.
  iommuPage: Int16Array;
  iommuMr: Int16Array;
  iommuIdx: Int16Array;
  iovaFree: { start: number; len: number }[] = [];
  iovaTop = 0;
  nic: NicOp[];
  nicIp = 0;
  nextMapId = 0;
  nextMrId = 0;
  nextLease = 0;
  nextOfid = 0;
  daxLayoutReaders = 0; // threads inside dax_layout_lock() (dax-v8)
  events: Event[] = [];
  // What this step changed that the page checks must look at again
  // (properties/checks.ts checkTouchedPages): struct pages whose count,
  // owner or epoch moved, and ptes installed.  Cleared with the events.
  touchedPages: number[] = [];
  touchedPtes: Vma[] = [];
  touchedPteIndex: number[] = [];
  readonly device: number;
  readonly nicThread: number;
  readonly timer: number;
  readonly kworker: number;
  private signalAt: Map<number, Set<number>>;
  private allocFailAt: Map<number, Set<number>>;

  constructor(readonly variant: Variant, readonly tc: TestCase, readonly ref: Reference) {
    this.flags = variant.flags;
    this.mapdirect = variant.contract === 'mapdirect';
    const cfg = tc.config;
    this.lbt = cfg.leaseBreakTime;
    this.nblocks = cfg.blocks;
    this.npages = cfg.blocks + LIMITS.cachePages;
    this.hugePmd = cfg.pmd ?? false;
    this.pageRef = new Int32Array(this.npages);
    this.pageData = new Int32Array(this.npages);
    this.pageOwner = new Int16Array(this.npages).fill(-1);
    this.pageIndex = new Int16Array(this.npages).fill(-1);
    this.pageEpoch = new Int32Array(this.npages);
    for (let b = 0; b < cfg.blocks; b++) this.pageRef[b] = 1; // ZONE_DEVICE pages idle at 1
    this.refcount = new Uint8Array(cfg.blocks);
    this.blockFree = [];
    for (let b = cfg.blocks - 1; b >= 0; b--) this.blockFree.push(b);
    this.cacheFree = [];
    for (let p = this.npages - 1; p >= cfg.blocks; p--) this.cacheFree.push(p);
    this.iommuPage = new Int16Array(LIMITS.iovaPages).fill(-1);
    this.iommuMr = new Int16Array(LIMITS.iovaPages).fill(-1);
    this.iommuIdx = new Int16Array(LIMITS.iovaPages).fill(-1);
    this.nic = tc.nic;
    this.inodes = cfg.files.map((f, i) => {
      const ino: Inode = {
        id: i, uid: f.owner, dax: f.dax, reflink: f.reflink, size: f.size,
        bmap: new Int16Array(LIMITS.blockMapPages).fill(-1),
        unwritten: new Uint8Array(LIMITS.blockMapPages),
        cache: new Int16Array(LIMITS.blockMapPages).fill(-1),
        daxEntry: new Uint8Array(LIMITS.blockMapPages),
        iolock: this.newLock('i_rwsem', i),
        mmaplock: this.newLock('mmaplock', i),
        dioCount: 0,
        writeAccess: 0,
        nlink: 1,
        freeing: false,
      };
      return ino;
    });
    // Lay out the initial files: blocks (DAX) or page-cache pages in order.
    cfg.files.forEach((f, i) => {
      if (f.sparse) return;
      for (let pg = 0; pg < f.size; pg++) {
        const page = f.dax ? this.blockFree.pop() : this.cacheFree.pop();
        if (page === undefined) throw new Error('model limit: not enough blocks for the initial files');
        this.pageRef[page] = 1;
        this.pageOwner[page] = i;
        this.pageIndex[page] = pg;
        this.pageEpoch[page] = 1;
        this.pageData[page] = initialValue(i, pg);
        if (f.dax) {
          this.inodes[i].bmap[pg] = page;
          this.refcount[page] = 1;
        }
        else this.inodes[i].cache[pg] = page;
      }
    });
    this.procs = cfg.procs.map((p, i) => this.newProc(i, p.uid, p.capLease, p.capImmutable ?? false));
    const mk = (kind: ThreadKind, name: string, proc: number, prog: Op[], loop: boolean): Thread => ({
      id: this.threads.length, kind, name, proc, prog, loop, ip: 0, stack: [], status: RUNNING, wait: '', waitId: -1,
      waitSeq: 0, waitMode: 0, rv: 0, rv2: 0, sigpending: false, sleeps: 0, allocs: 0, held: [],
      fdget: -1, fdgetSrc: -1, taskWork: [], exiting: false, exitRv: 0, killed: false, exited: false, sleepInterruptible: false,
    });
    tc.threads.forEach((ts, i) => this.threads.push(mk('proc', `T${i}`, ts.proc, ts.ops, ts.loop)));
    this.device = this.threads.length;
    this.threads.push(mk('device', 'device', -1, [], false));
    this.nicThread = this.threads.length;
    this.threads.push(mk('nic', 'nic', -1, [], false));
    this.timer = this.threads.length;
    this.threads.push(mk('timer', 'timer', -1, [], false));
    this.kworker = this.threads.length;
    this.threads.push(mk('kworker', 'kworker', -1, [], false));
    for (const t of this.threads) if (t.kind === 'proc' && t.prog.length === 0) t.status = DONE;
    this.signalAt = plan(tc, 'signal');
    this.allocFailAt = plan(tc, 'alloc');
  }

  newLock(cls: RwSem['cls'], owner: number): number {
    this.locks.push({ id: this.locks.length, cls, owner, writer: -1, readers: [] });
    return this.locks.length - 1;
  }

  newProc(id: number, uid: number, capLease: boolean, capImmutable: boolean): Proc {
    return { id, uid, capLease, capImmutable, fds: new Int16Array(LIMITS.fds).fill(-1), vmas: [], mmapSem: this.newLock('mmap_sem', id), sigio: [], pinnedVm: 0, ring: { lock: -1, buf: null }, dead: false };
  }

  // ---- procedure engine ----

  call<F extends Frame>(t: Thread, callee: Fn<F>, locals: Omit<F, 'fn' | 'pc'>, cont: string): Ctl {
    const caller = t.stack[t.stack.length - 1];
    caller.pc = label(caller.fn, cont);
    t.stack.push({ fn: callee, pc: 0, ...locals } as Frame);
    return CALLED;
  }

  ret(t: Thread, value: number): Ctl {
    t.stack.pop();
    t.rv = value;
    t.rv2 = 0;
    return RETURNED;
  }

  retRetry(t: Thread, value: number, retry = true): Ctl {
    this.ret(t, value);
    t.rv2 = retry ? 1 : 0;
    return RETURNED;
  }

  // Puts the thread to sleep until woken on (wait, id); it then runs
  // label `cont` with t.rv = 0.  An interruptible sleep may be hit by an
  // injected signal: it then does not sleep and t.rv = -ERESTARTSYS; the
  // continuation re-checks its condition and decides, as ___wait_event
  // does, calling interrupted() if the wait fails.
  sleep(t: Thread, wait: Wait, id: number, cont: string, interruptible: boolean): Ctl | string {
    if (interruptible) {
      const nth = t.sleeps++;
      if (this.signalAt.get(t.id)?.has(nth)) t.sigpending = true;
      if (t.sigpending) {
        t.rv = ERESTARTSYS;
        return cont;
      }
    }
    const f = t.stack[t.stack.length - 1];
    f.pc = label(f.fn, cont);
    // FIFO position among the threads asleep right now (kept small, so a
    // state can come back exactly)
    let last = -1;
    for (const o of this.threads) if (o.status === BLOCKED && o.waitSeq > last) last = o.waitSeq;
    t.status = BLOCKED;
    t.sleepInterruptible = interruptible;
    t.wait = wait;
    t.waitId = id;
    t.waitSeq = last + 1;
    t.rv = 0;
    return WAIT;
  }

  // An interruptible wait gives up: a signal is pending and its condition
  // still does not hold (`lease`: a wait for layout leases to go).
  interrupted(t: Thread, lease = false): number {
    this.ref.interrupted(t.id, lease);
    return ERESTARTSYS;
  }

  wake(wait: Wait, id: number): void {
    for (const t of this.threads) {
      if (t.status === BLOCKED && t.wait === wait && t.waitId === id) this.wakeThread(t);
    }
  }

  wakeThread(t: Thread): void {
    t.status = RUNNING;
    t.sleepInterruptible = false;
    t.wait = '';
    t.waitId = -1;
    t.waitSeq = 0;
  }

  // A fallible allocation (block, lease, IOVA): true if the test case
  // injects a failure here.  The reference is told which result the
  // failure permits.
  allocFails(t: Thread, userVisible: string): boolean {
    if (t.kind !== 'proc') return false;
    const nth = t.allocs++;
    if (!this.allocFailAt.get(t.id)?.has(nth)) return false;
    this.ref.allocFailed(t.id, userVisible);
    return true;
  }

  // The injected faults still ahead of the thread, as distances from its
  // counters: all the counters' history that decides anything to come.
  faultsAhead(t: Thread): number[] {
    const signals = this.signalAt.get(t.id);
    const allocs = this.allocFailAt.get(t.id);
    if (!signals && !allocs) return NO_FAULTS;
    const ahead = (plan: Set<number> | undefined, done: number): number[] => [...(plan ?? [])].filter((n) => n >= done).map((n) => n - done).sort((a, b) => a - b);
    return [...ahead(signals, t.sleeps), -1, ...ahead(allocs, t.allocs)];
  }

  currentOp(t: Thread): Op {
    return t.prog[t.ip];
  }

  // ---- object lookup, by the index rules of the test case ----

  openFds(proc: number): number[] {
    const out: number[] = [];
    const fds = this.procs[proc].fds;
    for (let fd = 0; fd < fds.length; fd++) if (fds[fd] >= 0) out.push(fd);
    return out;
  }

  vmaById(proc: number, id: number): Vma | null {
    return this.procs[proc].vmas.find((v) => v.id === id) ?? null;
  }

  liveMrs(): Mr[] {
    return this.mrs.filter((m) => m.live);
  }

  leaseById(id: number): FileLock | null {
    return this.leases.find((l) => l.id === id) ?? null;
  }

  addTimer(timer: Timer): void {
    this.timers.push(timer);
  }

  // A sleep that the sleep timer set for `deadline` also ends
  // (schedule_timeout); the continuation asks timedOut().
  sleepUntil(t: Thread, wait: Wait, id: number, cont: string, deadline: number): Ctl | string {
    this.addTimer({ deadline, kind: 'sleep', tid: t.id });
    const r = this.sleep(t, wait, id, cont, true);
    if (r !== WAIT) this.timers = this.timers.filter((x) => !(x.kind === 'sleep' && x.tid === t.id));
    return r;
  }

  // After sleepUntil: whether the timer ended the sleep; a sleep that
  // ended otherwise has its timer cancelled.
  timedOut(t: Thread): boolean {
    const pending = this.timers.some((x) => x.kind === 'sleep' && x.tid === t.id);
    if (pending) this.timers = this.timers.filter((x) => !(x.kind === 'sleep' && x.tid === t.id));
    return !pending;
  }

  emit(e: Event): void {
    this.events.push(e);
  }

  touchPage(page: number): void {
    this.touchedPages.push(page);
  }

  touchPte(vma: Vma, p: number): void {
    this.touchedPtes.push(vma);
    this.touchedPteIndex.push(p);
  }

  // Starts a step: forgets what the last one did.
  clearStep(): void {
    // setting a length is costly even when it does not change one
    if (this.events.length) this.events.length = 0;
    if (this.touchedPages.length) this.touchedPages.length = 0;
    if (this.touchedPtes.length) {
      this.touchedPtes.length = 0;
      this.touchedPteIndex.length = 0;
    }
  }
}

const NO_FAULTS = [-1];

export function label(f: Fn<any>, l: string): number {
  const i = f.index.get(l);
  if (i === undefined) throw new Error(`${f.name}: no label "${l}"`);
  return i;
}

function plan(tc: TestCase, kind: 'signal' | 'alloc'): Map<number, Set<number>> {
  const m = new Map<number, Set<number>>();
  for (const f of tc.faults) {
    if (f.kind !== kind || f.thread >= tc.threads.length) continue;
    if (!m.has(f.thread)) m.set(f.thread, new Set());
    m.get(f.thread)!.add(f.nth);
  }
  return m;
}
