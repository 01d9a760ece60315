// Campaigns (`daxcheck fuzz`, `daxcheck merge`): the slot plan, the online
// schedulers, and the promises of DESIGN §5 — the same findings whatever
// the workers or shards, a stop that leaves replayable files and a
// summary, a kill that leaves no half-written file, a resume that runs no
// slot twice, and bad input refused with one line.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PORTFOLIO, shardSlots, slotSpec, type Plan } from '../fuzz/slots.ts';
import { GuidedSearch } from '../fuzz/guided.ts';
import { corpusPairs } from '../fuzz/campaign.ts';
import { pct, randomWalk } from '../fuzz/schedulers.ts';
import { runTestCase, type Picker } from '../fuzz/lockstep.ts';
import { arbTestCase } from '../fuzz/arbitraries.ts';
import { findVariant } from '../models/variants/index.ts';
import { daxcheck, env, files, oneLineError, snapshot } from './daxcheck.ts';

const tmp = mkdtempSync(join(tmpdir(), 'daxcheck-fuzz-'));
const summary = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
// what a campaign found, without the wall-clock fields
const findings = (dir: string) =>
  summary(dir).found.map((f: Record<string, unknown>) => [f.variant, f.class, f.file, f.slot, f.run, f.hits, f.length]);

const plan = (runsPerVariant: number | null, variants = ['K1', 'K7', 'mainline-fixed']): Plan => ({ seed: 5, variants, engines: PORTFOLIO, slotRuns: 10, runsPerVariant });

test('slots: shards partition the slots, up to E shards each cover every variant, and a variant gets exactly its run budget', () => {
  const p = plan(1000);
  const all = [...shardSlots(p, { index: 0, count: 1 }, new Set())];
  const ids = (xs: { slot: number }[]) => xs.map((s) => s.slot).sort((a, b) => a - b);
  for (const n of [2, 3, 4, 5]) {
    const parts = Array.from({ length: n }, (_, i) => [...shardSlots(p, { index: i, count: n }, new Set())]);
    assert.equal(ids(parts.flat()), ids(all), `shards of ${n}`);
    if (n <= PORTFOLIO.length) for (const part of parts) for (const v of p.variants) assert.ok(part.some((s) => s.variant === v), `a shard of ${n} lacks ${v}`);
  }
  for (const v of p.variants) assert.is(all.filter((s) => s.variant === v).reduce((n, s) => n + s.runs, 0), 1000);
  // a chain's slots come in order, one segment after another
  for (const c of new Set(all.map((s) => s.chain))) assert.equal(all.filter((s) => s.chain === c).map((s) => s.segment), Array.from({ length: all.filter((s) => s.chain === c).length }, (_, i) => i));
  // a slot is a function of the campaign seed and its index alone
  assert.equal(slotSpec(p, 17), slotSpec({ ...p }, 17));
  assert.is.not(slotSpec(p, 17)!.seed, slotSpec({ ...p, seed: 6 }, 17)!.seed);
  const done = new Set([0, 1, 2]);
  assert.ok([...shardSlots(p, { index: 0, count: 1 }, done)].every((s) => !done.has(s.slot)));
});

test('a guided search run in parts is the same search as in one go', () => {
  const v = findVariant('mapdirect-v7');
  const whole = new GuidedSearch(v, 3).run(900, { all: true });
  const parts = new GuidedSearch(v, 3);
  let steps = 0;
  const first = new Map<string, number>();
  for (let k = 0; k < 3; k++) {
    const r = parts.run(300, { all: true });
    steps += r.steps;
    for (const f of r.found.values()) if (!first.has(f.divergence.class)) first.set(f.divergence.class, f.atRun + 300 * k);
  }
  assert.is(steps, whole.steps);
  assert.ok(whole.found.size > 0);
  assert.equal([...first], [...whole.found.values()].map((f) => [f.divergence.class, f.atRun]));
});

