// The slots of a `daxcheck fuzz` campaign (fuzz/campaign.ts runs them).
// A campaign is one search per (engine, variant), a **chain**, cut into
// slots of a fixed number of test cases:
//
//   slot j:  segment g = j div (E·V),  engine e = (j mod E·V) div V,  variant v = j mod V
//   chain c = v·E + e
//
// A chain's slots run in order on one worker, each going on with the
// search the last one left (its corpus, coverage and random stream: a
// deep bug needs a corpus grown over many runs), so a slot's result
// depends on nothing but the campaign's seed and its chain: not on the
// number of workers, the order slots finish in, the machine, or the
// shard.  Shard i/N owns the chains c ≡ i (mod N): shards partition the
// slots, and up to E shards each cover every variant.  Of the divergences
// met, the occurrence kept for a (variant, class) is the earliest by
// (slot, run): the same whichever worker or shard met it first in wall
// time, so merged shards store what one unsharded campaign stores.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { findVariant, type Variant } from '../models/variants/index.ts';
import type { DivergenceClass } from '../properties/classes.ts';
import type { TestCase } from '../models/testcase.ts';
import { GuidedSearch, type Found } from './guided.ts';
import { checkVariant } from './check.ts';
import { runTestCase, type Picker } from './lockstep.ts';
import { shrinkDivergence } from './shrink.ts';
import { makeCounterexample, type Counterexample } from './corpus.ts';
import { pct, randomWalk, stickyWalk } from './schedulers.ts';
import { loadScenario, scenarioNames } from './explore.ts';

// The portfolio.  `scenario`: the coverage-guided search seeded with the
// shipped scenarios (scenarios/, the races of the seeds' threads, the
// same programs `explore` searches exhaustively) instead of generated
// programs, two runs in five starting from one, scheduled online by PCT
// of depth 3 or a sticky random walk; `guided`: coverage-guided programs from generation,
// schedules as mutated arrays; `pct` and `random-walk`: that program
// search with three in four runs scheduled online; `fast-check`:
// fast-check's own generation and shrinking (a fresh fc.check each slot:
// it keeps nothing).
import { ENGINES, type Engine } from './engines.ts';
export { ENGINES, type Engine };

// A plan's engines, one chain each: an engine named twice runs two
// independent searches.  The scenario engine finds the known bugs first
// (`daxcheck bench`), and what it needs is heavy-tailed in runs (K2: 79 to
// 6,399), so it runs as four chains with their own seeds, half the
// campaign, each going on in turn with the other engines.
export const PORTFOLIO: readonly Engine[] = ['scenario', 'guided', 'scenario', 'pct', 'scenario', 'random-walk', 'scenario', 'fast-check'];

// Test cases a slot: short enough that every chain gets a turn soon and a
// stop loses little, long enough that a slot's overhead does not count.
export const SLOT_RUNS = 1000;

// PCT's depths: one or two priority changes, the depth of most races.
export const PCT_DEPTHS = [2, 3] as const;

// A campaign's plan, as summary.json records it.
const count = z.number().int().min(0);
export const PlanSchema = z.strictObject({
  seed: count,
  variants: z.array(z.string().max(100)).min(1).max(1000),
  engines: z.array(z.enum(ENGINES)).min(1).max(64).readonly(),
  slotRuns: z.number().int().min(1).max(1e9),
  runsPerVariant: z.number().int().min(1).max(1e12).nullable(), // the run budget; null: slots go on until the time budget
  // `check`: a variant with expected classes starts no further segment once
  // its slots have met one of them (decided only at segment ends, so the
  // outcome does not depend on which worker finished first)
  untilExpected: z.boolean().optional(),
});
export type Plan = z.infer<typeof PlanSchema>;

export interface Shard {
  index: number;
  count: number;
}

export interface SlotSpec {
  slot: number;
  chain: number;
  segment: number; // the slot's place in its chain
  variant: string;
  engine: Engine;
  seed: number; // of the chain when it starts here, of fast-check's run
  runs: number;
}

function chainOf(plan: Plan, j: number): number {
  const V = plan.variants.length;
  const E = plan.engines.length;
  return (j % V) * E + Math.floor((j % (E * V)) / V);
}

// The segment of slot j: a slot of each engine for each variant.
export function segmentOf(plan: Plan, j: number): number {
  return Math.floor(j / (plan.engines.length * plan.variants.length));
}

