// FICLONERANGE and copy-on-write (docs/fidelity.md, `sys_ioctl_ficlone`,
// `xfs_reflink_allocate_cow`): what a clone shares and refuses per
// version, what a write to a shared page does, and the two 6.1 and
// mainline findings: a DAX write leaves the writer's mapping on the block
// the other file keeps (6.1), and a copy-on-write moves a page a pin
// holds (6.1 and mainline).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findVariant } from '../models/variants/index.ts';
import { expectation } from '../fuzz/conform.ts';
import { explore, exploreScenario, loadScenario } from '../fuzz/explore.ts';
import { sys_ioctl_ficlone } from '../models/impl/xfs_reflink.ts';
import { CLONE_PROGRAMS, STALE_AFTER_COW, clone, dax, open, tc } from './programs.ts';
import type { Op } from '../models/testcase.ts';

const asKernel = (xs: (number | string)[]) => xs.map((x) => (typeof x === 'number' ? `ok ${x}` : `err ${x}`));
const results = (e: ReturnType<typeof expectation>) => e.steps.map((s) => (s.expected === 'ok' ? 'ok 0' : s.expected));

test('each clone program on 6.1 and mainline gives what the real 6.1 kernel gave, results and files', () => {
  for (const name of ['linux-6.1', 'linux-mainline', 'mainline-fixed']) {
    for (const p of CLONE_PROGRAMS) {
      const e = expectation(findVariant(name), tc(p.files, [p.ops]));
      assert.is(e.modelDivergence, null, `${name} ${p.name}`);
      assert.equal(results(e), asKernel(p.kernel), `${name} ${p.name}`);
      assert.equal(e.files, p.after, `${name} ${p.name}`);
    }
  }
});

test('4.18 refuses a clone with a DAX file on either side (EINVAL) and clones page-cache files as 6.1 does', () => {
  const v = findVariant('linux-4.18');
  for (const p of CLONE_PROGRAMS) {
    const e = expectation(v, tc(p.files, [p.ops]));
    assert.is(e.modelDivergence, null, p.name);
    const got = results(e);
    // each program opens its files in order, so fd i is file i
    p.ops.forEach((op, i) => {
      if (op.op === 'clone' && (p.files[op.fd].dax || p.files[op.src].dax) && got[i] !== 'err EBADF') assert.is(got[i], 'err EINVAL', `${p.name} op ${i}`);
    });
    if (p.name === 'page cache') assert.equal(got, asKernel(p.kernel));
  }
  // an empty source: 0 whatever the range (6.1: EINVAL for a range past EOF)
  const empty = tc([{ ...dax(0), dax: false }, { ...dax(1), dax: false }], [[open(0), open(1), clone(1, 0, 0, 0, 1)]]);
  assert.is(results(expectation(v, empty))[2], 'ok 0');
  assert.is(results(expectation(findVariant('linux-6.1'), empty))[2], 'err EINVAL');
});

test('a DAX write that copies a shared page: 6.1 leaves the writer\'s mapping on the other file\'s block, and the page check catches it; mainline unmaps', () => {
  const t = tc(STALE_AFTER_COW.files, [STALE_AFTER_COW.ops]);
  const main = expectation(findVariant('linux-mainline'), t);
  assert.is(main.modelDivergence, null);
  assert.equal(results(main), asKernel(STALE_AFTER_COW.mainline));
  assert.equal(main.files, STALE_AFTER_COW.after);
  const six1 = expectation(findVariant('linux-6.1'), t);
  assert.match(six1.modelDivergence ?? '', /^refcount: process 0 mapping 0 maps page \d+ at file 0 page 0, but that page is file 1 page 0/);
  // it diverges at the write (op 7): the results before it are the kernel's
  assert.equal(results(six1), asKernel(STALE_AFTER_COW.linux61.slice(0, 7)));
});

// T0 pins page 0 of DAX file 0 with an AIO O_DIRECT read of a
// page-cache file in flight; T1 clones file 0 onto file 1.  Every
// interleaving: the clone must not share the block before the read has
// landed, or file 1 would change after its clone.
const pinnedClone = tc([dax(1), dax(1), { ...dax(1), dax: false }], [
  [open(0), open(2), { op: 'mmap', fd: 0, off: 0, len: 0, type: 'shared', sync: false, direct: false, write: true }, { op: 'dio_read', fd: 1, off: 0, map: 0, page: 0, aio: true }],
  [open(0), open(1), clone(1, 0)],
]);
pinnedClone.config.procs.push({ uid: 0, capLease: false });
pinnedClone.threads[1].proc = 1;

