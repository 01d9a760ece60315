// `daxcheck conform`: the real kernel as the oracle.  Programs generated
// with the fuzzer's arbitraries run on the model (the variant standing for
// the booted kernel), one operation at a time, and on the real kernel in
// the guest (vm/), each operation resolved by the host to the fd, mapping
// and page the model's index rules chose; every result, and the files at
// the end, are compared.  A difference is a kernel-mismatch.

import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { FALLOC_MODES, LIMITS, cloneRange, fallocRange, TestCaseSchema, initialValue, madviseSpan, mrSpan, uringSpan, type NicOp, type Op, type OpName, type TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import { arbConfig, arbNicOp, arbOpOf } from './arbitraries.ts';
import { runTestCase, type Picker } from './lockstep.ts';
import type { Reference } from '../models/reference/index.ts';
import { WRITTEN } from '../models/abstract.ts';
import { ROOT } from './root.ts';
import { basename, join } from 'node:path';
import { writeFileAtomic } from './corpus.ts';
import { FileError, parseWith, printable, readJsonFile } from './files.ts';

const P = LIMITS.pagesPerFile;

// The operations conformance runs: every op of the upstream contract one
// process thread can make (a forked child only holds its copies), and the
// NIC's work requests.
export const CONFORM_OPS: OpName[] = [
  'open', 'close', 'mmap', 'munmap', 'madvise_dontneed', 'fork', 'load', 'store', 'write', 'dio_read', 'dio_write', 'truncate', 'truncate_path', 'unlink', 'fallocate', 'clone',
  'reg_mr', 'dereg_mr', 'uring_register', 'uring_unregister', 'uring_read_fixed', 'uring_write_fixed', 'fcntl_map_direct', 'fcntl_setlease', 'fcntl_getlease', 'sigtimedwait', 'tick',
];

// A program: one process thread, its ops run one at a time, and NIC work
// requests, each carried out as soon as it is posted (at its virtual time,
// which the thread's ticks advance) and a registration exists; files set
// up as the config says.
export function arbProgram(kinds: OpName[] = CONFORM_OPS): fc.Arbitrary<TestCase> {
  return fc
    .record({
      config: arbConfig,
      // DAX or not, even odds (the fuzzer leans to DAX): registrations,
      // which DAX refuses, need page-cache files as often
      dax: fc.array(fc.boolean(), { minLength: LIMITS.files, maxLength: LIMITS.files }),
      // now and then more opens than RLIMIT_NOFILE allows
      opens: fc.oneof({ weight: 6, arbitrary: fc.array(arbOpOf(['open']), { minLength: 1, maxLength: 2 }) }, { weight: 1, arbitrary: fc.array(arbOpOf(['open']), { minLength: 6, maxLength: 7 }) }),
      // now and then a lease on what was opened, for the body's opens to break
      lease: kinds.includes('fcntl_setlease') ? fc.option(arbOpOf(['fcntl_setlease']), { freq: 4 }) : fc.constant(null),
      map: fc.option(arbOpOf(['mmap']), { freq: 3 }),
      // a registration of that mapping, which the NIC's work needs
      reg: kinds.includes('reg_mr') ? fc.option(arbOpOf(['reg_mr']), { freq: 3 }) : fc.constant(null),
      body: fc.array(arbOpOf(kinds), { minLength: 1, maxLength: 10 }),
      nic: kinds.includes('reg_mr') ? fc.array(arbNicOp, { maxLength: 3 }) : fc.constant<NicOp[]>([]),
    })
    .map(({ config, dax, opens, lease, map, reg, body, nic }) => ({
      // one process as root; every file root's, none reflinked; blocks enough that the model never runs out where 512 MiB of pmem would not;
      // the guest's files are far smaller than a PMD (2 MiB), so no fault there maps one; a lease break lasts a second
      config: { ...config, procs: [{ uid: 0, capLease: false }], files: config.files.map((f, i) => ({ ...f, dax: dax[i], owner: 0, reflink: false })), blocks: LIMITS.maxBlocks, pmd: false, leaseBreakTime: 1 },
      threads: [{ proc: 0, ops: [...opens, ...(lease ? [lease] : []), ...(map ? [map] : []), ...(map && reg ? [reg] : []), ...body].slice(0, LIMITS.opsPerThread), loop: false }],
      nic,
      schedule: [],
      cycle: [],
      faults: [],
    }));
}

export function programs(seed: number, runs: number, kinds: OpName[] = CONFORM_OPS): TestCase[] {
  return fc.sample(arbProgram(kinds), { seed, numRuns: runs });
}

// One op as the executor runs it, and what the model says it returns.
export interface Step {
  op: Op | NicOp;
  line: string; // the executor's line, every index resolved
  expected: string; // "ok N", "ok" (a value the kernel chooses), "err EBADF", "sig SIGBUS"
  ops: number; // the process thread's ops up to and including this step
}

export interface Expectation {
  steps: Step[];
  files: string[]; // "<bytes> <dax> <b0> <b1> ..." per file, as the executor reports them
  modelDivergence: string | null; // the model diverged from its own reference: not a program to compare
  schedule: number[]; // the order the model ran things in, as a schedule: a file replays it
  key: string; // the reference's abstract state at the end
  ref: Reference | null; // ... and the reference itself, when asked for
}

// Ops whose success value is the model's own numbering (a map id, a
// process index, an MR) where the kernel returns an address, a pid or a handle: only
// success is compared.
const KERNEL_CHOOSES: ReadonlySet<string> = new Set(['mmap', 'fork', 'reg_mr']);

export function outcome(op: Op | NicOp, r: number | string | undefined): string {
  if (r === undefined) return 'none';
  if (typeof r === 'string') return r.startsWith('SIG') ? `sig ${r}` : `err ${r}`;
  return KERNEL_CHOOSES.has(op.op) ? 'ok' : `ok ${r}`;
}

// Runs the program on the model one op at a time (the process thread
// first whenever it can run).  Each op is resolved to the executor's line
// from the reference's state when the op before it returned, by the index
// rules the reference applies (an fd or mapping index taken modulo what
// the process has, in order).
//
// The order is one a sequential executor can follow: whenever the process
// thread is between two ops, the device finishes what is queued (an AIO
// completes before the next op, as the executor waits for it), the NIC
// carries out what is posted, and kernel work runs; then the thread goes
// on.  Inside an op, the thread runs whenever it can.
export function expectation(variant: Variant, tc: TestCase, keepRef = false): Expectation {
  const ops = tc.threads[0].ops;
  const steps: Step[] = [];
  let maps = 0; // mappings the model has made: the next one's slot
  let mrs = 0; // registrations the model has made: the next one's slot
  let done = 0; // the process thread's ops returned
  let nics = 0; // NIC work requests carried out
  let inside = false; // the process thread is in the middle of an op
  let copied = 0; // the process's mappings now: what a fork would copy
  let next = resolve(null, ops[0], 0, 0, tc.config.files.length);
  let ref: Reference | null = null;
  const r = runTestCase(variant, tc, {
    picker: sequential(tc, () => !inside),
    observe: (ex, entry) => {
      ref = ex.ref;
      if (entry.tid === 0) inside = entry.result === undefined;
      if (entry.thread === 'nic') {
        const op = tc.nic[nics++];
        steps.push({ op, line: resolveNic(ex.ref, op), expected: outcome(op, ex.ref.lastNicResult ?? undefined), ops: done });
        return;
      }
      if (entry.tid !== 0 || !entry.op || entry.result === undefined) return;
      const expected = outcome(entry.op, entry.result);
      steps.push({ op: entry.op, line: next, expected, ops: ++done });
      if (entry.op.op === 'mmap' && expected === 'ok') maps++;
      if (entry.op.op === 'reg_mr' && expected.startsWith('ok')) mrs++;
      if (entry.op.op === 'fork' && expected === 'ok') maps += copied; // the child's copies take the next map ids
      if (done < ops.length) next = resolve(ex.ref, ops[done], maps, mrs, tc.config.files.length);
      copied = ex.ref.procs[0].maps.length;
    },
  });
  const end = ref as Reference | null;
  return { steps, files: end ? finalFiles(end) : [], modelDivergence: r.divergence ? `${r.divergence.class}: ${r.divergence.message}` : null, schedule: r.schedule ?? [], key: end ? JSON.stringify(end.abstract()) : '', ref: keepRef ? end : null };
}

// The scheduler that order is: threads are the program's, then the
// device, the NIC, the timer and the kernel worker (models/impl/kernel.ts).
function sequential(tc: TestCase, between: () => boolean): Picker {
  const n = tc.threads.length;
  const [device, nic, timer, kworker] = [n, n + 1, n + 2, n + 3];
  return {
    horizon: 4096,
    pick(order) {
      const prefer = between() ? [device, nic, kworker, 0, timer] : [0, device, kworker, timer, nic];
      return prefer.map((id) => order.indexOf(id)).find((i) => i >= 0) ?? 0;
    },
  };
}

// The executor's line for an op of process `proc`, from the reference's
// state before it (null: the initial state, before any op).  `maps` and
// `mrs` are the slots a new mapping or registration takes.
export function resolve(ref: Reference | null, op: Op, maps: number, mrs: number, nfiles: number, proc = 0): string {
  const fds = ref ? ref.openFds(proc) : [];
  const list = ref ? ref.procs[proc].maps : [];
  const fdOf = (i: number) => (fds.length ? fds[i % fds.length] : 63); // 63: never open, so EBADF as the model says
  const mapOf = (i: number) => (list.length ? list[i % list.length] : null);
  const slotOf = (m: { id: number } | null) => (m ? m.id : -1); // a map's slot is its id: both count mappings made
  const page = (m: { npages: number } | null, i: number) => (m ? i % m.npages : 0);
  switch (op.op) {
    case 'open': return `o ${op.file % nfiles} ${op.write ? 1 : 0} ${op.nonblock ? 1 : 0}`;
    case 'close': return `c ${fdOf(op.fd)}`;
    case 'mmap': {
      const type = op.type === 'shared' ? 0 : op.type === 'private' ? 1 : 2;
      return `m ${Math.min(maps, 63)} ${fdOf(op.fd)} ${op.off % P} ${1 + (op.len % LIMITS.mapPages)} ${type} ${op.sync ? 1 : 0} ${op.direct ? 1 : 0} ${op.write ? 1 : 0}`;
    }
    case 'munmap': return `u ${slotOf(mapOf(op.map))}`;
    case 'madvise_dontneed': {
      const m = mapOf(op.map);
      const { first, span } = madviseSpan(op, m ? m.npages : null);
      return `v ${slotOf(m)} ${first} ${span}`;
    }
    case 'load': return `l ${slotOf(mapOf(op.map))} ${page(mapOf(op.map), op.page)}`;
    case 'store': return `s ${slotOf(mapOf(op.map))} ${page(mapOf(op.map), op.page)} ${op.val}`;
    case 'write': return `w ${fdOf(op.fd)} ${op.off % P} ${op.val}`;
    case 'truncate': return `t ${fdOf(op.fd)} ${op.size % (P + 1)}`;
    case 'truncate_path': return `T ${op.file % nfiles} ${op.size % (P + 1)}`;
    case 'unlink': return `U ${op.file % nfiles}`;
    case 'fcntl_setlease': return `L ${fdOf(op.fd)} ${op.type === 'rd' ? 0 : op.type === 'wr' ? 1 : 2}`;
    case 'fcntl_getlease': return `J ${fdOf(op.fd)}`;
    case 'sigtimedwait': return 'i';
    case 'clone': {
      const { soff, doff, len } = cloneRange(op);
      return `K ${fdOf(op.fd)} ${fdOf(op.src)} ${soff} ${doff} ${len}`;
    }
    case 'fallocate': {
      const { off, end } = fallocRange(op);
      return `A ${fdOf(op.fd)} ${FALLOC_MODES[op.mode]} ${off} ${end - off}`;
    }
    case 'dio_read':
    case 'dio_write': {
      const fd = fdOf(op.fd);
      const size = ref && fds.length ? ref.files[ref.procs[proc].fds[fd]!.file].size : 0;
      const m = mapOf(op.map);
      return `${op.op === 'dio_read' ? 'r' : 'x'} ${fd} ${size ? op.off % size : 0} ${slotOf(m)} ${page(m, op.page)} ${op.aio ? 1 : 0}`;
    }
    case 'reg_mr': {
      const m = mapOf(op.map);
      const { first, span, unaligned } = mrSpan(op, m ? m.npages : null);
      return `g ${Math.min(mrs, 63)} ${slotOf(m)} ${first} ${span} ${unaligned ? 1 : 0}`;
    }
    case 'dereg_mr': {
      const mine = ref ? ref.liveMrs().filter((x) => x.proc === proc) : [];
      return `d ${mine.length ? mine[op.mr % mine.length].id : -1}`;
    }
    case 'uring_register': {
      const m = mapOf(op.map);
      const { first, span } = uringSpan(op, m ? m.npages : null);
      return `q ${slotOf(m)} ${first} ${span}`;
    }
    case 'uring_unregister': return 'z';
    case 'uring_read_fixed':
    case 'uring_write_fixed': {
      const ring = ref ? ref.procs[proc].ring : null;
      return `${op.op === 'uring_read_fixed' ? 'h' : 'j'} ${fdOf(op.fd)} ${op.off % P} ${ring ? op.page % ring.targets.length : 0}`;
    }
    case 'fcntl_map_direct': return `f ${fdOf(op.fd)}`;
    // a virtual second is a real one only while a lease break's deadline
    // is ahead, the one thing that reads the clock
    case 'tick': return `k ${ref && ref.fileLeases.some((l) => l.breakDeadline > ref.clock || l.downgradeDeadline > ref.clock) ? 1 : 0}`;
    case 'fork': return 'y';
    case 'exit': throw new Error('exit ends the executor\'s own process: conform does not run it');
    case 'layoutget':
    case 'layoutreturn': throw new Error(`${op.op} is an NFS client's request, not a system call: conform does not run it`);
  }
}

// The executor's line for a NIC work request the model has just carried
// out: the registration and page it chose (the live ones do not change).
export function resolveNic(ref: Reference, op: NicOp): string {
  const live = ref.liveMrs();
  const mr = live[op.mr % live.length];
  const page = op.page % mr.span;
  return op.op === 'rdma_write' ? `W ${mr.id} ${page} ${op.val}` : `Q ${mr.id} ${page}`;
}

// The files as the executor reports them at the end: bytes, DAX, and the
// value of each page below the size (a hole or unwritten extent reads 0);
// "-" for one unlinked.
export function finalFiles(ref: Reference): string[] {
  return ref.files.map((f) => !f.linked ? '-' : [f.size * 4096, f.dax ? 1 : 0, ...f.page.slice(0, f.size).map((pg, i) => (f.state[i] === WRITTEN ? pg.v : 0))].join(' '));
}

// The executor's input for a batch.
export function batchText(tcs: TestCase[], exps: Expectation[]): string {
  const lines: string[] = [];
  tcs.forEach((tc, id) => {
    lines.push(`P ${id}`);
    lines.push(`B ${tc.config.leaseBreakTime}`);
    tc.config.files.forEach((f, i) => {
      const vals = Array.from({ length: P }, (_, pg) => (pg < f.size && !f.sparse ? initialValue(i, pg) : 0));
      lines.push(`F ${i} ${f.dax ? 1 : 0} ${f.size} ${f.sparse ? 1 : 0} ${vals.join(' ')}`);
    });
    lines.push('G');
    for (const s of exps[id].steps) lines.push(s.line);
    lines.push('E');
  });
  return lines.join('\n') + '\n';
}

export interface Observed {
  results: Map<number, string[]>; // program -> each op's outcome
  files: Map<number, string[]>;
  problems: string[]; // X lines
  kernelWarnings: string[]; // K lines
}

export function parseOutput(lines: string[]): Observed {
  const o: Observed = { results: new Map(), files: new Map(), problems: [], kernelWarnings: [] };
  for (const l of lines) {
    const w = l.split(' ');
    if (w[0] === 'R') {
      const id = Number(w[1]);
      const list = o.results.get(id) ?? [];
      list[Number(w[2])] = `${w[3]} ${w[4]}`;
      o.results.set(id, list);
    } else if (w[0] === 'S') {
      const id = Number(w[1]);
      const list = o.files.get(id) ?? [];
      list[Number(w[2])] = w.slice(3).join(' ');
      o.files.set(id, list);
    } else if (w[0] === 'X') o.problems.push(l);
    else if (w[0] === 'K') o.kernelWarnings.push(l.slice(2));
  }
  return o;
}

// The kernel's outcome in the model's terms.
export function normalize(op: Op | NicOp, got: string): string {
  return KERNEL_CHOOSES.has(op.op) && got.startsWith('ok') ? 'ok' : got;
}

export const MismatchSchema = z.strictObject({
  kind: z.literal('kernel-mismatch'),
  format: z.literal(1),
  kernel: z.string(),
  variant: z.string(),
  testCase: TestCaseSchema,
  op: z.number().int().min(-1), // the op that differed; -1: the files at the end
  opText: z.string(),
  expected: z.string(),
  observed: z.string(),
  listed: z.boolean(),
  // conform --threads: the concurrent section after the ops of thread 0,
  // as the kernel ran it
  history: z.optional(z.strictObject({
    ops: z.array(z.strictObject({ thread: z.number().int().min(1).max(8), text: z.string().max(200), call: z.number(), ret: z.number(), got: z.string().max(80) })).max(64),
    stacks: z.array(z.string().max(400)).max(400), // a hang's kernel stacks
    longest: z.array(z.number().int().min(0)).max(64), // the longest order of section ops the reference explained
    files: z.array(z.string().max(200)).max(8).default([]), // the kernel's files at the end
  })),
});
export type Mismatch = z.infer<typeof MismatchSchema>;

// The deliberate abstractions docs/fidelity.md lists: rows of its table
// "kernel mismatches listed", by op and outcomes.
export function listedMismatches(): { op: string; expected: string; observed: string }[] {
  let text = '';
  try {
    text = readFileSync(new URL('docs/fidelity.md', ROOT), 'utf8');
  } catch {
    return [];
  }
  const out: { op: string; expected: string; observed: string }[] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('## Kernel mismatches listed')) inTable = true;
    else if (line.startsWith('## ')) inTable = false;
    else if (inTable && line.startsWith('| `')) {
      const cells = line.split('|').map((c) => c.trim().replace(/^`|`$/g, ''));
      out.push({ op: cells[1], expected: cells[2], observed: cells[3] });
    }
  }
  return out;
}

