// The command-line contract (DESIGN §7): exit codes, JSON shapes,
// determinism, and bad input answered with one line and nothing changed.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { daxcheck, oneLineError, snapshot } from './daxcheck.ts';
import { basename, join } from 'node:path';

const tmp = mkdtempSync(join(tmpdir(), 'daxcheck-cli-'));
let found = '';

test('list --json names every variant, flag and property', () => {
  const r = daxcheck('list', '--json');
  assert.is(r.code, 0);
  const doc = JSON.parse(r.out);
  assert.ok(doc.variants.some((v: { name: string }) => v.name === 'upstream'));
  assert.ok('truncateIgnoresPins' in doc.flags);
  assert.ok('dma-into-reallocated-block' in doc.properties);
});

test('check on a clean variant exits 0 with the JSON shape of §7', () => {
  const r = daxcheck('check', '--variant', 'upstream', '--runs', '200', '--json', '--corpus', join(tmp, 'c0'));
  assert.is(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.equal(doc.results, [{ variant: 'upstream', runs: 200, divergence: null }]);
});

test('check on v4.13 exits 1, reports dma-into-reallocated-block and writes a replayable counterexample', () => {
  const r = daxcheck('check', '--variant', 'v4.13', '--json', '--corpus', join(tmp, 'c1'));
  assert.is(r.code, 1, r.err);
  const { results } = JSON.parse(r.out);
  const d = results[0].divergence;
  assert.is(d.class, 'dma-into-reallocated-block');
  assert.ok(d.file.startsWith(join(tmp, 'c1', 'dma-into-reallocated-block')));
  assert.is(d.length, d.step + 1);
  found = d.file;
  const rp = daxcheck('replay', found, '--json');
  assert.is(rp.code, 0, rp.out + rp.err);
  assert.equal(JSON.parse(rp.out).results, [{ file: found, reproduced: true, class: 'dma-into-reallocated-block' }]);
});

test('the same seed gives byte-identical JSON', () => {
  const a = daxcheck('check', '--variant', 'v4.13', '--seed', '5', '--runs', '1500', '--json', '--corpus', join(tmp, 'c2'));
  const b = daxcheck('check', '--variant', 'v4.13', '--seed', '5', '--runs', '1500', '--json', '--corpus', join(tmp, 'c2'));
  assert.is(a.out, b.out);
  assert.ok(a.out.length > 0);
});

test('check --guided meets every class a variant shows, each shrunk, written and replayable', () => {
  const r = daxcheck('check', '--guided', '--variant', 'K7', '--runs', '300', '--json', '--corpus', join(tmp, 'g'));
  assert.is(r.code, 1, r.err);
  const [res] = JSON.parse(r.out).results;
  assert.is(res.variant, 'K7');
  assert.ok(res.classes.length >= 1);
  assert.equal(res.divergence, res.classes[0]);
  for (const c of res.classes) {
    const rp = daxcheck('replay', c.file, '--json');
    assert.equal(JSON.parse(rp.out).results[0], { file: c.file, reproduced: true, class: c.class });
  }
});

test('matrix: one row per known bug and clean variant, the same rows whatever the number of workers', () => {
  const strip = (out: string) => JSON.parse(out).rows.map((row: Record<string, unknown>) => {
    const { ms, classes, file, ...rest } = row;
    return { ...rest, classes: (classes as { class: string; run: number }[]).map((c) => [c.class, c.run]), file: file ? basename(file as string) : null };
  });
  const one = daxcheck('matrix', '--runs', '300', '--workers', '1', '--json', '--out', join(tmp, 'm1'));
  const two = daxcheck('matrix', '--runs', '300', '--workers', '2', '--json', '--out', join(tmp, 'm2'));
  const rows = strip(one.out);
  assert.equal(rows.map((row: { id: string }) => row.id), ['K1', 'K2', 'K3', 'K4', 'K5', 'K6', 'K7', 'K8', 'K9', 'K10', 'K11', 'K12', 'upstream', 'mapdirect-fixed']);
  assert.equal(strip(two.out), rows);
  // at this budget the shallow bugs are found and nothing else is claimed
  const k7 = rows.find((row: { id: string }) => row.id === 'K7');
  assert.is(k7.class, 'result-mismatch');
  assert.ok(k7.asExpected);
  for (const id of ['upstream', 'mapdirect-fixed']) assert.equal(rows.find((row: { id: string }) => row.id === id).found, false);
  assert.is(one.code, rows.every((row: { asExpected: boolean }) => row.asExpected) ? 0 : 1);
});

test('explore: complete on a clean variant (exit 0), the shortest counterexample on a bug (exit 1), written and replayable', () => {
  const clean = daxcheck('explore', '--variant', 'mapdirect-fixed', '--scenario', 'fd-reuse-vs-sigio', '--json', '--out', join(tmp, 'x0'));
  assert.is(clean.code, 0, clean.err);
  const [c] = JSON.parse(clean.out).results;
  assert.is(c.complete, true);
  assert.is(c.divergence, null);
  const bug = daxcheck('explore', '--variant', 'K9', '--scenario', 'fd-reuse-vs-sigio', '--json', '--out', join(tmp, 'x1'));
  assert.is(bug.code, 1, bug.err);
  const [b] = JSON.parse(bug.out).results;
  assert.is(b.complete, false);
  assert.is(b.divergence.class, 'stale-notification');
  const rp = daxcheck('replay', b.divergence.file, '--json');
  assert.equal(JSON.parse(rp.out).results[0], { file: b.divergence.file, reproduced: true, class: 'stale-notification' });
  oneLineError(daxcheck('explore', '--variant', 'K9', '--scenario', 'no-such-scenario'));
});

test('replay --trace prints the numbered steps up to the divergence', () => {
  const r = daxcheck('replay', found, '--trace');
  assert.is(r.code, 0);
  assert.match(r.out, /^\s+0\s+T0\s+sys_open:do_sys_open/m);
  assert.match(r.out, /dma-into-reallocated-block: /);
});

test('bad input: unknown variant, bad flag value, unknown option, unknown command', () => {
  oneLineError(daxcheck('check', '--variant', 'v9.99'));
  oneLineError(daxcheck('check', '--runs', 'many'));
  oneLineError(daxcheck('check', '--frobnicate'));
  oneLineError(daxcheck('frobnicate'));
  oneLineError(daxcheck('replay', join(tmp, 'does-not-exist.json')));
});

test('bad corpus files: truncated, unknown op, unknown flag; one line each, nothing on disk changed', () => {
  const text = readFileSync(found, 'utf8');
  const dir = join(tmp, 'bad');
  const cases: Record<string, string> = {
    'truncated.json': text.slice(0, text.length / 2),
    'unknown-op.json': text.replace(/"op": "open"/, '"op": "openat2"'),
    'unknown-flag.json': text.replace(/"truncateIgnoresPins"/, '"truncateIgnoresPinz"'),
    'bad-version.json': text.replace(/"format": 1/, '"format": 99'),
  };
  for (const [name, body] of Object.entries(cases)) {
    const d = join(dir, name.replace('.json', ''));
    spawnSync('mkdir', ['-p', d]);
    writeFileSync(join(d, name), body);
    const before = snapshot(dir);
    const r = daxcheck('replay', join(d, name));
    oneLineError(r);
    assert.ok(r.err.includes(name), `error names the file: ${r.err}`);
    assert.is(snapshot(dir), before);
  }
  const r = daxcheck('replay', join(dir, 'unknown-op'));
  assert.match(r.err, /unknown op "openat2"/);
});

test('a directory with one bad file is refused before anything runs', () => {
  const r = daxcheck('replay', join(tmp, 'bad'));
  oneLineError(r);
  assert.is(r.out, '');
});

test.run();
