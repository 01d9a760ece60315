// The lockstep runner: executes a test case on the implementation model,
// driving the reference model alongside, and checks every step.
//
// Scheduling: before each step the runnable threads are ordered starting
// with the thread that ran last (if it can still run), then by thread
// number after it; the schedule entry x picks entry x % n.  So 0 means
// "no preemption".  After `schedule` comes the tail, time-sliced as a
// real scheduler is: the running thread keeps the CPU until it blocks,
// ends or has run `quantum` steps, and only then does the next `cycle`
// entry (0 if there is none) choose who runs next.  So a tail can starve
// a sleeper, as a kernel can, but cannot preempt a thread at one chosen
// step forever, which no real scheduler does.  A test case with
// `repeatFrom` has no tail: its schedule from that entry on repeats
// forever (a lasso written down by the explorer).

import type { Op, TestCase } from '../models/testcase.ts';
import { formatOp } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import { Reference } from '../models/reference/index.ts';
import { Kernel, DONE } from '../models/impl/kernel.ts';
import { runnable, step, type StepInfo } from '../models/impl/syscalls.ts';
import { checkDeadlock, checkStep, starvedOutsideThePromise } from '../properties/checks.ts';
import { Lockdep } from '../properties/lockdep.ts';
import { divergence, type Divergence } from '../properties/classes.ts';
import { stateKey } from './fingerprint.ts';
import { labelId, type Coverage } from './coverage.ts';
import { createHash } from 'node:crypto';

// The fair tail's time slice: long enough that a syscall is not preempted
// where the schedule did not ask for it, short enough that a spinning
// thread cannot starve the others.
export const QUANTUM = 64;

export interface RunOptions {
  maxSteps?: number;
  quantum?: number;
  coverage?: Coverage; // collects what the run reached
  // An online scheduler (random walk, PCT) for the first `picker.horizon`
  // steps: it chooses instead of tc.schedule, and its choices are recorded
  // as the schedule (RunResult.schedule), so the run replays from plain data.
  picker?: Picker;
  // Called after every step with the execution and the step's trace entry
  // (the report's recorder looks at locks, waits and pages here).
  observe?: (ex: Execution, entry: TraceStep) => void;
}

// Chooses an index into `order` (the runnable threads in run order, as a
// schedule entry would) before step `step`.
export interface Picker {
  horizon: number;
  pick(order: readonly number[], step: number): number;
}

export interface TraceStep {
  step: number;
  tid: number;
  thread: string;
  fn: string;
  label: string;
  op: Op | null; // the process thread's operation
  result?: number | string;
}

export interface RunResult {
  divergence: Divergence | null;
  steps: number;
  finished: boolean; // every program ran to its end
  trace: TraceStep[];
  traceHash: string;
  schedule?: number[]; // with a picker: the choices it made, a schedule that replays this run
}

// The runnable threads in the order a schedule entry indexes: the one that
// ran last first (if it can run), then by thread number after it.
// `runnableIds` ascending, as Execution.runnableIds gives them: the ids
// from `current` on, then the ones before it.
export function runOrder(runnableIds: number[], current: number): number[] {
  let i = 0;
  while (i < runnableIds.length && runnableIds[i] < current) i++;
  if (i === 0) return runnableIds;
  return runnableIds.slice(i).concat(runnableIds.slice(0, i));
}

export class Scheduler {
  current = 0;
  run = 0; // consecutive steps of `current`
  i = 0;
  slices = 0; // context switches in the tail
  readonly repeatFrom: number; // -1: the tail follows the schedule
  constructor(readonly schedule: number[], readonly cycle: number[], readonly quantum: number, repeatFrom = -1, private readonly picker?: Picker) {
    this.repeatFrom = repeatFrom < schedule.length ? repeatFrom : -1;
  }

  inTail(): boolean {
    return this.i >= this.schedule.length;
  }

  // Whether the tail must switch threads before the next step, or a
  // repeating schedule starts over: a point a periodic run passes once a
  // period, where lassos are looked for.
  atBoundary(runnableIds: number[]): boolean {
    if (this.repeatFrom >= 0) return this.i === this.repeatFrom;
    return this.inTail() && (this.run >= this.quantum || !runnableIds.includes(this.current));
  }

