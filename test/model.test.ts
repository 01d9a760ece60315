// The models on hand-written scenarios: what each syscall returns and in
// which order things happen, for the behaviours the seeds describe.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findVariant } from '../models/variants/index.ts';
import type { Op, TestCase } from '../models/testcase.ts';
import { runTestCase, Scheduler } from '../fuzz/lockstep.ts';
import { expectation } from '../fuzz/conform.ts';
import seedrandom from 'seedrandom';
import { dax, mmap, open, pagecache, reg, tc } from './programs.ts';

// Results of the ops of thread `tid`, in order, and the steps that ran.
function run(variant: string, t: TestCase) {
  const r = runTestCase(findVariant(variant), t);
  const results = (tid: number) => r.trace.filter((s) => s.tid === tid && s.result !== undefined).map((s) => s.result);
  const at = (fn: string, label: string) => r.trace.findIndex((s) => s.fn === fn && s.label === label);
  return { r, results, at };
}

test('scheduler: 0 keeps the current thread, x picks the x-th runnable after it', () => {
  const s = new Scheduler([0, 1, 0, 2], [], 256);
  assert.is(s.pick([0, 1, 2]), 0);
  assert.is(s.pick([0, 1, 2]), 1);
  assert.is(s.pick([0, 1, 2]), 1);
  assert.is(s.pick([0, 1, 2]), 0); // from 1: order 1, 2, 0
});

test('scheduler: the tail runs a thread for a full slice; the cycle chooses only at a switch', () => {
  const s = new Scheduler([], [], 3);
  assert.equal(Array.from({ length: 7 }, () => s.pick([0, 1])), [0, 0, 0, 1, 1, 1, 0]);
  // the slice is over: cycle entry c picks the (c % others)th other thread
  const c = new Scheduler([], [1, 0], 2);
  assert.equal(Array.from({ length: 7 }, () => c.pick([0, 1, 2])), [0, 0, 2, 2, 0, 0, 2]);
  // the running thread blocked: the entry picks among the runnable ones
  const b = new Scheduler([], [1], 64);
  assert.equal([b.pick([0, 1, 2]), b.pick([1, 2]), b.pick([1, 2])], [0, 2, 2]);
  // the schedule itself may preempt at any step
  const p = new Scheduler([0, 1, 0, 1], [], 64);
  assert.equal(Array.from({ length: 5 }, () => p.pick([0, 1])), [0, 1, 1, 0, 0]);
});

test('upstream: truncate waits for an O_DIRECT pin on the DAX page to drop (001)', () => {
  // the direct I/O is to a page-cache file: O_DIRECT on a DAX file is a copy that pins nothing
  const t = tc([dax(2), pagecache(2)], [
    [open(0), open(1), mmap(0), { op: 'dio_read', fd: 1, off: 0, map: 0, page: 0, aio: false }],
    [{ op: 'truncate', fd: 0, size: 0 }],
  ]);
  const { r, results, at } = run('upstream', t);
  assert.is(r.divergence, null);
  assert.equal(results(0), [0, 1, 0, 0]);
  assert.equal(results(1), [0]);
  assert.ok(at('xfs_break_dax_layouts', 'wait_var_event') < at('blk_mq_run_hw_queue', 'bio_endio'));
  assert.ok(at('blk_mq_run_hw_queue', 'bio_endio') < at('sys_ftruncate', 'xfs_setattr_size'));
});

test('v4.13: the same truncate frees the pinned block and the DMA lands in it', () => {
  const t = tc([dax(2), pagecache(2)], [
    [open(0), open(1), mmap(0), { op: 'dio_read', fd: 1, off: 0, map: 0, page: 0, aio: false }],
    [{ op: 'truncate', fd: 0, size: 0 }],
  ]);
  const { r } = run('v4.13', t);
  assert.is(r.divergence?.class, 'dma-into-reallocated-block');
});

test('ibv_reg_mr of a DAX mapping is refused; of a shared page-cache mapping 4.18 and 6.1 pin, 6.18 refuses (EFAULT); of a private one all pin', () => {
  const t = tc([dax(1), pagecache(1)], [[open(0), mmap(0), reg(0), open(1), mmap(1), reg(1), mmap(1, { type: 'private' }), reg(2)]]);
  for (const [v, shared] of [['linux-4.18', 0], ['linux-6.1', 0], ['linux-mainline', 'EFAULT']] as const) {
    const { r, results } = run(v, t);
    assert.is(r.divergence, null, v);
    assert.equal(results(0), [0, 0, 'EOPNOTSUPP', 1, 1, shared, 2, shared === 0 ? 1 : 0], v);
  }
});

