// Counterexample files: corpus/<class>/<hash>.json.  Self-contained and
// versioned: the variant's contract and flags are recorded, so a file
// replays the same way even if the catalog changes.  Writes are atomic
// (temporary file, then rename).

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { z } from 'zod';
import { TestCaseSchema, type TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import { VariantRecordSchema, variantOf } from '../models/variants/record.ts';
import { CLASS_NAMES, type Divergence } from '../properties/classes.ts';
import { FileError, parseJsonText, parseWith, printable, readJsonFile } from './files.ts';
import { HARNESS_VERSION } from './version.ts';
import { ENGINES } from './engines.ts';

export const FORMAT_VERSION = 1;

// The counterexample file format, declared once: parsing and the type.
const count = z.number().int().min(0);
export const CounterexampleSchema = z
  .strictObject({
    format: z.literal(FORMAT_VERSION, { error: (iss) => `unsupported format version ${JSON.stringify(iss.input)} (this harness reads ${FORMAT_VERSION})` }),
    harness: z.string().max(100),
    variant: VariantRecordSchema,
    testCase: TestCaseSchema,
    divergence: z.strictObject({ class: z.enum(CLASS_NAMES), step: count.max(1_000_000), message: z.string().max(10_000) }),
    traceHash: z.string().regex(/^[0-9a-f]{1,64}$/, 'expected a hexadecimal trace hash'),
    length: z.number().int().min(1).max(1_000_001), // steps up to and including the divergent one
    fastCheck: z.strictObject({ seed: z.number().int(), path: z.string().max(100_000).nullable(), numRuns: count }).nullable(),
    // how a search found it; `slot` and `shrunk` for a campaign's find
    search: z
      .union([
        z.strictObject({ engine: z.enum(ENGINES), seed: z.number().int(), slot: count.optional(), run: count, shrunk: z.boolean().optional() }),
        z.strictObject({ engine: z.literal('explore'), scenario: z.string().max(200), states: count }),
      ])
      .optional(),
  })
  .check((ctx) => {
    if (ctx.value.length !== ctx.value.divergence.step + 1) ctx.issues.push({ code: 'custom', path: ['length'], input: ctx.value.length, message: `expected divergence.step + 1 = ${ctx.value.divergence.step + 1}, got ${ctx.value.length}` });
  });
export type Counterexample = z.infer<typeof CounterexampleSchema>;

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
    variant: { name: variant.name, contract: variant.contract, kernel: variant.kernel, flags: { ...variant.flags } },
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
  // through the schema: what is written is what a reader accepts, its keys in the schema's order
  const text = JSON.stringify(CounterexampleSchema.parse(cx), null, 2) + '\n';
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
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function parseCounterexample(text: string | Buffer, where: string): { cx: Counterexample; variant: Variant } {
  try {
    const cx = parseWith(CounterexampleSchema, parseJsonText(text, where, 'counterexample file'), where);
    return { cx, variant: variantOf(cx.variant) };
  } catch (e) {
    throw e instanceof FileError ? new CorpusError(e.message) : e;
  }
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
  try {
    const cx = parseWith(CounterexampleSchema, readJsonFile(path, 'counterexample file'), printable(path));
    return { cx, variant: variantOf(cx.variant) };
  } catch (e) {
    throw e instanceof FileError ? new CorpusError(e.message) : e;
  }
}