  // Where in the schedule the next pick comes from, for lasso detection.
  position(): string {
    if (this.repeatFrom >= 0) return `r${this.i}:${this.current}`;
    if (!this.inTail()) return `s${this.i}`;
    return `t${this.cycle.length ? this.slices % this.cycle.length : 0}:${this.current}`;
  }

  pick(runnableIds: number[]): number {
    const order = runOrder(runnableIds, this.current);
    let x = 0;
    let slice = false; // a new time slice starts
    if (this.i < this.schedule.length) {
      if (this.picker) this.schedule[this.i] = this.picker.pick(order, this.i);
      x = this.schedule[this.i];
    } else if (this.atBoundary(runnableIds)) {
      const c = this.cycle.length ? this.cycle[this.slices % this.cycle.length] : 0;
      this.slices++;
      slice = true;
      // a thread whose slice is over yields to another, if there is one
      x = order[0] === this.current && order.length > 1 ? 1 + (c % (order.length - 1)) : c;
    }
    this.i++;
    if (this.i === this.schedule.length && this.repeatFrom >= 0) this.i = this.repeatFrom;
    const choice = order[x % order.length];
    if (choice === this.current) this.run = slice ? 1 : this.run + 1;
    else {
      this.current = choice;
      this.run = 1;
    }
    return choice;
  }
}

// One lockstep execution: both models and the lock-order checker, stepped
// a thread at a time and checked after every step.  The runner below and
// the explorer (fuzz/explore.ts) both drive it.
export class Execution {
  readonly ref: Reference;
  readonly k: Kernel;
  readonly lockdep = new Lockdep();
  private seenVersion = -1;
  constructor(variant: Variant, tc: TestCase) {
    this.ref = new Reference(variant.contract, tc, variant.kernel);
    this.k = new Kernel(variant, tc, this.ref);
  }

  runnableIds(): number[] {
    const ids: number[] = [];
    for (const t of this.k.threads) if (runnable(this.k, t)) ids.push(t.id);
    return ids;
  }

  // A step of thread `tid`; its events stay in k.events until the next.
  // The abstraction is compared only after steps the reference saw.
  // The page checks look only at what the step touched, except after the
  // first step, when nothing checked has yet covered the initial state.
  advance(tid: number): { info: StepInfo; divergence: Divergence | null } {
    this.k.clearStep();
    const info = step(this.k, tid);
    const divergence = checkStep(this.k, this.ref, this.lockdep, this.ref.version !== this.seenVersion, this.seenVersion < 0);
    this.seenVersion = this.ref.version;
    return { info, divergence };
  }

  // The final states, compared in full.
  finalCheck(): Divergence | null {
    this.k.clearStep();
    return checkStep(this.k, this.ref, this.lockdep, true, true);
  }
}

