// pNFS layouts (docs/fidelity.md, "pNFS layouts"): the FL_LAYOUT leases
// nfsd sets for a client's LAYOUTGET, the only ones upstream that
// xfs_break_leased_layouts breaks, and so the upstream path to K8's code.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findVariant, type FlagName, type Variant } from '../models/variants/index.ts';
import type { Fault, Op, TestCase } from '../models/testcase.ts';
import { runTestCase } from '../fuzz/lockstep.ts';
import { explore, loadScenario } from '../fuzz/explore.ts';
import { dax, mmap, open, tc } from './programs.ts';
import seedrandom from 'seedrandom';

const layoutget: Op = { op: 'layoutget', fd: 0 };
const layoutreturn: Op = { op: 'layoutreturn', fd: 0 };
const truncate: Op = { op: 'truncate', fd: 0, size: 0 };
const tick: Op = { op: 'tick' };
const without = (v: Variant, flag: FlagName): Variant => ({ ...v, flags: { ...v.flags, [flag]: false } });

// T0, the NFS client, holds a layout of a DAX file; T1 truncates it.
const layoutAndTruncate = (client: Op[], faults: Fault[] = []): TestCase => ({ ...tc([dax(2)], [[open(0), layoutget, ...client], [open(0), truncate]]), faults });

// Each thread's results, and the run's divergence.
function run(v: Variant, t: TestCase) {
  const r = runTestCase(v, t);
  const of = (tid: number) => r.trace.filter((s) => s.tid === tid && s.result !== undefined).map((s) => s.result);
  return { d: r.divergence, of, r };
}

// What each of many seeded schedules gave: the results of each thread,
// and whether nfsd's fence ran.
function schedules(v: Variant, t: TestCase, tries = 200) {
  const rng = seedrandom('pnfs');
  const out: { of: (tid: number) => unknown[]; fenced: boolean }[] = [];
  for (let i = 0; i < tries; i++) {
    const schedule = Array.from({ length: 60 }, () => (rng() < 0.4 ? Math.floor(rng() * 4) : 0));
    const { d, of, r } = run(v, { ...t, schedule });
    assert.is(d, null, `${v.name}, schedule ${i}: ${d?.message}`);
    out.push({ of, fenced: r.trace.some((s) => s.fn === 'process_one_work') });
  }
  return out;
}

test('a truncate recalls the layout and waits until the client returns it, or until nfsd fences it two lease periods on', () => {
  const runs = schedules(findVariant('linux-6.1'), layoutAndTruncate([layoutreturn]));
  // the client returned the layout while the truncate waited: no fence
  assert.ok(runs.some((x) => x.of(0)[2] === 0 && x.of(1)[1] === 0 && !x.fenced));
  // the fence came first: nothing left to return
  assert.ok(runs.some((x) => x.of(0)[2] === 'NFS4ERR_BAD_STATEID' && x.of(1)[1] === 0 && x.fenced));
  // and every truncate completed
  assert.ok(runs.every((x) => x.of(1)[1] === 0));
});

test('LAYOUTGET\'s own answers: NFS4ERR_RECALLCONFLICT during a recall, NFS4ERR_LAYOUTUNAVAILABLE for a reflinked file, EBADF without an open', () => {
  // T1's truncate recalls T0's layout; T0 asks again, during the recall or after
  // (on mainline-fixed: the truncate recalls a layout handed out while it waits, see below)
  const again = new Set(schedules(findVariant('mainline-fixed'), layoutAndTruncate([layoutget])).map((x) => x.of(0)[2]));
  assert.equal([...again].sort(), [0, 'NFS4ERR_RECALLCONFLICT']);
  const reflinked = tc([{ ...dax(1), reflink: true }], [[open(0), layoutget, layoutreturn]]);
  assert.equal(run(findVariant('linux-mainline'), reflinked).of(0), [0, 'NFS4ERR_LAYOUTUNAVAILABLE', 0]);
  assert.equal(run(findVariant('linux-mainline'), tc([dax(1)], [[layoutget, layoutreturn]])).of(0), ['EBADF', 'EBADF']);
});

