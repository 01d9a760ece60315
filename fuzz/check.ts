// `daxcheck check`: a fast-check property over generated test cases, per
// variant.  The property fails on any divergence; once one is found, only
// divergences of that same class count as failures, so fast-check's own
// shrink keeps the class.  The shrunk case is shrunk again by
// shrinkSameClass and written to the corpus.

import fc from 'fast-check';
import { createHash } from 'node:crypto';
import type { TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import type { Divergence, DivergenceClass } from '../properties/classes.ts';
import { arbTestCase } from './arbitraries.ts';
import { runTestCase, type RunResult } from './lockstep.ts';
import { shrinkDivergence } from './shrink.ts';
import { makeCounterexample, type Counterexample } from './corpus.ts';
import { guidedCounterexample, searchGuided } from './guided.ts';

export interface CheckOptions {
  runs: number;
  seed: number;
  poll?: (runs: number, steps: number) => boolean; // asked before each run: true skips the rest (a deadline, a stop)
  halt?: () => boolean; // asked while fast-check shrinks too: true ends it, the counterexample unshrunk (a stop)
}

export interface CheckResult {
  variant: string;
  runs: number; // test cases run before the divergence (or all of them)
  steps: number; // model steps of those runs
  halted: boolean; // poll stopped it before its budget
  divergence: Divergence | null;
  counterexample: Counterexample | null;
  testCase: TestCase | null;
  run: RunResult | null;
}

export class InternalError extends Error {
  constructor(message: string, readonly testCase: TestCase) {
    super(message);
  }
}

// Each variant gets its own fast-check seed, derived from the run's seed.
export function variantSeed(seed: number, variant: string): number {
  return createHash('sha256').update(`${seed}:${variant}`).digest().readUInt32BE(0) | 0;
}

export function checkVariant(variant: Variant, opts: CheckOptions): CheckResult {
  let target: DivergenceClass | null = null;
  let runs = 0;
  let internal: { error: Error; tc: TestCase } | null = null;
  let halted = false;
  let steps = 0;
  const property = fc.property(arbTestCase, (tc) => {
    if (halted || (target === null && opts.poll?.(runs, steps)) || opts.halt?.()) {
      halted = true;
      return true;
    }
    if (target === null) runs++;
    let r: RunResult;
    try {
      r = runTestCase(variant, tc);
    } catch (e) {
      internal ??= { error: e as Error, tc };
      return true;
    }
    if (target === null) steps += r.steps;
    if (!r.divergence) return true;
    target ??= r.divergence.class;
    return r.divergence.class !== target;
  });
  const seed = variantSeed(opts.seed, variant.name);
  const details = fc.check(property, { seed, numRuns: opts.runs });
  if (internal) {
    const { error, tc } = internal as { error: Error; tc: TestCase };
    throw new InternalError(`internal model error on ${variant.name}: ${error.message}`, tc);
  }
  if (!details.failed || !details.counterexample) {
    return { variant: variant.name, runs, steps, halted, divergence: null, counterexample: null, testCase: null, run: null };
  }
  const cls = target!;
  // interrupted: what was found is kept as it is, unshrunk
  const tc = halted ? details.counterexample[0] : shrinkDivergence(variant, details.counterexample[0], cls, opts.halt);
  const run = runTestCase(variant, tc);
  const d = run.divergence!;
  const counterexample = makeCounterexample(variant, tc, run, { fastCheck: { seed, path: details.counterexamplePath, numRuns: details.numRuns } });
  return { variant: variant.name, runs, steps, halted, divergence: d, counterexample, testCase: tc, run };
}

export interface GuidedClass {
  class: DivergenceClass;
  atRun: number;
  divergence: Counterexample['divergence']; // of the shrunk case
  counterexample: Counterexample;
}

// `check --guided`: the coverage-guided search the matrix uses, going on
// after a divergence to meet every class the variant shows, each shrunk.
export function checkVariantGuided(variant: Variant, opts: CheckOptions): { runs: number; classes: GuidedClass[] } {
  const seed = variantSeed(opts.seed, variant.name) >>> 0;
  const r = searchGuided(variant, { seed, runs: opts.runs, all: true });
  const classes = [...r.found.values()]
    .sort((a, b) => a.atRun - b.atRun)
    .map((f) => {
      const counterexample = guidedCounterexample(variant, f, seed);
      return { class: f.divergence.class, atRun: f.atRun, divergence: counterexample.divergence, counterexample };
    });
  return { runs: r.runs, classes };
}
