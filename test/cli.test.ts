// The command-line contract (DESIGN §7): exit codes, JSON shapes,
// determinism, and bad input answered with one line and nothing changed.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { daxcheck, oneLineError, snapshot } from './daxcheck.ts';
import { basename, join } from 'node:path';

const tmp = mkdtempSync(join(tmpdir(), 'daxcheck-cli-'));
let found = '';

test('list --json names every variant, flag and property', () => {
  const r = daxcheck('list', '--json');
  assert.is(r.code, 0);
  const doc = JSON.parse(r.out);
  for (const name of ['linux-4.18', 'linux-6.1', 'linux-mainline']) {
    const v = doc.variants.find((x: { name: string }) => x.name === name);
    assert.ok(v, name);
    assert.is(v.kernel, name);
    assert.match(v.source.tree, /^github:/);
  }
  assert.is(doc.aliases.upstream, 'linux-mainline');
  assert.ok('truncateIgnoresPins' in doc.flags);
  assert.ok('dma-into-reallocated-block' in doc.properties);
});

test('check on a clean variant exits 0 with the JSON shape of §7, names its search, and writes nothing outside --out', () => {
  const out = join(tmp, 'c0');
  const r = daxcheck('check', '--variant', 'mainline-fixed', '--runs', '200', '--json', '--out', out);
  assert.is(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.is(doc.engine, 'portfolio');
  assert.equal(doc.engines, ['scenario', 'guided', 'scenario', 'pct', 'scenario', 'random-walk', 'scenario', 'fast-check']);
  assert.equal(doc.results, [{ variant: 'mainline-fixed', runs: 200, expect: [], asExpected: true, divergence: null, classes: [] }]);
  assert.ok(existsSync(join(out, 'summary.json')));
});

test('check on v4.13 exits 0: it shows what it is expected to; the counterexample replays, and --corpus copies it', () => {
  const r = daxcheck('check', '--variant', 'v4.13', '--runs', '2000', '--json', '--out', join(tmp, 'c1'), '--corpus', join(tmp, 'c1copy'));
  assert.is(r.code, 0, r.err);
  const { results } = JSON.parse(r.out);
  assert.is(results[0].asExpected, true);
  // among what it met, the truncate of pages direct I/O still pins
  const d = results[0].classes.find((c: { class: string }) => c.class === 'dma-into-reallocated-block');
  assert.ok(d, JSON.stringify(results[0].classes));
  assert.ok(d.file.startsWith(join(tmp, 'c1copy', 'dma-into-reallocated-block')), d.file);
  assert.is(d.length, d.step + 1);
  found = d.file;
  const rp = daxcheck('replay', found, '--json');
  assert.is(rp.code, 0, rp.out + rp.err);
  assert.equal(JSON.parse(rp.out).results, [{ file: found, reproduced: true, class: 'dma-into-reallocated-block' }]);
});

test('check exits 1 when an expected bug is missed, and its last lines say which row', () => {
  // a seed whose 100 runs meet K7 (and, as any would, miss K4)
  const r = daxcheck('check', '--variant', 'K4', '--variant', 'K7', '--runs', '100', '--seed', '2', '--out', join(tmp, 'c3'));
  assert.is(r.code, 1, r.err);
  const last = r.out.trim().split('\n').slice(-2);
  assert.equal(last, ['1 of 2 not as expected:', '  K4: MISSED, expected iova-reuse, met nothing']);
});

test('the same seed gives byte-identical JSON, with one worker or two', () => {
  const run = (w: string) => daxcheck('check', '--variant', 'v4.13', '--variant', 'K7', '--seed', '5', '--runs', '1500', '--workers', w, '--json', '--out', join(tmp, 'c2'));
  const a = run('1');
  const b = run('2');
  assert.is(a.out.replace(/"dir": .*\n/, ''), b.out.replace(/"dir": .*\n/, ''));
  assert.ok(a.out.length > 0);
});

// A variant met in a later segment: before the decision counted only the
// segments before a slot's, a slot of that same segment ran or was
// skipped as the other worker happened to finish (K2: 2750 or 3000 runs).
test('a variant decided in a later segment: the same runs and findings with one worker or two, run after run', () => {
  const run = (w: string) => daxcheck('check', '--variant', 'example-no-dio-wait', '--variant', 'K2', '--workers', w, '--json', '--out', join(tmp, 'c4'));
  const strip = (out: string) => JSON.stringify(JSON.parse(out).results.map((r: { variant: string; runs: number; classes: { class: string; run: number; slot: number }[] }) => [r.variant, r.runs, r.classes.map((c) => [c.class, c.run, c.slot])]));
  const one = strip(run('1').out);
  for (let i = 0; i < 2; i++) assert.is(strip(run('2').out), one);
  const k2 = (JSON.parse(one) as [string, number][]).find(([v]) => v === 'K2')!;
  assert.ok(k2[1] > 2000, `K2 decided in a later segment than its first: ${k2[1]} runs`);
});

test('check --guided meets every class a variant shows, each shrunk, written and replayable', () => {
  const r = daxcheck('check', '--guided', '--variant', 'K7', '--runs', '300', '--json', '--corpus', join(tmp, 'g'));
  assert.is(r.code, 0, r.err);
  const [res] = JSON.parse(r.out).results;
  assert.is(res.variant, 'K7');
  assert.ok(res.classes.length >= 1);
  assert.equal(res.divergence, res.classes[0]);
  for (const c of res.classes) {
    const rp = daxcheck('replay', c.file, '--json');
    assert.equal(JSON.parse(rp.out).results[0], { file: c.file, reproduced: true, class: c.class });
  }
});

test('check --fast-check: plain fast-check, judged the same way', () => {
  const r = daxcheck('check', '--fast-check', '--variant', 'K7', '--runs', '300', '--json', '--corpus', join(tmp, 'f'));
  assert.is(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.is(doc.engine, 'fast-check');
  assert.is(doc.results[0].divergence.class, 'result-mismatch');
});

test('matrix: one row per known bug and clean variant, the same rows whatever the number of workers', () => {
  const strip = (out: string) => JSON.parse(out).rows.map((row: Record<string, unknown>) => {
    const { ms, classes, file, ...rest } = row;
    return { ...rest, classes: (classes as { class: string; run: number }[]).map((c) => [c.class, c.run]), file: file ? basename(file as string) : null };
  });
  // every row, at a budget too small to find anything (a found row's
  // shortest trace is explored over every shipped scenario: minutes)
  const all = JSON.parse(daxcheck('matrix', '--runs', '1', '--json', '--out', join(tmp, 'm0')).out);
  assert.equal(all.rows.map((row: { id: string }) => row.id), ['K1', 'K2', 'K4', 'K5', 'K6', 'K7', 'K8', 'K9', 'K10', 'K11', 'K12', 'mainline-fixed', 'mapdirect-fixed']);
  // some rows, as --row picks them, in the matrix's order
  const some = ['--row', 'mainline-fixed', '--row', 'K7'];
  const one = daxcheck('matrix', '--runs', '300', '--workers', '1', ...some, '--json', '--out', join(tmp, 'm1'));
  const two = daxcheck('matrix', '--runs', '300', '--workers', '2', ...some, '--json', '--out', join(tmp, 'm2'));
  const rows = strip(one.out);
  assert.equal(rows.map((row: { id: string }) => row.id), ['K7', 'mainline-fixed']);
  assert.equal(strip(two.out), rows);
  oneLineError(daxcheck('matrix', '--row', 'K99'));
  // at this budget the shallow bugs are found and nothing else is claimed
  const k7 = rows.find((row: { id: string }) => row.id === 'K7');
  assert.is(k7.class, 'result-mismatch');
  assert.ok(k7.asExpected);
  assert.equal(rows.find((row: { id: string }) => row.id === 'mainline-fixed').found, false);
  assert.is(one.code, rows.every((row: { asExpected: boolean }) => row.asExpected) ? 0 : 1);
});

test('explore: complete on a clean variant (exit 0), the shortest counterexample on a bug, written and replayable', () => {
  const clean = daxcheck('explore', '--variant', 'mapdirect-fixed', '--scenario', 'sys-map-direct-fd-reuse', '--json', '--out', join(tmp, 'x0'));
  assert.is(clean.code, 0, clean.err);
  const [c] = JSON.parse(clean.out).results;
  assert.is(c.complete, true);
  assert.is(c.divergence, null);
  const bug = daxcheck('explore', '--variant', 'K9', '--scenario', 'sys-map-direct-fd-reuse', '--json', '--out', join(tmp, 'x1'));
  assert.is(bug.code, 0, bug.err); // K9 is expected to show stale-notification
  const [b] = JSON.parse(bug.out).results;
  assert.is(b.complete, false);
  assert.is(b.divergence.class, 'stale-notification');
  const rp = daxcheck('replay', b.divergence.file, '--json');
  assert.equal(JSON.parse(rp.out).results[0], { file: b.divergence.file, reproduced: true, class: 'stale-notification' });
  oneLineError(daxcheck('explore', '--variant', 'K9', '--scenario', 'no-such-scenario'));
});

test('explore --scenario takes a path: the shipped file and a copy elsewhere give the same result', () => {
  const copy = join(tmp, 'my-scenario.json');
  copyFileSync('scenarios/sys-map-sync.json', copy);
  const strip = (out: string) => JSON.parse(out).results.map(({ ms, statesPerSecond, scenario, divergence, ...rest }: Record<string, unknown>) => ({ ...rest, cls: (divergence as { class: string } | null)?.class ?? null }));
  const a = daxcheck('explore', '--variant', 'K11', '--scenario', './scenarios/sys-map-sync.json', '--json', '--out', join(tmp, 'p0'));
  const b = daxcheck('explore', '--variant', 'K11', '--scenario', copy, '--json', '--out', join(tmp, 'p1'));
  assert.is(a.code, 0, a.err);
  assert.is(b.code, 0, b.err);
  assert.equal(strip(a.out), strip(b.out));
  assert.is(strip(a.out)[0].cls, 'result-mismatch');
  // the same file on a clean variant; then a bad scenario file
  const up = daxcheck('explore', '--variant', 'mainline-fixed', '--scenario', copy, '--out', join(tmp, 'p2'));
  assert.is(up.code, 0, up.err);
  assert.match(up.out, /complete, clean/);
  writeFileSync(join(tmp, 'bad-scenario.json'), JSON.stringify({ about: 'x', config: { files: 'many' }, threads: [] }));
  const bad = daxcheck('explore', '--variant', 'mainline-fixed', '--scenario', join(tmp, 'bad-scenario.json'));
  oneLineError(bad);
  assert.match(bad.err, /bad-scenario\.json.*config/);
  oneLineError(daxcheck('explore', '--variant', 'mainline-fixed', '--scenario', join(tmp, 'nothing-here.json')));
});

test('replay --variant runs a program on another variant: how a fix is checked', () => {
  const k1 = 'corpus/dma-into-reallocated-block/a99ee9695091278a.json';
  const fixed = daxcheck('replay', k1, '--variant', 'mainline-fixed');
  assert.is(fixed.code, 0, fixed.err);
  assert.match(fixed.out, /no longer diverges on mainline-fixed/);
  const still = daxcheck('replay', k1, '--variant', 'K1', '--json');
  assert.is(still.code, 0, still.err);
  const [r] = JSON.parse(still.out).results;
  assert.equal([r.variant, r.diverges, r.class, r.asExpected], ['K1', true, 'dma-into-reallocated-block', true]);
  oneLineError(daxcheck('replay', k1, '--variant', 'no-such-variant'));
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

const COMMANDS = ['list', 'check', 'replay', 'matrix', 'explore', 'fuzz', 'merge', 'report', 'bench', 'vm', 'conform', 'help'];

test('help: daxcheck --help, help CMD and CMD --help for every command, on stdout, exit 0; --version', () => {
  for (const args of [['--help'], ['help'], ['-h']]) {
    const r = daxcheck(...args);
    assert.is(r.code, 0, args.join(' '));
    for (const c of COMMANDS) assert.match(r.out, new RegExp(`^  ${c} `, 'm'));
  }
  for (const c of COMMANDS) {
    const a = daxcheck('help', c);
    const b = daxcheck(c, '--help');
    assert.is(a.code, 0, c);
    assert.is(b.code, 0, c);
    assert.is(a.out, b.out, c);
    assert.match(a.out, new RegExp(`^usage: daxcheck ${c}`), c);
    assert.is(a.err, '');
  }
  const v = daxcheck('--version');
  assert.is(v.code, 0);
  assert.is(v.out.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
  oneLineError(daxcheck('help', 'frobnicate'));
  const none = daxcheck();
  assert.is(none.code, 2); // no command: the usage, on stderr
  assert.match(none.err, /^usage: daxcheck/);
});

test('a stray argument is refused alike by every command that takes none', () => {
  for (const c of ['list', 'check', 'matrix', 'explore', 'fuzz', 'bench', 'conform']) {
    const r = daxcheck(c, 'stray');
    oneLineError(r, c);
    assert.match(r.err, /unexpected argument "stray"/, c);
  }
  oneLineError(daxcheck('--version', 'stray'));
  oneLineError(daxcheck('report', found, found));
});

test('integers are integers in range: no rounding past 2^53, no zero budget', () => {
  for (const [opt, value] of [['--seed', '9007199254740993'], ['--seed', '1e3'], ['--seed', '1.5'], ['--runs', '0'], ['--runs', '99999999999999999999'], ['--workers', '0'], ['--seed', ' 7']]) {
    const r = daxcheck('check', '--variant', 'mainline-fixed', opt, value, '--out', join(tmp, 'never'));
    oneLineError(r, `${opt} ${value}`);
    assert.match(r.err, new RegExp(opt), `${opt} ${value}`);
  }
  assert.not.ok(existsSync(join(tmp, 'never')));
  for (const b of ['0', '0s', '0m0s', '', '-5s', '1x']) oneLineError(daxcheck('fuzz', '--variant', 'mainline-fixed', '--budget', b, '--out', join(tmp, 'never')), `--budget "${b}"`);
  assert.not.ok(existsSync(join(tmp, 'never')));
});

test('--workers is capped at the cores there are', () => {
  const r = daxcheck('fuzz', '--variant', 'mainline-fixed', '--runs', '20', '--slot-runs', '10', '--workers', '64', '--json', '--out', join(tmp, 'wk'));
  assert.is(r.code, 0, r.err);
  assert.is(JSON.parse(r.out).workers, availableParallelism());
});

test('replay of a folder with no counterexample files says so and exits 2', () => {
  const empty = mkdtempSync(join(tmpdir(), 'daxcheck-empty-'));
  const r = daxcheck('replay', empty);
  oneLineError(r);
  assert.match(r.err, /no counterexample files/);
});

test('list names the scenarios', () => {
  const doc = JSON.parse(daxcheck('list', '--json').out);
  assert.ok(doc.scenarios.some((s: { name: string; about: string }) => s.name === 'sys-map-sync' && s.about.length > 10));
  assert.match(daxcheck('list').out, /^  sys-dio-buffer /m);
});

test('the package holds the compiled command and what it reads, not the tests', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const names = (JSON.parse(r.stdout)[0].files as { path: string }[]).map((f) => f.path);
  for (const want of ['bin/daxcheck.js', 'dist/cli/main.js', 'dist/cli/commands.js', 'dist/fuzz/worker-entry.js', 'scenarios/sys-map-sync.json', 'executor/executor.c', 'docs/fidelity.md', 'LICENSE', 'README.md', 'package.json']) assert.ok(names.includes(want), want);
  assert.not.ok(names.some((n) => n.endsWith('.ts') || n.startsWith('test/')), names.filter((n) => n.endsWith('.ts')).join(' '));
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
