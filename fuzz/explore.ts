// `daxcheck explore`: breadth-first search over every interleaving of a
// bounded scenario (a test case whose schedule is left open), on the same
// models and checks as fuzzing.  As TLC does: a visited set of 64-bit
// state fingerprints, the shortest trace to the first divergence, and the
// probability that a fingerprint collision hid a state.
//
// Nodes store only (parent, thread), so the queue costs a few bytes a
// state.  A node's successors are reached by replaying its path of thread
// choices from the initial state, except the last, which steps the
// node's own state on; that state is kept for the successor's expansion
// while fewer than MAX_HELD_STATES are kept, so a state reached by a step
// is not replayed again.  (A deep copy of the state for each successor
// was tried: a copy costs about what 30 replayed steps do, and at the
// depths of the shipped scenarios it came out a fifth slower.)
// Every step taken is kept as an edge, and once the
// breadth-first pass ends clean the graph is searched for a no-progress
// cycle under weak fairness (findLasso).

import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIO_DIR, scenarioNames } from './scenarios.ts';
import { ScenarioSchema, type Op, type ScenarioFile, type TestCase } from '../models/testcase.ts';
import { FileError, parseWith, printable, readJsonFile } from './files.ts';
import type { Variant } from '../models/variants/index.ts';
import { checkDeadlock } from '../properties/checks.ts';
import { DONE, type Kernel } from '../models/impl/kernel.ts';
import type { Reference } from '../models/reference/index.ts';
import { Execution, excusedMask, runOrder, runTestCase } from './lockstep.ts';
import type { Divergence } from '../properties/classes.ts';
import { stateFingerprint } from './fingerprint.ts';

export interface ExploreOptions {
  depth: number; // longest path explored
  maxStates: number; // distinct states at most
  maxBytes?: number; // memory for the search's own tables at most
  heldStates?: number; // states kept for queued nodes at most (MAX_HELD_STATES)
  onProgress?: (s: ExploreStats) => void;
}

// The bounds `daxcheck explore` uses unless told otherwise; every shipped
// scenario is far inside them.
export const EXPLORE_DEFAULTS = { depth: 400, maxStates: 2_000_000, maxMiB: 4096 };

// States kept for queued nodes at most (a state is some 16 KiB).
const MAX_HELD_STATES = 20_000;

export interface ExploreStats {
  generated: number; // states reached, with repeats
  distinct: number;
  depth: number; // of the states being expanded
  queue: number;
  steps: number; // model steps executed, replays included
  bytes: number; // held by the visited set, the nodes and the edges
}

export interface Lasso {
  stem: number; // steps from the initial state to the loop
  loop: number; // steps of the loop
  pending: string; // the thread whose operation never completes
}

export interface ExploreResult extends ExploreStats {
  complete: boolean; // every reachable state within the depth bound was expanded
  stoppedBy: 'done' | 'divergence' | 'depth' | 'max-states' | 'max-bytes';
  divergence: Divergence | null;
  lasso: Lasso | null; // when the divergence is a no-progress cycle
  path: number[] | null; // thread ids, shortest, up to the divergence
  testCase: TestCase | null; // the scenario with the path as its schedule, replayable
  collisionProbability: number; // that two distinct states shared a fingerprint
}

// Open addressing over 64-bit fingerprints, each with a 32-bit value (the
// node that has it); 0,0 marks an empty slot (a fingerprint of 0,0 is
// stored as 0,1).
export class FingerprintTable {
  private table: Uint32Array;
  size = 0;
  constructor(capacity = 1 << 10) {
    this.table = new Uint32Array(3 * capacity);
  }
  get bytes(): number {
    return this.table.byteLength;
  }
  // Adds the fingerprint with its value and returns -1, or returns the
  // value it already had.
  add(hi: number, lo: number, value: number): number {
    if ((hi | lo) === 0) lo = 1;
    if (2 * (this.size + 1) > this.table.length / 3) this.grow();
    const old = FingerprintTable.insert(this.table, hi >>> 0, lo >>> 0, value);
    if (old < 0) this.size++;
    return old;
  }
  private static insert(t: Uint32Array, hi: number, lo: number, value: number): number {
    const mask = t.length / 3 - 1;
    for (let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const a = t[3 * i];
      const b = t[3 * i + 1];
      if ((a | b) === 0) {
        t[3 * i] = hi;
        t[3 * i + 1] = lo;
        t[3 * i + 2] = value;
        return -1;
      }
      if (a === hi && b === lo) return t[3 * i + 2];
    }
  }
  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 3) if ((old[i] | old[i + 1]) !== 0) FingerprintTable.insert(this.table, old[i], old[i + 1], old[i + 2]);
  }
}

