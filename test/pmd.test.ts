// PMD mappings of DAX files (docs/fidelity.md, "PMD mappings"): when a
// fault maps the whole PMD, what a split takes with it, and K2 on the
// huge-pmd path where 001 fixed it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findVariant } from '../models/variants/index.ts';
import { PMD_HUGE, PMD_TABLE, type Kernel } from '../models/impl/kernel.ts';
import type { Op, TestCase } from '../models/testcase.ts';
import { runTestCase, type Execution } from '../fuzz/lockstep.ts';
import { explore, loadScenario } from '../fuzz/explore.ts';
import { Reference } from '../models/reference/index.ts';
import { dax, mmap, open, tc } from './programs.ts';

const withPmd = (t: TestCase, pmd = true): TestCase => ({ ...t, config: { ...t.config, pmd } });
const store = (page: number, val = 5): Op => ({ op: 'store', map: 0, page, val });
const load = (page: number): Op => ({ op: 'load', map: 0, page });

// The run's results, its fault steps, and the kernel as it ended.
function run(variant: string, t: TestCase) {
  let k: Kernel | null = null;
  const r = runTestCase(findVariant(variant), t, { observe: (ex: Execution) => (k = ex.k) });
  const results = r.trace.filter((s) => s.tid === 0 && s.result !== undefined).map((s) => s.result);
  const faults = (label: string) => r.trace.filter((s) => s.fn === '__xfs_filemap_fault' && s.label === label).length;
  return { r, results, faults, k: k! };
}

test('a store into a hole of a two-page shared DAX mapping allocates the whole PMD and maps it huge: the load of the other page needs no fault', () => {
  const t = tc([dax(2, true)], [[open(0), mmap(0, { len: 1 }), store(0), load(1)]]);
  const huge = run('linux-6.1', withPmd(t));
  assert.is(huge.r.divergence, null);
  assert.equal(huge.results, [0, 0, 0, 0]);
  assert.is(huge.faults('dax_iomap_pmd_fault'), 1);
  assert.is(huge.faults('dax_iomap_fault'), 0);
  const vma = huge.k.procs[0].vmas[0];
  assert.equal([...vma.pmd], [PMD_HUGE, PMD_HUGE]);
  assert.ok(huge.k.inodes[0].bmap.slice(0, 2).every((b) => b >= 0), 'both pages have blocks');
  // the same program with PMDs larger than the file: two pte faults, one block
  const small = run('linux-6.1', withPmd(t, false));
  assert.is(small.r.divergence, null);
  assert.equal(small.results, huge.results);
  assert.is(small.faults('dax_iomap_fault'), 2);
  assert.is(small.k.inodes[0].bmap[1], -1);
});

test('the huge path falls back where the kernel does: a private write, a mapping that is not the whole PMD, a PMD past EOF', () => {
  const cases: [string, Op[], number][] = [
    ['private write', [open(0), mmap(0, { len: 1, type: 'private' }), store(0)], 2],
    ['one-page mapping', [open(0), mmap(0, { len: 0 }), store(0)], 2],
    ['odd offset', [open(0), mmap(0, { len: 1, off: 1 }), store(0)], 4],
  ];
  for (const [what, ops, size] of cases) {
    const { r, faults, k } = run('linux-6.1', withPmd(tc([dax(size)], [ops])));
    assert.is(r.divergence, null, what);
    assert.is(faults('dax_iomap_pmd_fault'), 1, what);
    assert.is(faults('dax_iomap_fault'), 1, `${what}: the pte fault does it`);
    assert.ok(![...k.procs[0].vmas[0].pmd].includes(PMD_HUGE), what);
  }
  // a file of three pages: the second PMD runs past EOF
  const { r, faults } = run('linux-6.1', withPmd(tc([dax(3)], [[open(0), mmap(0, { len: 1, off: 2 }), load(0)]])));
  assert.is(r.divergence, null);
  assert.is(faults('dax_iomap_fault'), 1);
});

test('a hole punched in one page of a huge mapping splits the pmd: the other page, still in the file, faults again', () => {
  const t = tc([dax(2)], [[open(0), mmap(0, { len: 1 }), load(0), { op: 'fallocate', fd: 0, mode: 'punch', off: 1, len: 0 }, load(0)]]);
  const { r, results, faults, k } = run('linux-6.1', withPmd(t));
  assert.is(r.divergence, null);
  assert.equal(results, [0, 0, 11, 0, 11]);
  assert.is(faults('dax_iomap_pmd_fault'), 2, 'the second load tries the PMD again');
  assert.is(faults('dax_iomap_fault'), 1, 'and falls back: page 1 is a hole now');
  assert.equal([...k.procs[0].vmas[0].pmd], [PMD_TABLE, PMD_TABLE]);
});

test('K2 is a bug of the huge-pmd path: found on sys-dio-buffer\'s truncate, gone with PMDs off; the versions are clean there', () => {
  const scenario = loadScenario('sys-dio-buffer').cases[0].testCase;
  assert.is(scenario.config.pmd, true);
  const opts = { depth: 400, maxStates: 200_000 };
  assert.is(explore(findVariant('K2'), scenario, opts).divergence?.class, 'dma-into-reallocated-block');
  const off = explore(findVariant('K2'), withPmd(scenario, false), opts);
  assert.ok(off.complete && off.divergence === null, 'the pte path re-reads the pte');
  for (const v of ['linux-4.18', 'linux-6.1', 'linux-mainline']) {
    const r = explore(findVariant(v), scenario, opts);
    assert.ok(r.complete && r.divergence === null, v);
  }
});

test('the reference lets a write fault allocate its own PMD only', () => {
  const t = withPmd(tc([dax(4, true)], [[open(0), mmap(0, { len: 1 })]]));
  const make = () => {
    const ref = new Reference('upstream', t);
    ref.invoke(0, 0, open(0));
    ref.commit(0);
    ref.invoke(0, 0, mmap(0, { len: 1, off: 0 }));
    ref.commit(0);
    ref.invoke(0, 0, mmap(0, { len: 1, off: 1 }));
    ref.commit(0);
    return ref;
  };
  const ok = make();
  ok.hugeFaultAllocates(0, 0, 0, 1);
  assert.is(ok.divergence, null);
  assert.is(ok.files[0].state[1], 2); // WRITTEN
  // the second mapping's pages are file pages 1 and 2, in two PMDs
  const bad = make();
  bad.hugeFaultAllocates(0, 1, 0, 1);
  assert.is(bad.divergence?.class, 'result-mismatch');
  const twice = make();
  twice.hugeFaultAllocates(0, 0, 0, 1);
  twice.hugeFaultAllocates(0, 0, 0, 1);
  assert.is(twice.divergence?.class, 'result-mismatch', 'a written page is not allocated again');
});

test.run();
