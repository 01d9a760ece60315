// A 64-bit hash of the whole state of a lockstep run (implementation and
// reference), for recognising a state seen before.  It walks the object
// graph without building strings; objects of one kind are created with
// the same property order, so positions stand in for keys.
//
// The encoding is canonical in the allocation history: states that will
// behave alike encode alike however they were reached.  An allocation
// epoch is kept only as what the checks can tell of it, whether the page
// has been allocated again since (0 for current, -1 for stale); the
// fault-injection counters only as the distances to the faults still
// planned.  Block, fd, mapping and IOVA numbers are kept as they are: the
// LIFO free lists and the lowest-free-fd rule make their values decide
// what comes next.

import type { Kernel, Thread } from '../models/impl/kernel.ts';
import type { Reference } from '../models/reference/index.ts';

const SKIP = new Set(['version', 'variant', 'tc', 'ref', 'flags', 'events', 'signalAt', 'allocFailAt', 'nic', 'divergence', 'prog', 'pageEpoch', 'touchedPages', 'touchedPtes', 'touchedPteIndex']);

const fnIds = new Map<object, number>();
const strIds = new Map<string, number>(); // the model's strings are a few names and kinds
function fnId(fn: { name: string }): number {
  let id = fnIds.get(fn);
  if (id === undefined) {
    id = 0;
    for (let i = 0; i < fn.name.length; i++) id = Math.imul(id ^ fn.name.charCodeAt(i), 0x01000193);
    fnIds.set(fn, id);
  }
  return id;
}

class Hasher {
  a = 0x811c9dc5;
  b = 0x9e3779b9;
  constructor(private readonly k: Kernel) {}

  // An epoch stored beside the page it was taken for.
  private epoch(page: number, epoch: number): void {
    this.num(page < 0 ? epoch : epoch === this.k.pageEpoch[page] ? 0 : -1);
  }
  num(x: number): void {
    const lo = x | 0;
    const hi = (x - lo) * 4096 | 0; // fractions and large values still count
    this.a = Math.imul(this.a ^ lo, 0x01000193);
    this.b = Math.imul(this.b ^ (lo + hi), 0x5bd1e995) ^ (this.b >>> 15);
  }
  str(s: string): void {
    let x = strIds.get(s);
    if (x === undefined) {
      x = s.length;
      for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 0x01000193);
      strIds.set(s, x);
    }
    this.num(x);
  }
  // The model's typed arrays hold small integers.
  ints(arr: ArrayLike<number>): void {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < arr.length; i++) {
      const x = arr[i] | 0;
      a = Math.imul(a ^ x, 0x01000193);
      b = Math.imul(b ^ x, 0x5bd1e995) ^ (b >>> 15);
    }
    this.a = a;
    this.b = b;
    this.num(arr.length);
  }
  value(v: unknown): void {
    switch (typeof v) {
      case 'number': this.num(v); return;
      case 'boolean': this.num(v ? 1 : 2); return;
      case 'string': this.str(v); return;
      case 'undefined': this.num(-7); return;
      case 'object': break;
      default: return;
    }
    if (v === null) { this.num(-9); return; }
    if (ArrayBuffer.isView(v)) {
      this.ints(v as unknown as ArrayLike<number>);
      return;
    }
    if (Array.isArray(v)) {
      this.num(v.length);
      // num() inlined for the numbers (free lists, anonymous page data)
      let a = this.a;
      let b = this.b;
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x === 'number') {
          const lo = x | 0;
          const hi = (x - lo) * 4096 | 0;
          a = Math.imul(a ^ lo, 0x01000193);
          b = Math.imul(b ^ (lo + hi), 0x5bd1e995) ^ (b >>> 15);
        } else {
          this.a = a;
          this.b = b;
          this.value(x);
          a = this.a;
          b = this.b;
        }
      }
      this.a = a;
      this.b = b;
      return;
    }
    if (v instanceof Map || v instanceof Set) return;
    const o = v as Record<string, unknown>;
    for (const key in o) {
      if (SKIP.has(key)) continue;
      const x = o[key];
      if (key === 'fn' && x && typeof x === 'object' && 'name' in x) this.num(fnId(x as { name: string }));
      else if (key === 'epoch' && typeof o.page === 'number') this.epoch(o.page, x as number);
      else if (key === 'fileEpoch') this.epoch(o.filePage as number, x as number);
      else if (key === 'pteEpoch') {
        const pte = o.pte as Int16Array;
        const ep = x as Int32Array;
        for (let i = 0; i < ep.length; i++) this.epoch(pte[i], pte[i] === -1 ? 0 : ep[i]);
      } else if (key === 'sleeps') for (const d of this.k.faultsAhead(o as unknown as Thread)) this.num(d);
      else if (key === 'allocs') continue; // in faultsAhead with the sleeps
      else this.value(x);
    }
  }
}

function hashState(k: Kernel, ref: Reference): Hasher {
  const h = new Hasher(k);
  h.value(k);
  h.num(-1);
  h.value(ref);
  return h;
}

export function stateKey(k: Kernel, ref: Reference): string {
  const h = hashState(k, ref);
  return `${(h.a >>> 0).toString(16)}${(h.b >>> 0).toString(16)}`;
}

// The same hash as two 32-bit words, with extra state (the lock-order
// graph, which lives in Maps the walk leaves out) mixed in.
export function stateFingerprint(k: Kernel, ref: Reference, extra: string): [number, number] {
  const h = hashState(k, ref);
  h.num(-2);
  h.str(extra);
  return [h.a >>> 0, h.b >>> 0];
}
