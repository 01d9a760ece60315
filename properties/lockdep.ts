// A lockdep-style order checker: it learns "class A held while class B
// was taken" edges as the run goes, each with the chain that first showed
// it, and reports an acquisition whose new edge closes a cycle, with both
// chains.

import { divergence, type Divergence } from './classes.ts';

export interface Chain {
  thread: string;
  locks: string[]; // classes held, then the class taken
}

export class Lockdep {
  private edges = new Map<string, Map<string, Chain>>(); // from -> to -> first chain

  // The dependencies recorded so far, in a canonical order: two runs with
  // the same signature will flag the same inversions from here on.
  signature(): string {
    const out: string[] = [];
    for (const [from, tos] of this.edges) for (const to of tos.keys()) out.push(`${from}>${to}`);
    return out.sort().join(',');
  }

  // `held` are the classes held, in order; `taking` the class being taken.
  acquire(thread: string, held: string[], taking: string): Divergence | null {
    const chain: Chain = { thread, locks: [...held, taking] };
    for (const h of held) {
      if (h === taking) continue; // nesting within a class needs annotations lockdep would have
      const back = this.path(taking, h);
      if (back) {
        return divergence(
          'lock-order',
          `${thread} takes ${taking} while holding ${h}, but ${back.map((c) => c.locks.join(' -> ')).join('; ')} established ${taking} before ${h}`,
          { new: chain, existing: back },
        );
      }
    }
    for (const h of held) {
      if (h === taking) continue;
      let to = this.edges.get(h);
      if (!to) this.edges.set(h, (to = new Map()));
      if (!to.has(taking)) to.set(taking, chain);
    }
    return null;
  }

  // The chains of a path from `from` to `to` in the learned graph, if any.
  private path(from: string, to: string): Chain[] | null {
    const seen = new Set<string>([from]);
    const queue: { node: string; via: Chain[] }[] = [{ node: from, via: [] }];
    while (queue.length) {
      const { node, via } = queue.shift()!;
      for (const [next, chain] of this.edges.get(node) ?? []) {
        if (next === to) return [...via, chain];
        if (!seen.has(next)) {
          seen.add(next);
          queue.push({ node: next, via: [...via, chain] });
        }
      }
    }
    return null;
  }
}