// Records what a picker was offered and chose.
function watched(inner: Picker, log: { order: number[]; chose: number }[]): Picker {
  return { horizon: inner.horizon, pick: (order, step) => {
    const x = inner.pick(order, step);
    log.push({ order: [...order], chose: order[x] });
    return x;
  } };
}

test('online schedulers: the recorded schedule replays the run exactly; PCT lowers at most d-1 threads below one it once ran before', () => {
  const variant = findVariant('mapdirect-fixed');
  fc.assert(
    fc.property(arbTestCase, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1e9 }), (tc, depth, seed) => {
      const rng = seedrandom(String(seed));
      for (const inner of [pct(rng, { threads: tc.threads.length + 4, steps: 40, depth }), randomWalk(rng)]) {
        const log: { order: number[]; chose: number }[] = [];
        const r = runTestCase(variant, tc, { picker: watched(inner, log) });
        const again = runTestCase(variant, { ...tc, schedule: r.schedule! });
        assert.is(again.traceHash, r.traceHash);
        assert.equal(again.divergence?.class, r.divergence?.class);
      }
      // PCT: "a ran while b could" fixes an order; only a thread PCT
      // lowered at a change point may later lose to one it beat
      const log: { order: number[]; chose: number }[] = [];
      runTestCase(variant, tc, { picker: watched(pct(seedrandom(String(seed)), { threads: tc.threads.length + 4, steps: 40, depth }), log) });
      const beat = new Set<string>();
      const lowered = new Set<number>();
      for (const { order, chose } of log) {
        for (const other of order) {
          if (other === chose) continue;
          if (beat.has(`${other}>${chose}`)) lowered.add(other);
          beat.add(`${chose}>${other}`);
        }
      }
      return lowered.size <= depth - 1;
    }),
    { numRuns: 150, seed: 11 },
  );
});

const SMALL = ['--variant', 'K7', '--variant', 'K12', '--variant', 'mainline-fixed', '--runs', '200', '--slot-runs', '25', '--seed', '3', '--json'];

test('the same seed and run budget give the same findings and files, with one worker or two, and as two shards merged', () => {
  const one = daxcheck('fuzz', ...SMALL, '--workers', '1', '--out', join(tmp, 'w1'));
  const two = daxcheck('fuzz', ...SMALL, '--workers', '2', '--out', join(tmp, 'w2'));
  // K7 and K12 show what they are expected to, upstream stays clean: as expected
  assert.is(one.code, 0, one.err);
  assert.is(two.code, 0, two.err);
  const want = findings(join(tmp, 'w1'));
  assert.ok(want.length >= 2, 'K7 and K12 are shallow: found at this budget');
  assert.ok(want.every((f: unknown[]) => f[0] !== 'mainline-fixed'), 'nothing on the clean variant');
  assert.equal(findings(join(tmp, 'w2')), want);
  assert.is(snapshot(join(tmp, 'w2', 'corpus')), snapshot(join(tmp, 'w1', 'corpus')));
  // the §7 fields
  const doc = JSON.parse(one.out);
  for (const k of ['runs', 'steps', 'stepsPerSecond', 'workers', 'found']) assert.ok(k in doc, k);
  for (const f of doc.found) assert.ok(existsSync(f.file) && typeof f.firstAtMs === 'number');
  // K7's result mismatch is in the repository's corpus: not news
  assert.ok(doc.found.some((f: { variant: string; inCorpus: boolean }) => f.variant === 'K7' && f.inCorpus));
  const pairs = corpusPairs(join(tmp, 'w1', 'corpus'));
  assert.equal([...pairs].sort(), summary(join(tmp, 'w1')).found.map((f: { variant: string; class: string }) => `${f.variant}\u0000${f.class}`).sort());
  // and for a reader, beside the counterexamples
  const text = readFileSync(join(tmp, 'w1', 'summary.txt'), 'utf8');
  for (const f of summary(join(tmp, 'w1')).found) assert.ok(text.includes(`${f.class}`) && text.includes(f.file), f.file);
  // shards
  for (const i of [0, 1]) daxcheck('fuzz', ...SMALL, '--shard', `${i}/2`, '--out', join(tmp, `s${i}`));
  const merged = daxcheck('merge', join(tmp, 's0'), join(tmp, 's1'), '--out', join(tmp, 'merged'), '--json');
  assert.is(merged.code, 0, merged.err);
  assert.equal(findings(join(tmp, 'merged')), want);
  assert.is(summary(join(tmp, 'merged')).runs, summary(join(tmp, 'w1')).runs);
  assert.is(snapshot(join(tmp, 'merged', 'corpus')), snapshot(join(tmp, 'w1', 'corpus')));
  // a campaign folder replays as a corpus
  const r = daxcheck('replay', join(tmp, 'merged'), '--json');
  assert.is(r.code, 0);
  assert.is(JSON.parse(r.out).results.length, want.length);
});