test('a layout handed out while a truncate waits for a recall is never recalled on any version (__break_lease breaks once): the truncate waits for good; mainline-fixed recalls it too', () => {
  // T0 takes a layout; T1's truncate recalls it; nfsd fences T0 two seconds on, and T0 asks again
  const t = layoutAndTruncate([tick, tick, tick, layoutget]);
  for (const name of ['linux-4.18', 'linux-6.1', 'linux-mainline']) {
    const rng = seedrandom('starve');
    const starved = Array.from({ length: 300 }, () => Array.from({ length: 60 }, () => (rng() < 0.4 ? Math.floor(rng() * 4) : 0)))
      .filter((schedule) => run(findVariant(name), { ...t, schedule }).d?.message === 'no thread can run: T1 waits for the layout leases on file 0 to go');
    assert.ok(starved.length > 0, name);
    // the flag is what does it: the same schedules, the truncate recalling the new layout too
    for (const schedule of starved) assert.is(run(without(findVariant(name), 'breakWaitsUnbroken'), { ...t, schedule }).d, null, name);
  }
  const fixed = schedules(findVariant('mainline-fixed'), t);
  assert.ok(fixed.every((x) => x.of(1)[1] === 0), 'every truncate completes');
  // explore meets it from the shipped scenario on each version, and ends clean on mainline-fixed
  const scenario = loadScenario('sys-pnfs-layout-again').cases[0].testCase;
  const opts = { depth: 400, maxStates: 400_000 };
  assert.is(explore(findVariant('linux-6.1'), scenario, opts).divergence?.class, 'deadlock');
  const clean = explore(findVariant('mainline-fixed'), scenario, opts);
  assert.ok(clean.complete && !clean.divergence, clean.divergence?.message);
});

test('K8 is reachable on linux-4.18 through a pNFS layout: a failed allocation in the non-blocking break is lost, and the truncate frees blocks the client still maps; 6.1 and mainline return ENOMEM', () => {
  // T1's second allocation: its open of the file with T0's layout on it allocates the first (break_lease)
  const t = layoutAndTruncate([tick, tick, layoutreturn], [{ kind: 'alloc', thread: 1, nth: 1 }]);
  const k8 = run(findVariant('linux-4.18'), t);
  assert.is(k8.d?.class, 'blockmap-changed-under-lease');
  // the flag is what does it
  assert.is(run(without(findVariant('linux-4.18'), 'breakLayoutsLosesError'), t).d, null);
  for (const name of ['linux-6.1', 'linux-mainline']) {
    const r = run(findVariant(name), t);
    assert.is(r.d, null, name);
    assert.equal(r.of(1), [1, 'ENOMEM'], name);
  }
  // and explore finds it from the shipped scenario, on 4.18 only
  const scenario = loadScenario('sys-pnfs-layout-interrupted').cases[0].testCase;
  const opts = { depth: 400, maxStates: 200_000 };
  assert.is(explore(findVariant('linux-4.18'), scenario, opts).divergence?.class, 'blockmap-changed-under-lease');
  for (const name of ['linux-6.1', 'linux-mainline']) {
    const r = explore(findVariant(name), scenario, opts);
    assert.ok(r.complete && !r.divergence, `${name}: ${r.divergence?.message}`);
  }
});

test('upstream, a signal does not end a truncate\'s wait for a recall: the call polls on and completes once the layout is gone; the fixed MAP_DIRECT series returns EINTR', () => {
  const t = layoutAndTruncate([], [{ kind: 'signal', thread: 1, nth: 0 }]);
  for (const name of ['linux-4.18', 'linux-6.1', 'linux-mainline']) {
    const r = run(findVariant(name), t);
    assert.is(r.d, null, name);
    assert.equal(r.of(1), [1, 0], name);
  }
  assert.equal(run(findVariant('mapdirect-fixed'), t).of(1), [1, 'EINTR']);
  // an upstream kernel that returned the blocking break's error would be caught
  const returnsIt = without(findVariant('linux-6.1'), 'leasedBreakLosesBlockingError');
  assert.match(run(returnsIt, t).d?.message ?? '', /truncate returned EINTR/);
});

test('a page fault may allocate under a granted layout upstream (XFS does not recall layouts for faults); a truncate may not', () => {
  const t = tc([dax(2, true)], [[open(0), mmap(0), layoutget, { op: 'store', map: 0, page: 0, val: 7 }, { op: 'load', map: 0, page: 0 }, layoutreturn]]);
  for (const name of ['linux-4.18', 'linux-6.1', 'linux-mainline']) {
    const r = run(findVariant(name), t);
    assert.is(r.d, null, name);
    assert.equal(r.of(0), [0, 0, 0, 0, 7, 0], name);
  }
  // MAP_DIRECT's iomap_begin breaks every layout lease before a fault allocates: SIGBUS while the layout is held
  const v9 = run(findVariant('mapdirect-fixed'), t);
  assert.is(v9.d, null);
  assert.is(v9.of(0)[3], 'SIGBUS');
});

test.run();
