// The breadth-first explorer: complete and clean on the clean variants,
// the shortest trace on the known bugs, and a visited set that forgets
// nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import seedrandom from 'seedrandom';
import { CLEAN_VARIANTS, KNOWN_BUGS, findVariant, type Variant } from '../models/variants/index.ts';
import { pct, stickyWalk } from '../fuzz/schedulers.ts';
import { explore, exploreScenario, FingerprintTable, loadScenario, scenarioNames, scenarioNamesSmallestFirst, ScenarioError } from '../fuzz/explore.ts';
import { Execution, runTestCase } from '../fuzz/lockstep.ts';
import { stateFingerprint } from '../fuzz/fingerprint.ts';
import { parseTestCase, type TestCase } from '../models/testcase.ts';
import { CHANGES, changesOf } from '../fuzz/systematic.ts';

const opts = { depth: 400, maxStates: 500_000 };

// The mapdirect contract promises more than the upstream one where a
// registration, a MAP_DIRECT mapping or a layout is involved: the
// scenarios that have one.  (`daxcheck explore --variant
// mapdirect-fixed` covers all of them, README "Exploring"; here the test
// time is the bound.)
const contractOps = (op: { op: string; direct?: boolean }) => ['reg_mr', 'fcntl_map_direct', 'layoutget'].includes(op.op) || (op.op === 'mmap' && !!op.direct);
const CONTRACT_SCENARIOS = scenarioNames().filter((name) => loadScenario(name).cases.some((c) => c.testCase.threads.some((t) => t.ops.some(contractOps))));

// Each scenario's open op here takes a fifth of its choices, a different
// fifth from one scenario to the next, so that every change of the
// systematic table is explored against a fifth of its sources
// (`daxcheck explore` explores every choice of every one: README
// "Exploring"; here the test time is the bound).
function someCases(name: string, at: number) {
  const sc = loadScenario(name);
  const cases = sc.cases.length < 5 ? sc.cases : sc.cases.filter((_, c) => (c + at) % 5 === 0);
  return { ...sc, cases };
}

for (const v of CLEAN_VARIANTS) {
  const names = v.contract === 'upstream' ? scenarioNames() : CONTRACT_SCENARIOS;
  test(`${v.name} explores ${v.contract === 'upstream' ? 'every shipped scenario' : 'every shipped scenario with a registration, a MAP_DIRECT mapping or a layout'} to completion with no divergence, a fifth of each one's choices`, () => {
    names.forEach((name, at) => {
      const r = exploreScenario(v, someCases(name, at), opts);
      assert.is(r.divergence, null, `${name}: ${r.divergence?.message}`);
      assert.ok(r.complete, `${name}: stopped by ${r.stoppedBy}`);
      assert.ok(r.distinct > 1 && r.generated >= r.distinct);
    });
  });
}

test('across the scenarios, the clean catalogs\' fifths take every choice of the systematic table', () => {
  const taken = new Set<string>();
  scenarioNames().forEach((name, at) => someCases(name, at).cases.forEach((c) => taken.add(c.choice)));
  CHANGES.forEach((change, i) => assert.ok([0, 1, 2].some((file) => [...taken].some((c) => c.includes(JSON.stringify(changesOf(file)[i])))), change.name));
});

// The length of a trace of the same program found by schedule search
// (PCT of depth 3 or a sticky walk, seeded), the way a fuzz run finds one:
// the explorer's shortest must be no longer.  Null: none in the tries.
// The first shipped scenario, smallest first, that shows one of the classes, with its
// shortest trace there (shortestOverScenarios, which the bench and the
// matrix use, searches every scenario to the end: too long for a test).
function firstOverScenarios(v: Variant, accept: (cls: string) => boolean): { scenario: string; length: number; result: ReturnType<typeof exploreScenario> } | null {
  for (const name of scenarioNamesSmallestFirst()) {
    const result = exploreScenario(v, loadScenario(name), opts);
    if (result.divergence && accept(result.divergence.class)) return { scenario: name, length: result.path!.length, result };
  }
  return null;
}

