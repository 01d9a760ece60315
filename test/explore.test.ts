// The breadth-first explorer: complete and clean on the clean variants,
// the shortest trace on the known bugs, and a visited set that forgets
// nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import seedrandom from 'seedrandom';
import { CLEAN_VARIANTS, findVariant } from '../models/variants/index.ts';
import { explore, FingerprintSet, loadScenario, scenarioNames, ScenarioError } from '../fuzz/explore.ts';
import { runTestCase } from '../fuzz/lockstep.ts';

const opts = { depth: 400, maxStates: 500_000 };

for (const v of CLEAN_VARIANTS) {
  test(`${v.name} explores every shipped scenario to completion with no divergence`, () => {
    for (const name of scenarioNames()) {
      const r = explore(v, loadScenario(name).testCase, opts);
      assert.is(r.divergence, null, `${name}: ${r.divergence?.message}`);
      assert.ok(r.complete, `${name}: stopped by ${r.stoppedBy}`);
      assert.ok(r.distinct > 1 && r.generated >= r.distinct);
    }
  });
}

// The shortest trace the matrix's shrunk counterexample could be compared with.
function corpusLength(variant: string): number {
  let best = Infinity;
  for (const dir of readdirSync('corpus')) {
    for (const f of readdirSync(`corpus/${dir}`)) {
      const cx = JSON.parse(readFileSync(`corpus/${dir}/${f}`, 'utf8'));
      if (cx.variant.name === variant) best = Math.min(best, cx.length);
    }
  }
  return best;
}

const FOUND: [string, string, string][] = [
  ['K1', 'truncate-vs-dio', 'dma-into-reallocated-block'],
  ['K2', 'truncate-vs-dio', 'dma-into-reallocated-block'],
  ['K5', 'lease-break-vs-rdma', 'result-mismatch'],
  ['K6', 'mapdirect-fault-vs-timeout', 'blockmap-changed-under-lease'],
  ['K7', 'mmap-flags', 'result-mismatch'],
  ['K9', 'fd-reuse-vs-sigio', 'stale-notification'],
];

for (const [id, scenario, cls] of FOUND) {
  test(`${id} on ${scenario}: ${cls}, by a trace that replays and is no longer than the shrunk fuzz trace`, () => {
    const v = findVariant(id);
    const sc = loadScenario(scenario);
    const r = explore(v, sc.testCase, opts);
    assert.is(r.divergence?.class, cls);
    assert.is(r.stoppedBy, 'divergence');
    const run = runTestCase(v, { ...sc.testCase, schedule: r.schedule! });
    assert.is(run.divergence?.class, cls);
    assert.is(run.divergence?.step, r.divergence!.step);
    assert.ok(r.divergence!.step + 1 <= corpusLength(id), `${r.divergence!.step + 1} > ${corpusLength(id)}`);
  });
}

test('max-states stops cleanly with the statistics so far', () => {
  const r = explore(findVariant('upstream'), loadScenario('truncate-vs-dio').testCase, { depth: 400, maxStates: 100 });
  assert.is(r.stoppedBy, 'max-states');
  assert.not.ok(r.complete);
  assert.is(r.distinct, 100);
});

test('a depth bound leaves the search incomplete, not clean', () => {
  const r = explore(findVariant('upstream'), loadScenario('truncate-vs-dio').testCase, { depth: 5, maxStates: 1e6 });
  assert.is(r.stoppedBy, 'depth');
  assert.not.ok(r.complete);
});

test('the fingerprint set agrees with a Set through growth', () => {
  const rng = seedrandom('fps');
  const set = new FingerprintSet(4);
  const ref = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const hi = Math.floor(rng() * 64); // small ranges: many repeats
    const lo = Math.floor(rng() * 512);
    const added = set.add(hi, lo);
    const key = `${hi}:${(hi | lo) === 0 ? 1 : lo}`;
    assert.is(added, !ref.has(key));
    ref.add(key);
  }
  assert.is(set.size, ref.size);
});

test('an unknown scenario is refused by name', () => {
  assert.throws(() => loadScenario('nope'), (e: Error) => e instanceof ScenarioError && /unknown scenario "nope"/.test(e.message));
});

test.run();