test('upstream (6.1): the private copies of a DAX mapping register, its file pages do not (pin_user_pages_fast)', () => {
  const priv = (write: boolean) => mmap(0, { type: 'private', len: 1, write });
  const store = (page: number): Op => ({ op: 'store', map: 0, page, val: 7 });
  // both pages written: both private copies, present and writable
  assert.equal(run('upstream', tc([dax(2)], [[open(0), priv(true), store(0), store(1), reg(0, 0, 1)]])).results(0).slice(2), [0, 0, 0]);
  // one page not copied: the slow path reaches the fs-DAX vma
  assert.equal(run('upstream', tc([dax(2)], [[open(0), priv(true), store(0), reg(0, 0, 1)]])).results(0).slice(2), [0, 'EOPNOTSUPP']);
  // a fork write-protects the copies: off the fast path again
  assert.equal(run('upstream', tc([dax(2)], [[open(0), priv(true), store(0), store(1), { op: 'fork' }, reg(0, 0, 1)]])).results(0).slice(5), ['EOPNOTSUPP']);
});

test('RLIMIT_MEMLOCK counts pinned pages: charged before the pin, given back on failure and at dereg; no registration to drop is ENOENT', () => {
  const two = reg(0, 0, 1); // two pages
  const t = tc([pagecache(2)], [[open(0), mmap(0, { len: 1 }), { op: 'dereg_mr', mr: 0 }, two, two, two, { op: 'dereg_mr', mr: 0 }, two, reg(0, 0, 0), reg(0, 0, 0)]]);
  assert.equal(run('linux-6.1', t).results(0).slice(2), ['ENOENT', 0, 1, 'ENOMEM', 0, 2, 'ENOMEM', 'ENOMEM']);
  // a failed pin gives its charge back: a read-only mapping cannot be registered for the NIC to write
  const ro = tc([pagecache(2)], [[open(0), mmap(0, { len: 1, write: false }), two, two, two, open(0), mmap(1, { len: 1 }), reg(1, 0, 1), reg(1, 0, 1)]]);
  assert.equal(run('linux-6.1', ro).results(0).slice(2), ['EFAULT', 'EFAULT', 'EFAULT', 1, 1, 0, 1]);
});

test('an O_DIRECT write to a page-cache file takes a registered page out of the file: the NIC no longer reaches it', () => {
  // the NIC writes 9 through a registration of page 0, after an O_DIRECT write of page 0 from page 1
  const ops = (dio: boolean): Op[] => [open(0), mmap(0, { len: 1 }), reg(0, 0, 0), ...(dio ? [{ op: 'dio_write', fd: 0, off: 0, map: 0, page: 1, aio: false } as Op] : []), { op: 'tick' }, { op: 'load', map: 0, page: 0 }];
  const nic = [{ op: 'rdma_write' as const, mr: 0, page: 0, val: 9, at: 1 }];
  // in conform's order: the NIC's work as soon as it is posted, between two ops
  const last = (dio: boolean) => {
    const e = expectation(findVariant('linux-6.1'), tc([pagecache(2)], [ops(dio)], { nic }));
    assert.is(e.modelDivergence, null);
    return [e.steps.map((x) => x.op.op).join(' '), e.steps.at(-1)!.expected];
  };
  assert.equal(last(false), ['open mmap reg_mr tick rdma_write load', 'ok 9']);
  assert.equal(last(true), ['open mmap reg_mr dio_write tick rdma_write load', 'ok 12']); // page 1's value, written by O_DIRECT; the NIC's 9 went to the page the registration kept
});

test('MAP_SHARED_VALIDATE rejects MAP_DIRECT upstream; legacy MAP_SHARED drops it (004)', () => {
  const t = tc([dax(1)], [[open(0), mmap(0, { type: 'validate', direct: true }), mmap(0, { direct: true }), mmap(0, { type: 'validate', sync: true })]]);
  const { r, results } = run('upstream', t);
  assert.is(r.divergence, null);
  assert.equal(results(0), [0, 'EOPNOTSUPP', 0, 1]);
});

test('mapdirect: MAP_DIRECT on a page-cache or reflinked file is EPERM, and needs ownership (004)', () => {
  const t = tc([pagecache(1), { ...dax(1), reflink: true }, { ...dax(1), owner: 1 }], [[
    open(0), mmap(0, { type: 'validate', direct: true }),
    open(1), mmap(1, { type: 'validate', direct: true }),
    open(2), mmap(2, { type: 'validate', direct: true }),
    mmap(2, { type: 'validate', sync: true }), mmap(0, { type: 'validate', sync: true }),
  ]]);
  const { r, results } = run('mapdirect-fixed', t);
  assert.is(r.divergence, null);
  assert.equal(results(0), [0, 'EPERM', 1, 'EPERM', 2, 'EACCES', 0, 'EOPNOTSUPP']);
});