// `*` in a listed outcome matches anything.
export function glob(pattern: string, text: string): boolean {
  return new RegExp(`^${pattern.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(text);
}

export function compare(kernel: string, variant: Variant, tc: TestCase, exp: Expectation, results: string[] | undefined, files: string[] | undefined, listed: ReturnType<typeof listedMismatches>): Mismatch | null {
  const isListed = (op: string, e: string, o: string) => listed.some((l) => l.op === op && glob(l.expected, e) && glob(l.observed, o));
  const mk = (op: number, opText: string, opName: string, expected: string, observed: string): Mismatch => ({
    kind: 'kernel-mismatch', format: 1, kernel, variant: variant.name, testCase: { ...tc, schedule: exp.schedule }, op, opText, expected, observed, listed: isListed(opName, expected, observed),
  });
  for (const [i, s] of exp.steps.entries()) {
    const got = results?.[i] === undefined ? 'none' : normalize(s.op, results[i]);
    if (got !== s.expected) return mk(i, s.line, s.op.op, s.expected, got);
  }
  for (const [i, want] of exp.files.entries()) {
    const got = files?.[i] ?? 'none';
    if (got !== want) return mk(-1, `file ${i}`, 'files', want, got);
  }
  return null;
}

export function mismatchHash(m: Mismatch): string {
  return createHash('sha256').update(JSON.stringify(m.testCase)).digest('hex').slice(0, 16);
}


export interface ConformOptions {
  variant: Variant;
  runs: number;
  seed: number;
  shard: { index: number; count: number };
  out: string;
  batch: number; // programs a boot
  vm: { vmlinuz: string; initrd: string; accel: 'kvm' | 'tcg'; kernel: string };
  boot: (progs: string) => Promise<{ lines: string[]; wallMs: number; guestBootSeconds: number | null; finished: boolean }>;
  onProgress?: (done: number, total: number) => void;
  // what the model says of a program (a test puts a mutated model here to
  // show that conform catches it)
  expect?: (variant: Variant, tc: TestCase) => Expectation;
  kinds?: OpName[]; // the ops programs draw from (default CONFORM_OPS)
}

// What `conform --json` prints and DIR/conform.json holds, declared once.
const n = z.number().min(0);
export const ConformResultSchema = z.strictObject({
  kind: z.literal('daxcheck-conform'),
  plan: z.strictObject({ seed: z.number().int().min(0), runs: z.number().int().min(1), variant: z.string().max(100), threads: z.optional(z.number().int().min(2).max(3)), shards: z.array(z.string().regex(/^\d{1,6}\/\d{1,6}$/)).min(1) }),
  kernel: z.string().max(200),
  variant: z.string().max(100),
  programs: n,
  ops: n,
  mismatches: z.array(z.strictObject({ file: z.string().max(4096), op: z.string().max(200), expected: z.string().max(400), observed: z.string().max(400), listed: z.boolean() })).max(1_000_000),
  bootSeconds: n, // guest boot to the executor's start, the median over boots
  programsPerSecond: n, // once booted
  coverage: z.record(z.string().max(40), z.record(z.string().max(40), n)), // op -> outcome -> times the kernel gave it
  boots: n,
  wallSeconds: n,
  skipped: n, // programs on which the model diverged from its own reference
  problems: z.array(z.string().max(2000)).max(10_000),
  kernelWarnings: z.array(z.string().max(2000)).max(10_000),
  // conform --threads: the histories of the concurrent sections
  threads: z.optional(z.strictObject({ threads: z.number().int().min(2).max(3), histories: n, linearizable: n, notLinearizable: n, unknown: n, hangs: n, specRuns: n })),
});
export type ConformResult = z.infer<typeof ConformResultSchema>;
export const CONFORM_SUMMARY = 'conform.json';

export async function runConform(o: ConformOptions): Promise<ConformResult> {
  const t0 = Date.now();
  const all = programs(o.seed, o.runs, o.kinds).filter((_, i) => i % o.shard.count === o.shard.index);
  const expect = o.expect ?? expectation;
  const exps = all.map((tc) => expect(o.variant, tc));
  const keep = all.map((_, i) => i).filter((i) => exps[i].modelDivergence === null);
  const listed = listedMismatches();
  const coverage: Record<string, Record<string, number>> = Object.create(null);
  const mismatches: ConformResult['mismatches'] = [];
  const bootTimes: number[] = [];
  let runSeconds = 0;
  let ops = 0;
  let boots = 0;
  const problems: string[] = [];
  const kernelWarnings: string[] = [];
  const found: Mismatch[] = [];
  for (let b = 0; b < keep.length; b += o.batch) {
    const ids = keep.slice(b, b + o.batch);
    const text = batchText(ids.map((i) => all[i]), ids.map((i) => exps[i]));
    const r = await o.boot(text);
    boots++;
    if (r.guestBootSeconds !== null) {
      bootTimes.push(r.guestBootSeconds);
      runSeconds += Math.max(0.001, r.wallMs / 1000 - r.guestBootSeconds);
    }
    if (!r.finished) problems.push(`boot ${boots}: the executor did not finish (timed out or crashed)`);
    const seen = parseOutput(r.lines);
    problems.push(...seen.problems);
    kernelWarnings.push(...seen.kernelWarnings);
    ids.forEach((i, j) => {
      const res = seen.results.get(j);
      exps[i].steps.forEach((s, k) => {
        ops++;
        const got = res?.[k];
        if (got === undefined) return;
        const name = 'aio' in s.op && s.op.aio ? `${s.op.op} (aio)` : s.op.op === 'fallocate' ? `fallocate (${s.op.mode})` : s.op.op;
        const per = (coverage[name] ??= Object.create(null) as Record<string, number>);
        const key = got.startsWith('ok') ? 'ok' : got.split(' ')[1];
        per[key] = (per[key] ?? 0) + 1;
      });
      const m = compare(o.vm.kernel, o.variant, all[i], exps[i], res, seen.files.get(j), listed);
      if (m) found.push(m);
    });
    o.onProgress?.(Math.min(keep.length, b + o.batch), keep.length);
  }
  // the mismatches no listing explains are shrunk, a boot a round
  const shrunk = await shrinkMismatches(o, found.filter((m) => !m.listed), listed, () => boots++);
  for (const m of found) {
    const s = m.listed ? m : shrunk.get(m)!;
    const file = writeMismatch(o.out, s);
    mismatches.push({ file, op: s.opText, expected: s.expected, observed: s.observed, listed: s.listed });
  }
  const mid = [...bootTimes].sort((a, b) => a - b)[bootTimes.length >> 1] ?? 0;
  const result: ConformResult = {
    kind: 'daxcheck-conform', plan: { seed: o.seed, runs: o.runs, variant: o.variant.name, shards: [`${o.shard.index}/${o.shard.count}`] },
    kernel: o.vm.kernel, variant: o.variant.name, programs: keep.length, ops, mismatches,
    bootSeconds: Math.round(mid * 10) / 10,
    programsPerSecond: Math.round((keep.length / Math.max(0.001, runSeconds)) * 10) / 10,
    coverage, boots, wallSeconds: Math.round((Date.now() - t0) / 100) / 10, skipped: all.length - keep.length, problems, kernelWarnings,
  };
  writeFileAtomic(join(o.out, CONFORM_SUMMARY), JSON.stringify(ConformResultSchema.parse(result), null, 2) + '\n');
  return result;
}

export function isConform(dir: string): boolean {
  return existsSync(join(dir, CONFORM_SUMMARY));
}

export function readConform(dir: string): ConformResult {
  const file = join(dir, CONFORM_SUMMARY);
  return parseWith(ConformResultSchema, readJsonFile(file, 'conformance summary'), printable(file));
}

// Shards of one conformance run into one folder: the same plan but the
// shard, no shard twice; counts summed, coverage added up, mismatch files
// copied.  Every input is read and checked before anything is written;
// the caller holds `out`, new or empty (writeNewFolder).
export function mergeConform(dirs: string[], out: string): ConformResult {
  const parts = dirs.map((d) => ({ dir: d, r: readConform(d) }));
  const first = parts[0].r;
  const shards = new Set<string>();
  for (const { dir, r } of parts) {
    const { shards: s, ...plan } = r.plan;
    const { shards: _f, ...plan0 } = first.plan;
    if (JSON.stringify(plan) !== JSON.stringify(plan0) || r.kernel !== first.kernel) throw new FileError(`${printable(dir)}: not a shard of the same conformance run as ${printable(parts[0].dir)} (seed, runs, variant or kernel differ)`);
    for (const x of s) {
      if (shards.has(x)) throw new FileError(`${printable(dir)}: shard ${x} given twice`);
      shards.add(x);
    }
  }
  const files = parts.flatMap(({ dir, r }) => r.mismatches.map((m) => {
    const name = basename(m.file);
    if (!/^[0-9a-f]{16}\.json$/.test(name)) throw new FileError(`${printable(dir)}: mismatch file ${printable(m.file)} is not <hash>.json`);
    const src = join(dir, 'kernel-mismatch', name);
    return { m, name, mismatch: parseWith(MismatchSchema, readJsonFile(src, 'kernel-mismatch file'), printable(src)) };
  }));
  const coverage: ConformResult['coverage'] = Object.create(null);
  for (const { r } of parts) {
    for (const [op, outs] of Object.entries(r.coverage)) {
      const per = (coverage[op] ??= Object.create(null) as Record<string, number>);
      for (const [k, v] of Object.entries(outs)) per[k] = (per[k] ?? 0) + v;
    }
  }
  const sum = (f: (r: ConformResult) => number) => parts.reduce((a, p) => a + f(p.r), 0);
  const mismatches = files.map(({ m, name, mismatch }) => {
    const file = join(out, 'kernel-mismatch', name);
    writeFileAtomic(file, JSON.stringify(mismatch, null, 2) + '\n');
    return { ...m, file };
  });
  const boots = parts.map((p) => p.r.bootSeconds).sort((a, b) => a - b);
  const merged: ConformResult = {
    ...first, plan: { ...first.plan, shards: [...shards].sort() }, programs: sum((r) => r.programs), ops: sum((r) => r.ops), mismatches,
    bootSeconds: boots[boots.length >> 1], programsPerSecond: Math.round((sum((r) => r.programs) / Math.max(0.001, sum((r) => r.programs / Math.max(0.001, r.programsPerSecond)))) * 10) / 10,
    coverage, boots: sum((r) => r.boots), wallSeconds: Math.max(...parts.map((p) => p.r.wallSeconds)), skipped: sum((r) => r.skipped),
    problems: parts.flatMap((p) => p.r.problems), kernelWarnings: parts.flatMap((p) => p.r.kernelWarnings),
  };
  if (first.threads) {
    const t = first.threads;
    const add = (f: (x: typeof t) => number) => parts.reduce((a, p) => a + (p.r.threads ? f(p.r.threads) : 0), 0);
    merged.threads = { threads: t.threads, histories: add((x) => x.histories), linearizable: add((x) => x.linearizable), notLinearizable: add((x) => x.notLinearizable), unknown: add((x) => x.unknown), hangs: add((x) => x.hangs), specRuns: Math.max(...parts.map((p) => p.r.threads?.specRuns ?? 0)) };
  }
  writeFileAtomic(join(out, CONFORM_SUMMARY), JSON.stringify(ConformResultSchema.parse(merged), null, 2) + '\n');
  return merged;
}

function writeMismatch(out: string, m: Mismatch): string {
  const path = join(out, 'kernel-mismatch', `${mismatchHash(m)}.json`);
  writeFileAtomic(path, JSON.stringify(MismatchSchema.parse(m), null, 2) + '\n');
  return path;
}

// What makes two mismatches the same: the operation and both outcomes.
const signature = (m: Mismatch) => `${m.opText.split(' ')[0]}|${m.expected}|${m.observed}`;

// Smaller programs: the ops up to the step that differed (what follows it
// cannot change its outcome), then each run of half, a quarter, ... of the
// ops taken out, down to one operation less, each way (ddmin's chunks),
// then each NIC work request taken out.
function smaller(m: Mismatch, exp: Expectation): TestCase[] {
  const tc = { ...m.testCase, schedule: [] };
  const ops = tc.threads[0].ops;
  const withOps = (list: Op[]) => ({ ...tc, threads: [{ ...tc.threads[0], ops: list }] });
  const upTo = m.op >= 0 ? exp.steps[m.op]?.ops ?? ops.length : ops.length;
  const out = upTo < ops.length ? [withOps(ops.slice(0, Math.max(1, upTo)))] : [];
  for (let size = Math.max(1, ops.length >> 1); ; size >>= 1) {
    for (let at = 0; at < ops.length; at += size) if (ops.length - size >= 1) out.push(withOps([...ops.slice(0, at), ...ops.slice(at + size)]));
    if (size === 1) break;
  }
  tc.nic.forEach((_, i) => out.push({ ...tc, nic: tc.nic.filter((_, j) => j !== i) }));
  // the same length, one op naming the first object of its kind: an op
  // that only shifted the index of the one that matters can then go
  ops.forEach((op, i) => {
    for (const key of INDEX_KEYS) if (((op as Record<string, unknown>)[key] as number) > 0) out.push(withOps(ops.map((o, j) => (j === i ? { ...o, [key]: 0 } : o))));
  });
  return out;
}

const INDEX_KEYS = ['fd', 'map', 'mr'];

// A shrunk program is better when shorter, then when its ops name lower
// fds, mappings and registrations.
function cost(x: TestCase): number {
  let names = 0;
  for (const op of x.threads[0].ops) for (const key of INDEX_KEYS) names += ((op as Record<string, unknown>)[key] as number | undefined) ?? 0;
  return (x.threads[0].ops.length + x.nic.length) * 4096 + Math.min(names, 4095);
}

export const SHRINK_ROUNDS = 8;

// A guess the first round adds, so that most mismatches shrink in a boot
// or two rather than a round per halving: the program shrunk on the model
// alone, as far as the model still expects, of the same op, what the
// kernel contradicted.  Only the kernel's answer decides whether
// it shows the mismatch.
function modelShrunk(o: ConformOptions, m: Mismatch): TestCase | null {
  if (m.op < 0) return null;
  const expect = (tc: TestCase) => (o.expect ?? expectation)(o.variant, tc);
  // the op itself, but for the indices a shrink may lower
  const bare = (op: Op | NicOp) => JSON.stringify(op, (key, v) => (INDEX_KEYS.includes(key) ? undefined : v));
  const first = expect(m.testCase).steps[m.op];
  if (!first) return null;
  const same = bare(first.op);
  let cur: Mismatch = m;
  let changed = false;
  for (let tries = 0; tries < 64; tries++) {
    let next: Mismatch | null = null;
    for (const tc of smaller(cur, expect(cur.testCase))) {
      if (cost(tc) >= cost(cur.testCase)) continue;
      const exp = expect(tc);
      if (exp.modelDivergence !== null) continue;
      const at = exp.steps.findIndex((st) => bare(st.op) === same && st.expected === m.expected);
      if (at >= 0 && (!next || cost(tc) < cost(next.testCase))) next = { ...cur, testCase: tc, op: at };
    }
    if (!next) break;
    cur = next;
    changed = true;
  }
  return changed ? cur.testCase : null;
}

// Shrinks each mismatch on the model and re-checks every candidate on the
// kernel: a round boots once with every candidate of every mismatch, and
// each mismatch moves to its simplest candidate (cost) that still shows
// the same mismatch; rounds go on while one got simpler.
async function shrinkMismatches(o: ConformOptions, ms: Mismatch[], listed: ReturnType<typeof listedMismatches>, booted: () => void): Promise<Map<Mismatch, Mismatch>> {
  const out = new Map<Mismatch, Mismatch>(ms.map((m) => [m, m]));
  let current = new Map(out);
  for (let round = 0; round < SHRINK_ROUNDS && current.size; round++) {
    const cands: { from: Mismatch; tc: TestCase; exp: Expectation }[] = [];
    for (const m of current.values()) {
      for (const tc of smaller(m, (o.expect ?? expectation)(o.variant, m.testCase))) {
        const exp = (o.expect ?? expectation)(o.variant, tc);
        if (exp.modelDivergence === null) cands.push({ from: m, tc, exp });
      }
      if (round === 0) {
        const guess = modelShrunk(o, m);
        if (guess) cands.push({ from: m, tc: guess, exp: (o.expect ?? expectation)(o.variant, guess) });
      }
    }
    if (!cands.length) break;
    const r = await o.boot(batchText(cands.map((c) => c.tc), cands.map((c) => c.exp)));
    booted();
    const seen = parseOutput(r.lines);
    const next = new Map<Mismatch, Mismatch>();
    for (const [orig, m] of current) {
      let best: Mismatch | null = null;
      cands.forEach((c, j) => {
        if (c.from !== m) return;
        const got = compare(o.vm.kernel, o.variant, c.tc, c.exp, seen.results.get(j), seen.files.get(j), listed);
        if (got && signature(got) === signature(m) && cost(c.tc) < cost((best ?? m).testCase)) best = got;
      });
      if (best) {
        out.set(orig, best);
        next.set(orig, best);
      }
    }
    current = next;
  }
  return out;
}
