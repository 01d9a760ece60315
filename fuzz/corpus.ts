// Counterexample files: corpus/<class>/<hash>.json.  Self-contained and
// versioned: the variant's contract and flags are recorded, so a file
// replays the same way even if the catalog changes.  Writes are atomic
// (temporary file, then rename).

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { parseTestCase, type TestCase } from '../models/testcase.ts';
import { parseVariant, type Variant } from '../models/variants/index.ts';
import { CLASSES, type Divergence, type DivergenceClass } from '../properties/classes.ts';
import { HARNESS_VERSION } from './version.ts';

export const FORMAT_VERSION = 1;

export interface Counterexample {
  format: number;
  harness: string;
  variant: { name: string; contract: string; flags: Record<string, boolean> };
  testCase: TestCase;
  divergence: { class: DivergenceClass; step: number; message: string };
  traceHash: string;
  length: number; // steps up to and including the divergent one
  fastCheck: { seed: number; path: string | null; numRuns: number } | null;
  // how a search found it; `slot` and `shrunk` for a campaign's find
  search?: { engine: 'scenario' | 'guided' | 'pct' | 'random-walk' | 'fast-check'; seed: number; run: number; slot?: number; shrunk?: boolean } | { engine: 'explore'; scenario: string; states: number };
}

// The counterexample file for a shrunk test case and its run.
export function makeCounterexample(
  variant: Variant,
  testCase: TestCase,
  run: { divergence: Divergence | null; traceHash: string },
  provenance: Pick<Counterexample, 'fastCheck' | 'search'>,
): Counterexample {
  const d = run.divergence!;
  return {
    format: FORMAT_VERSION,
    harness: HARNESS_VERSION,
    variant: { name: variant.name, contract: variant.contract, flags: { ...variant.flags } },
    testCase,
    divergence: { class: d.class, step: d.step, message: d.message },
    traceHash: run.traceHash,
    length: d.step + 1,
    ...provenance,
  };
}

export class CorpusError extends Error {}

export function caseHash(variant: Variant, tc: TestCase): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ contract: variant.contract, flags: variant.flags, testCase: tc }));
  return h.digest('hex').slice(0, 16);
}

export function counterexamplePath(dir: string, cx: Counterexample, variant: Variant): string {
  return join(dir, cx.divergence.class, `${caseHash(variant, cx.testCase)}.json`);
}

// Writes the file atomically; an identical file already there is left
// alone.  Returns the path.
export function writeCounterexample(dir: string, cx: Counterexample, variant: Variant): string {
  const path = counterexamplePath(dir, cx, variant);
  const text = JSON.stringify(cx, null, 2) + '\n';
  // The name is the hash of the variant and test case: a file already
  // there holds the same counterexample, and keeps its first provenance.
  if (existsSync(path)) {
    try {
      parseCounterexample(readFileSync(path, 'utf8'), path);
      return path;
    } catch {
      // unreadable: replaced by the good copy
    }
  }
  writeFileAtomic(path, text);
  return path;
}

// A reader (or a crash) sees the old file or the new one, never part of
// one: the text goes to a temporary file in the same folder, then is
// renamed over the target.
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${threadId}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function parseCounterexample(text: string, where: string): { cx: Counterexample; variant: Variant } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CorpusError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CorpusError(`${where}: expected a JSON object`);
  const r = raw as Record<string, unknown>;
  if (r.format !== FORMAT_VERSION) throw new CorpusError(`${where}: unsupported format version ${JSON.stringify(r.format)} (this harness reads ${FORMAT_VERSION})`);
  let variant: Variant;
  let testCase: TestCase;
  try {
    variant = parseVariant(r.variant);
    testCase = parseTestCase(r.testCase);
  } catch (e) {
    throw new CorpusError(`${where}: ${(e as Error).message}`);
  }
  const d = r.divergence as Record<string, unknown> | undefined;
  if (!d || typeof d !== 'object' || typeof d.class !== 'string' || !(d.class in CLASSES)) {
    throw new CorpusError(`${where}: divergence.class must be one of ${Object.keys(CLASSES).join(', ')}`);
  }
  if (typeof d.step !== 'number' || !Number.isInteger(d.step) || d.step < 0) throw new CorpusError(`${where}: divergence.step must be a non-negative integer`);
  if (typeof d.message !== 'string') throw new CorpusError(`${where}: divergence.message must be a string`);
  if (typeof r.traceHash !== 'string') throw new CorpusError(`${where}: traceHash must be a string`);
  const cx: Counterexample = {
    format: FORMAT_VERSION,
    harness: typeof r.harness === 'string' ? r.harness : 'unknown',
    variant: { name: variant.name, contract: variant.contract, flags: { ...variant.flags } },
    testCase,
    divergence: { class: d.class as DivergenceClass, step: d.step, message: d.message },
    traceHash: r.traceHash,
    length: typeof r.length === 'number' ? r.length : d.step + 1,
    fastCheck: (r.fastCheck as Counterexample['fastCheck']) ?? null,
  };
  if (r.search !== undefined) cx.search = r.search as Counterexample['search'];
  return { cx, variant };
}

// Whether a run of the file's test case meets what the file records: the
// same class at the same step, by the same trace.  `got` says what it met
// otherwise.
export function reproduction(cx: Counterexample, run: { divergence: Divergence | null; traceHash: string }): { reproduced: boolean; got: string } {
  const d = run.divergence;
  const reproduced = !!d && d.class === cx.divergence.class && d.step === cx.divergence.step && run.traceHash === cx.traceHash;
  const got = d ? `${d.class} at step ${d.step}${run.traceHash !== cx.traceHash ? ', different trace' : ''}` : 'no divergence';
  return { reproduced, got };
}

export function readCounterexample(path: string): { cx: Counterexample; variant: Variant } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CorpusError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseCounterexample(text, path);
}
