// The linearizability checker of conform --threads, on hand-made
// histories: a register's, and the model's own sections (a store racing a
// load, a truncate racing a store), with a reference that answers a load
// with a stale value to show the check has teeth.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linearize, type Call, type SeqSpec } from '../fuzz/linearize.ts';
import { arbThreaded, bufferRace, checkSection, historyOf, parseSections, threadedBatchText, threadedExpectation, threadedPrograms, timeline, type SectionSeen } from '../fuzz/threads.ts';
import { findVariant } from '../models/variants/index.ts';
import type { Op, TestCase } from '../models/testcase.ts';
import { dax, mmap, open, staleLoads, tc } from './programs.ts';
import fc from 'fast-check';

// A register holding 0: op 'w<v>' writes v, 'r' reads.
function register(ops: string[], final: number): SeqSpec {
  const run = (order: readonly number[]) => {
    let v = 0;
    let out = '';
    for (const i of order) {
      if (ops[i] === 'r') out = String(v);
      else { v = Number(ops[i].slice(1)); out = 'ok'; }
    }
    return { outcome: out, key: String(v), v };
  };
  return { next: (o) => run(o), end: (o) => run(o).v === final };
}

const at = (call: number, ret: number, got: string): Call => ({ call, ret, got });

test('a register: overlap lets either order explain a read; real-time order forbids a stale one; the files at the end count', () => {
  const ops = ['w1', 'r'];
  assert.is(linearize([at(0, 10, 'ok'), at(5, 20, '0')], register(ops, 1)).verdict, 'linearizable');
  assert.is(linearize([at(0, 10, 'ok'), at(5, 20, '1')], register(ops, 1)).verdict, 'linearizable');
  const stale = linearize([at(0, 10, 'ok'), at(11, 20, '0')], register(ops, 1));
  assert.is(stale.verdict, 'not-linearizable');
  assert.equal(stale.longest, [0]); // the write, then nothing explains the read
  assert.is(linearize([at(0, 10, 'ok'), at(11, 20, '1')], register(ops, 1)).verdict, 'linearizable');
  // a read of a value before its write was called
  assert.is(linearize([at(30, 40, 'ok'), at(0, 20, '1')], register(ops, 1)).verdict, 'not-linearizable');
  // every outcome explained, but the register ends on the wrong value
  assert.is(linearize([at(0, 10, 'ok'), at(0, 10, 'ok')], register(['w1', 'w2'], 3)).verdict, 'not-linearizable');
  const w = linearize([at(0, 10, 'ok'), at(0, 10, 'ok')], register(['w1', 'w2'], 1));
  assert.equal(w.order, [1, 0]);
});

test('the search is capped, and says so instead of guessing', () => {
  // ten overlapping writes and a read of a value none wrote: every order fails
  const ops = [...Array.from({ length: 10 }, (_, i) => `w${i + 1}`), 'r'];
  const calls = ops.map((o) => at(0, 100, o === 'r' ? '42' : 'ok'));
  const capped = linearize(calls, register(ops, 1), 50);
  assert.is(capped.verdict, 'unknown');
  assert.ok(capped.runs <= 51);
  // memoization: the same search to the end visits each (set, value) once
  const full = linearize(calls, register(ops, 1), 1_000_000);
  assert.is(full.verdict, 'not-linearizable');
  assert.ok(full.runs < 100_000, `${full.runs} runs`); // 10! orders without it
});

const mainline = findVariant('linux-mainline');
const linux61 = findVariant('linux-6.1');
const store = (val: number): Op => ({ op: 'store', map: 0, page: 0, val });
const load: Op = { op: 'load', map: 0, page: 0 };

// A prologue (open, shared mapping of a DAX page) and a section of two threads.
const program = (a: Op[], b: Op[]): TestCase => ({ ...tc([dax(1)], [[open(0), mmap(0)], a, b]), config: { files: [dax(1)], procs: [{ uid: 0, capLease: false }], blocks: 16, leaseBreakTime: 1 } });

const seen = (ops: [number, number, string][]): SectionSeen => ({ ops: ops.map(([call, ret, got], i) => ({ thread: i + 1, call, ret, got })), stacks: [] });

test('a store and a load on the model: the load after the store must see it, unless they overlap; the files at the end must agree', () => {
  const p = program([store(5)], [load]);
  const t = threadedExpectation(mainline, p);
  assert.equal(t.section.map((s) => s.line), ['s 0 0 5', 'l 0 0']);
  const files = ['4096 1 5'];
  assert.is(checkSection(mainline, p, t, seen([[0, 10, 'ok 0'], [20, 30, 'ok 5']]), files).kind, 'linearizable');
  assert.is(checkSection(mainline, p, t, seen([[0, 10, 'ok 0'], [20, 30, 'ok 11']]), files).kind, 'not-linearizable');
  assert.is(checkSection(mainline, p, t, seen([[0, 25, 'ok 0'], [20, 30, 'ok 11']]), files).kind, 'linearizable');
  // the file says the store never landed
  assert.is(checkSection(mainline, p, t, seen([[0, 25, 'ok 0'], [20, 30, 'ok 11']]), ['4096 1 11']).kind, 'not-linearizable');
  // a hang is its own verdict
  assert.is(checkSection(mainline, p, t, seen([[0, -1, 'hang'], [20, 30, 'ok 11']]), files).kind, 'hang');
  // the stale reference: a load after the store now "must" see the old value
  assert.is(checkSection(mainline, p, t, seen([[0, 10, 'ok 0'], [20, 30, 'ok 5']]), files, staleLoads).kind, 'not-linearizable');
});