export function runTestCase(variant: Variant, tc: TestCase, opts: RunOptions = {}): RunResult {
  const picker = opts.picker;
  // a picker's choices fill a schedule as long as its horizon, read back as
  // any schedule is
  const schedule = picker ? new Array<number>(picker.horizon).fill(0) : tc.schedule;
  const sched = new Scheduler(schedule, tc.cycle, opts.quantum ?? QUANTUM, picker ? -1 : tc.repeatFrom, picker);
  const looping = tc.threads.some((t) => t.loop && t.ops.length > 0) || sched.repeatFrom >= 0;
  // A run of finite programs ends by itself; a looping one is cut off,
  // having had ample time to show a lasso.
  const maxSteps = opts.maxSteps ?? (looping ? 600 : 4000);
  const ex = new Execution(variant, tc);
  const { k, ref } = ex;
  const trace: TraceStep[] = [];
  const enabled: number[] = []; // runnable threads before each step, as a mask
  const excused: number[] = []; // threads starved outside the promise before each step, as a mask
  const seen = new Map<string, number>(); // state at a tail step -> step index
  let found: Divergence | null = null;
  let finished = false;
  let n = 0;
  for (; n < maxSteps; n++) {
    const ids = ex.runnableIds();
    if (ids.length === 0) {
      found = checkDeadlock(k);
      finished = found === null;
      break;
    }
    if (looping && sched.atBoundary(ids)) {
      const key = `${sched.position()}|${stateKey(k, ref)}`;
      const first = seen.get(key);
      if (first !== undefined) {
        found = lasso(k, trace, { enabled, excused }, first, n);
        break;
      }
      seen.set(key, n);
    }
    if (looping) {
      let mask = 0;
      for (const id of ids) mask |= 1 << id;
      enabled.push(mask);
      excused.push(excusedMask(ref));
    }
    if (opts.coverage && ids.length > 1) opts.coverage.choice(n);
    const tid = sched.pick(ids);
    const { info, divergence: d } = ex.advance(tid);
    if (opts.coverage) opts.coverage.step(tid, labelId(info.fnRef, info.pc), info.result, k.events);
    const entry: TraceStep = { step: n, tid, thread: k.threads[tid].name, fn: info.fn, label: info.label, op: info.op };
    if (info.result !== undefined) entry.result = info.result;
    trace.push(entry);
    if (opts.observe) opts.observe(ex, entry);
    if (d) {
      found = { ...d, step: n };
      n++;
      break;
    }
  }
  if (!found && n > 0) {
    const d = ex.finalCheck();
    if (d) found = { ...d, step: n - 1 };
  }
  if (found && found.step < 0) found = { ...found, step: n };
  let hash: string | null = null;
  const result: RunResult = {
    divergence: found, steps: n, finished, trace,
    get traceHash() {
      return (hash ??= hashTrace(trace)); // read only when a run is written down or replayed
    },
  };
  if (picker) result.schedule = schedule.slice(0, Math.min(n, schedule.length));
  return result;
}

// The run came back to a state it was in before, at the same point of the
// schedule: from here it repeats forever.  It is a no-progress lasso if an
// operation stays pending throughout the loop while every thread that
// stays runnable in the loop gets to run (weak fairness).  A thread
// starved outside the promise at any point of the loop (excusedMask) is
// not pending.  Before step i, `enabled[i]` is the mask of threads that
// could run and `excused[i]` of those starved outside the promise.
export function lasso(k: Kernel, trace: TraceStep[], masks: { enabled: number[]; excused: number[] }, from: number, to: number): Divergence | null {
  const loop = trace.slice(from, to);
  const ran = new Set(loop.map((s) => s.tid));
  const completed = new Set(loop.filter((s) => s.result !== undefined).map((s) => s.tid));
  let excused = 0;
  let always = -1;
  for (let i = from; i < to; i++) {
    excused |= masks.excused[i];
    always &= masks.enabled[i];
  }
  const pending = k.threads.filter((t) => t.kind === 'proc' && t.status !== DONE && !completed.has(t.id) && !(excused & (1 << t.id)));
  if (pending.length === 0) return null;
  // A thread runnable at every step of the loop but never run in it would
  // make the loop unfair.
  const starvedButReady = k.threads.filter((t) => !ran.has(t.id) && (always & (1 << t.id)) !== 0);
  if (starvedButReady.length > 0) return null;
  const names = pending.map((t) => `${t.name} in ${formatOp(t.prog[t.ip])}`);
  return divergence('no-progress', `${names.join(', ')} never completes: steps ${from}..${to - 1} repeat forever, and every thread that can run does`, {
    stem: from,
    loop: [from, to],
    pending: pending.map((t) => t.id),
  });
}

export function excusedMask(ref: Reference): number {
  let m = 0;
  for (const id of starvedOutsideThePromise(ref)) m |= 1 << id;
  return m;
}

export function hashTrace(trace: TraceStep[]): string {
  const h = createHash('sha256');
  for (const s of trace) h.update(`${s.tid}:${s.fn}:${s.label}:${s.result ?? ''}\n`);
  return h.digest('hex').slice(0, 16);
}