export function slotSpec(plan: Plan, j: number): SlotSpec | null {
  const V = plan.variants.length;
  const E = plan.engines.length;
  const g = segmentOf(plan, j);
  const e = Math.floor((j % (E * V)) / V);
  const before = (g * E + e) * plan.slotRuns; // runs of the variant's earlier slots
  const runs = plan.runsPerVariant === null ? plan.slotRuns : Math.min(plan.slotRuns, plan.runsPerVariant - before);
  if (runs <= 0) return null;
  const seed = createHash('sha256').update(`fuzz:${plan.seed}:${j}`).digest().readUInt32BE(0);
  return { slot: j, chain: chainOf(plan, j), segment: g, variant: plan.variants[j % V], engine: plan.engines[e], seed, runs };
}

export function shardChains(plan: Plan, shard: Shard): number[] {
  const size = plan.engines.length * plan.variants.length;
  return Array.from({ length: size }, (_, c) => c).filter((c) => c % shard.count === shard.index);
}

// The slots of a shard's chains, in order, skipping those already done;
// ends when the run budget does (never without one).
export function* shardSlots(plan: Plan, shard: Shard, done: ReadonlySet<number>): Generator<SlotSpec> {
  const size = plan.engines.length * plan.variants.length;
  const mine = new Set(shardChains(plan, shard));
  if (!mine.size) return;
  for (let g = 0; ; g++) {
    let any = false;
    for (let j = g * size; j < (g + 1) * size; j++) {
      if (!mine.has(chainOf(plan, j))) continue;
      const spec = slotSpec(plan, j);
      if (spec === null) continue;
      any = true;
      if (!done.has(j)) yield spec;
    }
    if (!any) return;
  }
}

export const findingKey = (variant: string, cls: DivergenceClass) => `${variant}\u0000${cls}`;

export interface SlotFinding {
  class: DivergenceClass;
  run: number; // 1-based, within the slot
  atMs: number; // since the slot began
  hits: number; // divergent runs of this class in the slot
  counterexample: Counterexample | null; // null: an earlier slot has this (variant, class), not shrunk again
}

export interface PctStats {
  runs: number;
  threads: number; // median n over the slot's PCT runs
  steps: number; // median k
}

