// The second shrink.  fast-check's shrink stops at a local minimum of its
// own value tree; this one takes the result and tries every single
// removal and simplification again, keeping a candidate only if it still
// diverges with the same class, until nothing more can be removed.  So one
// bug cannot turn into another while it shrinks, and the result is
// 1-minimal: taking out any one op, thread, schedule entry or fault loses
// the divergence of that class.

import { blocksNeeded, type NicOp, type Op, type TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import type { DivergenceClass } from '../properties/classes.ts';
import { runTestCase, type RunOptions } from './lockstep.ts';
import { explore } from './explore.ts';

export function sameClass(variant: Variant, cls: DivergenceClass, opts: RunOptions = {}) {
  return (tc: TestCase): boolean => runTestCase(variant, tc, opts).divergence?.class === cls;
}

function clone(tc: TestCase): TestCase {
  return structuredClone(tc);
}

// Every test case one simplification away from tc, most drastic first.
function* candidates(tc: TestCase): Generator<TestCase> {
  const n = tc.threads.length;
  for (let t = 0; t < n && n > 1; t++) {
    const c = clone(tc);
    c.threads.splice(t, 1);
    c.faults = c.faults.filter((f) => f.thread !== t).map((f) => (f.thread > t ? { ...f, thread: f.thread - 1 } : f));
    yield c;
  }
  if (tc.cycle.length) yield { ...clone(tc), cycle: [] };
  for (let i = 0; i < tc.faults.length; i++) {
    const c = clone(tc);
    c.faults.splice(i, 1);
    yield c;
  }
  if (tc.schedule.length) yield { ...clone(tc), schedule: [] };
  let end = tc.schedule.length;
  while (end > 0 && tc.schedule[end - 1] === 0) end--;
  if (end < tc.schedule.length) yield { ...clone(tc), schedule: tc.schedule.slice(0, end) }; // trailing "no preemption"s
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < tc.threads[t].ops.length; i++) {
      const c = clone(tc);
      c.threads[t].ops.splice(i, 1);
      yield c;
    }
  }
  for (let i = 0; i < tc.nic.length; i++) {
    const c = clone(tc);
    c.nic.splice(i, 1);
    yield c;
  }
  // chunks of the schedule first (ddmin), then single entries
  for (let size = tc.schedule.length >> 1; size >= 2; size >>= 1) {
    for (let i = tc.schedule.length - size; i >= 0; i -= size) {
      const c = clone(tc);
      c.schedule.splice(i, size);
      yield c;
    }
  }
  for (let i = tc.schedule.length - 1; i >= 0; i--) {
    const c = clone(tc);
    c.schedule.splice(i, 1);
    yield c;
  }
  for (let i = 0; i < tc.cycle.length; i++) {
    const c = clone(tc);
    c.cycle.splice(i, 1);
    yield c;
  }
  for (let i = 0; i < tc.schedule.length; i++) {
    if (tc.schedule[i] === 0) continue;
    const c = clone(tc);
    c.schedule[i] = 0;
    yield c;
    if (tc.schedule[i] > 1) {
      const d = clone(tc);
      d.schedule[i] = tc.schedule[i] - 1;
      yield d;
    }
  }
  for (let t = 0; t < n; t++) {
    if (tc.threads[t].loop) {
      const c = clone(tc);
      c.threads[t].loop = false;
      yield c;
    }
  }
  for (let i = 0; i < tc.faults.length; i++) {
    if (tc.faults[i].nth > 0) {
      const c = clone(tc);
      c.faults[i].nth--;
      yield c;
    }
  }
  yield* configCandidates(tc);
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < tc.threads[t].ops.length; i++) {
      for (const op of simplerOps(tc.threads[t].ops[i])) {
        const c = clone(tc);
        c.threads[t].ops[i] = op;
        yield c;
      }
    }
  }
  for (let i = 0; i < tc.nic.length; i++) {
    for (const op of simplerOps(tc.nic[i])) {
      const c = clone(tc);
      c.nic[i] = op;
      yield c;
    }
  }
}