function searchedLength(v: Variant, tc: TestCase, classes: readonly string[], tries = 20_000): number | null {
  const rng = seedrandom('explore-vs-search');
  for (let i = 0; i < tries; i++) {
    const picker = rng() < 0.5 ? pct(rng, { threads: tc.threads.length + 4, steps: 32, depth: 3 }) : stickyWalk(rng);
    const r = runTestCase(v, { ...tc, schedule: [], cycle: [] }, { picker });
    if (r.divergence && classes.includes(r.divergence.class)) return r.steps;
  }
  return null;
}

for (const bug of KNOWN_BUGS) {
  test(`${bug.id} is found on a shipped scenario, by a trace that replays and is no longer than a searched trace of the same program`, () => {
    const v = findVariant(bug.id);
    const m = firstOverScenarios(v, (c) => (bug.expect as string[]).includes(c));
    assert.ok(m, `no shipped scenario shows ${bug.expect.join(' or ')}`);
    const r = m!.result;
    const run = runTestCase(v, r.testCase!);
    assert.is(run.divergence?.class, r.divergence!.class);
    assert.is(run.steps, m!.length);
    if (r.divergence!.class !== 'no-progress') {
      const { schedule: _s, cycle: _c, repeatFrom: _r, ...program } = r.testCase!;
      const searched = searchedLength(v, program as TestCase, [r.divergence!.class]);
      assert.ok(searched !== null, `no searched schedule of ${m!.scenario} shows ${r.divergence!.class}`);
      assert.ok(m!.length <= searched!, `${m!.length} > ${searched}`);
    }
    // a liveness bug is a lasso: a stem, then a loop the replay goes round until it closes
    if (r.divergence!.class === 'no-progress') {
      assert.ok(r.lasso && r.lasso.loop > 0);
      assert.ok(m!.length >= r.lasso!.stem + r.lasso!.loop);
      assert.is(r.testCase!.repeatFrom !== undefined, true);
    } else assert.is(r.lasso, null);
  });
}

test('states kept for queued nodes and states reached by replay give the same search', () => {
  const pick = (r: ReturnType<typeof exploreScenario>) => ({
    distinct: r.distinct, generated: r.generated, depth: r.depth, stoppedBy: r.stoppedBy, path: r.path, cls: r.divergence?.class ?? null, lasso: r.lasso,
  });
  for (const variant of ['mapdirect-fixed', 'K2', 'K10']) {
    for (const name of ['sys-dio-buffer', 'sys-map-direct-registered', 'sys-map-direct-fd-reuse', 'truncate-vs-dio-stream']) {
      const sc = loadScenario(name);
      const first = { ...sc, cases: sc.cases.slice(0, 1) }; // its first change is enough here
      const kept = exploreScenario(findVariant(variant), first, opts);
      const replayed = exploreScenario(findVariant(variant), first, { ...opts, heldStates: 0 });
      const some = exploreScenario(findVariant(variant), first, { ...opts, heldStates: 50 });
      assert.equal(pick(replayed), pick(kept), `${variant} ${name}`);
      assert.equal(pick(some), pick(kept), `${variant} ${name}, 50 kept`);
      assert.ok(replayed.steps > kept.steps || kept.distinct < 3, `${variant} ${name}: replay takes more steps`);
    }
  }
});

test('an unfair cycle is no lasso: a thread kept from running while it could is not starvation', () => {
  // T1's stream of direct I/O runs forever while T0, runnable throughout, never runs
  const tc = loadScenario('truncate-vs-dio-stream').cases[0].testCase;
  for (const name of ['upstream', 'dax-v8']) {
    const run = runTestCase(findVariant(name), { ...tc, schedule: [1, 0], repeatFrom: 1 });
    assert.is(run.divergence, null, name);
    assert.ok(run.trace.every((s) => s.tid === 1));
  }
});

test('open ops: a scenario stands for every combination of its choices, and the shortest divergence among them is reported', () => {
  // K1 frees a pinned block: a truncate or a punch shows it, an allocation cannot
  const sc = loadScenario('sys-dio-buffer');
  assert.is(sc.cases.length, CHANGES.length); // one a change
  const r = exploreScenario(findVariant('K1'), sc, opts);
  const each = sc.cases.map((c) => explore(findVariant('K1'), c.testCase, opts).path?.length ?? Infinity);
  assert.is(r.path!.length, Math.min(...each));
  assert.ok((r.choice ?? '').includes(JSON.stringify(sc.cases[each.indexOf(Math.min(...each))].testCase.threads[1].ops[1])), r.choice ?? '');
  assert.ok(each.some((n) => n === Infinity) && each.some((n) => n < Infinity), each.join(' '));
});