test('mapdirect: truncate breaks the MAP_DIRECT lease, waits out lease-break-time, then the mapping gets SIGBUS (004)', () => {
  const t = tc([dax(2)], [
    [open(0), mmap(0, { type: 'validate', direct: true }), { op: 'load', map: 0, page: 0 }, { op: 'tick' }, { op: 'load', map: 0, page: 0 }],
    [{ op: 'truncate', fd: 0, size: 1 }],
  ], { schedule: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] });
  const { r, results } = run('mapdirect-fixed', t);
  assert.is(r.divergence, null);
  assert.equal(results(0), [0, 0, 11, 0, 'SIGBUS']);
  assert.equal(results(1), [0]);
  const leaseGone = r.trace.findIndex((s) => s.fn === 'map_direct_invalidate' && s.label === 'invalidate');
  assert.ok(leaseGone > 0 && leaseGone < r.trace.findIndex((s) => s.fn === 'sys_ftruncate' && s.label === 'xfs_setattr_size'));
});

test('mapdirect: a signal during the lease-break wait makes truncate return EINTR and change nothing', () => {
  const t = tc([dax(2)], [
    [open(0), mmap(0, { type: 'validate', direct: true })],
    [{ op: 'truncate', fd: 0, size: 0 }, { op: 'load', map: 0, page: 0 }],
  ], { faults: [{ kind: 'signal', thread: 1, nth: 0 }] });
  const { r, results } = run('mapdirect-fixed', t);
  assert.is(r.divergence, null);
  assert.equal(results(1), ['EINTR', 11]); // still there: the truncate did nothing
});

test('mapdirect: an allocating write fault under a lease starts the break and gets SIGBUS (004 v9 5/6)', () => {
  const t = tc([{ ...dax(2), sparse: true }], [[open(0), mmap(0, { type: 'validate', direct: true }), { op: 'store', map: 0, page: 0, val: 5 }]]);
  const { r, results } = run('mapdirect-fixed', t);
  assert.is(r.divergence, null);
  assert.equal(results(0), [0, 0, 'SIGBUS']);
});

test('O_DIRECT to an empty DAX file allocates its block before the copy; a punch frees it though it lies past EOF', () => {
  // the failed write leaves a block past EOF (xfs_direct_write_iomap_begin); xfs_free_file_space frees whole blocks past EOF too
  const t = tc([{ ...dax(0), sparse: true }, { ...dax(1), sparse: true }], [[
    open(0), open(1),
    { op: 'dio_write', fd: 0, off: 0, map: 0, page: 0, aio: false },
    { op: 'write', fd: 1, off: 0, val: 1 },
    { op: 'fallocate', fd: 0, mode: 'punch', off: 0, len: 0 },
    { op: 'write', fd: 1, off: 0, val: 2 },
  ]]);
  t.config.blocks = 1;
  const { r, results } = run('linux-mainline', t);
  assert.is(r.divergence, null);
  assert.equal(results(0), [0, 1, 'EFAULT', 'ENOSPC', 0, 0]);
});

test('an injected block allocation failure surfaces as ENOSPC from write(2)', () => {
  const t = tc([{ ...dax(1), sparse: true }], [[open(0), { op: 'write', fd: 0, off: 0, val: 3 }, { op: 'write', fd: 0, off: 0, val: 4 }]], {
    faults: [{ kind: 'alloc', thread: 0, nth: 0 }],
  });
  const { r, results } = run('upstream', t);
  assert.is(r.divergence, null);
  assert.equal(results(0), [0, 'ENOSPC', 0]);
});

test('fds are reused lowest first, and a full table gives EMFILE', () => {
  const t = tc([dax(1)], [[open(0), open(0), { op: 'close', fd: 0 }, open(0), open(0), open(0), open(0), open(0), open(0)]]);
  const { results } = run('upstream', t);
  assert.equal(results(0), [0, 1, 0, 0, 2, 3, 4, 5, 'EMFILE']);
});

// A looping thread streams AIO reads into a buffer in file 0's mapping
// while thread 0 truncates file 0 (schedules found by hand: the stream
// has pinned the page when truncate scans).
function streamVsTruncate(dioFile: 0 | 1): TestCase {
  const files = [dax(2), pagecache(2)];
  const opens = dioFile === 0 ? [open(0)] : [open(0), open(1)];
  const pre = [...Array(opens.length + 4).fill(0), 1, ...Array(42).fill(0), 1];
  const t = tc(files, [
    [...opens, mmap(0, { len: 1 }), { op: 'truncate', fd: 0, size: 1 }],
    [{ op: 'dio_read', fd: dioFile, off: 0, map: 0, page: 0, aio: true }],
  ], { schedule: pre });
  t.threads[1].loop = true;
  return t;
}

