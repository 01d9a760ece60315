// Shrinking keeps the divergence class and ends 1-minimal; counterexample
// files are written atomically and read back strictly.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findVariant } from '../models/variants/index.ts';
import type { TestCase } from '../models/testcase.ts';
import { runTestCase } from '../fuzz/lockstep.ts';
import { sameClass, shortestSchedule, shrinkDivergence, shrinkSameClass } from '../fuzz/shrink.ts';
import { counterexampleFiles } from '../fuzz/campaign.ts';
import { explore } from '../fuzz/explore.ts';
import { CorpusError, parseCounterexample, readCounterexample, writeCounterexample, FORMAT_VERSION, type Counterexample } from '../fuzz/corpus.ts';

const v413 = findVariant('v4.13');

// The RDMA form of seed 001's problem, buried in noise: v4.13 registers
// a DAX mapping, which the kernels since refuse.
const noisy: TestCase = {
  config: {
    files: [
      { owner: 0, dax: true, reflink: false, size: 2, sparse: false },
      { owner: 1, dax: false, reflink: false, size: 3, sparse: true },
    ],
    procs: [{ uid: 0, capLease: false }, { uid: 1, capLease: true }],
    blocks: 7,
    leaseBreakTime: 3,
  },
  threads: [
    {
      proc: 0,
      loop: false,
      ops: [
        { op: 'open', file: 0, write: true },
        { op: 'open', file: 1, write: false },
        { op: 'mmap', fd: 0, off: 0, len: 1, type: 'shared', sync: false, direct: false, write: true },
        { op: 'load', map: 0, page: 1 },
        { op: 'reg_mr', map: 0, page: 0, npages: 1, unaligned: false },
        { op: 'fallocate', fd: 0, mode: 'punch', off: 0, len: 1 },
        { op: 'tick' },
      ],
    },
    { proc: 1, loop: false, ops: [{ op: 'open', file: 1, write: true }, { op: 'write', fd: 0, off: 1, val: 4 }] },
  ],
  nic: [{ op: 'rdma_read', mr: 1, page: 1, at: 2 }, { op: 'rdma_write', mr: 0, page: 0, val: 7, at: 0 }],
  schedule: [0, 0, 0, 1, 0, 0],
  cycle: [],
  faults: [{ kind: 'alloc', thread: 1, nth: 2 }],
};

test('shrinking keeps the class and ends 1-minimal in ops and schedule entries', () => {
  const cls = runTestCase(v413, noisy).divergence?.class;
  assert.is(cls, 'result-mismatch'); // the registration of a DAX mapping, which 4.18 refuses, goes through first
  const keeps = sameClass(v413, cls!);
  const small = shrinkSameClass(noisy, keeps);
  assert.ok(keeps(small));
  const ops = small.threads.reduce((n, t) => n + t.ops.length, 0) + small.nic.length;
  assert.ok(ops < noisy.threads.reduce((n, t) => n + t.ops.length, 0) + noisy.nic.length);
  small.threads.forEach((t, ti) =>
    t.ops.forEach((_, i) => {
      const c = structuredClone(small);
      c.threads[ti].ops.splice(i, 1);
      assert.not.ok(keeps(c), `op ${i} of thread ${ti} could go`);
    }),
  );
  small.schedule.forEach((_, i) => {
    const c = structuredClone(small);
    c.schedule.splice(i, 1);
    assert.not.ok(keeps(c), `schedule entry ${i} could go`);
  });
});

function counterexample(): Counterexample {
  const r = runTestCase(v413, noisy);
  const d = r.divergence!;
  return {
    format: FORMAT_VERSION, harness: 'test', variant: { name: v413.name, contract: v413.contract, kernel: v413.kernel, flags: { ...v413.flags } },
    testCase: noisy, divergence: { class: d.class, step: d.step, message: d.message }, traceHash: r.traceHash, length: d.step + 1, fastCheck: null,
  };
}

