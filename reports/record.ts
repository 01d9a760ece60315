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
import { firstDifference } from '../models/abstract.ts';
import { describeCall, describeNicOp } from './resolve.ts';

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
  call: string | null; // on an operation's first step (process threads, NIC): the call with its indices resolved (resolve.ts)
  work: string | null; // the work item a kernel worker's step took off its queue
  waitOn: { wait: string; id: number } | null; // what the stepping thread sleeps on, if it went to sleep
  iommu: { iova: number; mr: number; page: number }[]; // IOMMU entries the step set (mr -1: cleared)
  leases: LeaseState[]; // leases the step set, changed or removed
  fds: { proc: number; fd: number; file: number }[]; // descriptors the step opened or closed (file -1) or pointed elsewhere
  ptes: { proc: number; map: number; inode: number; index: number; page: number }[]; // page table entries the step installed (page -1: cleared)
}

// A lease as a reader follows it: what it is, on which file, for whom,
// and where its break stands.  `gone` once it is off the kernel's books.
export interface LeaseState {
  id: number;
  kind: string;
  inode: number;
  holder: number;
  onList: boolean;
  breaking: boolean;
  valid: boolean;
  sigioFd: number; // the fd a break's SIGIO names, -1 if none
  gone: boolean;
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
  // the first step after which the abstract states differ, and where
  parted: { step: number; path: string } | null;
}

function lockName(k: Kernel, id: number): string {
  const l = k.locks[id];
  return `${l.cls} of ${l.cls === 'mmap_sem' ? 'process' : 'file'} ${l.owner}`;
}

function leaseStates(k: Kernel): Map<number, LeaseState> {
  return new Map(k.leases.map((l) => [l.id, { id: l.id, kind: l.kind, inode: l.inode, holder: l.holder, onList: l.onList, breaking: l.breaking, valid: l.valid, sigioFd: l.fasync?.fd ?? -1, gone: false }]));
}

function ptesOf(k: Kernel): Map<string, number> {
  const out = new Map<string, number>();
  for (const pr of k.procs) for (const v of pr.vmas) v.pte.forEach((page, p) => { if (page >= 0) out.set(`${pr.id} ${v.id} ${v.inode} ${v.pgoff + p}`, page); });
  return out;
}

function fdFiles(k: Kernel): number[][] {
  return k.procs.map((p) => Array.from(p.fds, (filp) => (filp >= 0 ? k.filps[filp]!.inode : -1)));
}

// What each thread's next call would resolve to, for the threads between
// calls, the NIC's next work request, and the kernel worker's next item.
function nextCalls(k: Kernel, into: (string | null)[]): void {
  for (const t of k.threads) {
    if (t.kind === 'proc' && t.stack.length === 0 && t.prog[t.ip]) into[t.id] = describeCall(k, t.proc, t.prog[t.ip]);
    if (t.kind === 'nic' && k.nicIp < k.nic.length && k.liveMrs().length) into[t.id] = describeNicOp(k, k.nic[k.nicIp]);
    if (t.kind === 'kworker' && t.stack.length === 0) into[t.id] = k.work[0]?.kind ?? null; // the work item its next step takes
  }
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
  const iommu = Array.from(start.iommuMr);
  let leases = leaseStates(start);
  let fds = fdFiles(start);
  let ptes = ptesOf(start);
  const calls: (string | null)[] = [];
  nextCalls(start, calls);
  let parted: Recording['parted'] = null;
  const openOp = new Map<number, string>(); // thread -> the operation it is in: from the step its op changes to the one that returns (the NIC: one step)
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
    const iommuSet: StepRecord['iommu'] = [];
    for (let i = 0; i < iommu.length; i++) {
      if (k.iommuMr[i] === iommu[i]) continue;
      iommuSet.push({ iova: i, mr: k.iommuMr[i], page: k.iommuPage[i] });
      iommu[i] = k.iommuMr[i];
    }
    const nowLeases = leaseStates(k);
    const leaseSet: LeaseState[] = [];
    for (const [id, l] of nowLeases) if (JSON.stringify(l) !== JSON.stringify(leases.get(id))) leaseSet.push(l);
    for (const [id, l] of leases) if (!nowLeases.has(id)) leaseSet.push({ ...l, onList: false, gone: true });
    leases = nowLeases;
    const nowFds = fdFiles(k);
    const fdSet: StepRecord['fds'] = [];
    nowFds.forEach((files, proc) => files.forEach((file, fd) => {
      if (file !== (fds[proc]?.[fd] ?? -1)) fdSet.push({ proc, fd, file });
    }));
    fds = nowFds;
    const nowPtes = ptesOf(k);
    const pteSet: StepRecord['ptes'] = [];
    const pte = (key: string, page: number) => {
      const [proc, map, inode, index] = key.split(' ').map(Number);
      pteSet.push({ proc, map, inode, index, page });
    };
    for (const [key, page] of nowPtes) if (ptes.get(key) !== page) pte(key, page);
    for (const key of ptes.keys()) if (!nowPtes.has(key)) pte(key, -1);
    ptes = nowPtes;
    const call = op !== null && openOp.get(t.id) !== op ? calls[t.id] ?? op : null;
    const work = t.kind === 'kworker' && entry.fn === 'process_one_work' && entry.label === 'process_one_work' ? calls[t.id] : null;
    if (op !== null) openOp.set(t.id, op);
    if (entry.result !== undefined || t.kind === 'nic') openOp.delete(t.id);
    nextCalls(k, calls);
    if (!parted) {
      const path = firstDifference(e.ref.abstract(), abstractImpl(k));
      if (path) parted = { step: entry.step, path };
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
      call,
      work,
      waitOn: t.status === BLOCKED ? { wait: t.wait, id: t.waitId } : null,
      iommu: iommuSet,
      leases: leaseSet,
      fds: fdSet,
      ptes: pteSet,
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
    parted,
  };
}
