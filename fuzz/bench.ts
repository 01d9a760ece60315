// `daxcheck bench`: the figures of DESIGN §8 that this harness can
// measure so far.  A fixed workload (seeded test cases, every variant),
// timed, never asserted.

import fc from 'fast-check';
import { CLEAN_VARIANTS, VARIANTS, findVariant } from '../models/variants/index.ts';
import { EXPLORE_DEFAULTS, exploreScenario, loadScenario } from './explore.ts';
import { arbTestCase } from './arbitraries.ts';
import { runTestCase } from './lockstep.ts';
import { Campaign } from './campaign.ts';
import { ENGINES, SLOT_RUNS } from './slots.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

export interface ExploreBench {
  exploreStatesPerSecond: number; // distinct states explored per second, one core
  bytesPerState: number; // visited set, nodes and edges, per distinct state
  variant: string;
  scenario: string;
  distinct: number;
  seconds: number;
}

// The explorer on the largest shipped scenario of a clean variant, run to
// completion (it is clean, so the whole graph and the lasso search count).
export function benchExplore(variant = 'mapdirect-fixed', scenario = 'mapdirect-fault-vs-timeout'): ExploreBench {
  const v = findVariant(variant);
  const sc = loadScenario(scenario);
  exploreScenario(v, sc, EXPLORE_DEFAULTS); // warm up the JIT
  const t0 = process.hrtime.bigint();
  const r = exploreScenario(v, sc, EXPLORE_DEFAULTS);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    exploreStatesPerSecond: Math.round(r.distinct / seconds),
    bytesPerState: Math.round(r.bytes / r.distinct),
    variant,
    scenario,
    distinct: r.distinct,
    seconds: Math.round(seconds * 100) / 100,
  };
}

export interface WorkerBench {
  workerSpeedup: number; // runs per second of two workers over one
  runsPerSecond: [number, number]; // one worker, two workers
  seconds: number; // each campaign's time
}

// Campaigns on the clean variants (nothing found, so every second is
// search) for a fixed time, with one worker and then with two.  A chain's
// runs grow longer as its corpus deepens, so the two-worker campaign runs
// twice the chains (each clean variant twice, with other seeds): every
// chain gets as far in both, and runs per second compare like with like.
export async function benchWorkers(seconds = 20): Promise<WorkerBench> {
  const clean = CLEAN_VARIANTS.map((v) => v.name);
  const rates: number[] = [];
  for (const workers of [1, 2]) {
    const plan = { seed: 7, variants: workers === 1 ? clean : [...clean, ...clean], engines: ENGINES, slotRuns: SLOT_RUNS, runsPerVariant: null };
    const dir = mkdtempSync(join(tmpdir(), 'daxcheck-bench-'));
    try {
      const s = await new Campaign({ dir, workers, budgetMs: seconds * 1000 }, { plan, shard: { index: 0, count: 1 } }).run();
      rates.push(s.runs / (s.elapsedMs / 1000));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { workerSpeedup: Math.round((rates[1] / rates[0]) * 100) / 100, runsPerSecond: [Math.round(rates[0]), Math.round(rates[1])], seconds };
}
