// `daxcheck bench`: the figures of DESIGN §8 that this harness can
// measure so far.  A fixed workload (seeded test cases, every variant),
// timed, never asserted.

import fc from 'fast-check';
import { VARIANTS } from '../models/variants/index.ts';
import { arbTestCase } from './arbitraries.ts';
import { runTestCase } from './lockstep.ts';

export interface BenchResult {
  stepsPerSecond: number; // implementation-model steps with full lockstep checking, one core
  steps: number;
  testCases: number;
  seconds: number;
}

export function benchSteps(cases = 2000, seed = 42): BenchResult {
  const tcs = fc.sample(arbTestCase, { numRuns: cases, seed });
  for (const v of VARIANTS) for (const tc of tcs.slice(0, 50)) runTestCase(v, tc); // warm up the JIT
  let steps = 0;
  const t0 = process.hrtime.bigint();
  for (const v of VARIANTS) for (const tc of tcs) steps += runTestCase(v, tc).steps;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { stepsPerSecond: Math.round(steps / seconds), steps, testCases: cases * VARIANTS.length, seconds: Math.round(seconds * 100) / 100 };
}