// Typed columns that double as they fill.
class Columns<T extends Int32Array | Uint8Array | Uint16Array> {
  a: T;
  constructor(private readonly make: new (n: number) => T) {
    this.a = new make(1 << 10);
  }
  set(i: number, x: number): void {
    if (i >= this.a.length) {
      const b = new this.make(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[i] = x;
  }
  get bytes(): number {
    return this.a.byteLength;
  }
}

interface Replay {
  ex: Execution;
  divergence: Divergence | null;
  completed: boolean; // the last step finished a system call
}

function start(variant: Variant, tc: TestCase): Replay {
  return { ex: new Execution(variant, tc), divergence: null, completed: false };
}

function advance(r: Replay, tid: number): void {
  const { info, divergence } = r.ex.advance(tid);
  r.divergence = divergence;
  r.completed = info.result !== undefined;
}

// What the runner checks when no thread can run: a deadlock, else the
// final states.
function settle(r: Replay): void {
  r.divergence = checkDeadlock(r.ex.k) ?? r.ex.finalCheck();
}

function fingerprint(r: Replay): [number, number] {
  return stateFingerprint(r.ex.k, r.ex.ref, r.ex.lockdep.signature());
}

// The process threads with an operation under way that the no-progress
// promise covers, as a mask.
function pendingMask(k: Kernel, ref: Reference): number {
  let m = 0;
  for (const t of k.threads) if (t.kind === 'proc' && t.status !== DONE) m |= 1 << t.id;
  return m & ~excusedMask(ref);
}

// The path's thread choices as schedule entries: entry x picks the x-th
// runnable thread counting from the one that ran last (fuzz/lockstep.ts).
export function pathToSchedule(variant: Variant, tc: TestCase, path: number[]): number[] {
  const r = start(variant, tc);
  let current = 0;
  return path.map((tid) => {
    const order = runOrder(r.ex.runnableIds(), current);
    const x = order.indexOf(tid);
    if (x < 0) throw new Error(`explore: thread ${tid} cannot run at this point of the path`);
    advance(r, tid);
    current = tid;
    return x;
  });
}

// The state graph as BFS leaves it, for the lasso search: every step
// taken is an edge, its thread with COMPLETED set when it finished a
// system call.  A node was expanded iff some thread could run in it
// (enabled is 0 for the others).
const COMPLETED = 0x80;
interface Graph {
  nodes: number;
  depth: Uint16Array;
  enabled: Uint16Array; // threads runnable in the node, a mask
  pending: Uint16Array; // pendingMask of the node
  edges: number;
  from: Int32Array;
  to: Int32Array;
  etid: Uint8Array;
}

const stepTid = (g: Graph, e: number): number => g.etid[e] & ~COMPLETED;
const completes = (g: Graph, e: number, p: number): boolean => g.etid[e] === (p | COMPLETED);

export function explore(variant: Variant, tc: TestCase, opts: ExploreOptions): ExploreResult {
  const seen = new FingerprintTable();
  const parent = new Columns(Int32Array);
  const tidOf = new Columns(Uint8Array);
  const depthOf = new Columns(Uint16Array);
  const enabled = new Columns(Uint16Array);
  const pending = new Columns(Uint16Array);
  const from = new Columns(Int32Array);
  const to = new Columns(Int32Array);
  const etid = new Columns(Uint8Array);
  let nodes = 0;
  let edges = 0;
  const addNode = (p: number, tid: number, depth: number): number => {
    parent.set(nodes, p);
    tidOf.set(nodes, tid);
    depthOf.set(nodes, depth);
    enabled.set(nodes, 0);
    pending.set(nodes, 0);
    return nodes++;
  };
  const addEdge = (a: number, b: number, t: number): void => {
    from.set(edges, a);
    to.set(edges, b);
    etid.set(edges, t);
    edges++;
  };
  const pathOf = (i: number): number[] => {
    const out: number[] = [];
    for (; i > 0; i = parent.a[i]) out.push(tidOf.a[i]);
    return out.reverse();
  };
  const stats: ExploreStats = { generated: 1, distinct: 1, depth: 0, queue: 0, steps: 0, bytes: 0 };
  const measure = (): number =>
    (stats.bytes = seen.bytes + [parent, tidOf, depthOf, enabled, pending, from, to, etid].reduce((n, c) => n + c.bytes, 0));
  const replay = (path: number[]): Replay => {
    const r = start(variant, tc);
    for (const tid of path) advance(r, tid);
    stats.steps += path.length;
    return r;
  };
  const finish = (stoppedBy: ExploreResult['stoppedBy'], divergence: Divergence | null, path: number[] | null, repeatFrom = -1): ExploreResult => {
    const n = stats.distinct;
    measure();
    let testCase: TestCase | null = null;
    if (path) {
      testCase = { ...tc, schedule: pathToSchedule(variant, tc, path), cycle: [] };
      if (repeatFrom >= 0) testCase.repeatFrom = repeatFrom;
    }
    return { ...stats, complete: stoppedBy === 'done', stoppedBy, divergence, lasso: null, path, testCase, collisionProbability: (n * (n - 1)) / 2 / 2 ** 64 };
  };

  const root = start(variant, tc);
  const [h0, l0] = fingerprint(root);
  seen.add(h0, l0, 0);
  addNode(-1, 0, 0);
  // The states of queued nodes, while there is room for them; a node
  // without one is reached by replaying its path.
  const threadNames = root.ex.k.threads.map((t) => t.name);
  const states: (Replay | undefined)[] = [root];
  let held = 1;
  const maxHeld = opts.heldStates ?? MAX_HELD_STATES;
  let cut = false; // a state at the depth bound had successors
  for (let head = 0; head < nodes; head++) {
    stats.queue = nodes - head - 1;
    stats.depth = depthOf.a[head];
    if ((head & 255) === 0) {
      opts.onProgress?.(stats);
      if (opts.maxBytes && measure() > opts.maxBytes) return finish('max-bytes', null, null);
    }
    const path = pathOf(head);
    let here = states[head];
    if (here) {
      states[head] = undefined;
      held--;
    } else here = replay(path);
    const ids = here.ex.runnableIds();
    if (ids.length === 0) {
      settle(here);
      if (here.divergence) return finish('divergence', { ...here.divergence, step: Math.max(0, path.length - 1) }, path);
      continue;
    }
    if (depthOf.a[head] >= opts.depth) {
      cut = true;
      continue;
    }
    enabled.a[head] = ids.reduce((m, id) => m | (1 << id), 0);
    pending.a[head] = pendingMask(here.ex.k, here.ex.ref);
    for (const [j, tid] of ids.entries()) {
      const r = j === ids.length - 1 ? here : replay(path);
      advance(r, tid);
      stats.steps++;
      stats.generated++;
      const childPath = [...path, tid];
      if (r.divergence) return finish('divergence', { ...r.divergence, step: childPath.length - 1 }, childPath);
      const [hi, lo] = fingerprint(r);
      const old = seen.add(hi, lo, nodes);
      addEdge(head, old < 0 ? nodes : old, tid | (r.completed ? COMPLETED : 0));
      if (old >= 0) continue;
      stats.distinct++;
      if (held < maxHeld) {
        states[nodes] = r;
        held++;
      }
      addNode(head, tid, depthOf.a[head] + 1);
      if (stats.distinct >= opts.maxStates) {
        opts.onProgress?.(stats);
        return finish('max-states', null, null);
      }
    }
  }
  stats.queue = 0;
  opts.onProgress?.(stats);
  const graph: Graph = { nodes, depth: depthOf.a, enabled: enabled.a, pending: pending.a, edges, from: from.a, to: to.a, etid: etid.a };
  const found = findLasso(graph, threadNames.length);
  if (found) {
    const stem = pathOf(found.entry);
    // The schedule entries of a repetition are relative to the thread that
    // ran last, so the repeated part must follow a step of the thread the
    // loop ends with: the loop is written twice unless the stem already
    // ends with that thread.
    const twice = (stem.length ? stem[stem.length - 1] : 0) !== found.loop[found.loop.length - 1];
    const path = twice ? [...stem, ...found.loop, ...found.loop] : [...stem, ...found.loop];
    const repeatFrom = twice ? stem.length + found.loop.length : stem.length;
    const res = finish('divergence', null, path, repeatFrom);
    const run = runTestCase(variant, res.testCase!);
    if (run.divergence?.class !== 'no-progress') {
      throw new Error(`explore: the runner does not confirm the lasso the explorer found (${run.divergence?.class ?? 'no divergence'})`);
    }
    const pendingName = threadNames[found.thread];
    return { ...res, divergence: run.divergence, lasso: { stem: stem.length, loop: found.loop.length, pending: pendingName } };
  }
  return finish(cut ? 'depth' : 'done', null, null);
}

// ---- liveness: fair cycles ----

interface FoundLasso {
  thread: number; // whose operation stays pending
  entry: number; // node where the loop starts, nearest the initial state
  loop: number[]; // thread ids, from entry back to entry
}

// A no-progress lasso: a cycle of expanded states in which process thread
// p has an operation pending throughout and never completes it, and every
// thread either runs somewhere in the cycle or is not runnable somewhere
// in it (weak fairness).  Such a cycle exists iff some strongly connected
// component of the graph restricted to p's pending states, without p's
// completing steps, has an edge and meets that condition for every
// thread: a cycle can then take every edge and visit every state of it.
// Returns the one whose entry is nearest the initial state.
function findLasso(g: Graph, nthreads: number): FoundLasso | null {
  // CSR adjacency over all edges
  const first = new Int32Array(g.nodes + 1);
  for (let e = 0; e < g.edges; e++) first[g.from[e] + 1]++;
  for (let i = 0; i < g.nodes; i++) first[i + 1] += first[i];
  const adj = new Int32Array(g.edges);
  const fill = first.slice(0, g.nodes);
  for (let e = 0; e < g.edges; e++) adj[fill[g.from[e]]++] = e;

  const all = (1 << nthreads) - 1;
  let best: { thread: number; inner: (e: number) => boolean; entry: number } | null = null;
  for (let p = 0; p < nthreads; p++) {
    const bit = 1 << p;
    const inGraph = (v: number): boolean => g.enabled[v] !== 0 && (g.pending[v] & bit) !== 0;
    const allowed = (e: number): boolean => inGraph(g.to[e]) && !completes(g, e, p);
    const comp = strongComponents(g, first, adj, inGraph, allowed);
    // per component: threads that run on an inner edge, threads not runnable somewhere
    const ran = new Map<number, number>();
    const idle = new Map<number, number>();
    const entry = new Map<number, number>();
    for (let v = 0; v < g.nodes; v++) {
      const c = comp[v];
      if (c < 0) continue;
      idle.set(c, (idle.get(c) ?? 0) | (~g.enabled[v] & all));
      const e0 = entry.get(c);
      if (e0 === undefined || g.depth[v] < g.depth[e0]) entry.set(c, v);
      for (let j = first[v]; j < first[v + 1]; j++) {
        const e = adj[j];
        if (allowed(e) && comp[g.to[e]] === c) ran.set(c, (ran.get(c) ?? 0) | (1 << stepTid(g, e)));
      }
    }
    for (const [c, r] of ran) {
      if (((r | idle.get(c)!) & all) !== all) continue;
      const v = entry.get(c)!;
      if (!best || g.depth[v] < g.depth[best.entry]) best = { thread: p, inner: (e) => allowed(e) && comp[g.to[e]] === c, entry: v };
    }
  }
  if (!best) return null;
  return { thread: best.thread, entry: best.entry, loop: fairLoop(g, first, adj, best.inner, best.entry, all) };
}

// Tarjan's algorithm, iterative, over the nodes `inGraph` admits and the
// edges `allowed` admits; comp[v] is v's component, -1 outside.
function strongComponents(g: Graph, first: Int32Array, adj: Int32Array, inGraph: (v: number) => boolean, allowed: (e: number) => boolean): Int32Array {
  const n = g.nodes;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const comp = new Int32Array(n).fill(-1);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const call: number[] = []; // node, next adjacency position
  let counter = 0;
  let comps = 0;
  for (let s = 0; s < n; s++) {
    if (index[s] >= 0 || !inGraph(s)) continue;
    call.push(s, first[s]);
    index[s] = low[s] = counter++;
    stack.push(s);
    onStack[s] = 1;
    while (call.length) {
      const v = call[call.length - 2];
      const j = call[call.length - 1];
      if (j < first[v + 1]) {
        call[call.length - 1] = j + 1;
        const e = adj[j];
        if (!allowed(e)) continue;
        const w = g.to[e];
        if (index[w] < 0) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          call.push(w, first[w]);
        } else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
        continue;
      }
      call.length -= 2;
      if (call.length) {
        const u = call[call.length - 2];
        low[u] = Math.min(low[u], low[v]);
      }
      if (low[v] === index[v]) {
        for (;;) {
          const w = stack.pop()!;
          onStack[w] = 0;
          comp[w] = comps;
          if (w === v) break;
        }
        comps++;
      }
    }
  }
  return comp;
}

// A cycle through `entry` over the component's inner edges that is fair:
// it goes, by shortest paths, to the nearest step that covers a thread not
// yet covered (runs it, or reaches a state where it cannot run), until all
// are, and back.
function fairLoop(g: Graph, first: Int32Array, adj: Int32Array, inner: (e: number) => boolean, entry: number, all: number): number[] {
  const covers = (e: number): number => (1 << stepTid(g, e)) | (~g.enabled[g.to[e]] & all);
  let covered = ~g.enabled[entry] & all;
  const loop: number[] = [];
  let at = entry;
  // shortest path from `at` to the first node where `goal` holds of an edge taken from it
  const walk = (goal: (e: number) => boolean): void => {
    const via = new Map<number, number>([[at, -1]]); // node -> edge that reached it
    let frontier = [at];
    while (frontier.length) {
      const next: number[] = [];
      for (const v of frontier) {
        for (let j = first[v]; j < first[v + 1]; j++) {
          const e = adj[j];
          if (!inner(e)) continue;
          if (goal(e)) {
            const steps: number[] = [e];
            for (let u = v; via.get(u)! >= 0; u = g.from[via.get(u)!]) steps.push(via.get(u)!);
            for (const s of steps.reverse()) {
              loop.push(stepTid(g, s));
              covered |= covers(s);
            }
            at = g.to[e];
            return;
          }
          if (!via.has(g.to[e])) {
            via.set(g.to[e], e);
            next.push(g.to[e]);
          }
        }
      }
      frontier = next;
    }
    throw new Error('explore: a fair component without the cycle it promises');
  };
  while ((covered & all) !== all) {
    walk((e) => (covers(e) & ~covered) !== 0);
  }
  if (loop.length === 0 || at !== entry) walk((e) => g.to[e] === entry);
  return loop;
}

// ---- scenarios: test cases with the schedule left open ----
//
// A scenario file is a test case without schedule or cycle, plus `about`.
// An op may be left open as {"oneOf": [op, ...]}: the scenario then stands
// for every combination of the choices, each explored in full.


const MAX_CHOICES = 64; // combinations of open ops in one scenario

export class ScenarioError extends Error {}

export interface Scenario {
  name: string;
  about: string;
  // one test case per combination of the open ops, with what was chosen
  cases: { choice: string; testCase: TestCase }[];
}

export { scenarioNames, SCENARIO_DIR };

// A shipped scenario by name, or any scenario file by path (a name with a
// slash or ending in .json).
export function loadScenario(nameOrPath: string): Scenario {
  const isPath = nameOrPath.includes('/') || nameOrPath.endsWith('.json');
  if (!isPath && !scenarioNames().includes(nameOrPath)) throw new ScenarioError(`unknown scenario "${printable(nameOrPath)}" (known: ${scenarioNames().join(', ')}; or give a file's path)`);
  const file = isPath ? nameOrPath : fileURLToPath(new URL(`${nameOrPath}.json`, SCENARIO_DIR));
  const name = isPath ? basename(nameOrPath).replace(/\.json$/, '') : nameOrPath;
  let sc: ScenarioFile;
  try {
    sc = parseWith(ScenarioSchema, readJsonFile(file, 'scenario file'), printable(file));
  } catch (e) {
    throw e instanceof FileError ? new ScenarioError(e.message) : e;
  }
  // the open ops, in file order; the last one's choice varies fastest
  const open: { ti: number; oi: number; alts: Op[] }[] = [];
  sc.threads.forEach((t, ti) => t.ops.forEach((op, oi) => {
    if ('oneOf' in op) open.push({ ti, oi, alts: op.oneOf });
  }));
  const count = open.reduce((n, o) => n * o.alts.length, 1);
  if (count > MAX_CHOICES) throw new ScenarioError(`${printable(file)}: more than ${MAX_CHOICES} combinations of open ops`);
  const cases = Array.from({ length: count }, (_, i) => {
    const threads = sc.threads.map((t) => ({ ...t, ops: t.ops.map((op) => ('oneOf' in op ? op.oneOf[0] : op)) }));
    const choice: string[] = [];
    for (let j = open.length - 1; j >= 0; j--) {
      const { ti, oi, alts } = open[j];
      const a = alts[i % alts.length];
      i = Math.floor(i / alts.length);
      threads[ti].ops[oi] = a;
      if (alts.length > 1) choice.unshift(`T${ti} op ${oi}: ${JSON.stringify(a)}`);
    }
    const testCase: TestCase = { config: sc.config, threads, nic: sc.nic, schedule: [], cycle: [], faults: sc.faults };
    return { choice: choice.join('; '), testCase: structuredClone(testCase) };
  });
  return { name, about: sc.about, cases };
}

export interface ScenarioResult extends ExploreResult {
  choice: string | null; // the combination of open ops the divergence needs
}

// Every combination of the scenario's open ops, explored in full; the
// divergence reported is the shortest over all of them.  Statistics are
// summed, max-states is a budget for all together.
export function exploreScenario(variant: Variant, sc: Scenario, opts: ExploreOptions): ScenarioResult {
  const runs: { r: ExploreResult; choice: string }[] = [];
  let distinct = 0;
  for (const c of sc.cases) {
    const r = explore(variant, c.testCase, { ...opts, maxStates: opts.maxStates - distinct });
    runs.push({ r, choice: c.choice });
    distinct += r.distinct;
    if (r.stoppedBy === 'max-states' || r.stoppedBy === 'max-bytes') break;
  }
  const found = runs.filter((x) => x.r.divergence).sort((a, b) => a.r.path!.length - b.r.path!.length)[0];
  const unfinished = runs.find((x) => x.r.stoppedBy !== 'done' && x.r.stoppedBy !== 'divergence');
  const base = found ?? unfinished ?? runs[0];
  const sum = (f: (r: ExploreResult) => number): number => runs.reduce((n, x) => n + f(x.r), 0);
  return {
    ...base.r,
    choice: found?.choice || null,
    generated: sum((r) => r.generated),
    distinct,
    steps: sum((r) => r.steps),
    depth: Math.max(...runs.map((x) => x.r.depth)),
    bytes: Math.max(...runs.map((x) => x.r.bytes)),
    complete: runs.length === sc.cases.length && runs.every((x) => x.r.complete),
    collisionProbability: sum((r) => r.collisionProbability),
  };
}

export interface Shortest {
  scenario: string;
  length: number; // steps of the trace, a lasso's loop written out as the replay runs it
  result: ScenarioResult;
}

// The shortest counterexample of an accepted class any shipped scenario
// has, or null: the yardstick for a shrunk fuzz trace.  The scenarios
// are searched smallest first (one thread before two, then fewer ops), so
// that a shallow find bounds the big ones early.
export function scenarioNamesSmallestFirst(): string[] {
  return scenarioNames()
    .map((name) => {
      const tc = loadScenario(name).cases[0].testCase;
      return { name, size: tc.threads.length * 1000 + tc.threads.reduce((n, t) => n + t.ops.length, 0) + tc.nic.length };
    })
    .sort((a, b) => a.size - b.size || a.name.localeCompare(b.name))
    .map((x) => x.name);
}

export function shortestOverScenarios(variant: Variant, accept: (cls: string) => boolean, opts: ExploreOptions): Shortest | null {
  let best: Shortest | null = null;
  // once one is known, a search need not go deeper than it (the lasso
  // search of no-progress needs whole graphs)
  const bounded = !accept('no-progress');
  for (const name of scenarioNamesSmallestFirst()) {
    const r = exploreScenario(variant, loadScenario(name), best && bounded ? { ...opts, depth: Math.min(opts.depth, best.length) } : opts);
    if (!r.divergence || !accept(r.divergence.class)) continue;
    if (!best || r.path!.length < best.length) best = { scenario: name, length: r.path!.length, result: r };
  }
  return best;
}