test('a truncate racing a store on the model: SIGBUS only where the truncate came first', () => {
  const p = program([{ op: 'truncate', fd: 0, size: 0 }], [store(7)]);
  const t = threadedExpectation(linux61, p);
  assert.equal(t.section.map((s) => s.line), ['t 0 0', 's 0 0 7']);
  const empty = ['0 1'];
  assert.is(checkSection(linux61, p, t, seen([[0, 10, 'ok 0'], [20, 30, 'sig SIGBUS']]), empty).kind, 'linearizable');
  assert.is(checkSection(linux61, p, t, seen([[20, 30, 'ok 0'], [0, 10, 'ok 0']]), empty).kind, 'linearizable');
  assert.is(checkSection(linux61, p, t, seen([[20, 30, 'ok 0'], [0, 10, 'sig SIGBUS']]), empty).kind, 'not-linearizable');
});

test("an O_DIRECT read whose buffer another thread writes while it is in flight is told apart (docs/fidelity.md lists it); apart in time, or another page, it is not", () => {
  const dio: Op = { op: 'dio_read', fd: 0, off: 0, map: 0, page: 0, aio: false };
  const p = program([dio], [store(8)]);
  const t = threadedExpectation(mainline, p);
  assert.equal(t.section.map((s) => s.line), ['r 0 0 0 0 0', 's 0 0 8']);
  assert.ok(bufferRace(t, seen([[0, 100, 'ok 0'], [50, 60, 'ok 0']])));
  assert.not.ok(bufferRace(t, seen([[0, 40, 'ok 0'], [50, 60, 'ok 0']])));
  const other = { ...program([dio], [{ op: 'store', map: 0, page: 1, val: 8 }]), config: { files: [dax(2)], procs: [{ uid: 0, capLease: false }], blocks: 16, leaseBreakTime: 1 } };
  const o = threadedExpectation(mainline, { ...other, threads: [{ proc: 0, ops: [open(0), mmap(0, { len: 1 })], loop: false }, ...other.threads.slice(1)] });
  assert.equal(o.section.map((s) => s.line), ['r 0 0 0 0 0', 's 0 1 8']);
  assert.not.ok(bufferRace(o, seen([[0, 100, 'ok 0'], [50, 60, 'ok 0']])));
  // a truncate of the buffer's file counts; a write(2) to the page too
  const tr = threadedExpectation(mainline, program([dio], [{ op: 'write', fd: 0, off: 0, val: 3 }]));
  assert.ok(bufferRace(tr, seen([[0, 100, 'ok 0'], [50, 60, 'ok 0']])));
});

test('threaded programs: deterministic, K section threads, section ops that never change the fd table or mappings, O_DIRECT synchronous on page 0', () => {
  const a = threadedPrograms(3, 40, 2);
  assert.equal(a, threadedPrograms(3, 40, 2));
  const b = threadedPrograms(3, 40, 3);
  assert.ok(a.every((p) => p.threads.length === 3) && b.every((p) => p.threads.length === 4));
  const names = new Set(b.flatMap((p) => p.threads.slice(1).flatMap((t) => t.ops.map((o) => o.op))));
  for (const n of ['load', 'store', 'write', 'dio_read', 'dio_write', 'truncate', 'fallocate', 'clone']) assert.ok(names.has(n as Op['op']), n);
  for (const n of ['open', 'close', 'mmap', 'munmap', 'fork', 'unlink']) assert.not.ok(names.has(n as Op['op']), n);
  for (const p of b) for (const t of p.threads.slice(1)) for (const o of t.ops) if (o.op === 'dio_read' || o.op === 'dio_write') assert.ok(!o.aio && o.off === 0);
  // the executor's input: prologue lines, then C, "<thread> <line>" per section op, N
  const exps = a.slice(0, 2).map((p) => threadedExpectation(linux61, p));
  const text = threadedBatchText(a.slice(0, 2), exps).split('\n');
  const c = text.indexOf('C');
  assert.ok(c > 0 && text[c + 1].startsWith('0 ') && text.indexOf('N') > c);
  fc.assert(fc.property(arbThreaded(2), (p) => threadedExpectation(linux61, p).section.length === p.threads[1].ops.length + p.threads[2].ops.length), { numRuns: 30, seed: 1 });
});

test('the executor\'s section lines are read back, and a history is drawn as a timeline', () => {
  const parsed = parseSections(['H 4 0 0 100 3000000 ok 0', 'H 4 1 1 1500000 -1 hang', 'Y 4 task 77', 'Y 4   [<0>] xfs_ilock+0x50/0x110', 'R 4 0 ok 3']);
  const s = parsed.get(4)!;
  assert.equal(s.ops, [{ thread: 1, call: 100, ret: 3000000, got: 'ok 0' }, { thread: 2, call: 1500000, ret: -1, got: 'hang' }]);
  assert.equal(s.stacks, ['task 77', '  [<0>] xfs_ilock+0x50/0x110']);
  const p = program([store(5)], [load]);
  const t = threadedExpectation(mainline, p);
  const h = historyOf(t, s, { kind: 'hang', lin: null });
  const rows = timeline(h);
  assert.match(rows[0], /^T1 \|\[0-+\] *\|$/);
  assert.match(rows[1], /^T2 \| +\[1-+>\|$/);
  assert.match(rows[3], /1: T2 load\(map=0 page=0\) -> hang \(1\.500 ms \.\. no return\)/);
});

test.run();