function* configCandidates(tc: TestCase): Generator<TestCase> {
  const cfg = tc.config;
  for (let i = cfg.files.length - 1; i >= 1; i--) {
    const c = clone(tc);
    c.config.files.splice(i, 1);
    yield c;
  }
  for (let i = cfg.procs.length - 1; i >= 1; i--) {
    const c = clone(tc);
    c.config.procs.splice(i, 1);
    c.threads.forEach((t) => (t.proc = t.proc % c.config.procs.length));
    yield c;
  }
  if (cfg.leaseBreakTime > 1) {
    const c = clone(tc);
    c.config.leaseBreakTime = 1;
    yield c;
  }
  if (cfg.pmd) {
    const c = clone(tc);
    delete c.config.pmd; // no PMD mappings: the simpler world
    yield c;
  }
  const used = blocksNeeded(cfg);
  if (cfg.blocks > Math.max(1, used)) {
    const c = clone(tc);
    c.config.blocks = Math.max(1, used);
    yield c;
    if (cfg.blocks - 1 > used) {
      const d = clone(tc);
      d.config.blocks--;
      yield d;
    }
  }
  for (let i = 0; i < cfg.files.length; i++) {
    const f = cfg.files[i];
    const tweak = (g: (x: typeof f) => void) => {
      const c = clone(tc);
      g(c.config.files[i]);
      return c;
    };
    if (f.size > 0) yield tweak((x) => x.size--);
    if (f.sparse) yield tweak((x) => (x.sparse = false));
    if (f.reflink) yield tweak((x) => (x.reflink = false));
    if (f.owner > 0) yield tweak((x) => (x.owner = 0));
  }
  for (let i = 0; i < cfg.procs.length; i++) {
    if (cfg.procs[i].capLease) {
      const c = clone(tc);
      c.config.procs[i].capLease = false;
      yield c;
    }
    if (cfg.procs[i].capImmutable) {
      const c = clone(tc);
      c.config.procs[i].capImmutable = false;
      yield c;
    }
    if (cfg.procs[i].uid > 0) {
      const c = clone(tc);
      c.config.procs[i].uid = 0;
      yield c;
    }
  }
}

// The same op with one argument moved toward zero or false.
function* simplerOps<T extends Op | NicOp>(op: T): Generator<T> {
  for (const [key, v] of Object.entries(op)) {
    if (key === 'op') continue;
    const least = key === 'val' ? 1 : 0;
    if (typeof v === 'number' && v > least) {
      yield { ...op, [key]: least };
      if (v - 1 > least) yield { ...op, [key]: v - 1 };
    }
    if (v === true) yield { ...op, [key]: false };
    if (key === 'type' && v !== 'shared') yield { ...op, type: 'shared' };
    if (key === 'mode' && v !== 'punch') yield { ...op, mode: 'punch' };
  }
}

// After a success the next pass resumes at the same kind of simplification
// rather than at the most drastic, which would only be tried again in
// vain; the result is 1-minimal once a whole pass from the start fails.
// `halt` (an interrupted campaign) ends it early with the best so far.
export function shrinkSameClass(tc: TestCase, keeps: (tc: TestCase) => boolean, budget = 6000, halt?: () => boolean): TestCase {
  let best = tc;
  let tries = 0;
  let from = 0;
  for (;;) {
    let progress = false;
    let j = 0;
    for (const c of candidates(best)) {
      if (j++ < from) continue;
      if (blocksNeeded(c.config) > c.config.blocks) continue; // e.g. a sparse file made dense
      if (++tries > budget || halt?.()) return best;
      if (keeps(c)) {
        best = c;
        progress = true;
        from = j - 1;
        break;
      }
    }
    if (!progress) {
      if (from === 0) return best;
      from = 0;
    }
  }
}

// States the schedule search below may visit: the shrunk programs of the
// known bugs have at most a few thousand.
export const SCHEDULE_SEARCH_STATES = 20_000;

// The same program's shortest interleaving: breadth-first over its
// schedules (the explorer) up to one step short of the run's length.  The
// first-shrunk schedule is only 1-minimal; a shorter one, with preemptions
// elsewhere, is often there.  Kept only when it diverges with the same
// class; an exploration that meets another class first, or runs out of
// states, leaves the case as it is.  With the steps of what it returns.
export function shortestSchedule(variant: Variant, tc: TestCase, cls: DivergenceClass, maxStates = SCHEDULE_SEARCH_STATES): { testCase: TestCase; steps: number } {
  const length = runTestCase(variant, tc).steps;
  const { repeatFrom: _, ...program } = tc;
  const r = explore(variant, { ...program, schedule: [], cycle: [] }, { depth: length - 1, maxStates });
  if (r.divergence?.class === cls && r.testCase) {
    const run = runTestCase(variant, r.testCase);
    if (run.divergence?.class === cls && run.steps < length) return { testCase: r.testCase, steps: run.steps };
  }
  return { testCase: tc, steps: length };
}

// A divergence of class `cls` shrunk as far as this harness can: the
// same-class shrink, then the shortest schedule of what is left, then
// the shrink again on that, now keeping only what runs no longer (taking
// a schedule entry out can move a preemption later and the divergence
// with it).
export function shrinkDivergence(variant: Variant, tc: TestCase, cls: DivergenceClass, halt?: () => boolean): TestCase {
  const small = shrinkSameClass(tc, sameClass(variant, cls), undefined, halt);
  if (halt?.()) return small;
  const short = shortestSchedule(variant, small, cls);
  if (short.testCase === small) return small;
  return shrinkSameClass(short.testCase, (c) => {
    const r = runTestCase(variant, c);
    return r.divergence?.class === cls && r.steps <= short.steps;
  }, undefined, halt);
}
