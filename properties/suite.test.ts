// The property suite: the general properties hold on every variant the
// catalog calls clean, runs are deterministic, and every counterexample
// in corpus/ still reproduces exactly.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KNOWN_BUGS, VARIANTS } from '../models/variants/index.ts';
import type { TestCase } from '../models/testcase.ts';
import { arbTestCase } from '../fuzz/arbitraries.ts';
import { runTestCase } from '../fuzz/lockstep.ts';
import { readCounterexample } from '../fuzz/corpus.ts';

const RUNS = Number(process.env.DAXCHECK_TEST_RUNS ?? 1500);

for (const v of VARIANTS.filter((x) => x.expect.length === 0)) {
  test(`${v.name}: no divergence in ${RUNS} generated test cases`, () => {
    fc.assert(
      fc.property(arbTestCase, (tc) => {
        const d = runTestCase(v, tc).divergence;
        if (d) throw new Error(`${d.class} at step ${d.step}: ${d.message}`);
      }),
      { seed: 20261122, numRuns: RUNS },
    );
  });
}

test('a test case runs the same way every time', () => {
  fc.assert(
    fc.property(arbTestCase, fc.constantFrom(...VARIANTS), (tc, v) => {
      const a = runTestCase(v, tc);
      const b = runTestCase(v, structuredClone(tc));
      assert.is(a.traceHash, b.traceHash);
      assert.is(JSON.stringify(a.divergence), JSON.stringify(b.divergence));
    }),
    { seed: 7, numRuns: 200 },
  );
});

function corpusFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? corpusFiles(p) : name.endsWith('.json') && !name.endsWith('.repro.json') ? [p] : []; // a reproducer's result rides beside its counterexample
  });
}

// Every test case one operation, NIC operation, schedule or cycle entry
// smaller, named for the failure message.
function* oneSmaller(tc: TestCase): Generator<[string, TestCase]> {
  for (let t = 0; t < tc.threads.length; t++) {
    for (let i = 0; i < tc.threads[t].ops.length; i++) {
      const c = structuredClone(tc);
      c.threads[t].ops.splice(i, 1);
      yield [`without thread ${t} op ${i}`, c];
    }
  }
  for (const key of ['nic', 'schedule', 'cycle'] as const) {
    for (let i = 0; i < tc[key].length; i++) {
      const c = structuredClone(tc);
      c[key].splice(i, 1);
      yield [`without ${key}[${i}]`, c];
    }
  }
}

const committed = corpusFiles('corpus').sort();

for (const file of committed) {
  test(`corpus: ${file} reproduces its recorded divergence`, () => {
    const { cx, variant } = readCounterexample(file);
    const r = runTestCase(variant, cx.testCase);
    assert.ok(r.divergence, 'no divergence');
    assert.is(r.divergence!.class, cx.divergence.class);
    assert.is(r.divergence!.step, cx.divergence.step);
    assert.is(r.divergence!.message, cx.divergence.message);
    assert.is(r.traceHash, cx.traceHash);
  });

  // The shrink (fuzz/shrink.ts shrinkDivergence) ends at the shortest run
  // it can find, and then takes out only what does not lengthen the run:
  // a schedule entry taken out can move the divergence later.
  test(`corpus: ${file} is minimal: one operation or schedule entry less and the divergence is gone, or comes later`, () => {
    const { cx, variant } = readCounterexample(file);
    const steps = runTestCase(variant, cx.testCase).steps;
    for (const [what, smaller] of oneSmaller(cx.testCase)) {
      const r = runTestCase(variant, smaller);
      assert.ok(r.divergence?.class !== cx.divergence.class || r.steps > steps, `still ${cx.divergence.class} ${what}, in ${r.steps} steps`);
    }
  });
}

test('corpus: every known bug has a committed counterexample', () => {
  const names = new Set(committed.map((f) => readCounterexample(f).cx.variant.name));
  assert.equal(KNOWN_BUGS.map((b) => b.id).filter((id) => !names.has(id)), []);
});

test.run();
