// `daxcheck conform --threads K`: the real kernel's concurrent behaviour
// against the reference.  A program is a prologue (thread 0 of the test
// case: opens, mappings, stores, run one at a time and compared as
// conform compares) and a section of K threads (threads 1..K) that the
// executor runs at once in a forked copy of the process, recording each
// operation's call and return.  The history must be linearizable: some
// order of the section's operations, consistent with real time, run one
// at a time on the model, gives every outcome the kernel gave and the
// files the kernel ended with (linearize.ts).
//
// A section's operations change neither the fd table nor the mappings, so
// each resolves to one executor line whatever order the search tries:
// loads, stores, write(2), synchronous O_DIRECT of the file's first page,
// truncates, fallocate, MADV_DONTNEED and clones.

import fc from 'fast-check';
import { LIMITS, formatOp, initialValue, type NicOp, type Op, type OpName, type TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import { arbConfig, arbOpOf } from './arbitraries.ts';
import { compare, ConformResultSchema, CONFORM_SUMMARY, expectation, glob, listedMismatches, mismatchHash, MismatchSchema, normalize, parseOutput, resolve, type ConformOptions, type ConformResult, type Expectation, type Mismatch } from './conform.ts';
import { writeFileAtomic } from './corpus.ts';
import { join } from 'node:path';
import { linearize, type Linearization } from './linearize.ts';

export const SECTION_OPS: OpName[] = ['load', 'store', 'write', 'dio_read', 'dio_write', 'truncate', 'truncate_path', 'fallocate', 'madvise_dontneed', 'clone'];

// O_DIRECT in a section: synchronous, the file's first page (the model
// takes an O_DIRECT offset modulo the file's size at the time, the
// executor's line fixes it: page 0 is the one both agree on whatever the
// size)
const sectionOp = (op: Op): Op => (op.op === 'dio_read' || op.op === 'dio_write' ? { ...op, aio: false, off: 0 } : op);

export function arbThreaded(k: number): fc.Arbitrary<TestCase> {
  return fc
    .record({
      config: arbConfig,
      dax: fc.array(fc.boolean(), { minLength: LIMITS.files, maxLength: LIMITS.files }),
      opens: fc.array(arbOpOf(['open']), { minLength: 1, maxLength: 2 }),
      maps: fc.array(arbOpOf(['mmap']), { minLength: 1, maxLength: 2 }),
      stores: fc.array(arbOpOf(['store']), { maxLength: 1 }),
      section: fc.array(fc.array(arbOpOf(SECTION_OPS), { minLength: 1, maxLength: 4 }), { minLength: k, maxLength: k }),
    })
    .map(({ config, dax, opens, maps, stores, section }) => ({
      // as conform's programs: root, no reflinked files, blocks enough, no PMD
      config: { ...config, procs: [{ uid: 0, capLease: false }], files: config.files.map((f, i) => ({ ...f, dax: dax[i], owner: 0, reflink: false })), blocks: LIMITS.maxBlocks, pmd: false, leaseBreakTime: 1 },
      threads: [
        { proc: 0, ops: [...opens.map((o) => (o.op === 'open' ? { ...o, write: true } : o)), ...maps, ...stores], loop: false },
        ...section.map((ops) => ({ proc: 0, ops: ops.map(sectionOp), loop: false })),
      ],
      nic: [],
      schedule: [],
      cycle: [],
      faults: [],
    }));
}

export function threadedPrograms(seed: number, runs: number, k: number): TestCase[] {
  return fc.sample(arbThreaded(k), { seed, numRuns: runs });
}

// The section's operations in the executor's order: thread 1's, then 2's, ...
export interface SectionOp {
  thread: number; // 1..K
  op: Op;
  line: string;
}

export interface Threaded {
  prologue: Expectation; // thread 0 alone, one op at a time
  section: SectionOp[];
  maps: Record<number, { file: number; pgoff: number; shared: boolean }>; // the mappings after the prologue, by slot
  fdFile: Record<number, number>; // ... and each open fd's file
}

const sequentialOf = (tc: TestCase, ops: Op[]): TestCase => ({ ...tc, threads: [{ proc: 0, ops: [...tc.threads[0].ops, ...ops], loop: false }], nic: [], schedule: [] });

export function threadedExpectation(variant: Variant, tc: TestCase, expect: typeof expectation = expectation): Threaded {
  const prologue = expect(variant, sequentialOf(tc, []), true);
  const ref = prologue.ref;
  const made = prologue.steps.filter((s) => s.op.op === 'mmap' && s.expected === 'ok').length;
  const section = tc.threads.slice(1).flatMap((t, i) => t.ops.map((op) => ({ thread: i + 1, op, line: resolve(ref, op, made, 0, tc.config.files.length) })));
  const maps: Threaded['maps'] = {};
  const fdFile: Threaded['fdFile'] = {};
  if (ref) {
    for (const m of ref.procs[0].maps) maps[m.id] = { file: m.file, pgoff: m.pgoff, shared: m.shared };
    for (const fd of ref.openFds(0)) fdFile[fd] = ref.procs[0].fds[fd]!.file;
  }
  return { prologue: { ...prologue, ref: null }, section, maps, fdFile };
}

// The pages a section line writes: "<file>:<page>", "<file>:*" for the
// whole file, "slot<s>:<page>" for a private copy.
function writes(t: Threaded, line: string): string[] {
  const [c, ...w] = line.split(' ');
  const a = w.map(Number);
  const mapPage = (slot: number, page: number) => {
    const m = t.maps[slot];
    return m ? [m.shared ? `${m.file}:${m.pgoff + page}` : `slot${slot}:${page}`] : [];
  };
  const file = (fd: number) => (fd in t.fdFile ? [`${t.fdFile[fd]}:*`] : []);
  switch (c) {
    case 's': return mapPage(a[0], a[1]);
    case 'r': return mapPage(a[2], a[3]);
    case 'w': case 'x': return a[0] in t.fdFile ? [`${t.fdFile[a[0]]}:${a[1]}`] : [];
    case 'K': case 'A': case 't': return file(a[0]);
    case 'T': return [`${a[0]}:*`];
    default: return [];
  }
}

// Whether an O_DIRECT read's buffer was written by another thread's
// operation while the read was in flight: the kernel reads the source
// first and fills the buffer last (a DAX copy after its lookup, a device
// transfer at completion), so such a store can be overwritten by data
// read before it, which no order of whole operations gives.  A program
// racing on its own buffer; docs/fidelity.md lists it.
export function bufferRace(t: Threaded, seen: SectionSeen): boolean {
  return t.section.some((x, i) => {
    if (!x.line.startsWith('r ') || !seen.ops[i]) return false;
    const buf = writes(t, x.line)[0];
    if (!buf) return false;
    const [bf] = buf.split(':');
    return t.section.some((y, j) => {
      const o = seen.ops[j];
      if (j === i || y.thread === x.thread || !o || o.call > seen.ops[i].ret || (o.ret >= 0 && o.ret < seen.ops[i].call)) return false;
      return writes(t, y.line).some((k) => k === buf || k === `${bf}:*`);
    });
  });
}
export const BUFFER_RACE = "an O_DIRECT read's buffer written by another thread meanwhile";

export function threadedBatchText(tcs: TestCase[], exps: Threaded[]): string {
  const lines: string[] = [];
  tcs.forEach((tc, id) => {
    lines.push(`P ${id}`, `B ${tc.config.leaseBreakTime}`);
    tc.config.files.forEach((f, i) => {
      const vals = Array.from({ length: LIMITS.pagesPerFile }, (_, pg) => (pg < f.size && !f.sparse ? initialValue(i, pg) : 0));
      lines.push(`F ${i} ${f.dax ? 1 : 0} ${f.size} ${f.sparse ? 1 : 0} ${vals.join(' ')}`);
    });
    lines.push('G');
    for (const s of exps[id].prologue.steps) lines.push(s.line);
    lines.push('C');
    for (const s of exps[id].section) lines.push(`${s.thread - 1} ${s.line}`);
    lines.push('N', 'E');
  });
  return lines.join('\n') + '\n';
}

export interface SectionSeen {
  ops: { thread: number; call: number; ret: number; got: string }[]; // by section index; ret -1: not returned
  stacks: string[];
}

export function parseSections(lines: string[]): Map<number, SectionSeen> {
  const out = new Map<number, SectionSeen>();
  const of = (id: number) => {
    let s = out.get(id);
    if (!s) out.set(id, (s = { ops: [], stacks: [] }));
    return s;
  };
  for (const l of lines) {
    const w = l.split(' ');
    if (w[0] === 'H' && w.length >= 7) of(Number(w[1])).ops[Number(w[2])] = { thread: Number(w[3]) + 1, call: Number(w[4]), ret: Number(w[5]), got: w.slice(6).join(' ') };
    else if (w[0] === 'Y') of(Number(w[1])).stacks.push(l.split(' ').slice(2).join(' '));
  }
  return out;
}

// The reference, one order at a time: the prologue, then the section's
// operations in the order the search tries, on the model.
export function sectionSpec(variant: Variant, tc: TestCase, t: Threaded, files: string[], expect: typeof expectation = expectation) {
  const cache = new Map<string, Expectation>();
  const n0 = t.prologue.steps.length;
  const run = (order: readonly number[]) => {
    const k = order.join(',');
    let e = cache.get(k);
    if (!e) {
      e = expect(variant, sequentialOf(tc, order.map((i) => t.section[i].op)));
      cache.set(k, e);
    }
    return e;
  };
  return {
    next(order: readonly number[]) {
      const e = run(order);
      const step = e.steps[n0 + order.length - 1];
      // a line that resolves otherwise in this order is an order the executor did not run
      if (e.modelDivergence !== null || !step || step.line !== t.section[order[order.length - 1]].line) return null;
      return { outcome: step.expected, key: e.key };
    },
    end(order: readonly number[]) {
      const e = run(order);
      return e.files.length === files.length && e.files.every((f, i) => f === files[i]);
    },
  };
}

export interface SectionVerdict {
  kind: 'linearizable' | 'not-linearizable' | 'unknown' | 'hang';
  lin: Linearization | null;
}

export function checkSection(variant: Variant, tc: TestCase, t: Threaded, seen: SectionSeen, files: string[], expect: typeof expectation = expectation): SectionVerdict {
  if (seen.ops.some((o) => !o || o.ret < 0)) return { kind: 'hang', lin: null };
  const calls = t.section.map((s, i) => ({ call: seen.ops[i].call, ret: seen.ops[i].ret, got: normalize(s.op, seen.ops[i].got) }));
  const lin = linearize(calls, sectionSpec(variant, tc, t, files, expect));
  return { kind: lin.verdict, lin };
}

// A kernel-mismatch file's history: the section as the kernel ran it.
export function historyOf(t: Threaded, seen: SectionSeen, v: SectionVerdict, files: string[] = []): NonNullable<Mismatch['history']> {
  return {
    ops: t.section.map((s, i) => ({ thread: s.thread, text: formatOp(s.op), call: seen.ops[i]?.call ?? -1, ret: seen.ops[i]?.ret ?? -1, got: seen.ops[i]?.got ?? 'none' })),
    stacks: seen.stacks.slice(0, 400),
    longest: v.lin?.longest ?? [],
    files: files.slice(0, 8),
  };
}

// The history as text: which operation overlapped which, a row a thread.
export function timeline(h: NonNullable<Mismatch['history']>): string[] {
  const t0 = Math.min(...h.ops.map((o) => o.call).filter((x) => x >= 0));
  const t1 = Math.max(...h.ops.map((o) => (o.ret >= 0 ? o.ret : o.call)));
  const width = 60;
  const col = (x: number) => Math.min(width - 1, Math.max(0, Math.round(((x - t0) / Math.max(1, t1 - t0)) * (width - 1))));
  const threads = [...new Set(h.ops.map((o) => o.thread))].sort((a, b) => a - b);
  const rows: string[] = [];
  for (const th of threads) {
    const line = new Array<string>(width).fill(' ');
    h.ops.forEach((o, i) => {
      if (o.thread !== th || o.call < 0) return;
      const a = col(o.call);
      const b = o.ret >= 0 ? col(o.ret) : width - 1;
      for (let x = a; x <= b; x++) line[x] = '-';
      line[a] = '[';
      line[b] = o.ret >= 0 ? ']' : '>';
      const label = String(i);
      for (let j = 0; j < label.length && a + 1 + j < b; j++) line[a + 1 + j] = label[j];
    });
    rows.push(`T${th} |${line.join('')}|`);
  }
  h.ops.forEach((o, i) => rows.push(`  ${i}: T${o.thread} ${o.text} -> ${o.got} (${(o.call / 1e6).toFixed(3)} ms .. ${o.ret >= 0 ? `${(o.ret / 1e6).toFixed(3)} ms` : 'no return'})`));
  return rows;
}

// ---- the run ----

interface Found {
  tc: TestCase;
  m: Mismatch;
}

function sectionMismatch(o: ConformOptions, tc: TestCase, t: Threaded, seen: SectionSeen, v: SectionVerdict, listed: ReturnType<typeof listedMismatches>, files: string[]): Mismatch {
  const history = historyOf(t, seen, v, files);
  const hung = history.ops.findIndex((x) => x.ret < 0);
  const observed = v.kind === 'hang' ? `op ${hung} (${history.ops[hung].text}) did not return` : `no order explains it: at most ${v.lin!.longest.length} of ${t.section.length} ops placed${bufferRace(t, seen) ? `; ${BUFFER_RACE}` : ''}`;
  const expected = v.kind === 'hang' ? 'every operation returns' : 'a linearizable history';
  return {
    kind: 'kernel-mismatch', format: 1, kernel: o.vm.kernel, variant: o.variant.name, testCase: tc, op: v.kind === 'hang' ? t.prologue.steps.length + hung : -1,
    opText: 'section', expected, observed, listed: listed.some((l) => l.op === 'section' && glob(l.expected, expected) && glob(l.observed, observed)), history,
  };
}

// One boot's programs, each checked.
async function runBatch(o: ConformOptions, tcs: TestCase[], exps: Threaded[], listed: ReturnType<typeof listedMismatches>) {
  const r = await o.boot(threadedBatchText(tcs, exps));
  const seen = parseOutput(r.lines);
  const sections = parseSections(r.lines);
  const results = tcs.map((tc, j) => {
    const files = seen.files.get(j) ?? [];
    const t = exps[j];
    const sequential = compare(o.vm.kernel, o.variant, sequentialOf(tc, []), { ...t.prologue, files: [] }, seen.results.get(j), [], listed);
    if (sequential) return { sequential, verdict: null, section: null, files };
    const section = sections.get(j) ?? { ops: [], stacks: [] };
    const verdict = checkSection(o.variant, tc, t, section, files, o.expect);
    return { sequential: null, verdict, section, files };
  });
  return { r, seen, results };
}

const SHRINK_TRIES = 3; // a race shows in some runs only: each smaller program runs this many times

// Smaller programs: one section op or one prologue op fewer.
function smallerThreaded(tc: TestCase): TestCase[] {
  const out: TestCase[] = [];
  tc.threads.forEach((th, i) => {
    th.ops.forEach((_, j) => {
      const threads = tc.threads.map((x, u) => (u === i ? { ...x, ops: x.ops.filter((_, v) => v !== j) } : x)).filter((x, u) => u === 0 || x.ops.length > 0);
      if (threads.length >= 3 && threads[0].ops.length > 0) out.push({ ...tc, threads });
    });
  });
  return out;
}

async function shrinkThreaded(o: ConformOptions, f: Found, listed: ReturnType<typeof listedMismatches>, booted: () => void): Promise<Found> {
  let best = f;
  for (let round = 0; round < 6; round++) {
    const cands = smallerThreaded(best.tc).map((tc) => ({ tc, t: threadedExpectation(o.variant, tc, o.expect) })).filter((c) => c.t.prologue.modelDivergence === null);
    if (!cands.length) break;
    const tcs = cands.flatMap((c) => Array<TestCase>(SHRINK_TRIES).fill(c.tc));
    const exps = cands.flatMap((c) => Array<Threaded>(SHRINK_TRIES).fill(c.t));
    const { results } = await runBatch(o, tcs, exps, listed);
    booted();
    let next: Found | null = null;
    results.forEach((res, j) => {
      if (next || !res.verdict || (res.verdict.kind !== 'not-linearizable' && res.verdict.kind !== 'hang')) return;
      const m = sectionMismatch(o, tcs[j], exps[j], res.section!, res.verdict, listed, res.files);
      if (m.expected === best.m.expected) next = { tc: tcs[j], m }; // the same kind: a history no order explains, or a hang
    });
    if (!next) break;
    best = next;
  }
  return best;
}

export interface ThreadsSummary {
  threads: number;
  histories: number;
  linearizable: number;
  notLinearizable: number;
  unknown: number;
  hangs: number;
  specRuns: number; // the most one history's search took
}

export async function runThreaded(o: ConformOptions, k: number): Promise<ConformResult & { threads: ThreadsSummary }> {
  const t0 = Date.now();
  const all = threadedPrograms(o.seed, o.runs, k).filter((_, i) => i % o.shard.count === o.shard.index);
  const exps = all.map((tc) => threadedExpectation(o.variant, tc, o.expect));
  const keep = all.map((_, i) => i).filter((i) => exps[i].prologue.modelDivergence === null);
  const listed = listedMismatches();
  const coverage: ConformResult['coverage'] = Object.create(null);
  const summary: ThreadsSummary = { threads: k, histories: 0, linearizable: 0, notLinearizable: 0, unknown: 0, hangs: 0, specRuns: 0 };
  const found: Found[] = [];
  const problems: string[] = [];
  const kernelWarnings: string[] = [];
  const bootTimes: number[] = [];
  let runSeconds = 0;
  let boots = 0;
  let ops = 0;
  const count = (op: Op | NicOp, got: string) => {
    const per = (coverage[op.op] ??= Object.create(null) as Record<string, number>);
    const key = got.startsWith('ok') ? 'ok' : got.split(' ')[1] ?? got;
    per[key] = (per[key] ?? 0) + 1;
  };
  for (let b = 0; b < keep.length; b += o.batch) {
    const ids = keep.slice(b, b + o.batch);
    const { r, seen, results } = await runBatch(o, ids.map((i) => all[i]), ids.map((i) => exps[i]), listed);
    boots++;
    if (r.guestBootSeconds !== null) {
      bootTimes.push(r.guestBootSeconds);
      runSeconds += Math.max(0.001, r.wallMs / 1000 - r.guestBootSeconds);
    }
    if (!r.finished) problems.push(`boot ${boots}: the executor did not finish (timed out or crashed)`);
    problems.push(...seen.problems);
    kernelWarnings.push(...seen.kernelWarnings);
    results.forEach((res, j) => {
      const i = ids[j];
      const t = exps[i];
      (seen.results.get(j) ?? []).forEach((got, n) => { if (t.prologue.steps[n]) count(t.prologue.steps[n].op, got); });
      ops += t.prologue.steps.length + t.section.length;
      if (res.sequential) { found.push({ tc: all[i], m: res.sequential }); return; }
      res.section!.ops.forEach((x, n) => { if (x && t.section[n] && x.ret >= 0) count(t.section[n].op, x.got); });
      const v = res.verdict!;
      summary.histories++;
      summary.specRuns = Math.max(summary.specRuns, v.lin?.runs ?? 0);
      if (v.kind === 'linearizable') summary.linearizable++;
      else if (v.kind === 'unknown') summary.unknown++;
      else {
        if (v.kind === 'hang') summary.hangs++;
        else summary.notLinearizable++;
        found.push({ tc: all[i], m: sectionMismatch(o, all[i], t, res.section!, v, listed, res.files) });
      }
    });
    o.onProgress?.(Math.min(keep.length, b + o.batch), keep.length);
  }
  const mismatches: ConformResult['mismatches'] = [];
  for (const f of found) {
    const s = f.m.history && !f.m.listed ? await shrinkThreaded(o, f, listed, () => boots++) : f;
    const file = join(o.out, 'kernel-mismatch', `${mismatchHash(s.m)}.json`);
    writeFileAtomic(file, JSON.stringify(MismatchSchema.parse(s.m), null, 2) + '\n');
    mismatches.push({ file, op: s.m.opText, expected: s.m.expected, observed: s.m.observed, listed: s.m.listed });
  }
  const mid = [...bootTimes].sort((a, b) => a - b)[bootTimes.length >> 1] ?? 0;
  const result = {
    kind: 'daxcheck-conform' as const, plan: { seed: o.seed, runs: o.runs, variant: o.variant.name, threads: k, shards: [`${o.shard.index}/${o.shard.count}`] },
    kernel: o.vm.kernel, variant: o.variant.name, programs: keep.length, ops, mismatches,
    bootSeconds: Math.round(mid * 10) / 10,
    programsPerSecond: Math.round((keep.length / Math.max(0.001, runSeconds)) * 10) / 10,
    coverage, boots, wallSeconds: Math.round((Date.now() - t0) / 100) / 10, skipped: all.length - keep.length, problems, kernelWarnings,
    threads: summary,
  };
  writeFileAtomic(join(o.out, CONFORM_SUMMARY), JSON.stringify(ConformResultSchema.parse(result), null, 2) + '\n');
  return result;
}