test('a clone of DAX files waits for a page either one has pinned; without the wait the device writes a block both files share', () => {
  for (const v of ['linux-6.1', 'linux-mainline']) {
    const r = explore(findVariant(v), pinnedClone, { depth: 400, maxStates: 200_000 });
    assert.is(r.divergence, null, `${v}: ${r.divergence?.message}`);
    assert.ok(r.complete, v);
  }
  const skip = { xfs_break_dax_layouts: 'xfs_ilock_mmaplock_second', dax_busy_page_second: 'xfs_reflink_remap_prep' } as const;
  const saved = Object.keys(skip).map((l) => sys_ioctl_ficlone.steps[sys_ioctl_ficlone.index.get(l)!]);
  for (const [l, to] of Object.entries(skip)) sys_ioctl_ficlone.steps[sys_ioctl_ficlone.index.get(l)!] = () => to;
  try {
    const r = explore(findVariant('linux-mainline'), pinnedClone, { depth: 400, maxStates: 200_000 });
    assert.ok(r.divergence, 'the check catches a clone that does not wait');
  } finally {
    Object.keys(skip).forEach((l, i) => (sys_ioctl_ficlone.steps[sys_ioctl_ficlone.index.get(l)!] = saved[i]));
  }
});

test('a pin on a shared page stays with its file when the other file writes that page: the other file copies', () => {
  // file 1 is a clone of file 0; T0 sends file 0's page 0 to a page-cache
  // file with AIO O_DIRECT (a read pin on the shared block); T1 writes
  // page 0 of file 1, which moves file 1 and leaves the block to file 0
  const t = tc([dax(1), dax(1), { ...dax(1), dax: false }], [
    [open(0), open(1), open(2), clone(1, 0), { op: 'mmap', fd: 0, off: 0, len: 0, type: 'shared', sync: false, direct: false, write: true }, { op: 'dio_write', fd: 2, off: 0, map: 0, page: 0, aio: true }, { op: 'load', map: 0, page: 0 }],
    [open(1), { op: 'write', fd: 0, off: 0, val: 9 }],
  ]);
  t.config.procs.push({ uid: 0, capLease: false });
  t.threads[1].proc = 1;
  for (const v of ['linux-6.1', 'linux-mainline', 'mainline-fixed']) {
    const r = explore(findVariant(v), t, { depth: 400, maxStates: 200_000 });
    assert.is(r.divergence, null, `${v}: ${r.divergence?.message}`);
    assert.ok(r.complete, v);
  }
});

// The systematic row where T0 reads a shared page with AIO O_DIRECT
// (a pin) and T1 writes that page of the source: the copy-on-write must
// wait for the pin.
function cloneDioWrite() {
  const sc = loadScenario('sys-clone-dio-buffer');
  const write = JSON.stringify({ op: 'write', fd: 0, off: 1, val: 9 } satisfies Op);
  return { ...sc, cases: sc.cases.filter((c) => c.choice.includes(write)) };
}

test('a copy-on-write waits for a pin on the block it leaves (mainline-fixed); upstream moves the page and the device reads the other file\'s block', () => {
  const sc = cloneDioWrite();
  assert.is(sc.cases.length, 1);
  const opts = { depth: 400, maxStates: 400_000 };
  const fixed = exploreScenario(findVariant('mainline-fixed'), sc, opts);
  assert.is(fixed.divergence, null, fixed.divergence?.message);
  assert.ok(fixed.complete);
  for (const v of ['linux-mainline', 'linux-6.1']) {
    const r = exploreScenario(findVariant(v), sc, opts);
    assert.ok(r.divergence, v);
    // 6.1 also leaves the writer's mapping on the old block: either shows first
    assert.ok(['dma-into-reallocated-block', 'refcount'].includes(r.divergence!.class), `${v}: ${r.divergence!.class}`);
    if (v === 'linux-mainline') assert.match(r.divergence!.message, /^device DMA read from block \d+, pinned or mapped as file 0 page 1, which is now file 2 page 1/);
  }
});

test.run();