test('max-states stops cleanly with the statistics so far', () => {
  const r = explore(findVariant('upstream'), loadScenario('sys-dio-buffer').cases[0].testCase, { depth: 400, maxStates: 100 });
  assert.is(r.stoppedBy, 'max-states');
  assert.not.ok(r.complete);
  assert.is(r.distinct, 100);
});

test('a depth bound leaves the search incomplete, not clean', () => {
  const r = explore(findVariant('upstream'), loadScenario('sys-dio-buffer').cases[0].testCase, { depth: 5, maxStates: 1e6 });
  assert.is(r.stoppedBy, 'depth');
  assert.not.ok(r.complete);
});

test('the fingerprint table agrees with a Map through growth', () => {
  const rng = seedrandom('fps');
  const table = new FingerprintTable(4);
  const ref = new Map<string, number>();
  for (let i = 0; i < 20000; i++) {
    const hi = Math.floor(rng() * 64); // small ranges: many repeats
    const lo = Math.floor(rng() * 512);
    const old = table.add(hi, lo, i);
    const key = `${hi}:${(hi | lo) === 0 ? 1 : lo}`;
    assert.is(old, ref.get(key) ?? -1);
    if (!ref.has(key)) ref.set(key, i);
  }
  assert.is(table.size, ref.size);
});

test('an unknown scenario is refused by name', () => {
  assert.throws(() => loadScenario('nope'), (e: Error) => e instanceof ScenarioError && /unknown scenario "nope"/.test(e.message));
});


test('the fingerprint is canonical in the allocation history: a block freed and allocated again comes back to the same state', () => {
  const tc = parseTestCase({
    config: { files: [{ owner: 0, dax: true, reflink: false, size: 1, sparse: false }], procs: [{ uid: 0, capLease: false }], blocks: 1, leaseBreakTime: 1 },
    threads: [
      { proc: 0, loop: false, ops: [{ op: 'open', file: 0, write: true }] },
      { proc: 0, loop: true, ops: [{ op: 'truncate', fd: 0, size: 0 }, { op: 'write', fd: 0, off: 0, val: 11 }] },
    ],
    nic: [], schedule: [], cycle: [], faults: [],
  });
  const ex = new Execution(findVariant('upstream'), tc);
  const runUntil = (tid: number, completions: number): void => {
    for (let done = 0; done < completions; ) if (ex.advance(tid).info.result !== undefined) done++;
  };
  const fp = () => stateFingerprint(ex.k, ex.ref, ex.lockdep.signature()).join(':');
  runUntil(0, 1);
  runUntil(1, 2);
  const once = fp();
  const epoch = ex.k.pageEpoch[0];
  runUntil(1, 2);
  assert.ok(ex.k.pageEpoch[0] > epoch, 'the block was allocated again');
  assert.is(fp(), once);
  // what the checks can tell apart stays apart: a pin on the block from before is stale
  ex.k.mrs.push({ id: 9, proc: 0, span: 1, pins: [{ page: 0, epoch, inode: 0, index: 0, anon: -1, follPin: true }], pinned: true, iova: 0, iovaPages: 1, sgPages: 1, lease: -1, revoked: false, live: true });
  const stale = fp();
  ex.k.mrs[0].pins[0].epoch = ex.k.pageEpoch[0];
  assert.is.not(fp(), stale);
});

test('the fingerprint keeps the fault counters only as distances to the faults still planned', () => {
  const tc = loadScenario('sys-map-direct-interrupted').cases[0].testCase;
  const ex = new Execution(findVariant('mapdirect-fixed'), tc);
  const fp = () => stateFingerprint(ex.k, ex.ref, ex.lockdep.signature()).join(':');
  const t0 = ex.k.threads[0]; // no faults planned
  const before = fp();
  t0.sleeps += 3;
  t0.allocs += 2;
  assert.is(fp(), before);
  ex.k.threads[1].allocs += 1; // passes the planned allocation failure
  assert.is.not(fp(), before);
});

test.run();
