// Execution.clone: a copy branches from a state as a replay of the path to
// it would, and neither copy disturbs the other.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { arbTestCase } from '../fuzz/arbitraries.ts';
import { VARIANTS } from '../models/variants/index.ts';
import { Execution } from '../fuzz/lockstep.ts';
import { stateFingerprint } from '../fuzz/fingerprint.ts';

// Runs `path` (indices into the runnable threads) from `ex`, noting after
// each step what it did and the state it left.
function follow(ex: Execution, path: number[]): string[] {
  const out: string[] = [];
  for (const x of path) {
    const ids = ex.runnableIds();
    if (ids.length === 0) break;
    const { info, divergence } = ex.advance(ids[x % ids.length]);
    const fp = stateFingerprint(ex.k, ex.ref, ex.lockdep.signature());
    out.push(`${info.tid} ${info.fn}.${info.label} ${info.result ?? ''} ${divergence?.message ?? ''} ${fp}`);
    if (divergence) break;
  }
  return out;
}

test('a clone goes on as a fresh replay of the whole path does, and the original is untouched by it', () => {
  const tcs = fc.sample(arbTestCase, { numRuns: 40, seed: 11 });
  let branched = 0;
  for (const [vi, v] of VARIANTS.entries()) {
    for (const [ci, tc] of tcs.entries()) {
      const rng = seedrandom(`snapshot ${vi} ${ci}`);
      const walk = (n: number) => Array.from({ length: n }, () => Math.floor(rng() * 8));
      const stem = walk(Math.floor(rng() * 60));
      const a = walk(40);
      const b = walk(40);
      const ex = new Execution(v, tc);
      const before = follow(ex, stem);
      if (before.length < stem.length) continue; // ended on the stem
      const copy = ex.clone();
      const other = follow(copy, b); // the copy goes one way first
      const mine = follow(ex, a); // then the original the other
      const fresh = (tail: number[]) => follow(new Execution(v, tc), [...stem, ...tail]).slice(stem.length);
      assert.equal(mine, fresh(a), `${v.name} case ${ci}: the original after its copy ran`);
      assert.equal(other, fresh(b), `${v.name} case ${ci}: the copy`);
      branched++;
    }
  }
  assert.ok(branched > 400, `${branched} branches compared`);
});

test.run();