// The shortest-schedule pass on every committed counterexample: the same
// program, the same class, never longer than the run it replaces.
test('the shortest-schedule pass keeps the program and the class and never lengthens a run', () => {
  for (const file of counterexampleFiles('corpus')) {
    const { cx, variant: v } = readCounterexample(file); // the variant as the file records it
    const s = shortestSchedule(v, cx.testCase, cx.divergence.class).testCase;
    const r = runTestCase(v, s);
    assert.is(r.divergence?.class, cx.divergence.class, file);
    assert.ok(r.steps <= cx.length, `${file}: ${r.steps} > ${cx.length}`);
    assert.equal(s.threads, cx.testCase.threads, file);
    assert.equal(s.nic, cx.testCase.nic, file);
  }
});

test('shrinkDivergence ends no longer than the first shrink and at the program\'s BFS-shortest length', () => {
  const cls = runTestCase(v413, noisy).divergence!.class;
  const first = shrinkSameClass(noisy, sameClass(v413, cls));
  const best = shrinkDivergence(v413, noisy, cls);
  const r = runTestCase(v413, best);
  assert.is(r.divergence?.class, cls);
  assert.ok(r.steps <= runTestCase(v413, first).steps);
  const { repeatFrom: _, ...program } = best;
  const bfs = explore(v413, { ...program, schedule: [], cycle: [] }, { depth: 400, maxStates: 100_000 });
  assert.is(bfs.divergence?.class, cls);
  assert.is(r.steps, bfs.path!.length);
});

test('counterexample files are written atomically, under their class, and a rewrite of the same case leaves them alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-corpus-'));
  const cx = counterexample();
  const path = writeCounterexample(dir, cx, v413);
  assert.ok(path.startsWith(join(dir, 'result-mismatch')));
  assert.equal(readdirSync(join(dir, 'result-mismatch')), [path.split('/').pop()]);
  const mtime = statSync(path).mtimeMs;
  assert.is(writeCounterexample(dir, cx, v413), path);
  assert.is(statSync(path).mtimeMs, mtime);
  assert.not.ok(readdirSync(join(dir, 'result-mismatch')).some((n) => n.endsWith('.tmp')));
  const back = parseCounterexample(readFileSync(path, 'utf8'), path);
  assert.equal(back.cx.testCase, noisy);
  assert.is(back.variant.flags.truncateIgnoresPins, true);
  // the same case found again by another engine: the first finding stays
  const first = readFileSync(path, 'utf8');
  assert.is(writeCounterexample(dir, { ...cx, fastCheck: null, search: { engine: 'guided', seed: 9, run: 99 } }, v413), path);
  assert.is(readFileSync(path, 'utf8'), first);
});

test('a counterexample file is read strictly', () => {
  const text = JSON.stringify(counterexample());
  const bad = (t: string, why: RegExp) => assert.throws(() => parseCounterexample(t, 'x.json'), (e: unknown) => e instanceof CorpusError && why.test((e as Error).message));
  bad('{"format": 1', /not valid JSON/);
  bad(text.replace('"format":1', '"format":2'), /format version/);
  bad(text.replace('"op":"tick"', '"op":"nap"'), /unknown op "nap"/);
  bad(text.replace('"owner":1', '"owner":"root"'), /testCase\.config\.files\[1\]\.owner: expected number, got "root"/);
  bad(text.replace('"gupFastNoRecheck"', '"gupFastNoRechek"'), /variant\.flags: unknown field "gupFastNoRechek"/);
  bad(text.replace('"kernel":"linux-4.18"', '"kernel":"linux-9.9"'), /variant\.kernel/);
  // files from before the version-pinned variants name no kernel: mainline
  assert.is(parseCounterexample(text.replace('"kernel":"linux-4.18",', ''), 'x.json').variant.kernel, 'linux-mainline');
  bad(text.replace('"class":"result-mismatch"', '"class":"oops"'), /divergence.class/);
  bad(text.replace('"at":2', '"at":99'), /testCase\.nic\[0\]\.at: expected at most 16, got 99/);
  // files written before NIC ops had a posting time read as posted at once
  const old = parseCounterexample(text.replace(',"at":2', '').replace(',"at":0', ''), 'x.json');
  assert.equal(old.cx.testCase.nic.map((o) => o.at), [0, 0]);
});

test.run();