// Starts a campaign, waits until `ready` holds of its summary, sends `sig`.
function interrupt(dir: string, sig: NodeJS.Signals, ready: (s: { found: unknown[]; slots: unknown[] }) => boolean): Promise<number | null> {
  const child = spawn(process.execPath, ['bin/daxcheck.js', 'fuzz', '--variant', 'K7', '--variant', 'K12', '--variant', 'K1', '--budget', '1h', '--slot-runs', '25', '--out', dir], { env, stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      let s = null;
      try {
        s = summary(dir);
      } catch {
        // not written yet
      }
      if (s && ready(s)) {
        clearInterval(poll);
        child.kill(sig);
      } else if (Date.now() - t0 > 120_000) {
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error('campaign never got ready'));
      }
    }, 20);
    child.on('exit', (code) => resolve(code));
  });
}

test('SIGINT: the campaign stops, every counterexample found is complete and replays, and the summary says it was stopped', async () => {
  const dir = join(tmp, 'int');
  const code = await interrupt(dir, 'SIGINT', (s) => s.found.length >= 1);
  assert.is(code, 130, 'a shell\'s status for SIGINT');
  const s = summary(dir);
  assert.is(s.interrupted, true);
  assert.ok(s.found.length >= 1);
  for (const f of s.found) assert.ok(existsSync(join(dir, f.file)), f.file);
  const r = daxcheck('replay', dir, '--json');
  assert.is(r.code, 0, r.out);
  assert.is(JSON.parse(r.out).results.length, s.found.length);
});

test('SIGKILL leaves only whole files; --resume goes on without running a slot twice', async () => {
  const dir = join(tmp, 'kill');
  await interrupt(dir, 'SIGKILL', (s) => s.slots.length >= 3 && s.found.length >= 1);
  const before = summary(dir);
  for (const f of files(dir).filter((f) => f.endsWith('.json'))) JSON.parse(readFileSync(join(dir, f), 'utf8'));
  for (const f of before.found) assert.ok(existsSync(join(dir, f.file)), f.file);
  assert.is(daxcheck('replay', dir).code, 0);
  const r = daxcheck('fuzz', '--resume', dir, '--budget', '3s', '--workers', '1', '--json');
  assert.is(r.code, 0, r.err); // a time budget misses nothing; K7 and K12 show only what they are expected to
  const after = summary(dir);
  const slots = after.slots.map((x: number[]) => x[0]);
  assert.is(new Set(slots).size, slots.length, 'no slot twice');
  assert.ok(before.slots.every((x: number[]) => slots.includes(x[0])));
  assert.ok(slots.length > before.slots.length, 'the resumed session ran slots');
  assert.is(after.sessions, 2);
  assert.equal(after.plan, before.plan);
  assert.ok(files(dir).every((f) => !f.endsWith('.tmp')));
  assert.is(daxcheck('replay', dir).code, 0);
});

