// The schemas are the single source of the file formats: the README's
// key lists are the schemas' keys, and what the commands write parses.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConfigSchema, ScenarioSchema, TestCaseSchema } from '../models/testcase.ts';
import { VariantRecordSchema } from '../models/variants/record.ts';
import { CounterexampleSchema } from '../fuzz/corpus.ts';
import { SummarySchema } from '../fuzz/campaign.ts';
import { CHANGES, SYSTEMATIC_PREFIX, changesOf, scenarioText, systematicScenarios } from '../fuzz/systematic.ts';
import { PlanSchema } from '../fuzz/slots.ts';
import { BenchOutputSchema, StartupBenchSchema } from '../fuzz/bench.ts';
import { ConformResultSchema } from '../fuzz/conform.ts';
import { daxcheck } from './daxcheck.ts';

const readme = readFileSync('README.md', 'utf8');

// The keys the README lists after "- NAME (...):" or "- its `NAME`:".
function listed(label: string): string[] {
  const line = readme.split('\n').find((l) => l.startsWith(`- ${label}`));
  assert.ok(line, `README lists ${label}`);
  return [...line!.slice(line!.indexOf(':', label.length)).matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]);
}

const keys = (s: z.ZodObject) => Object.keys(s.shape);

const FORMATS: [string, z.ZodObject][] = [
  ['counterexample (', CounterexampleSchema],
  ['its `variant`', VariantRecordSchema],
  ['test case (', TestCaseSchema],
  ['its `config`', ConfigSchema],
  ['scenario (', ScenarioSchema],
  ['campaign summary (', SummarySchema],
  ['its `plan`', PlanSchema],
  ['bench output (', BenchOutputSchema],
  ['conformance summary (', ConformResultSchema],
];

for (const [label, schema] of FORMATS) {
  test(`README: the ${label.replace(/[(`]/g, '').trim()} keys are the schema's`, () => {
    assert.equal(listed(label), keys(schema));
  });
}

test('what the commands write parses under the schemas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-formats-'));
  const chk = daxcheck('check', '--variant', 'K7', '--runs', '200', '--json', '--out', dir);
  assert.is(chk.code, 0, chk.err);
  const summary = SummarySchema.parse(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')));
  assert.ok(summary.found.length >= 1);
  for (const f of summary.found) CounterexampleSchema.parse(JSON.parse(readFileSync(join(dir, f.file), 'utf8')));
  for (const name of ['sys-map-sync', 'truncate-vs-dio-stream']) ScenarioSchema.parse(JSON.parse(readFileSync(`scenarios/${name}.json`, 'utf8')));
  StartupBenchSchema.parse(JSON.parse(daxcheck('bench', '--startup', '--json').out).startup);
});

test('scenarios/sys-*.json are the table of fuzz/systematic.ts, byte for byte (npm run scenarios writes them), every row against every change', () => {
  const table = systematicScenarios();
  const files = readdirSync('scenarios').filter((f) => f.startsWith(SYSTEMATIC_PREFIX)).map((f) => f.slice(0, -5)).sort();
  assert.equal(files, [...table.keys()].sort());
  for (const [name, sc] of table) {
    assert.is(readFileSync(`scenarios/${name}.json`, 'utf8'), scenarioText(sc), name);
    ScenarioSchema.parse(sc);
    const open = sc.threads.flatMap((t) => t.ops).filter((op) => 'oneOf' in op);
    const file = (sc.threads.at(-1)!.ops[0] as { file: number }).file; // the source's file, which T1 opens (or the source itself)
    assert.equal(open, [{ oneOf: changesOf(file) }], name);
    assert.is(changesOf(file).length, CHANGES.length);
  }
});

test.run();
