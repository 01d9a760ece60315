// fast-check arbitraries for test cases.  Programs are plain tagged data;
// every reference is a small index the models take modulo what exists,
// so every shrink stays a valid test case.  Nothing here knows a variant
// or a bug: the generator only knows the API.

import fc from 'fast-check';
import { LIMITS, OP_NAMES, blocksNeeded, type Config, type FallocMode, type Fault, type NicOp, type Op, type OpName, type TestCase, type ThreadSpec } from '../models/testcase.ts';

const idx = (max = 3) => fc.integer({ min: 0, max });
const val = fc.integer({ min: 1, max: 9 });
// Most generated calls should be valid ones, as syzkaller's are: lean
// toward the permissive choice.
const likely = fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
const rarely = fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
// Mostly from the start of the file, which a generated file usually
// covers; else anywhere, past EOF included.
const arbOff = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: idx() });
// fallocate's modes, the two the model began with most often; a refused
// combination now and then.
const fallocMode = fc.constantFrom<FallocMode>(
  'punch', 'alloc', 'punch', 'alloc', 'alloc_keep', 'zero', 'zero_keep', 'collapse', 'insert', 'collapse', 'insert', 'unshare', 'unshare_keep',
  'punch_nokeep', 'collapse_keep', 'zero_punch', 'unshare_zero',
);
const arbMmapOp = fc.record({
  op: fc.constant('mmap' as const), fd: idx(), off: arbOff, len: idx(1),
  type: fc.oneof(
    { weight: 3, arbitrary: fc.constant('shared' as const) },
    { weight: 2, arbitrary: fc.constant('validate' as const) },
    { weight: 1, arbitrary: fc.constant('private' as const) },
  ),
  sync: rarely, direct: fc.boolean(), write: likely,
});

const OPS_EXIT: Op = { op: 'exit' };

// One arbitrary per op kind.
const OPS: Record<OpName, fc.Arbitrary<Op>> = {
  open: fc.record({ op: fc.constant('open' as const), file: idx(2), write: likely, nonblock: rarely }),
  close: fc.record({ op: fc.constant('close' as const), fd: idx() }),
  mmap: arbMmapOp,
  munmap: fc.record({ op: fc.constant('munmap' as const), map: idx() }),
  madvise_dontneed: fc.record({ op: fc.constant('madvise_dontneed' as const), map: idx(), page: idx(1), npages: idx(1) }),
  fork: fc.record({ op: fc.constant('fork' as const) }),
  exit: fc.record({ op: fc.constant('exit' as const) }),
  load: fc.record({ op: fc.constant('load' as const), map: idx(), page: idx(1) }),
  store: fc.record({ op: fc.constant('store' as const), map: idx(), page: idx(1), val }),
  write: fc.record({ op: fc.constant('write' as const), fd: idx(), off: idx(), val }),
  dio_read: fc.record({ op: fc.constant('dio_read' as const), fd: idx(), off: idx(), map: idx(), page: idx(1), aio: fc.boolean() }),
  dio_write: fc.record({ op: fc.constant('dio_write' as const), fd: idx(), off: idx(), map: idx(), page: idx(1), aio: fc.boolean() }),
  truncate: fc.record({ op: fc.constant('truncate' as const), fd: idx(), size: idx(4) }),
  truncate_path: fc.record({ op: fc.constant('truncate_path' as const), file: idx(2), size: idx(4) }),
  unlink: fc.record({ op: fc.constant('unlink' as const), file: idx(2) }),
  fallocate: fc.record({ op: fc.constant('fallocate' as const), fd: idx(), mode: fallocMode, off: idx(), len: idx() }),
  // mostly a whole file onto another (FICLONE: both offsets and the length 0)
  clone: fc.oneof(
    { weight: 2, arbitrary: fc.record({ op: fc.constant('clone' as const), fd: idx(), src: idx(), soff: fc.constant(0), doff: fc.constant(0), len: fc.constant(0) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('clone' as const), fd: idx(), src: idx(), soff: idx(), doff: idx(), len: fc.integer({ min: 0, max: LIMITS.pagesPerFile }) }) },
  ),
  reg_mr: fc.record({ op: fc.constant('reg_mr' as const), map: idx(), page: idx(1), npages: idx(1), unaligned: fc.boolean() }),
  dereg_mr: fc.record({ op: fc.constant('dereg_mr' as const), mr: idx() }),
  uring_register: fc.record({ op: fc.constant('uring_register' as const), map: idx(), page: idx(1), npages: idx(1) }),
  uring_unregister: fc.record({ op: fc.constant('uring_unregister' as const) }),
  uring_read_fixed: fc.record({ op: fc.constant('uring_read_fixed' as const), fd: idx(), off: arbOff, page: idx(1) }),
  uring_write_fixed: fc.record({ op: fc.constant('uring_write_fixed' as const), fd: idx(), off: arbOff, page: idx(1) }),
  fcntl_map_direct: fc.record({ op: fc.constant('fcntl_map_direct' as const), fd: idx() }),
  fcntl_setlease: fc.record({ op: fc.constant('fcntl_setlease' as const), fd: idx(), type: fc.constantFrom('rd' as const, 'wr' as const, 'wr' as const, 'unlck' as const) }),
  fcntl_getlease: fc.record({ op: fc.constant('fcntl_getlease' as const), fd: idx() }),
  sigtimedwait: fc.record({ op: fc.constant('sigtimedwait' as const) }),
  layoutget: fc.record({ op: fc.constant('layoutget' as const), fd: idx() }),
  layoutreturn: fc.record({ op: fc.constant('layoutreturn' as const), fd: idx() }),
  tick: fc.record({ op: fc.constant('tick' as const) }),
};

