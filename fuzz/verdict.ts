// What a command's exit status says: whether every result was as
// expected.  A variant with expected classes must meet one of them and
// nothing else; a variant with none (a clean one, or a user's own) must
// meet nothing.  Judged after the search, from what it met; the search
// never sees an expectation.

import type { Variant } from '../models/variants/index.ts';
import type { DivergenceClass } from '../properties/classes.ts';

export interface Verdict {
  variant: string;
  expect: readonly DivergenceClass[];
  met: DivergenceClass[];
  unexpected: DivergenceClass[]; // met, but not among the expected classes
  missed: boolean; // expected classes, and none of them met
  asExpected: boolean;
}

export function judge(variant: Pick<Variant, 'name' | 'expect'>, met: Iterable<DivergenceClass>, canMiss = true): Verdict {
  const classes = [...new Set(met)];
  const unexpected = classes.filter((c) => !variant.expect.includes(c));
  const missed = canMiss && variant.expect.length > 0 && !classes.some((c) => variant.expect.includes(c));
  return { variant: variant.name, expect: variant.expect, met: classes, unexpected, missed, asExpected: !unexpected.length && !missed };
}

// One line for a result that is not as expected.
export function verdictLine(v: Verdict): string {
  const want = v.expect.length ? v.expect.join(' or ') : 'clean';
  if (v.unexpected.length) return `${v.variant}: UNEXPECTED ${v.unexpected.join(', ')} (expected ${want})`;
  return `${v.variant}: MISSED, expected ${want}, met ${v.met.length ? v.met.join(', ') : 'nothing'}`;
}

// The closing lines of a command: which rows were not as expected, or
// that all were.
export function verdictSummary(verdicts: Verdict[]): string[] {
  const bad = verdicts.filter((v) => !v.asExpected);
  if (!bad.length) return [`all ${verdicts.length} as expected`];
  return [`${bad.length} of ${verdicts.length} not as expected:`, ...bad.map((v) => `  ${verdictLine(v)}`)];
}
