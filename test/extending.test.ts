// docs/extending.md stays true: its code is the tree's, its worked example
// is found by `check` and `explore` and fixed on upstream, and the verdict
// rules it states are the ones the commands apply.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daxcheck } from './daxcheck.ts';
import { judge } from '../fuzz/verdict.ts';

const doc = readFileSync('docs/extending.md', 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'daxcheck-extending-'));
const blocks = (lang: string) => [...doc.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);

test("the page's TypeScript is the tree's, line for line", () => {
  const sources = ['models/variants/index.ts', 'models/impl/xfs_file.ts'].map((f) => readFileSync(f, 'utf8')).join('\n');
  const ts = blocks('ts');
  assert.ok(ts.length >= 3);
  for (const b of ts) for (const line of b.split('\n').filter((l) => l.trim())) assert.ok(sources.includes(line), `not in the sources: ${line}`);
});

let cx = '';

test('the worked example: check finds it as expected, upstream stays clean', () => {
  const r = daxcheck('check', '--variant', 'example-no-dio-wait', '--variant', 'mainline-fixed', '--runs', '8000', '--json', '--out', join(tmp, 'check'));
  assert.is(r.code, 0, r.out + r.err);
  const [ex, up] = JSON.parse(r.out).results;
  assert.is(ex.variant, 'example-no-dio-wait');
  assert.is(ex.divergence.class, 'data-mismatch');
  assert.is(up.divergence, null);
  cx = ex.divergence.file;
});

test('the worked example: its counterexample no longer diverges on upstream, and still does on its own variant', () => {
  const fixed = daxcheck('replay', cx, '--variant', 'mainline-fixed');
  assert.is(fixed.code, 0, fixed.err);
  assert.match(fixed.out, /no longer diverges on mainline-fixed/);
  const own = daxcheck('replay', cx);
  assert.is(own.code, 0, own.err);
  assert.match(own.out, /^reproduced/);
});

test("the page's scenario explores: the race on the example, complete and clean on upstream", () => {
  const [json] = blocks('json');
  const file = join(tmp, 'my-scenario.json');
  writeFileSync(file, json);
  const bug = daxcheck('explore', '--variant', 'example-no-dio-wait', '--scenario', file, '--json', '--out', join(tmp, 'x'));
  assert.is(bug.code, 0, bug.err);
  assert.is(JSON.parse(bug.out).results[0].divergence.class, 'data-mismatch');
  const clean = daxcheck('explore', '--variant', 'mainline-fixed', '--scenario', file, '--json', '--out', join(tmp, 'x'));
  assert.is(clean.code, 0, clean.err);
  const [c] = JSON.parse(clean.out).results;
  assert.is(c.divergence, null);
  assert.ok(c.complete);
});

test('the verdict rules the page states', () => {
  // a variant of your own with no expectation: any divergence is unexpected
  assert.not.ok(judge({ name: 'mine', expect: [] }, ['dma-into-reallocated-block']).asExpected);
  assert.ok(judge({ name: 'mine', expect: [] }, []).asExpected);
  // a known bug: one of its classes, and nothing else
  const k = { name: 'k', expect: ['iova-reuse', 'dma-into-reallocated-block'] as const };
  assert.ok(judge(k, ['iova-reuse']).asExpected);
  assert.equal(judge(k, []).missed, true);
  assert.ok(judge(k, [], false).asExpected); // a search that could not have its whole budget misses nothing
  assert.equal(judge(k, ['iova-reuse', 'deadlock']).unexpected, ['deadlock']);
});

test.run();