export interface SlotResult {
  slot: number;
  variant: string;
  engine: Engine;
  runs: number;
  steps: number;
  ms: number;
  complete: boolean; // ran its whole budget (not cut by the deadline or a stop)
  findings: SlotFinding[];
  pct: PctStats | null;
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

// Runs one slot.  `known`: findingKeys an earlier slot already holds;
// `halt`: asked every few runs, true stops the slot (what it found is then
// kept unshrunk: a stop should be quick).
// `first`: end the slot at its first divergence (what `bench` times).
export function runSlot(spec: SlotSpec, known: readonly string[], deadline: number | null, halt: () => boolean, tick?: (runs: number, steps: number) => void, first = false): SlotResult {
  const variant = findVariant(spec.variant);
  const t0 = Date.now();
  const stop = (runs: number, steps: number) => {
    tick?.(runs, steps);
    return halt() || (deadline !== null && Date.now() > deadline);
  };
  const base = { slot: spec.slot, variant: spec.variant, engine: spec.engine };
  if (spec.engine === 'fast-check') {
    const r = checkVariant(variant, { runs: spec.runs, seed: spec.seed, poll: (runs, steps) => (runs & 15) === 0 && stop(runs, steps), halt });
    const findings: SlotFinding[] = [];
    if (r.divergence && r.counterexample) {
      const cls = r.counterexample.divergence.class;
      const cx = known.includes(findingKey(spec.variant, cls)) ? null : { ...r.counterexample, search: { engine: spec.engine, seed: spec.seed, slot: spec.slot, run: r.runs, shrunk: !halt() } };
      findings.push({ class: cls, run: r.runs, atMs: Date.now() - t0, hits: 1, counterexample: cx });
    }
    return { ...base, runs: r.runs, steps: r.steps, ms: Date.now() - t0, complete: !r.halted, findings, pct: null };
  }
  const threads: number[] = [];
  const lengths: number[] = [];
  pctSink = { threads, lengths };
  let picker: ((tc: TestCase, rng: () => number, points: number) => Picker | undefined) | undefined;
  if (spec.engine === 'random-walk') picker = (_tc, rng) => (rng() < 0.75 ? randomWalk(rng) : undefined);
  const pctPicker = (tc: TestCase, rng: () => number, points: number, depth = PCT_DEPTHS[Math.floor(rng() * PCT_DEPTHS.length)]) => {
    // k: the parent run's scheduling points, as PCT estimates it from a run before
    const p = { threads: tc.threads.length + 4, steps: points || 32, depth };
    pctSink.threads.push(p.threads);
    pctSink.lengths.push(p.steps);
    return pct(rng, p);
  };
  if (spec.engine === 'pct') picker = (tc, rng, points) => (rng() < 0.75 ? pctPicker(tc, rng, points) : undefined);
  if (spec.engine === 'scenario') {
    picker = (tc, rng, points) => {
      const r = rng();
      return r < 0.5 ? pctPicker(tc, rng, points, 3) : r < 0.85 ? stickyWalk(rng) : undefined;
    };
  }
  const r = chainSearch(spec, variant, picker).run(spec.runs, { all: !first, poll: stop });
  const findings = [...r.found.values()]
    .sort((a, b) => a.atRun - b.atRun)
    .map((f): SlotFinding => {
      const cls = f.divergence.class;
      const cx = known.includes(findingKey(spec.variant, cls)) ? null : slotCounterexample(variant, f, spec, halt);
      return { class: cls, run: f.atRun, atMs: f.atMs, hits: r.hits.get(cls) ?? 1, counterexample: cx };
    });
  const pctStats = spec.engine === 'pct' ? { runs: threads.length, threads: median(threads), steps: median(lengths) } : null;
  return { ...base, runs: r.runs, steps: r.steps, ms: Date.now() - t0, complete: !r.stoppedEarly, findings, pct: pctStats };
}

// Where a chain's PCT runs report n and k: the slot in hand's lists.
let pctSink: { threads: number[]; lengths: number[] } = { threads: [], lengths: [] };

// The chains this thread has run: each one's search and the segment it
// expects next.  A chain met at another segment (a resumed campaign, which
// runs the slots not yet recorded) starts a new search there, from that
// slot's seed: no seed is run twice.
const chains = new Map<number, { search: GuidedSearch; next: number }>();

// Kept cases a chain holds at most (about 10 KB each): a worker may hold
// dozens of chains for hours.
export const CHAIN_CORPUS = 2000;

function chainSearch(spec: SlotSpec, variant: Variant, picker: ConstructorParameters<typeof GuidedSearch>[2]): GuidedSearch {
  let c = chains.get(spec.chain);
  const seeds = spec.engine === 'scenario' ? { fresh: scenarioCase, rate: 0.4 } : undefined;
  if (!c || c.next !== spec.segment) chains.set(spec.chain, (c = { search: new GuidedSearch(variant, spec.seed, picker, CHAIN_CORPUS, seeds), next: spec.segment }));
  c.next++;
  return c.search;
}

let scenarioCases: TestCase[] | null = null;

// One case of a shipped scenario (a choice of its open ops), unscheduled.
function scenarioCase(rng: () => number): TestCase {
  scenarioCases ??= scenarioNames().flatMap((n) => loadScenario(n).cases.map((c) => c.testCase));
  return structuredClone(scenarioCases[Math.floor(rng() * scenarioCases.length)]);
}

// Shrunk within its class, unless the campaign is stopping: then as far
// as it got (every step of a shrink keeps a divergence of the class).
function slotCounterexample(variant: Variant, f: Found, spec: SlotSpec, halt: () => boolean): Counterexample {
  const tc = halt() ? f.tc : shrinkDivergence(variant, f.tc, f.divergence.class, halt);
  return makeCounterexample(variant, tc, runTestCase(variant, tc), {
    fastCheck: null,
    search: { engine: spec.engine, seed: spec.seed, slot: spec.slot, run: f.atRun, shrunk: !halt() },
  });
}

// In a worker thread: the campaign's stop flag and this worker's live
// counters (runs, steps of the slot in hand), shared with the main thread.
let shared: { stop: Int32Array; live: Float64Array } | null = null;

export function initSlotWorker(arg: { stop: SharedArrayBuffer; live: SharedArrayBuffer; index: number }): void {
  shared = { stop: new Int32Array(arg.stop), live: new Float64Array(arg.live, arg.index * 16, 2) };
}

export function runSlotInWorker(spec: SlotSpec, known: string[], deadline: number | null): SlotResult {
  const s = shared!;
  const tick = (runs: number, steps: number) => {
    s.live[0] = runs;
    s.live[1] = steps;
  };
  const r = runSlot(spec, known, deadline, () => Atomics.load(s.stop, 0) !== 0, tick);
  tick(0, 0);
  return r;
}