// Swarm testing (Groce et al., ISSTA 2012): each test case draws its ops
// from a small random subset of the op kinds, so the kinds it has meet
// each other often.  Every subset is as likely as any other.
// exit_group ends every thread of its process: it comes now and then at
// the end of a thread's program instead.
const arbKinds = fc.subarray(OP_NAMES.filter((op) => op !== 'exit'), { minLength: 3 });

export const arbOpOf = (kinds: OpName[]): fc.Arbitrary<Op> => fc.oneof(...kinds.map((k) => OPS[k]));

// When the application posts a NIC work request: mostly at once, else a
// few virtual seconds in (past a lease-break-time, say).
const arbAt = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }) });

export const arbNicOp: fc.Arbitrary<NicOp> = fc.oneof(
  fc.record({ op: fc.constant('rdma_write' as const), mr: idx(), page: idx(2), val, at: arbAt }),
  fc.record({ op: fc.constant('rdma_read' as const), mr: idx(), page: idx(2), at: arbAt }),
);

export const arbConfig: fc.Arbitrary<Config> = fc
  .record({
    files: fc.array(
      fc.record({
        owner: idx(1),
        dax: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        reflink: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        size: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: fc.integer({ min: 1, max: LIMITS.pagesPerFile }) }),
        sparse: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      }),
      { minLength: 1, maxLength: LIMITS.files },
    ),
    procs: fc.array(fc.record({ uid: idx(1), capLease: rarely, capImmutable: rarely }), { minLength: 1, maxLength: 2 }),
    spare: fc.integer({ min: 0, max: 4 }),
    leaseBreakTime: fc.integer({ min: 1, max: 3 }),
    pmd: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  })
  .map(({ files, procs, spare, leaseBreakTime, pmd }) => {
    // enough blocks for the initial files, plus a few (or none: ENOSPC)
    const used = blocksNeeded({ files, procs, blocks: 0, leaseBreakTime });
    return { files, procs, blocks: Math.max(1, Math.min(LIMITS.maxBlocks, used + spare)), leaseBreakTime, pmd };
  });


// Resources before the ops that use them (as syzkaller builds programs):
// a thread opens a file or two, usually maps one, and often registers the
// mapping for the NIC before its random body, so most of what follows
// (and the NIC's ops) has something to act on.
const arbThread = (nprocs: number, body: fc.Arbitrary<Op>): fc.Arbitrary<ThreadSpec> =>
  fc.record({
    proc: fc.integer({ min: 0, max: nprocs - 1 }),
    opens: fc.array(OPS.open, { minLength: 1, maxLength: 2 }),
    map: fc.option(arbMmapOp, { freq: 3 }),
    mr: fc.option(OPS.reg_mr, { freq: 2 }),
    body: fc.array(body, { maxLength: 7 }),
    exit: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    loop: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  }).map(({ proc, opens, map, mr, body, exit, loop }) => ({ proc, ops: [...opens, ...(map ? [map, ...(mr ? [mr] : [])] : []), ...body, ...(exit ? [OPS_EXIT] : [])] as Op[], loop }));

// A schedule entry: mostly 0, "no preemption" (most concurrency bugs need
// only a few preemptions to show, as CHESS and PCT found).
export const arbPick = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 7 }) });

// A schedule: either dense (a preemption every few steps early in the
// run), or PCT-like (Burckhardt et al., ASPLOS 2010): a few preemptions
// at random points anywhere in the first couple of hundred steps, which
// is what a race deep into a run needs.
const arbSchedule: fc.Arbitrary<number[]> = fc.oneof(
  fc.array(arbPick, { maxLength: 48 }),
  fc.array(fc.tuple(fc.integer({ min: 0, max: 199 }), fc.integer({ min: 1, max: 7 })), { minLength: 1, maxLength: 3 }).map((points) => {
    const s: number[] = new Array(1 + Math.max(...points.map(([at]) => at))).fill(0);
    for (const [at, x] of points) s[at] = x;
    return s;
  }),
);

const arbFault = (nthreads: number): fc.Arbitrary<Fault> =>
  fc.record({
    kind: fc.constantFrom('signal' as const, 'alloc' as const),
    thread: fc.integer({ min: 0, max: Math.max(0, nthreads - 1) }),
    nth: idx(2),
  });

export const arbTestCase: fc.Arbitrary<TestCase> = fc.tuple(arbConfig, arbKinds).chain(([config, kinds]) =>
  fc.array(arbThread(config.procs.length, arbOpOf(kinds)), { minLength: 1, maxLength: 3 }).chain((threads) =>
    fc.record({
      config: fc.constant(config),
      threads: fc.constant(threads),
      nic: fc.array(arbNicOp, { maxLength: 6 }),
      schedule: arbSchedule,
      cycle: threads.some((t) => t.loop) ? fc.array(arbPick, { maxLength: 8 }) : fc.constant([] as number[]),
      faults: fc.array(arbFault(threads.length), { maxLength: 2 }),
    }),
  ),
);