test('O_DIRECT to the DAX file itself is a copy under the IOLOCK that pins nothing: truncate gets through its stream, with the IOLOCK kept or dropped (K3 retired)', () => {
  for (const name of ['upstream', 'dax-v8']) {
    const { r, results } = run(name, streamVsTruncate(0));
    assert.is(r.divergence, null, name);
    assert.equal(results(0), [0, 0, 0], name);
  }
});

test('no-progress: truncate starved by direct I/O to another file is outside 001\'s promise, and not reported', () => {
  const { r, results } = run('upstream', streamVsTruncate(1));
  assert.equal(results(0), [0, 1, 0]); // the truncate never returns ...
  assert.is(r.finished, false);
  assert.ok(r.steps < 600); // ... the run came round to a state it had been in ...
  assert.is(r.divergence, null); // ... and that is not a broken promise
});

test('a NIC op posted at virtual time 2 waits for the clock, which the timer advances to it', () => {
  const t = tc([pagecache(1)], [[open(0), mmap(0, { type: 'private' }), { op: 'reg_mr', map: 0, page: 0, npages: 0, unaligned: false }]], {
    nic: [{ op: 'rdma_write', mr: 0, page: 0, val: 7, at: 2 }],
  });
  const { r, results, at } = run('upstream', t);
  assert.is(r.divergence, null);
  assert.equal(results(0), [0, 0, 0]);
  assert.ok(at('run_timer_softirq', 'run_timer_softirq') >= 0);
  assert.ok(at('nic_dma', 'nic_dma') > at('run_timer_softirq', 'run_timer_softirq'));
});

// The results thread `tid` gets over many seeded schedules.
function outcomes(variant: string, t: TestCase, tid: number, op: number, tries = 300): Set<number | string> {
  const rng = seedrandom('outcomes');
  const seen = new Set<number | string>();
  for (let i = 0; i < tries; i++) {
    const schedule = Array.from({ length: 80 }, () => (rng() < 0.3 ? Math.floor(rng() * 4) : 0));
    const r = runTestCase(findVariant(variant), { ...t, schedule });
    assert.is(r.divergence, null, `${variant}, schedule ${i}: ${r.divergence?.message}`);
    const res = r.trace.filter((s) => s.tid === tid && s.result !== undefined).map((s) => s.result);
    if (res.length > op) seen.add(res[op]!);
  }
  return seen;
}

const sparsePagecache = { owner: 0, dax: false, reflink: false, size: 2, sparse: true };

test('an AIO O_DIRECT read of a page-cache hole zeroes the buffer inside io_submit: a store after it is never overwritten', () => {
  const t = tc([dax(2), sparsePagecache], [[open(0), open(1), mmap(0), { op: 'store', map: 0, page: 0, val: 7 }, { op: 'dio_read', fd: 1, off: 0, map: 0, page: 0, aio: true }, { op: 'store', map: 0, page: 0, val: 5 }, { op: 'load', map: 0, page: 0 }]]);
  for (const v of ['linux-4.18', 'linux-6.1', 'linux-mainline']) {
    assert.equal([...outcomes(v, t, 0, 6)], [5], v);
    const r = runTestCase(findVariant(v), t);
    assert.ok(r.trace.some((s) => s.label === 'iomap_dio_hole_iter'), v);
    assert.not.ok(r.trace.some((s) => s.fn === 'blk_mq_run_hw_queue'), `${v}: nothing goes to the device`);
  }
});

test('an O_DIRECT read of a page-cache hole into a buffer it cannot reach: EFAULT from 6.1 on, a short read (0) in 4.18', () => {
  const t = tc([sparsePagecache], [[open(0), { op: 'dio_read', fd: 0, off: 0, map: 0, page: 0, aio: false }]]);
  const result = (v: string) => runTestCase(findVariant(v), t).trace.filter((s) => s.result !== undefined).map((s) => s.result);
  assert.equal(result('linux-6.1'), [0, 'EFAULT']);
  assert.equal(result('linux-mainline'), [0, 'EFAULT']);
  assert.equal(result('linux-4.18'), [0, 0]);
});

test('an O_DIRECT write to an empty page-cache file grows it as it completes: a load of the page meanwhile is SIGBUS, never the zeroed page', () => {
  const t = tc([dax(1), { ...sparsePagecache, size: 0 }], [
    [open(0), open(1), mmap(0), { op: 'store', map: 0, page: 0, val: 7 }, { op: 'dio_write', fd: 1, off: 0, map: 0, page: 0, aio: true }],
    [open(1), mmap(1, { len: 0 }), { op: 'load', map: 1, page: 0 }],
  ]);
  const seen = outcomes('linux-6.1', t, 1, 2);
  assert.ok(seen.has('SIGBUS') && seen.has(7), [...seen].join(' '));
  assert.not.ok(seen.has(0), 'the page is not the file\'s until the write completes');
});

test.run();
