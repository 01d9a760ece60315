// Linearizability of a concurrent history against a sequential
// specification: the search of Wing and Gong with the state memoization
// Lowe added and Porcupine uses.  Operations are linearized one at a
// time; the next may be any not yet placed whose call came before every
// unplaced operation's return (so real-time order holds), and it stays
// only if the specification, run on the order so far, gives what the
// history saw.  A (placed set, specification state) pair that once failed
// is not searched again.  The number of specification runs is capped; a
// search that hits the cap says so instead of guessing.

export interface Call {
  call: number; // when it was called and returned, on one clock
  ret: number;
  got: string; // what it returned
}

export interface SeqSpec {
  // What the last operation of `order` returns when the operations run
  // one at a time in that order, and a key of the state that leaves
  // (equal keys: the same future); null when the specification cannot run
  // that order.
  next(order: readonly number[]): { outcome: string; key: string } | null;
  // Whether the state after the whole history, in this order, is the one
  // seen at the end.
  end(order: readonly number[]): boolean;
}

export interface Linearization {
  verdict: 'linearizable' | 'not-linearizable' | 'unknown';
  order: number[] | null; // a witness order, when linearizable
  longest: number[]; // the longest order that held, for the report
  runs: number; // specification runs the search made
}

export const LINEARIZE_CAP = 20_000;

export function linearize(calls: readonly Call[], spec: SeqSpec, cap = LINEARIZE_CAP): Linearization {
  const n = calls.length;
  const failed = new Set<string>();
  const order: number[] = [];
  let longest: number[] = [];
  let runs = 0;
  let capped = false;
  const placed = new Array<boolean>(n).fill(false);
  const search = (mask: bigint): boolean => {
    if (order.length === n) {
      runs++;
      return spec.end(order);
    }
    // the earliest return among the unplaced: nothing called after it can go next
    let bound = Infinity;
    for (let i = 0; i < n; i++) if (!placed[i] && calls[i].ret < bound) bound = calls[i].ret;
    const cands = [...Array(n).keys()].filter((i) => !placed[i] && calls[i].call <= bound).sort((a, b) => calls[a].call - calls[b].call);
    for (const i of cands) {
      if (runs >= cap) { capped = true; return false; }
      order.push(i);
      runs++;
      const r = spec.next(order);
      if (r && r.outcome === calls[i].got) {
        const m = mask | (1n << BigInt(i));
        const key = `${m}|${r.key}`;
        if (!failed.has(key)) {
          placed[i] = true;
          if (order.length > longest.length) longest = [...order];
          if (search(m)) return true;
          placed[i] = false;
          failed.add(key);
        }
      }
      order.pop();
      if (capped) return false;
    }
    return false;
  };
  const ok = search(0n);
  return { verdict: ok ? 'linearizable' : capped ? 'unknown' : 'not-linearizable', order: ok ? [...order] : null, longest, runs };
}
