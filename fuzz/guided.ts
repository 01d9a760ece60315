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
import { shrinkDivergence } from './shrink.ts';
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

export interface Seeds {
  fresh: (rng: () => number) => TestCase;
  rate: number;
}

interface Entry {
  tc: string; // as JSON, under half the memory of the object; parsed when picked
  features: Uint16Array; // what its run reached (feature ids are MAP_BITS = 16 bits)
  choices: Uint16Array; // where its run could have switched threads (within a schedule's reach)
}

// How often to recompute the energies of the corpus.
const RESCORE = 256;
if (MAP_BITS > 16) throw new Error('fuzz/guided.ts keeps feature ids in 16 bits');

// A search that can be run in parts: each call of run() goes on where the
// last stopped (the corpus, the coverage, the random stream), so a
// campaign's slots of one variant and engine make one long search.
export class GuidedSearch {
  private readonly rng: () => number;
  private readonly map = new Uint8Array(1 << MAP_BITS);
  private readonly seen = new Uint8Array(1 << MAP_BITS);
  private readonly hits = new Uint32Array(1 << MAP_BITS); // runs that reached each feature
  private readonly corpus: Entry[] = [];
  private cumulative = new Float64Array(0); // running sum of energies, for picking
  private i = 1; // the next run's number, counted from the search's start

  // `maxCorpus`: a campaign keeps many searches alive for hours; past
  // this many kept cases, a new one takes the place of the one whose
  // features are most common (the least energy).
  // `seeds`: where a fresh case comes from, and how often a run starts
  // fresh rather than from a mutated corpus case; by default, generation.
  constructor(
    private readonly variant: Variant,
    seed: number,
    private readonly picker?: GuidedOptions['picker'],
    private readonly maxCorpus = Infinity,
    private readonly seeds: Seeds = { fresh: freshTestCase, rate: 0.25 },
  ) {
    this.rng = seedrandom(`guided:${seed}`);
  }

  private keep(e: Entry): void {
    const { corpus, cumulative } = this;
    if (corpus.length < this.maxCorpus || cumulative.length === 0) {
      corpus.push(e);
      return;
    }
    const energy = (j: number) => cumulative[j] - (j > 0 ? cumulative[j - 1] : 0);
    let worst = 0;
    for (let j = 1; j < cumulative.length; j++) if (energy(j) < energy(worst)) worst = j;
    corpus[worst] = corpus[corpus.length - 1];
    corpus[corpus.length - 1] = e;
    this.rescore();
  }

  // Energy of an entry: how rare what it reaches is (libFuzzer's
  // entropic schedule, simplified), so mutation goes where few runs go.
  private rescore(): void {
    this.cumulative = new Float64Array(this.corpus.length);
    let sum = 0;
    for (let j = 0; j < this.corpus.length; j++) {
      let energy = 0;
      for (const f of this.corpus[j].features) energy += 1 / this.hits[f];
      this.cumulative[j] = sum += energy;
    }
  }

  private pick(): Entry {
    const { corpus, cumulative, rng } = this;
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
  }

  // Up to `runs` more test cases; what it reports (runs, steps, finds with
  // their run numbers) counts from this call's start.
  run(runs: number, opts: Omit<GuidedOptions, 'seed' | 'runs' | 'picker'> = {}): GuidedResult {
    const t0 = Date.now();
    const { rng, map, seen, hits, corpus } = this;
    const found = new Map<DivergenceClass, Found>();
    const classHits = new Map<DivergenceClass, number>();
    const first = this.i;
    const last = first + runs - 1;
    let stoppedEarly = false;
    let steps = 0;
    let i = first;
    for (; i <= last; i++) {
      if ((i & 15) === 0 && ((opts.deadline !== undefined && Date.now() > opts.deadline) || opts.poll?.(i - first, steps))) {
        stoppedEarly = true;
        break;
      }
      if (i % RESCORE === 0) this.rescore();
      let tc: TestCase;
      let parentPoints = 0;
      if (corpus.length === 0 || rng() < this.seeds.rate) tc = this.seeds.fresh(rng);
      else {
        const parent = this.pick();
        const donor = this.pick();
        tc = mutate(JSON.parse(parent.tc), rng, () => JSON.parse(donor.tc), parent.choices);
        parentPoints = parent.choices.length;
      }
      const cov = new Coverage(map, seen);
      const picker = this.picker?.(tc, rng, parentPoints);
      const r = runTestCase(this.variant, tc, { coverage: cov, picker });
      if (r.schedule) tc = { ...tc, schedule: r.schedule };
      cov.done();
      steps += r.steps;
      for (const f of cov.features) hits[f]++;
      if (r.divergence) {
        classHits.set(r.divergence.class, (classHits.get(r.divergence.class) ?? 0) + 1);
        if (!found.has(r.divergence.class)) found.set(r.divergence.class, { tc, divergence: r.divergence, run: r, atRun: i - first + 1, atMs: Date.now() - t0 });
        if (!opts.all) {
          i++;
          break;
        }
      } else if (cov.fresh > 0) this.keep({ tc: JSON.stringify(tc), features: Uint16Array.from(cov.features), choices: Uint16Array.from(cov.choices) }); // a divergent case is no base to build on
      if (found.size > 0 && opts.stop?.(found, i - first + 1)) {
        i++;
        break;
      }
    }
    this.i = i;
    return { runs: i - first, steps, corpus: corpus.length, found, hits: classHits, stoppedEarly };
  }
}

export function searchGuided(variant: Variant, opts: GuidedOptions): GuidedResult {
  return new GuidedSearch(variant, opts.seed, opts.picker).run(opts.runs, opts);
}

// A guided find, shrunk within its class and recorded with where the
// search met it.
export function guidedCounterexample(variant: Variant, found: Found, seed: number): Counterexample {
  const tc = shrinkDivergence(variant, found.tc, found.divergence.class);
  return makeCounterexample(variant, tc, runTestCase(variant, tc), { fastCheck: null, search: { engine: 'guided', seed, run: found.atRun } });
}
