// `daxcheck report`: a counterexample file becomes a page beside it (or at
// --html), a folder becomes an index page linking to a page beside each
// of its counterexamples; --text gives the mailing-list form instead.
// Every input is read and checked before anything is written, and pages
// are written atomically.

import { dirname, join, relative, sep } from 'node:path';
import { VARIANTS, catalogVariant } from '../models/variants/index.ts';
import { corpusPairs, counterexampleFiles, isCampaign, readSummary, type Summary } from '../fuzz/campaign.ts';
import { CorpusError, readCounterexample, reproduction, writeFileAtomic, type Counterexample } from '../fuzz/corpus.ts';
import { parseWith, printable, readJsonFile } from '../fuzz/files.ts';
import { MismatchSchema, type Mismatch } from '../fuzz/conform.ts';
import { mismatchPage, mismatchText } from './mismatch.ts';
import { readRepro } from '../fuzz/repro.ts';
import { existsSync, statSync } from 'node:fs';
import { findingKey } from '../fuzz/slots.ts';
import { record, type Recording } from './record.ts';
import { counterexamplePage } from './counterexample.ts';
import { indexPage, type IndexEntry } from './campaign.ts';
import { textReport } from './text.ts';
import { title } from './story.ts';

export interface ReportOptions {
  html?: string; // where the page (a folder's index page) goes
  text: boolean;
  full?: boolean; // the text report with the whole trace
}

export interface ReportOutput {
  written: string[]; // pages, index last
  index: string | null; // a folder's index page
  text: string | null;
}

function pagePath(file: string): string {
  return file.endsWith('.json') ? `${file.slice(0, -5)}.html` : `${file}.html`;
}

function link(fromDir: string, to: string): string {
  return relative(fromDir, to).split(sep).map(encodeURIComponent).join('/');
}

interface Loaded {
  file: string;
  cx: Counterexample;
  rec: Recording;
}

// A file `conform` wrote, or null for anything else (a counterexample).
function kernelMismatch(file: string): Mismatch | null {
  let doc: unknown;
  try {
    doc = readJsonFile(file, 'kernel-mismatch file');
  } catch {
    return null; // readCounterexample says what is wrong with it
  }
  if (typeof doc !== 'object' || doc === null || (doc as { kind?: unknown }).kind !== 'kernel-mismatch') return null;
  return parseWith(MismatchSchema, doc, printable(file));
}

export function report(target: string, opts: ReportOptions): ReportOutput {
  if (opts.html !== undefined && existsSync(opts.html) && !statSync(opts.html).isFile()) throw new CorpusError(`--html: ${printable(opts.html)} is a folder, not a file to write the page to`);
  const files = counterexampleFiles(target);
  const folder = files.length !== 1 || files[0] !== target;
  const mismatch = folder ? null : kernelMismatch(target);
  if (mismatch) {
    const written: string[] = [];
    if (opts.html !== undefined || !opts.text) {
      const out = opts.html ?? pagePath(target);
      writeFileAtomic(out, mismatchPage(target, mismatch));
      written.push(out);
    }
    return { written, index: null, text: opts.text ? mismatchText(target, mismatch) : null };
  }
  const summary: Summary | null = folder && isCampaign(target) ? readSummary(target) : null;
  const loaded: Loaded[] = files.map((file) => {
    const { cx, variant } = readCounterexample(file);
    return { file, cx, rec: record(variant, cx.testCase) };
  });
  const html = opts.html !== undefined || !opts.text;
  const written: string[] = [];
  const text: string[] = [];

  if (!folder) {
    const { file, cx, rec } = loaded[0];
    if (html) {
      const out = opts.html ?? pagePath(file);
      writeFileAtomic(out, counterexamplePage(file, cx, rec));
      written.push(out);
    }
    return { written, index: null, text: opts.text ? textReport(file, cx, rec, opts.full) : null };
  }

  const indexFile = opts.html ?? join(target, 'report.html');
  const known = corpusPairs();
  const entries: IndexEntry[] = [];
  for (const { file, cx, rec } of loaded) {
    const out = pagePath(file);
    if (html) {
      writeFileAtomic(out, counterexamplePage(file, cx, rec));
      written.push(out);
    }
    const found = summary?.found.find((f) => join(target, f.file) === file);
    entries.push({
      variant: cx.variant.name,
      cls: cx.divergence.class,
      title: title(cx, rec),
      message: cx.divergence.message,
      length: cx.length,
      href: link(dirname(indexFile), out),
      file,
      isNew: found ? !found.inCorpus : !known.has(findingKey(cx.variant.name, cx.divergence.class)),
      expectClean: catalogVariant(cx.variant.name)?.expect.length === 0,
      reproduced: reproduction(cx, rec.run).reproduced,
      realKernel: readRepro(file)?.verdict ?? null,
      firstAtMs: found?.firstAtMs ?? null,
      hits: found?.hits ?? null,
    });
    if (opts.text) text.push(textReport(file, cx, rec, opts.full));
  }
  const order = (name: string) => {
    const v = catalogVariant(name);
    return v ? VARIANTS.indexOf(v) : VARIANTS.length;
  };
  entries.sort((a, b) => order(a.variant) - order(b.variant) || a.variant.localeCompare(b.variant) || a.cls.localeCompare(b.cls));
  if (html) {
    const planned = summary ? summary.plan.variants : [];
    const variants = planned.map((name) => ({ name, expectClean: VARIANTS.find((v) => v.name === name)?.expect.length === 0 }));
    writeFileAtomic(indexFile, indexPage(target, summary, entries, variants));
    written.push(indexFile);
  }
  return { written, index: html ? indexFile : null, text: opts.text ? text.join(`\n${'-'.repeat(72)}\n\n`) : null };
}
