// `daxcheck explore`: breadth-first search over every interleaving of a
// bounded scenario (a test case whose schedule is left open), on the same
// models and checks as fuzzing.  As TLC does: a visited set of 64-bit
// state fingerprints, the shortest trace to the first divergence, and the
// probability that a fingerprint collision hid a state.
//
// A state is reached by replaying its path of thread choices from the
// initial state; nodes store only (parent, thread), so the queue costs a
// few bytes a state.

import { readdirSync, readFileSync } from 'node:fs';
import { parseTestCase, type TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import { checkDeadlock } from '../properties/checks.ts';
import { Execution, runOrder } from './lockstep.ts';
import type { Divergence } from '../properties/classes.ts';
import { stateFingerprint } from './fingerprint.ts';

export interface ExploreOptions {
  depth: number; // longest path explored
  maxStates: number; // distinct states at most
  onProgress?: (s: ExploreStats) => void;
}

export interface ExploreStats {
  generated: number; // states reached, with repeats
  distinct: number;
  depth: number; // of the states being expanded
  queue: number;
  steps: number; // model steps executed, replays included
}

export interface ExploreResult extends ExploreStats {
  complete: boolean; // every reachable state within the depth bound was expanded
  stoppedBy: 'done' | 'divergence' | 'depth' | 'max-states';
  divergence: Divergence | null;
  path: number[] | null; // thread ids, shortest, up to the divergence
  schedule: number[] | null; // the same path as schedule entries of a test case
  collisionProbability: number; // that two distinct states shared a fingerprint
}

// Open addressing over pairs of 32-bit words; 0,0 marks an empty slot (a
// fingerprint of 0,0 is stored as 0,1).
export class FingerprintSet {
  private table: Uint32Array;
  size = 0;
  constructor(capacity = 1 << 16) {
    this.table = new Uint32Array(2 * capacity);
  }
  get bytes(): number {
    return this.table.byteLength;
  }
  // Adds the fingerprint; false if it was there already.
  add(hi: number, lo: number): boolean {
    if ((hi | lo) === 0) lo = 1;
    if (2 * (this.size + 1) > this.table.length / 2) this.grow();
    const added = FingerprintSet.insert(this.table, hi >>> 0, lo >>> 0);
    if (added) this.size++;
    return added;
  }
  private static insert(t: Uint32Array, hi: number, lo: number): boolean {
    const mask = t.length / 2 - 1;
    for (let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const a = t[2 * i];
      const b = t[2 * i + 1];
      if ((a | b) === 0) {
        t[2 * i] = hi;
        t[2 * i + 1] = lo;
        return true;
      }
      if (a === hi && b === lo) return false;
    }
  }
  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) if ((old[i] | old[i + 1]) !== 0) FingerprintSet.insert(this.table, old[i], old[i + 1]);
  }
}

interface Replay {
  ex: Execution;
  divergence: Divergence | null;
}

function start(variant: Variant, tc: TestCase): Replay {
  return { ex: new Execution(variant, tc), divergence: null };
}

function advance(r: Replay, tid: number): void {
  r.divergence = r.ex.advance(tid).divergence;
}

// What the runner checks when no thread can run: a deadlock, else the
// final states.
function settle(r: Replay): void {
  r.divergence = checkDeadlock(r.ex.k) ?? r.ex.finalCheck();
}

function fingerprint(r: Replay): [number, number] {
  return stateFingerprint(r.ex.k, r.ex.ref, r.ex.lockdep.signature());
}

// The path's thread choices as schedule entries: entry x picks the x-th
// runnable thread counting from the one that ran last (fuzz/lockstep.ts).
export function pathToSchedule(variant: Variant, tc: TestCase, path: number[]): number[] {
  const r = start(variant, tc);
  const n = r.ex.k.threads.length;
  let current = 0;
  return path.map((tid) => {
    const order = runOrder(r.ex.runnableIds(), current, n);
    const x = order.indexOf(tid);
    if (x < 0) throw new Error(`explore: thread ${tid} cannot run at this point of the path`);
    advance(r, tid);
    current = tid;
    return x;
  });
}

