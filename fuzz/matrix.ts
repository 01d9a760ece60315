// `daxcheck matrix`: every known bug and every clean variant searched the
// same way, with the same budget, by the coverage-guided search.  A row
// ends when it meets a class that names a mechanism; if it first meets
// only a catch-all (a result or data mismatch), it goes on for as long
// again (and 10,000 runs more) to see whether a mechanism shows, as a
// developer would want to be told which one broke.  The search reads
// nothing of the bug: the expected classes are only compared at the end.

import { createHash } from 'node:crypto';
import { CLEAN_VARIANTS, KNOWN_BUGS, findVariant, type FlagName } from '../models/variants/index.ts';
import { GENERIC_CLASSES, type DivergenceClass } from '../properties/classes.ts';
import { guidedCounterexample, searchGuided, type Found } from './guided.ts';
import type { Counterexample } from './corpus.ts';
import { EXPLORE_DEFAULTS, shortestOverScenarios } from './explore.ts';

export interface MatrixOptions {
  seed: number;
  runs: number; // most test cases per row
}

export interface MatrixRow {
  id: string; // K1..K12, or the clean variant's name
  variant: string; // the clean variant the row runs on
  flag: FlagName | null; // the bug's flag, flipped on `variant`
  expect: 'divergence' | 'clean';
  found: boolean;
  class: DivergenceClass | null;
  ms: number | null; // from the row's start to the first divergence of `class`
  shrunkLength: number | null; // steps of the shrunk counterexample
  minimalLength: number | null; // steps of the explorer's shortest trace of `class` on a shipped scenario
  minimalScenario: string | null; // the scenario it is on
  runs: number; // test cases run
  classes: { class: DivergenceClass; run: number; ms: number }[]; // every class met, in order
  expectedClasses: string[]; // what the seed's reviewers would call it
  asExpected: boolean;
}

export interface RowResult {
  row: MatrixRow;
  counterexample: Counterexample | null;
}

export function matrixIds(): string[] {
  return [...KNOWN_BUGS.map((b) => b.id), ...CLEAN_VARIANTS.map((v) => v.name)];
}

function rowSeed(seed: number, id: string): number {
  return createHash('sha256').update(`matrix:${seed}:${id}`).digest().readUInt32BE(0);
}

export function runMatrixRow(id: string, opts: MatrixOptions): RowResult {
  const bug = KNOWN_BUGS.find((b) => b.id === id) ?? null;
  const variant = findVariant(id);
  const seed = rowSeed(opts.seed, id);
  const mechanism = (found: Map<DivergenceClass, Found>) => [...found.keys()].find((c) => !GENERIC_CLASSES.includes(c));
  const r = searchGuided(variant, {
    seed,
    runs: opts.runs,
    all: true,
    stop: (found, run) => mechanism(found) !== undefined || run >= 2 * Math.min(...[...found.values()].map((f) => f.atRun)) + 10_000,
  });
  const met = [...r.found.values()].sort((a, b) => a.atRun - b.atRun);
  const cls = mechanism(r.found) ?? met[0]?.divergence.class ?? null;
  const counterexample: Counterexample | null = cls ? guidedCounterexample(variant, r.found.get(cls)!, seed) : null;
  const expectedClasses = bug ? bug.expect : [];
  const minimal = cls ? shortestOverScenarios(variant, (c) => c === cls, EXPLORE_DEFAULTS) : null;
  const row: MatrixRow = {
    id,
    variant: bug ? bug.base : id,
    flag: bug ? bug.flag : null,
    expect: bug ? 'divergence' : 'clean',
    found: cls !== null,
    class: cls,
    ms: cls ? r.found.get(cls)!.atMs : null,
    shrunkLength: counterexample ? counterexample.length : null,
    minimalLength: minimal?.length ?? null,
    minimalScenario: minimal?.scenario ?? null,
    runs: r.runs,
    classes: met.map((f) => ({ class: f.divergence.class, run: f.atRun, ms: f.atMs })),
    expectedClasses,
    asExpected: bug ? cls !== null && expectedClasses.includes(cls) : cls === null,
  };
  return { row, counterexample };
}
