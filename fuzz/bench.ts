// `daxcheck bench`: the figures of DESIGN §8.  Fixed workloads (seeded
// test cases, every variant; a fixed scenario; fixed campaign seeds),
// timed, never asserted.

import fc from 'fast-check';
import { CLEAN_VARIANTS, KNOWN_BUGS, VARIANTS, findVariant } from '../models/variants/index.ts';
import { EXPLORE_DEFAULTS, exploreScenario, loadScenario, shortestOverScenarios } from './explore.ts';
import { arbTestCase } from './arbitraries.ts';
import { runTestCase } from './lockstep.ts';
import { Campaign } from './campaign.ts';
import { PORTFOLIO, SLOT_RUNS, runSlot, shardSlots } from './slots.ts';
import type { Engine } from './engines.ts';
import { CLASS_NAMES, type DivergenceClass } from '../properties/classes.ts';
import { z } from 'zod';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT } from './root.ts';


// What `daxcheck bench --json` prints, declared once: the types below are
// read off it, and the command checks its output against it.
const n = z.number().min(0);
export const BenchResultSchema = z.strictObject({
  stepsPerSecond: n, // implementation-model steps with full lockstep checking, one core
  steps: n,
  testCases: n,
  seconds: n,
});
export type BenchResult = z.infer<typeof BenchResultSchema>;
export const ExploreBenchSchema = z.strictObject({
  exploreStatesPerSecond: n, // distinct states explored per second, one core
  bytesPerState: n, // visited set, nodes and edges, per distinct state
  variant: z.string(),
  scenario: z.string(),
  distinct: n,
  seconds: n,
});
export type ExploreBench = z.infer<typeof ExploreBenchSchema>;
export const WorkerBenchSchema = z.strictObject({
  workerSpeedup: n, // runs per second of two workers over one
  runsPerSecond: z.tuple([n, n]), // one worker, two workers
  runs: n, // each campaign's (the same slots, the same findings)
  seconds: z.tuple([n, n]),
});
export type WorkerBench = z.infer<typeof WorkerBenchSchema>;
export const BugBenchSchema = z.strictObject({
  id: z.string(),
  fuzzMedianMs: n.nullable(), // null: not found by half the seeds within the cap
  found: n, // seeds (of `seeds`) that found it within the cap
  ms: z.array(n.nullable()), // each seed's time to the first divergence
  class: z.enum(CLASS_NAMES).nullable(), // of the first seed that found it
  shrunkLength: n.nullable(), // median steps of the shrunk counterexamples
  minimalLength: n.nullable(), // the explorer's shortest trace of that class over the shipped scenarios
  // the same search with no shipped scenario: the portfolio without its scenario engine
  noScenarios: z.strictObject({ fuzzMedianMs: n.nullable(), found: n, ms: z.array(n.nullable()) }),
});
export type BugBench = z.infer<typeof BugBenchSchema>;
export const StartupBenchSchema = z.strictObject({
  nodeMs: n, // `node -e 0`, median wall time
  listMs: n, // `daxcheck list`, median wall time
  ratio: n,
  runs: n,
});
export type StartupBench = z.infer<typeof StartupBenchSchema>;
export const BenchOutputSchema = z.strictObject({
  ...BenchResultSchema.shape,
  exploreStatesPerSecond: n,
  bytesPerState: n,
  workerSpeedup: n,
  bugs: z.array(BugBenchSchema),
  explore: ExploreBenchSchema,
  workers: WorkerBenchSchema,
  startup: StartupBenchSchema,
});
export type BenchOutput = z.infer<typeof BenchOutputSchema>;

export function benchSteps(cases = 2000, seed = 42): BenchResult {
  const tcs = fc.sample(arbTestCase, { numRuns: cases, seed });
  for (const v of VARIANTS) for (const tc of tcs.slice(0, 50)) runTestCase(v, tc); // warm up the JIT
  let steps = 0;
  const t0 = process.hrtime.bigint();
  for (const v of VARIANTS) for (const tc of tcs) steps += runTestCase(v, tc).steps;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { stepsPerSecond: Math.round(steps / seconds), steps, testCases: cases * VARIANTS.length, seconds: Math.round(seconds * 100) / 100 };
}