export function explore(variant: Variant, tc: TestCase, opts: ExploreOptions): ExploreResult {
  const seen = new FingerprintSet();
  // node i: reached from node parent[i] by a step of thread tid[i]
  let parent = new Int32Array(1 << 12);
  let tidOf = new Uint8Array(1 << 12);
  let depthOf = new Uint16Array(1 << 12);
  let nodes = 0;
  const addNode = (p: number, tid: number, depth: number): number => {
    if (nodes === parent.length) {
      const grow = <T extends Int32Array | Uint8Array | Uint16Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      parent = grow(parent);
      tidOf = grow(tidOf);
      depthOf = grow(depthOf);
    }
    parent[nodes] = p;
    tidOf[nodes] = tid;
    depthOf[nodes] = depth;
    return nodes++;
  };
  const pathOf = (i: number): number[] => {
    const out: number[] = [];
    for (; i > 0; i = parent[i]) out.push(tidOf[i]);
    return out.reverse();
  };
  const stats: ExploreStats = { generated: 1, distinct: 1, depth: 0, queue: 0, steps: 0 };
  const replay = (path: number[]): Replay => {
    const r = start(variant, tc);
    for (const tid of path) advance(r, tid);
    stats.steps += path.length;
    return r;
  };
  const finish = (stoppedBy: ExploreResult['stoppedBy'], divergence: Divergence | null, path: number[] | null): ExploreResult => {
    const n = stats.distinct;
    return {
      ...stats,
      complete: stoppedBy === 'done',
      stoppedBy,
      divergence,
      path,
      schedule: path ? pathToSchedule(variant, tc, path) : null,
      collisionProbability: (n * (n - 1)) / 2 / 2 ** 64,
    };
  };

  const root = start(variant, tc);
  const [h0, l0] = fingerprint(root);
  seen.add(h0, l0);
  addNode(-1, 0, 0);
  let cut = false; // a state at the depth bound had successors
  for (let head = 0; head < nodes; head++) {
    stats.queue = nodes - head - 1;
    stats.depth = depthOf[head];
    if ((head & 255) === 0) opts.onProgress?.(stats);
    const path = pathOf(head);
    const here = replay(path);
    const ids = here.ex.runnableIds();
    if (ids.length === 0) {
      settle(here);
      if (here.divergence) return finish('divergence', { ...here.divergence, step: Math.max(0, path.length - 1) }, path);
      continue;
    }
    if (depthOf[head] >= opts.depth) {
      cut = true;
      continue;
    }
    for (const [j, tid] of ids.entries()) {
      const r = j === 0 ? here : replay(path);
      advance(r, tid);
      stats.steps++;
      stats.generated++;
      const childPath = [...path, tid];
      if (r.divergence) return finish('divergence', { ...r.divergence, step: childPath.length - 1 }, childPath);
      const [hi, lo] = fingerprint(r);
      if (!seen.add(hi, lo)) continue;
      stats.distinct++;
      addNode(head, tid, depthOf[head] + 1);
      if (stats.distinct >= opts.maxStates) {
        opts.onProgress?.(stats);
        return finish('max-states', null, null);
      }
    }
  }
  stats.queue = 0;
  opts.onProgress?.(stats);
  return finish(cut ? 'depth' : 'done', null, null);
}

// ---- scenarios: test cases with the schedule left open ----

export const SCENARIO_DIR = new URL('../scenarios/', import.meta.url);

export class ScenarioError extends Error {}

export interface Scenario {
  name: string;
  about: string;
  testCase: TestCase;
}

export function scenarioNames(): string[] {
  return readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

export function loadScenario(name: string): Scenario {
  if (!scenarioNames().includes(name)) throw new ScenarioError(`unknown scenario "${name}" (known: ${scenarioNames().join(', ')})`);
  const raw = JSON.parse(readFileSync(new URL(`${name}.json`, SCENARIO_DIR), 'utf8')) as Record<string, unknown>;
  const { about, ...tc } = raw;
  try {
    return { name, about: String(about ?? ''), testCase: parseTestCase({ ...tc, schedule: [], cycle: [] }, `scenario ${name}`) };
  } catch (e) {
    throw new ScenarioError((e as Error).message);
  }
}