test('bad input: one line, exit 2, nothing on disk changed', () => {
  const w1 = join(tmp, 'w1');
  const before = snapshot(w1);
  oneLineError(daxcheck('fuzz', '--shard', '2/2', '--out', join(tmp, 'x1')));
  oneLineError(daxcheck('fuzz', '--budget', '5x', '--out', join(tmp, 'x2')));
  oneLineError(daxcheck('fuzz', '--variant', 'v9.99', '--out', join(tmp, 'x3')));
  oneLineError(daxcheck('fuzz', '--resume', join(tmp, 'nowhere')));
  oneLineError(daxcheck('fuzz', '--resume', w1, '--seed', '4'));
  oneLineError(daxcheck('fuzz', ...SMALL, '--out', w1)); // a campaign is there already
  oneLineError(daxcheck('merge', w1, join(tmp, 'int'), '--out', join(tmp, 'x4'))); // not shards of one campaign
  oneLineError(daxcheck('merge', join(tmp, 's0'), join(tmp, 's1'), '--out', w1)); // into a campaign
  oneLineError(daxcheck('merge', join(tmp, 's0'), join(tmp, 's0'), '--out', join(tmp, 'x5'))); // a shard twice
  assert.is(snapshot(w1), before);
  for (const x of ['x1', 'x2', 'x3', 'x4', 'x5']) assert.not.ok(existsSync(join(tmp, x, 'summary.json')), x);
  const bad = join(tmp, 'bad');
  mkdirSync(bad);
  for (const body of ['{"kind": "daxcheck-campaign", "format": 1', '{"kind": "daxcheck-campaign", "format": 1, "plan": {"seed": "x"}}', '[]']) {
    writeFileSync(join(bad, 'summary.json'), body);
    oneLineError(daxcheck('fuzz', '--resume', bad));
    oneLineError(daxcheck('merge', bad, '--out', join(tmp, 'x6')));
    assert.is(readFileSync(join(bad, 'summary.json'), 'utf8'), body);
  }
});

test('the nightly scripts: shards into one folder, a restarted shard resumes, the merge passes while the clean variants are clean', () => {
  const out = join(tmp, 'nightly');
  const run = (script: string, extra: Record<string, string>) =>
    spawnSync(script, { encoding: 'utf8', env: { ...env, OUT: out, SHARDS: '2', SEED: '3', BUDGET: '', FUZZ_ARGS: '--variant K7 --variant mainline-fixed --runs 100 --slot-runs 25', ...extra } });
  for (const i of ['0', '1']) assert.is(run('.ci/fuzz-shard', { SHARD: i }).status, 0);
  assert.is(run('.ci/fuzz-shard', { JOB_COMPLETION_INDEX: '1', BUDGET: '1s' }).status, 0); // a restarted pod
  assert.is(summary(join(out, 'shard-1')).sessions, 2);
  const merged = run('.ci/fuzz-merge', {});
  assert.is(merged.status, 0, merged.stdout + merged.stderr);
  assert.match(merged.stdout, /^all 2 as expected$/m);
  assert.ok(summary(join(out, 'merged')).found.some((f: { variant: string }) => f.variant === 'K7'));
  assert.match(readFileSync(join(out, 'merged', 'report.html'), 'utf8'), />K7</); // the night's page
  // a divergence on a clean variant fails the night: one of K7's, made mainline-fixed's
  const shard = join(out, ['shard-0', 'shard-1'].find((sh) => summary(join(out, sh)).found.length)!);
  const s = summary(shard);
  s.found[0].variant = 'mainline-fixed';
  writeFileSync(join(shard, 'summary.json'), JSON.stringify(s));
  const cxFile = join(shard, s.found[0].file);
  const cx = JSON.parse(readFileSync(cxFile, 'utf8'));
  cx.variant.name = 'mainline-fixed'; // the same program and flags, as if met on mainline-fixed
  writeFileSync(cxFile, JSON.stringify(cx));
  const bad = run('.ci/fuzz-merge', {});
  assert.is(bad.status, 1);
  assert.match(bad.stdout, /^  mainline-fixed: UNEXPECTED result-mismatch \(expected clean\)$/m);
  assert.is(run('.ci/fuzz-shard', { SHARD: '', JOB_COMPLETION_INDEX: '' }).status, 2);
});

test.run();
