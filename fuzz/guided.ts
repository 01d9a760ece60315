// Coverage-guided search (the AFL / syzkaller loop): run a test case, keep
// it if it reached behaviour no earlier case reached, and build later cases
// by mutating the kept ones.  Deep chains (register, break the lease, wait
// out lease-break-time, register again, DMA) are reached one rewarded step
// at a time.  Deterministic for a seed and a run budget.

import seedrandom from 'seedrandom';
import type { TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import type { Divergence, DivergenceClass } from '../properties/classes.ts';
import { runTestCase, type Picker, type RunResult } from './lockstep.ts';
import { Coverage, MAP_BITS } from './coverage.ts';
import { freshTestCase, mutate } from './mutate.ts';
import { sameClass, shrinkSameClass } from './shrink.ts';
import { makeCounterexample, type Counterexample } from './corpus.ts';

export interface GuidedOptions {
  seed: number;
  runs: number; // test cases to try at most
  deadline?: number; // Date.now() after which to stop, for time budgets
  poll?: (runs: number, steps: number) => boolean; // called every 16 runs: true stops the search (an interrupted campaign)
  all?: boolean; // go on after a divergence, to meet every class the variant shows
  stop?: (found: Map<DivergenceClass, Found>, runs: number) => boolean; // with `all`: whether to end now
  // An online scheduler for a candidate, or none to follow its schedule;
  // what it chose becomes the candidate's schedule.
  // `points`: the parent run's scheduling points, steps where more than
  // one thread could run (0 for a fresh test case).
  picker?: (tc: TestCase, rng: () => number, points: number) => Picker | undefined;
}

export interface Found {
  tc: TestCase;
  divergence: Divergence;
  run: RunResult;
  atRun: number; // 1-based
  atMs: number; // since the search began
}

export interface GuidedResult {
  runs: number; // test cases run
  steps: number;
  corpus: number; // test cases kept for their coverage
  found: Map<DivergenceClass, Found>; // the first test case of each class met
  hits: Map<DivergenceClass, number>; // divergent runs of each class
  stoppedEarly: boolean; // by the deadline or halt, before the run budget
}

interface Entry {
  tc: TestCase;
  features: Uint32Array; // what its run reached
  choices: Uint16Array; // where its run could have switched threads (within a schedule's reach)
}

// How often to recompute the energies of the corpus.
const RESCORE = 256;

export function searchGuided(variant: Variant, opts: GuidedOptions): GuidedResult {
  const t0 = Date.now();
  const rng = seedrandom(`guided:${opts.seed}`);
  const map = new Uint8Array(1 << MAP_BITS);
  const seen = new Uint8Array(1 << MAP_BITS);
  const hits = new Uint32Array(1 << MAP_BITS); // runs that reached each feature
  const corpus: Entry[] = [];
  let cumulative = new Float64Array(0); // running sum of energies, for picking
  const found = new Map<DivergenceClass, Found>();
  const classHits = new Map<DivergenceClass, number>();
  let stoppedEarly = false;
  let steps = 0;
  let i = 1;
  // Energy of an entry: how rare what it reaches is (libFuzzer's
  // entropic schedule, simplified), so mutation goes where few runs go.
  const rescore = () => {
    cumulative = new Float64Array(corpus.length);
    let sum = 0;
    corpus.forEach((e, j) => {
      let energy = 0;
      for (const f of e.features) energy += 1 / hits[f];
      cumulative[j] = sum += energy;
    });
  };
  const pick = (): Entry => {
    // what was kept since the last scoring has no energy yet: give it a turn
    const unscored = corpus.length - cumulative.length;
    if (unscored > 0 && (cumulative.length === 0 || rng() < 0.2)) return corpus[corpus.length - 1 - Math.floor(rng() * unscored)];
    const r = rng() * cumulative[cumulative.length - 1];
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < r) lo = mid + 1;
      else hi = mid;
    }
    return corpus[lo];
  };
  for (; i <= opts.runs; i++) {
    if ((i & 15) === 0 && ((opts.deadline !== undefined && Date.now() > opts.deadline) || opts.poll?.(i - 1, steps))) {
      stoppedEarly = true;
      break;
    }
    if (i % RESCORE === 0) rescore();
    let tc: TestCase;
    let parentPoints = 0;
    if (corpus.length === 0 || rng() < 0.25) tc = freshTestCase(rng);
    else {
      const parent = pick();
      tc = mutate(parent.tc, rng, pick().tc, parent.choices);
      parentPoints = parent.choices.length;
    }
    const cov = new Coverage(map, seen);
    const picker = opts.picker?.(tc, rng, parentPoints);
    const r = runTestCase(variant, tc, { coverage: cov, picker });
    if (r.schedule) tc = { ...tc, schedule: r.schedule };
    cov.done();
    steps += r.steps;
    for (const f of cov.features) hits[f]++;
    if (r.divergence) {
      classHits.set(r.divergence.class, (classHits.get(r.divergence.class) ?? 0) + 1);
      if (!found.has(r.divergence.class)) found.set(r.divergence.class, { tc, divergence: r.divergence, run: r, atRun: i, atMs: Date.now() - t0 });
      if (!opts.all) {
        i++;
        break;
      }
    } else if (cov.fresh > 0) corpus.push({ tc, features: Uint32Array.from(cov.features), choices: Uint16Array.from(cov.choices) }); // a divergent case is no base to build on
    if (found.size > 0 && opts.stop?.(found, i)) {
      i++;
      break;
    }
  }
  return { runs: i - 1, steps, corpus: corpus.length, found, hits: classHits, stoppedEarly };
}

// A guided find, shrunk within its class and recorded with where the
// search met it.
export function guidedCounterexample(variant: Variant, found: Found, seed: number): Counterexample {
  const tc = shrinkSameClass(found.tc, sameClass(variant, found.divergence.class));
  return makeCounterexample(variant, tc, runTestCase(variant, tc), { fastCheck: null, search: { engine: 'guided', seed, run: found.atRun } });
}
