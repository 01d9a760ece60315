// Every file daxcheck reads is hostile: counterexample files, scenarios
// and campaign summaries come from mailing lists and CI artefacts.  Each
// bad input gets exit 2, one line on stderr naming the file and the field,
// no stack trace, and nothing changed on disk; strings from files reach a
// terminal as text; one writer per campaign folder.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daxcheck, env, files, oneLineError, snapshot, stamp } from './daxcheck.ts';

const tmp = mkdtempSync(join(tmpdir(), 'daxcheck-inputs-'));
const F = 'corpus/result-mismatch/ca8a6366ed928219.json';
const base = () => JSON.parse(readFileSync(F, 'utf8'));
let n = 0;

// A folder holding one file with `text`; its path.
function fileWith(text: string | Buffer, name = 'cx.json'): string {
  const dir = join(tmp, `case-${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

// `args` on a bad input: exit 2, one line naming `field` (and the file), nothing on disk changed.
function refused(args: string[], field: RegExp | null, what: string): string {
  const before = stamp(tmp);
  const r = daxcheck(...args);
  oneLineError(r, what);
  if (field) assert.match(r.err, field, what);
  assert.is(stamp(tmp), before, `${what}: nothing on disk changed`);
  assert.is(r.out, '', what);
  return r.err;
}

const edited = (edit: (cx: any) => void) => {
  const cx = base();
  edit(cx);
  return fileWith(JSON.stringify(cx, null, 2));
};

const PROTO = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
let turn = 0;

test('1. prototype names are not names: op, NIC op, argument, class, flag', () => {
  for (const name of PROTO) {
    const cases: [string, (cx: any) => void, RegExp][] = [
      ['op', (cx) => (cx.testCase.threads[0].ops[0] = { op: name }), /testCase\.threads\[0\]\.ops\[0\]\.op: unknown op/],
      ['op argument', (cx) => Object.defineProperty(cx.testCase.threads[0].ops[0], name, { value: 1, enumerable: true }), /testCase\.threads\[0\]\.ops\[0\]: unknown field/],
      ['NIC op', (cx) => (cx.testCase.nic = [{ op: name, mr: 0, page: 0 }]), /testCase\.nic\[0\]\.op: unknown NIC op/],
      ['class', (cx) => (cx.divergence.class = name), /divergence\.class/],
      ['flag', (cx) => Object.defineProperty(cx.variant.flags, name, { value: true, enumerable: true }), /variant\.flags: unknown field/],
    ];
    for (const [what, edit, field] of cases) {
      // replay and report read a file alike: each case through one, in turn, so each kind meets both across the names
      const file = edited(edit);
      const args = turn++ % 2 ? ['report', file, '--text'] : ['replay', file];
      refused(args, field, `${name} as ${what}: ${args[0]}`);
    }
  }
});

test('1. a class named after a prototype property in a campaign summary is refused by merge, before anything is written', () => {
  const shard = join(tmp, 'proto-shard');
  assert.is(daxcheck('fuzz', '--variant', 'K12', '--runs', '60', '--slot-runs', '30', '--out', shard).code, 0);
  const s = JSON.parse(readFileSync(join(shard, 'summary.json'), 'utf8'));
  for (const name of PROTO) {
    s.found[0].class = name;
    writeFileSync(join(shard, 'summary.json'), JSON.stringify(s));
    refused(['merge', shard, '--out', join(tmp, 'merged-proto')], /found\[0\]\.class/, `summary class ${name}`);
    assert.not.ok(existsSync(join(tmp, 'merged-proto')));
  }
});

test('2. not JSON, a byte-order mark, UTF-16, not UTF-8: one line each', () => {
  const text = readFileSync(F);
  const cases: [string | Buffer, RegExp][] = [
    ['plain file\n', /not valid JSON/],
    ['{"format": 1,\n"variant": \n', /not valid JSON/],
    [Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]), /byte-order mark/],
    [Buffer.concat([Buffer.from([0xff, 0xfe]), text]), /not UTF-8/],
    [Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), /not UTF-8/],
    ['', /not valid JSON/],
    ['null', /expected object/],
    ['[]', /expected object/],
    ['"\u001b[2J"', /not valid JSON/], // a raw control character in a string is not JSON
    ['"\\u001b[2J"', /expected object/],
  ];
  for (const [body, why] of cases) {
    const file = fileWith(body);
    for (const args of [turn++ % 2 ? ['report', file, '--text'] : ['replay', file], ['explore', '--variant', 'mainline-fixed', '--scenario', file]]) {
      const err = refused(args, why, `${JSON.stringify(String(body).slice(0, 20))}: ${args[0]}`);
      assert.ok(err.includes(file), `names the file: ${err}`);
    }
  }
});

test('3. report --html into a folder: refused, and no temporary file left', () => {
  const dir = join(tmp, 'html-target');
  mkdirSync(dir);
  refused(['report', F, '--html', dir], /--html: .* is a folder/, 'report --html DIR');
  assert.equal(readdirSync(tmp).filter((f) => f.endsWith('.tmp')), []);
});

test('4. merge over a shard with a 100,000-deep field: refused before anything is written', () => {
  const shard = join(tmp, 'deep-shard');
  assert.is(daxcheck('fuzz', '--variant', 'K7', '--variant', 'K12', '--runs', '90', '--slot-runs', '30', '--out', shard).code, 0);
  const s = JSON.parse(readFileSync(join(shard, 'summary.json'), 'utf8'));
  assert.ok(s.found.length >= 2);
  const last = join(shard, s.found[s.found.length - 1].file);
  const text = readFileSync(last, 'utf8');
  writeFileSync(last, text.replace('"search": {', `"search": ${'['.repeat(100_000)}${']'.repeat(100_000)}, "x": {`));
  refused(['merge', shard, '--out', join(tmp, 'merged-deep')], /nested more than/, 'deep field');
  assert.not.ok(existsSync(join(tmp, 'merged-deep')));
});

test('5. fields are checked: length, fastCheck, search, config, unknown keys, a slot id of 1e308', () => {
  const cases: [string, (cx: any) => void, RegExp][] = [
    ['length "abc"', (cx) => (cx.length = 'abc'), /: length: /],
    ['length -7', (cx) => (cx.length = -7), /: length: /],
    ['length not step + 1', (cx) => (cx.length = cx.divergence.step + 5), /: length: expected divergence\.step \+ 1/],
    ['fastCheck with an unknown key', (cx) => (cx.fastCheck = { seed: 1, path: null, numRuns: 1, extra: 1 }), /fastCheck: unknown field "extra"/],
    ['fastCheck a string', (cx) => (cx.fastCheck = 'yes'), /fastCheck/],
    ['search with an unknown engine', (cx) => (cx.search = { engine: 'magic', seed: 1, run: 1 }), /search/],
    ['config with an unknown key', (cx) => (cx.testCase.config.turbo = true), /testCase\.config: unknown field "turbo"/],
    ['an unknown top-level key', (cx) => (cx.extra = 1), /\(top level\): unknown field "extra"/],
    ['a huge number', (cx) => (cx.divergence.step = 1e308), /divergence\.step/],
    ['NaN as a string', (cx) => (cx.testCase.config.blocks = 'NaN'), /testCase\.config\.blocks/],
    ['Infinity as a string', (cx) => (cx.testCase.schedule = ['Infinity']), /testCase\.schedule\[0\]/],
    ['a float', (cx) => (cx.testCase.threads[0].ops[0].file = 0.5), /testCase\.threads\[0\]\.ops\[0\]\.file/],
    ['a negative index', (cx) => (cx.testCase.threads[0].proc = -1), /testCase\.threads\[0\]\.proc/],
    ['a thread of a process that does not exist', (cx) => (cx.testCase.threads[0].proc = 2), /testCase\.threads\[0\]\.proc: process 2 does not exist/],
    ['a 10 MB array', (cx) => (cx.testCase.schedule = new Array(2_600_000).fill(0)), /bytes, more than|at most|too big/i],
    ['a long schedule', (cx) => (cx.testCase.schedule = new Array(5000).fill(0)), /testCase\.schedule/],
    ['a wrong type for threads', (cx) => (cx.testCase.threads = {}), /testCase\.threads/],
    ['a format from the future', (cx) => (cx.format = 99), /format: unsupported format version 99/],
    ['a bad trace hash', (cx) => (cx.traceHash = '\u001b[2J'), /traceHash/],
  ];
  for (const [what, edit, field] of cases) {
    const file = edited(edit);
    if (turn++ % 2) refused(['report', file], field, `${what}: report`);
    else refused(['replay', file], field, what);
  }
  // a campaign summary
  const camp = join(tmp, 'slot-camp');
  assert.is(daxcheck('fuzz', '--variant', 'K12', '--runs', '60', '--slot-runs', '30', '--out', camp).code, 0);
  const s = JSON.parse(readFileSync(join(camp, 'summary.json'), 'utf8'));
  const bad: [string, (x: any) => void, RegExp][] = [
    ['slot 1e308', (x) => (x.slots[0][0] = 1e308), /slots\[0\]\[0\]/],
    ['a found file outside the folder', (x) => (x.found[0].file = '../../etc/passwd'), /found\[0\]\.file/],
    ['an unknown variant', (x) => (x.plan.variants = ['v9.99']), /plan\.variants\[0\]: unknown variant/],
    ['an unknown key', (x) => (x.sneaky = true), /unknown field "sneaky"/],
    ['an engine that is not one', (x) => (x.plan.engines = ['constructor']), /plan\.engines\[0\]/],
  ];
  for (const [what, edit, field] of bad) {
    const x = structuredClone(s);
    edit(x);
    writeFileSync(join(camp, 'summary.json'), JSON.stringify(x));
    refused(['fuzz', '--resume', camp, '--budget', '1s'], field, `summary: ${what}: resume`);
    refused(['merge', camp, '--out', join(tmp, 'never')], field, `summary: ${what}: merge`);
    refused(['report', camp], field, `summary: ${what}: report`);
  }
  writeFileSync(join(camp, 'summary.json'), JSON.stringify(s));
});

test('5. a scenario file names its bad field', () => {
  const sc = JSON.parse(readFileSync('scenarios/sys-map-sync.json', 'utf8'));
  const cases: [string, (x: any) => void, RegExp][] = [
    ['an op named constructor', (x) => (x.threads[0].ops[0] = { op: 'constructor' }), /threads\[0\]\.ops\[0\]/],
    ['an empty oneOf', (x) => (x.threads[0].ops[0] = { oneOf: [] }), /threads\[0\]\.ops\[0\]/],
    ['a schedule (scenarios have none)', (x) => (x.schedule = [0]), /unknown field "schedule"/],
    ['no blocks', (x) => (x.config.blocks = 0), /config\.blocks/],
    ['more blocks in use than configured', (x) => ((x.config.files[0] = { owner: 0, dax: true, reflink: false, size: 4, sparse: false }), (x.config.blocks = 2)), /config\.blocks: the files need/],
  ];
  for (const [what, edit, field] of cases) {
    const x = structuredClone(sc);
    edit(x);
    refused(['explore', '--variant', 'mainline-fixed', '--scenario', fileWith(JSON.stringify(x), 'sc.json')], field, what);
  }
});

test('6. strings from a file reach the terminal as text', () => {
  const nasty = '\u001b]0;pwned\u0007\u001b[2J';
  const file = edited((cx) => {
    cx.variant.name = `v${nasty}`;
    cx.divergence.message = `m${nasty}`;
  });
  for (const args of [['replay', file, '--trace'], ['report', file, '--text'], ['replay', file, '--variant', 'mainline-fixed']]) {
    const r = daxcheck(...args);
    assert.is(r.code, 0, `${args.join(' ')}: ${r.err}`);
    assert.not.match(r.out + r.err, /[\u0000-\u0008\u000b-\u001f\u007f]/, args.join(' '));
    assert.match(r.out, /\\x1b\]0;pwned\\x07\\x1b\[2J/, args.join(' '));
  }
  // in an error, too
  const bad = edited((cx) => (cx.divergence.class = nasty));
  const err = refused(['replay', bad], /divergence\.class/, 'a class with escapes');
  assert.not.match(err, /\u001b/);
});

// Starts `fuzz` on `dir` for long enough to race; resolves once its
// summary is written.
function longCampaign(dir: string, command = ['fuzz', '--variant', 'mainline-fixed', '--budget', '1h', '--slot-runs', '20']) {
  const child = spawn(process.execPath, ['bin/daxcheck.js', ...command, '--workers', '1', '--out', dir], { env, stdio: 'ignore' });
  const ready = new Promise<void>((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (existsSync(join(dir, 'summary.json')) && existsSync(join(dir, '.daxcheck.lock'))) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - t0 > 60_000) {
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error('campaign never started (or never took the lock)'));
      }
    }, 20);
  });
  const ended = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, ready, ended };
}

test('7. one writer per campaign folder: a second resume, a second check, a merge into it are refused; a stale lock is taken over', async () => {
  const started: ReturnType<typeof longCampaign>[] = [];
  try {
    const dir = join(tmp, 'busy');
    const first = longCampaign(dir);
    started.push(first);
    await first.ready;
    // (the first campaign goes on writing meanwhile: no snapshot here)
    const second = daxcheck('fuzz', '--resume', dir, '--budget', '2s');
    oneLineError(second, 'a second resume');
    assert.match(second.err, /in use by another daxcheck \(pid \d+, fuzz\)/);
    const merge = daxcheck('merge', dir, '--out', dir);
    oneLineError(merge, 'a merge into it');
    const before = snapshot(tmp);
    first.child.kill('SIGINT');
    assert.is(await first.ended, 130);
    assert.not.ok(existsSync(join(dir, '.daxcheck.lock')), 'released on the way out');
    // a lock left by a process that is gone (SIGKILL) is stale
    writeFileSync(join(dir, '.daxcheck.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, command: 'fuzz' }));
    const r = daxcheck('fuzz', '--resume', dir, '--budget', '1s', '--json');
    assert.is(r.code, 0, r.err);
    assert.not.ok(existsSync(join(dir, '.daxcheck.lock')));
    assert.ok(snapshot(tmp) !== before);
    // check refuses to replace a folder another check holds
    const c = join(tmp, 'busy-check');
    const other = longCampaign(c, ['check', '--variant', 'mainline-fixed', '--runs', '1000000']);
    started.push(other);
    await other.ready;
    const chk = daxcheck('check', '--variant', 'mainline-fixed', '--runs', '10', '--out', c);
    oneLineError(chk, 'check into a held folder');
    assert.match(chk.err, /in use by another daxcheck \(pid \d+, check\)/);
    // and a fuzz campaign's folder is not a check's to replace
    const notOurs = daxcheck('check', '--variant', 'mainline-fixed', '--runs', '10', '--out', dir);
    oneLineError(notOurs, 'check into a fuzz folder');
    assert.match(notOurs.err, /holds something other than an earlier check/);
    other.child.kill('SIGKILL');
    await other.ended;
  } finally {
    for (const c of started) c.child.kill('SIGKILL');
  }
});

test('8. report DIR stays inside DIR; replay of a folder with nothing in it is an error', () => {
  const dir = join(tmp, 'linked');
  const outside = join(tmp, 'outside');
  mkdirSync(join(dir, 'corpus'), { recursive: true });
  mkdirSync(outside);
  cpSync(F, join(outside, 'x.json'));
  cpSync(F, join(dir, 'corpus', 'y.json'));
  symlinkSync(outside, join(dir, 'corpus', 'link'));
  const r = daxcheck('report', dir);
  assert.is(r.code, 0, r.err);
  assert.equal(files(outside), ['x.json'], 'nothing written outside');
  assert.ok(existsSync(join(dir, 'corpus', 'y.html')));
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  refused(['replay', empty], /no counterexample files/, 'replay of an empty folder');
});

test('every committed counterexample and shipped scenario still loads and replays', () => {
  const r = daxcheck('replay', 'corpus', '--json');
  assert.is(r.code, 0, r.err);
  assert.ok(JSON.parse(r.out).results.every((x: { reproduced: boolean }) => x.reproduced));
  const list = JSON.parse(daxcheck('list', '--json').out);
  for (const { name } of list.scenarios) {
    const e = daxcheck('explore', '--variant', 'mainline-fixed', '--scenario', name, '--max-states', '50', '--out', join(tmp, 'sc'));
    assert.ok(e.code === 0, `${name}: ${e.err}`);
  }
});

test.run();
