// Online schedulers for the portfolio: they choose the next thread while a
// run goes, and the runner records their choices as an ordinary schedule,
// so what they find replays and shrinks like any other test case.

import type { Picker } from './lockstep.ts';
import type { Rng } from './mutate.ts';

// How far into a run an online scheduler decides; past it, the runner's
// fair tail takes over (and looks for no-progress lassos).
export const HORIZON = 256;

// A seeded random walk: every step, any runnable thread, each as likely.
export function randomWalk(rng: Rng, horizon = HORIZON): Picker {
  return { horizon, pick: (order) => Math.floor(rng() * order.length) };
}

// A random walk that keeps the thread it has: each step the running
// thread goes on with a probability drawn for the run (1/2 to 31/32),
// else another runnable thread, each as likely.  Long runs of one thread
// are what a race between two system calls usually needs (one call's whole
// body between two steps of the other), and a plain walk almost never
// gives them.
export function stickyWalk(rng: Rng, horizon = HORIZON): Picker {
  const stay = 1 - 2 ** -(1 + Math.floor(rng() * 5));
  return { horizon, pick: (order) => (order.length > 1 && rng() >= stay ? 1 + Math.floor(rng() * (order.length - 1)) : 0) };
}

export interface PctParams {
  threads: number; // n: threads that can ever run
  steps: number; // k: an estimate of the run's scheduling points (steps where more than one thread can run)
  depth: number; // d: the bug depth the bound is for (d - 1 priority changes)
}

// PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010): the
// threads get distinct random priorities d..d+n-1 and the highest-priority
// runnable thread runs; at d - 1 random steps the running thread drops to
// priority d-1, d-2, ..., 1.  Any bug of depth d is found by one run with
// probability at least pctBound(n, k, d).
export function pct(rng: Rng, p: PctParams, horizon = HORIZON): Picker {
  const prio = new Float64Array(p.threads);
  const ids = Array.from({ length: p.threads }, (_, i) => i);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  ids.forEach((t, i) => (prio[t] = p.depth + i));
  const change = new Map<number, number>(); // choice point -> the priority the running thread drops to
  for (let i = 1; i < p.depth; i++) change.set(Math.floor(rng() * p.steps), p.depth - i);
  let last = -1;
  let point = 0; // steps so far where more than one thread could run
  return {
    horizon,
    pick(order) {
      // a step with one runnable thread is no scheduling decision: the
      // change points are placed among the others
      const drop = order.length > 1 ? change.get(point++) : undefined;
      if (drop !== undefined && last >= 0) prio[last] = drop;
      let best = 0;
      for (let i = 1; i < order.length; i++) if (prio[order[i]] > prio[order[best]]) best = i;
      last = order[best];
      return best;
    },
  };
}

// The probability bound of one PCT run, 1 / (n k^(d-1)).
export function pctBound(p: PctParams): number {
  return 1 / (p.threads * p.steps ** (p.depth - 1));
}
