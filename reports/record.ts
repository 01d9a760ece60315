// Replays a counterexample and writes down, step by step, what a reviewer
// needs to see that the runner itself does not keep: the locks each
// thread holds, who sleeps on what and who wakes whom, what each block
// belongs to, and the two abstract states where the run diverged.  The run
// is the runner's own (runTestCase with an observer), so the recording is
// the trace `daxcheck replay` checks, not a second interpretation of it.

import type { AbstractState } from '../models/abstract.ts';
import { BLOCKED, type Event, type Kernel } from '../models/impl/kernel.ts';
import { formatOp, type TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import { abstractImpl } from '../properties/abstraction.ts';
import { describeWait } from '../properties/checks.ts';
import type { Divergence } from '../properties/classes.ts';
import { Execution, runTestCase, type RunResult, type TraceStep } from '../fuzz/lockstep.ts';

export interface LaneInfo {
  id: number;
  name: string;
  kind: string; // proc, device, nic, timer, kworker
  proc: number;
}

export interface LockInfo {
  id: number;
  name: string; // "i_rwsem of file 0"
  cls: string;
}

// What a page was, as the kernel's struct page says: its owner (-1 free),
// the page of the file it backs, and its allocation epoch.
export interface PageState {
  page: number;
  owner: number;
  index: number;
  epoch: number;
}

export interface StepRecord {
  step: number;
  tid: number;
  fn: string;
  label: string;
  op: string | null; // the operation the thread is in (process threads, NIC)
  result: string | null; // set on the step an operation returns
  held: { lock: number; write: boolean }[][]; // per thread, after the step
  sleeps: string | null; // the stepping thread went to sleep: on what
  woke: number[]; // threads this step made runnable
  events: Event[]; // what the step did, lock attempts left out
  pages: PageState[]; // pages whose owner, index or epoch the step changed
  refs: { page: number; count: number }[]; // pages whose reference count the step changed (a pin, an unpin), and the count after
}

export interface Recording {
  variant: Variant;
  testCase: TestCase;
  lanes: LaneInfo[];
  locks: LockInfo[];
  initialPages: PageState[];
  blocks: number; // pages below this are persistent-memory blocks
  steps: StepRecord[];
  divergence: Divergence | null;
  run: RunResult;
  // the abstract states after the last step recorded (the divergent one)
  reference: AbstractState | null;
  implementation: AbstractState | null;
  waits: string[]; // who was asleep, and on what, at the end
}

function lockName(k: Kernel, id: number): string {
  const l = k.locks[id];
  return `${l.cls} of ${l.cls === 'mmap_sem' ? 'process' : 'file'} ${l.owner}`;
}

function pageState(k: Kernel, page: number): PageState {
  return { page, owner: k.pageOwner[page], index: k.pageIndex[page], epoch: k.pageEpoch[page] };
}

export function record(variant: Variant, tc: TestCase): Recording {
  const start = new Execution(variant, tc).k; // the state before the first step
  const steps: StepRecord[] = [];
  let ex = null as Execution | null;
  let was = start.threads.map((t) => t.status); // thread status before the step
  const owner = start.pageOwner.slice();
  const index = start.pageIndex.slice();
  const epoch = start.pageEpoch.slice();
  const ref = start.pageRef.slice();
  let nicIp = 0;
  const observe = (e: Execution, entry: TraceStep): void => {
    ex = e;
    const k = e.k;
    const t = k.threads[entry.tid];
    let op: string | null = entry.op ? formatOp(entry.op) : null;
    if (t.kind === 'nic' && k.nicIp !== nicIp) op = formatOp(k.nic[k.nicIp - 1]);
    nicIp = k.nicIp;
    const pages: PageState[] = [];
    for (let p = 0; p < k.npages; p++) {
      if (k.pageOwner[p] === owner[p] && k.pageIndex[p] === index[p] && k.pageEpoch[p] === epoch[p]) continue;
      pages.push(pageState(k, p));
      owner[p] = k.pageOwner[p];
      index[p] = k.pageIndex[p];
      epoch[p] = k.pageEpoch[p];
    }
    const refs: StepRecord['refs'] = [];
    for (let p = 0; p < k.npages; p++) {
      if (k.pageRef[p] === ref[p]) continue;
      refs.push({ page: p, count: k.pageRef[p] });
      ref[p] = k.pageRef[p];
    }
    const woke: number[] = [];
    for (const o of k.threads) if (o.id !== t.id && was[o.id] === BLOCKED && o.status !== BLOCKED) woke.push(o.id);
    steps.push({
      step: entry.step,
      tid: entry.tid,
      fn: entry.fn,
      label: entry.label,
      op,
      result: entry.result === undefined ? null : String(entry.result),
      held: k.threads.map((o) => o.held.map((id) => ({ lock: id, write: k.locks[id].writer === o.id }))),
      sleeps: t.status === BLOCKED ? describeWait(k, t) : null,
      woke,
      events: k.events.filter((ev) => ev.kind !== 'lock').map((ev) => ({ ...ev })),
      pages,
      refs,
    });
    was = k.threads.map((o) => o.status);
  };
  // the runner stops at the divergent step, so every step is the story's
  const run = runTestCase(variant, tc, { observe });
  const k = ex?.k;
  return {
    variant,
    testCase: tc,
    lanes: k ? k.threads.map((t) => ({ id: t.id, name: t.name, kind: t.kind, proc: t.proc })) : [],
    locks: k ? k.locks.map((l) => ({ id: l.id, name: lockName(k, l.id), cls: l.cls })) : [],
    initialPages: Array.from({ length: start.npages }, (_, p) => pageState(start, p)),
    blocks: start.nblocks,
    steps,
    divergence: run.divergence,
    run,
    reference: ex ? ex.ref.abstract() : null,
    implementation: k ? abstractImpl(k) : null,
    waits: k ? k.threads.filter((t) => t.status === BLOCKED).map((t) => describeWait(k, t)) : [],
  };
}
