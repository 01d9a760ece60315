// The page checks after a step look only at what the step touched
// (checkTouchedPages).  Here they are compared with the full check
// (checkRefcounts) on random runs of every variant, where at random steps
// the step is followed by a random change made through the model's own
// page functions (a stray get or put, a block freed or allocated under a
// mapping, a pte installed to a random page): whenever the full check
// holds before a step, the two must give the same answer after it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { arbTestCase } from '../fuzz/arbitraries.ts';
import { VARIANTS } from '../models/variants/index.ts';
import { Execution } from '../fuzz/lockstep.ts';
import { step } from '../models/impl/syscalls.ts';
import { get_page, put_page } from '../models/impl/page.ts';
import { xfs_bmapi_write, xfs_bunmapi } from '../models/impl/xfs_bmap.ts';
import { set_pte } from '../models/impl/mm.ts';
import type { Kernel } from '../models/impl/kernel.ts';
import { checkRefcounts, checkTouchedPages } from './checks.ts';

type Rng = () => number;
const below = (rng: Rng, n: number): number => Math.floor(rng() * n);

// One random change through the model's page functions; false if the
// state offered nothing to change.
function disturb(k: Kernel, rng: Rng): boolean {
  const vmas = k.procs.flatMap((pr) => pr.vmas);
  switch (below(rng, 5)) {
    case 0:
      get_page(k, below(rng, k.npages));
      return true;
    case 1:
      put_page(k, below(rng, k.npages));
      return true;
    case 2: {
      const ip = k.inodes[below(rng, k.inodes.length)];
      xfs_bunmapi(k, ip.id, below(rng, ip.size || 1));
      return true;
    }
    case 3: {
      const ip = k.inodes[below(rng, k.inodes.length)];
      const pg = below(rng, 4);
      if (!ip.dax || ip.bmap[pg] >= 0 || k.blockFree.length === 0) return false;
      xfs_bmapi_write(k, k.threads[0], ip.id, pg, false, null);
      return true;
    }
    default: {
      if (vmas.length === 0) return false;
      const vma = vmas[below(rng, vmas.length)];
      set_pte(k, vma, below(rng, vma.npages), below(rng, k.npages), rng() < 0.5);
      return true;
    }
  }
}

const summary = (d: ReturnType<typeof checkRefcounts>) => (d ? `${d.class}: ${d.message}` : null);

test('checkTouchedPages reports what checkRefcounts reports, on random runs of every variant with random page changes', () => {
  const tcs = fc.sample(arbTestCase, { numRuns: 150, seed: 5 });
  let compared = 0;
  let fired = 0;
  let disturbed = 0;
  for (const [vi, v] of VARIANTS.entries()) {
    for (const [ci, tc] of tcs.entries()) {
      const rng = seedrandom(`incremental ${vi} ${ci}`);
      const ex = new Execution(v, tc);
      const k = ex.k;
      assert.is(checkRefcounts(k), null, 'the initial state holds');
      for (let n = 0; n < 300; n++) {
        const ids = ex.runnableIds();
        if (ids.length === 0) break;
        k.clearStep();
        try {
          step(k, ids[below(rng, ids.length)]);
          if (rng() < 0.04 && disturb(k, rng)) disturbed++;
        } catch {
          break; // a disturbed state the model refuses (a model limit): the run ends
        }
        const full = summary(checkRefcounts(k));
        assert.is(summary(checkTouchedPages(k)), full, `${v.name}, case ${ci}, step ${n}`);
        compared++;
        if (full) {
          fired++;
          break; // the next step would start from a state the full check rejects
        }
      }
    }
  }
  // the comparison saw both answers, often
  assert.ok(compared > 50_000, `${compared} steps compared`);
  assert.ok(disturbed > 2_000, `${disturbed} steps disturbed`);
  assert.ok(fired > 1_000, `${fired} runs where the full check fired`);
});

test.run();