// The explorer on one of the largest shipped scenarios of a clean variant,
// run to completion (it is clean, so the whole graph and the lasso search
// count); the median of three timed runs, as a collection landing in one
// moves it by a fifth.
export function benchExplore(variant = 'linux-mainline', scenario = 'sys-dio-buffer'): ExploreBench {
  const v = findVariant(variant);
  const sc = loadScenario(scenario);
  exploreScenario(v, sc, EXPLORE_DEFAULTS); // warm up the JIT
  const timed = [0, 1, 2].map(() => {
    const t0 = process.hrtime.bigint();
    const r = exploreScenario(v, sc, EXPLORE_DEFAULTS);
    return { r, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  });
  const { r, seconds } = timed.sort((a, b) => a.seconds - b.seconds)[1];
  return {
    exploreStatesPerSecond: Math.round(r.distinct / seconds),
    bytesPerState: Math.round(r.bytes / r.distinct),
    variant,
    scenario,
    distinct: r.distinct,
    seconds: Math.round(seconds * 100) / 100,
  };
}


// One campaign on the clean variants (nothing found, so every second is
// search) with a run budget, run with one worker and then with two: the
// same slots, so the same test cases, and runs per second compare like
// with like (a time budget would not: the portfolio's engines differ in
// the length of their runs, and two workers get further down the plan).
export async function benchWorkers(runsPerVariant = 16_000): Promise<WorkerBench> {
  const clean = CLEAN_VARIANTS.map((v) => v.name);
  const rates: number[] = [];
  const seconds: number[] = [];
  let runs = 0;
  for (const workers of [1, 2]) {
    const plan = { seed: 7, variants: clean, engines: PORTFOLIO, slotRuns: SLOT_RUNS, runsPerVariant };
    const dir = mkdtempSync(join(tmpdir(), 'daxcheck-bench-'));
    try {
      const s = await new Campaign({ dir, workers, budgetMs: null }, { plan, shard: { index: 0, count: 1 } }).run();
      rates.push(s.runs / (s.elapsedMs / 1000));
      seconds.push(Math.round(s.elapsedMs / 100) / 10);
      runs = s.runs;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { workerSpeedup: Math.round((rates[1] / rates[0]) * 100) / 100, runsPerSecond: [Math.round(rates[0]), Math.round(rates[1])], runs, seconds: [seconds[0], seconds[1]] };
}


// What `daxcheck fuzz --variant ID --workers 1` does, on this thread:
// the one-variant plan's slots in order (every engine of the portfolio in
// turn), until the first divergence.  The time is the search's, up to the
// divergence; the shrink after it (the campaign's, within the class) is
// not counted but its length is kept.
function fuzzUntilFound(id: string, seed: number, capMs: number, engines: readonly Engine[] = PORTFOLIO): { ms: number; class: DivergenceClass; length: number } | null {
  const plan = { seed, variants: [id], engines, slotRuns: SLOT_RUNS, runsPerVariant: null };
  const t0 = Date.now();
  let searched = 0;
  for (const spec of shardSlots(plan, { index: 0, count: 1 }, new Set())) {
    if (searched >= capMs) return null;
    const r = runSlot(spec, [], t0 + capMs, () => false, undefined, true);
    const f = r.findings[0];
    if (f?.counterexample) return { ms: searched + f.atMs, class: f.class, length: f.counterexample.length };
    searched += r.ms;
  }
  return null;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// Each seed's time to the first divergence (null: not within the cap), the
// median, and how many seeds found it.
function timings(finds: ({ ms: number } | null)[]): { fuzzMedianMs: number | null; found: number; ms: (number | null)[] } {
  const med = median(finds.map((f) => f?.ms ?? Infinity));
  return { fuzzMedianMs: Number.isFinite(med) ? med : null, found: finds.filter((f) => f !== null).length, ms: finds.map((f) => f?.ms ?? null) };
}

// The portfolio as it would run with no shipped scenario: its scenario
// engine starts two runs in five from one, so it goes.
const WITHOUT_SCENARIOS: readonly Engine[] = PORTFOLIO.filter((e) => e !== 'scenario');

export function benchBugs(seeds = 9, capMs = 20_000, progress?: (id: string) => void): BugBench[] {
  return KNOWN_BUGS.map((bug) => {
    progress?.(bug.id);
    const finds = Array.from({ length: seeds }, (_, i) => fuzzUntilFound(bug.id, i + 1, capMs));
    const hits = finds.filter((f) => f !== null);
    const cls = hits[0]?.class ?? null;
    const minimal = cls ? shortestOverScenarios(findVariant(bug.id), (c) => c === cls, EXPLORE_DEFAULTS) : null;
    return {
      id: bug.id,
      ...timings(finds),
      class: cls,
      shrunkLength: hits.length ? median(hits.filter((f) => f.class === cls).map((f) => f.length)) : null,
      minimalLength: minimal?.length ?? null,
      noScenarios: timings(Array.from({ length: seeds }, (_, i) => fuzzUntilFound(bug.id, i + 1, capMs, WITHOUT_SCENARIOS))),
    };
  });
}



// Start-up: `daxcheck list` against a bare `node -e 0`, alternated in one
// run so that both see the same machine; the median of each.
export function benchStartup(runs = 21): StartupBench {
  const bin = fileURLToPath(new URL('bin/daxcheck.js', ROOT));
  const time = (args: string[]) => {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const node: number[] = [];
  const list: number[] = [];
  time([bin, 'list']); // warm the file cache
  for (let i = 0; i < runs; i++) {
    node.push(time(['-e', '0']));
    list.push(time([bin, 'list']));
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const nodeMs = Math.round(mid(node) * 10) / 10;
  const listMs = Math.round(mid(list) * 10) / 10;
  return { nodeMs, listMs, ratio: Math.round((listMs / nodeMs) * 100) / 100, runs };
}
