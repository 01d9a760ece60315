// Mutation of test cases, for the coverage-guided search.  Every mutation
// keeps the test case valid; new ops and values come from the same
// arbitraries as generation, drawn with a seed from the caller's RNG, so
// a search is reproducible from its seed.

import fc from 'fast-check';
import { LIMITS, OP_NAMES, blocksNeeded, type NicOp, type Op, type TestCase } from '../models/testcase.ts';
import { arbConfig, arbNicOp, arbOpOf, arbPick, arbTestCase } from './arbitraries.ts';

export type Rng = () => number;

const allOps = arbOpOf(OP_NAMES);

function draw<T>(arb: fc.Arbitrary<T>, rng: Rng): T {
  return fc.sample(arb, { seed: Math.floor(rng() * 0x7fffffff), numRuns: 1 })[0];
}

function int(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

export function freshTestCase(rng: Rng): TestCase {
  return draw(arbTestCase, rng);
}

// One argument of one op changed a little: a flag flipped, an index or
// value moved by one or to zero; the rest of the op, which may be what
// got it kept, stays.
function tweak(ops: (Op | NicOp)[], i: number, rng: Rng): void {
  const op = ops[i] as unknown as Record<string, unknown>;
  const keys = Object.keys(op).filter((key) => key !== 'op');
  if (!keys.length) return;
  const key = keys[int(rng, keys.length)];
  const v = op[key];
  if (typeof v === 'boolean') op[key] = !v;
  else if (typeof v === 'number') {
    const least = key === 'val' ? 1 : 0;
    const r = int(rng, 3);
    op[key] = r === 0 ? least : Math.max(least, Math.min(key === 'at' ? LIMITS.maxTime : 7, v + (r === 1 ? 1 : -1)));
  } else ops[i] = draw(arbOpOf([(ops[i] as Op).op]), rng); // an enumerated argument: draw the op again
}

type Mutation = (tc: TestCase, rng: Rng, donor: () => TestCase) => void;

const MUTATIONS: [number, Mutation][] = [
  // ops
  [6, (tc, rng) => {
    const t = tc.threads[int(rng, tc.threads.length)];
    if (t.ops.length < LIMITS.opsPerThread) t.ops.splice(int(rng, t.ops.length + 1), 0, draw(allOps, rng));
  }],
  [3, (tc, rng) => {
    const t = tc.threads[int(rng, tc.threads.length)];
    if (t.ops.length) t.ops.splice(int(rng, t.ops.length), 1);
  }],
  [5, (tc, rng) => {
    const t = tc.threads[int(rng, tc.threads.length)];
    if (!t.ops.length) return;
    const i = int(rng, t.ops.length);
    t.ops[i] = draw(arbOpOf([t.ops[i].op]), rng);
  }],
  [6, (tc, rng) => {
    const t = tc.threads[int(rng, tc.threads.length)];
    if (t.ops.length) tweak(t.ops, int(rng, t.ops.length), rng);
  }],
  [2, (tc, rng) => {
    const t = tc.threads[int(rng, tc.threads.length)];
    if (t.ops.length && t.ops.length < LIMITS.opsPerThread) {
      const i = int(rng, t.ops.length);
      t.ops.splice(i, 0, structuredClone(t.ops[i]));
    }
  }],
  [2, (tc, rng) => {
    const t = tc.threads[int(rng, tc.threads.length)];
    if (t.ops.length < 2) return;
    const i = int(rng, t.ops.length - 1);
    [t.ops[i], t.ops[i + 1]] = [t.ops[i + 1], t.ops[i]];
  }],
  [2, (tc, rng) => {
    if (tc.threads.length < 2) return;
    const from = tc.threads[int(rng, tc.threads.length)];
    const to = tc.threads[int(rng, tc.threads.length)];
    if (from === to || !from.ops.length || to.ops.length >= LIMITS.opsPerThread) return;
    to.ops.splice(int(rng, to.ops.length + 1), 0, from.ops.splice(int(rng, from.ops.length), 1)[0]);
  }],
  // threads
  [2, (tc, rng, lend) => {
    if (tc.threads.length >= LIMITS.threads) return;
    const donor = lend();
    const src = donor.threads[int(rng, donor.threads.length)];
    tc.threads.push({ ...structuredClone(src), proc: src.proc % tc.config.procs.length });
  }],
  [1, (tc, rng) => {
    if (tc.threads.length < 2) return;
    const i = int(rng, tc.threads.length);
    tc.threads.splice(i, 1);
    tc.faults = tc.faults.filter((f) => f.thread !== i).map((f) => (f.thread > i ? { ...f, thread: f.thread - 1 } : f));
  }],
  [1, (tc, rng) => {
    const t = tc.threads[int(rng, tc.threads.length)];
    t.loop = !t.loop;
  }],
  [1, (tc, rng) => {
    const t = tc.threads[int(rng, tc.threads.length)];
    t.proc = int(rng, tc.config.procs.length);
  }],
  // schedule
  [6, (tc, rng) => {
    if (tc.schedule.length < 256) tc.schedule.splice(int(rng, tc.schedule.length + 1), 0, draw(arbPick, rng));
  }],
  [3, (tc, rng) => {
    if (tc.schedule.length) tc.schedule.splice(int(rng, tc.schedule.length), 1);
  }],
  [4, (tc, rng) => {
    if (tc.schedule.length) tc.schedule[int(rng, tc.schedule.length)] = int(rng, 8);
  }],
  [3, (tc, rng) => {
    // a preemption moved one step earlier or later: into a window the
    // run came near
    if (!tc.schedule.length || tc.schedule.length >= 256) return;
    const i = int(rng, tc.schedule.length);
    if (i === tc.schedule.length - 1) tc.schedule.push(0);
    const j = i > 0 && rng() < 0.5 ? i - 1 : i + 1;
    [tc.schedule[i], tc.schedule[j]] = [tc.schedule[j], tc.schedule[i]];
  }],
  [2, (tc, rng) => {
    // a preemption deep in the run: pad with "no preemption" first
    const n = 1 + int(rng, 40);
    if (tc.schedule.length + n < 256) tc.schedule.push(...new Array(n - 1).fill(0), 1 + int(rng, 7));
  }],
  [1, (tc, rng) => {
    if (!tc.threads.some((t) => t.loop)) tc.cycle = [];
    else if (tc.cycle.length < 8 && rng() < 0.7) tc.cycle.push(int(rng, 8));
    else tc.cycle.splice(int(rng, Math.max(1, tc.cycle.length)), 1);
  }],
  // the NIC
  [2, (tc, rng) => {
    if (tc.nic.length < LIMITS.nicOps) tc.nic.splice(int(rng, tc.nic.length + 1), 0, draw(arbNicOp, rng));
  }],
  [1, (tc, rng) => {
    if (tc.nic.length) tc.nic.splice(int(rng, tc.nic.length), 1);
  }],
  [2, (tc, rng) => {
    if (tc.nic.length) tweak(tc.nic, int(rng, tc.nic.length), rng);
  }],
  // faults
  [1, (tc, rng) => {
    if (tc.faults.length < 3) tc.faults.push({ kind: rng() < 0.5 ? 'signal' : 'alloc', thread: int(rng, tc.threads.length), nth: int(rng, 3) });
    else tc.faults.splice(int(rng, tc.faults.length), 1);
  }],
  // configuration
  [2, (tc, rng) => {
    const f = tc.config.files[int(rng, tc.config.files.length)];
    const what = int(rng, 5);
    if (what === 0) f.dax = !f.dax;
    else if (what === 1) f.size = int(rng, LIMITS.pagesPerFile + 1);
    else if (what === 2) f.sparse = !f.sparse;
    else if (what === 3) f.owner = int(rng, 2);
    else f.reflink = !f.reflink;
  }],
  [1, (tc, rng) => {
    const p = tc.config.procs[int(rng, tc.config.procs.length)];
    const what = int(rng, 3);
    if (what === 0) p.uid = int(rng, 2);
    else if (what === 1) p.capLease = !p.capLease;
    else p.capImmutable = !p.capImmutable;
  }],
  [1, (tc, rng) => {
    const c = draw(arbConfig, rng);
    if (rng() < 0.5 && tc.config.files.length < LIMITS.files) tc.config.files.push(c.files[0]);
    else if (tc.config.procs.length < 2) tc.config.procs.push(c.procs[0]);
    else tc.config.blocks = Math.max(1, tc.config.blocks + (rng() < 0.5 ? -1 : 1));
  }],
];

const TOTAL = MUTATIONS.reduce((n, [w]) => n + w, 0);

// One to four mutations of a copy of `tc`; `donor` lends threads (asked
// only when a mutation takes one).
// A preemption at a step where the parent's run had a choice of thread:
// most steps of a run have none, and a race's window is one of the few.
function preemptAtChoice(tc: TestCase, rng: Rng, choices: ArrayLike<number>): void {
  if (!choices.length) return;
  const at = choices[int(rng, choices.length)];
  while (tc.schedule.length <= at) tc.schedule.push(0);
  tc.schedule[at] = 1 + int(rng, 7);
}

// `choices`: the steps of tc's own run where more than one thread could run.
export function mutate(tc: TestCase, rng: Rng, donor: () => TestCase, choices: ArrayLike<number> = []): TestCase {
  const out = structuredClone(tc);
  const n = 1 + Math.floor(-Math.log2(1 - rng() * 0.9375)); // 1 with p 1/2, 2 with p 1/4, ...
  for (let i = 0; i < n; i++) {
    if (choices.length && rng() < 0.1) {
      preemptAtChoice(out, rng, choices);
      continue;
    }
    let r = rng() * TOTAL;
    for (const [w, m] of MUTATIONS) {
      if ((r -= w) < 0) {
        m(out, rng, donor);
        break;
      }
    }
  }
  out.config.blocks = Math.min(LIMITS.maxBlocks, Math.max(out.config.blocks, blocksNeeded(out.config), 1));
  while (blocksNeeded(out.config) > LIMITS.maxBlocks) out.config.files.pop();
  for (const t of out.threads) t.proc %= out.config.procs.length;
  out.faults = out.faults.filter((f) => f.thread < out.threads.length);
  if (!out.threads.some((t) => t.loop)) out.cycle = [];
  return out;
}
