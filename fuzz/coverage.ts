// Coverage of the implementation model, AFL-style: features hashed into a
// bitmap.  A feature is a label run, a label following another in the same
// thread, a label run right after another thread's label (an
// interleaving), an operation's result, or something a step reported.
// It says which behaviour a run reached, never which bug it is near.

import type { Event, Fn } from '../models/impl/kernel.ts';

export const MAP_BITS = 16; // 64K features, as AFL: a few thousand are ever reached, and the maps stay in a core's cache
const MASK = (1 << MAP_BITS) - 1;

// Stable across processes and runs: the same label has the same id
// whatever ran before.
const fnIds = new Map<Fn<any>, number>();
export function labelId(fn: Fn<any>, pc: number): number {
  let id = fnIds.get(fn);
  if (id === undefined) fnIds.set(fn, (id = strHash(fn.name) & 0xffffff));
  return id * 64 + pc;
}

function mix(a: number, b: number, c = 0): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35) ^ Math.imul(c, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 13)) & MASK;
}

function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

// Collects the distinct features of one run, and marks them in a shared
// map of everything reached so far; `fresh` counts the features nobody
// had reached before.  `seen` is scratch space the size of the map, all
// zero between runs.
export class Coverage {
  fresh = 0;
  features: number[] = [];
  choices: number[] = []; // steps, within a schedule's reach, where more than one thread could run
  private lastOfThread: number[] = [];
  private lastStep = -1;
  private lastTid = -1;
  constructor(readonly map: Uint8Array, private readonly seen: Uint8Array = new Uint8Array(map.length)) {}

  private hit(f: number): void {
    if (this.seen[f]) return;
    this.seen[f] = 1;
    this.features.push(f);
    if (this.map[f] === 0) {
      this.map[f] = 1;
      this.fresh++;
    }
  }

  // Clears the scratch space for the next run.
  done(): void {
    for (const f of this.features) this.seen[f] = 0;
  }

  choice(step: number): void {
    if (step < 256) this.choices.push(step);
  }

  step(tid: number, label: number, result: number | string | undefined, events: Event[]): void {
    this.hit(mix(1, label));
    this.hit(mix(2, this.lastOfThread[tid] ?? 0, label));
    if (this.lastTid !== tid) this.hit(mix(3, this.lastStep, label));
    if (result !== undefined) this.hit(mix(4, label, typeof result === 'number' ? (result > 0 ? 1 : result) : strHash(result)));
    for (const e of events) {
      switch (e.kind) {
        case 'access': this.hit(mix(5, label, (e.who === 'cpu' ? 0 : e.who === 'dio' ? 2 : 4) + (e.write ? 1 : 0))); break;
        case 'iova': this.hit(mix(6, label, e.issuedFor === e.reached ? 1 : 2)); break;
        case 'lock': this.hit(mix(7, strHash(e.cls), e.held.length)); break;
        default: this.hit(mix(8, label, strHash(e.kind)));
      }
    }
    this.lastOfThread[tid] = label;
    this.lastStep = label;
    this.lastTid = tid;
  }
}
