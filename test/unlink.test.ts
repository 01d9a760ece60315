// unlink(2) and the eviction of an unlinked file (docs/fidelity.md,
// `sys_unlink`, `evict`): the name goes at once, the file lives while
// anything holds it, and its blocks go when the last reference does;
// 4.18 and 6.1 free them with pages still pinned, mainline waits.

import { test } from 'uvu';
import { readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { findVariant, type FlagName, type Variant } from '../models/variants/index.ts';
import type { Op, TestCase } from '../models/testcase.ts';
import { runTestCase } from '../fuzz/lockstep.ts';
import { explore, loadScenario } from '../fuzz/explore.ts';
import { Reference } from '../models/reference/index.ts';
import { dax, mmap, open, pagecache, tc } from './programs.ts';

const without = (v: Variant, flag: FlagName): Variant => ({ ...v, flags: { ...v.flags, [flag]: false } });
const unlink = (file: number): Op => ({ op: 'unlink', file });
const write = (fd: number, val: number, off = 0): Op => ({ op: 'write', fd, off, val });
const opts = { depth: 400, maxStates: 300_000 };

function results(v: Variant, t: TestCase) {
  const r = runTestCase(v, t);
  return { d: r.divergence, of: (tid: number) => r.trace.filter((s) => s.tid === tid && s.result !== undefined).map((s) => s.result), trace: r.trace };
}

test('the name goes at once, the open file stays: unlink twice, open and truncate(2) by name give ENOENT; the fd still reads and writes', () => {
  const t = tc([dax(1), pagecache(1)], [[open(0), unlink(0), unlink(0), open(0), { op: 'truncate_path', file: 0, size: 0 }, write(0, 7), open(1), mmap(0), { op: 'load', map: 0, page: 0 }, { op: 'close', fd: 0 }]]);
  for (const name of ['linux-4.18', 'linux-6.1', 'mainline-fixed']) {
    const r = results(findVariant(name), t);
    assert.is(r.d, null, `${name}: ${r.d?.message}`);
    assert.equal(r.of(0), [0, 0, 'ENOENT', 'ENOENT', 'ENOENT', 0, 1, 0, 7, 0], name);
  }
});

test('the blocks come back with the last reference, not with the name', () => {
  // one block, the unlinked file's: a sparse file gets it only once the fd closes
  const t = tc([dax(1), dax(1, true)], [[open(0), open(1), unlink(0), write(1, 5), { op: 'close', fd: 0 }, write(0, 5)]], { config: { files: [dax(1), dax(1, true)], procs: [{ uid: 0, capLease: false }], blocks: 1, leaseBreakTime: 1 } });
  for (const name of ['linux-6.1', 'mainline-fixed']) {
    const r = results(findVariant(name), t);
    assert.is(r.d, null, `${name}: ${r.d?.message}`);
    assert.equal(r.of(0), [0, 1, 0, 'ENOSPC', 0, 0], name);
    assert.ok(r.trace.some((s) => s.fn === 'evict' && s.label === 'xfs_inactive' && s.op?.op === 'close'), `${name}: the close evicts`);
  }
});

test('an unlinked file closed with AIO in flight into its mapping: 4.18 and 6.1 free the pinned block, mainline waits for the DMA', () => {
  const sc = loadScenario('sys-aio-buffer-closed');
  const c = sc.cases.find((x) => x.choice.includes('"unlink"'))!.testCase;
  for (const name of ['linux-4.18', 'linux-6.1']) {
    const r = explore(findVariant(name), c, opts);
    assert.is(r.divergence?.class, 'dma-into-reallocated-block', name);
    const steps = results(findVariant(name), r.testCase!).trace;
    const freed = steps.findIndex((s) => s.fn === 'evict' && s.label === 'xfs_inactive');
    const dma = steps.findIndex((s) => s.fn === 'blk_mq_run_hw_queue' && s.label === 'dma_transfer');
    assert.ok(freed >= 0 && freed < dma, `${name}: evicted (${freed}) before the DMA (${dma})`);
    // the flag is what does it
    const fixed = explore(without(findVariant(name), 'evictFreesPinnedBlocks'), c, opts);
    assert.ok(fixed.complete && !fixed.divergence, `${name} without the flag: ${fixed.divergence?.message}`);
  }
  const main = explore(findVariant('mainline-fixed'), c, opts);
  assert.ok(main.complete && !main.divergence, main.divergence?.message);
  // and the wait does happen: the last reference's holder sleeps in dax_break_layout_final
  const waits = [0, 1, 2, 3, 4, 5, 6, 7].some((i) => results(findVariant('mainline-fixed'), { ...c, schedule: Array.from({ length: 60 }, (_, j) => (j * 3 + i) % 3) }).trace.some((s) => s.label === 'wait_page_idle_uninterruptible'));
  assert.ok(waits);
});

test('a sibling thread closing the fd of a call under way leaves the file to the call: the eviction waits for it', () => {
  const t = tc([dax(1), pagecache(1)], [[open(0), unlink(0), write(0, 7)], [{ op: 'tick' }, { op: 'close', fd: 0 }]]);
  for (const name of ['linux-6.1', 'mainline-fixed']) {
    const r = explore(findVariant(name), t, opts);
    assert.ok(r.complete && !r.divergence, `${name}: ${r.divergence?.message}`);
  }
});

test('a close that lets an unlinked file go drops its fcntl lease at once, as the kernel does before the eviction (the 10-minute campaign\'s result-mismatch at .leases.length)', () => {
  // the close hands its result back only after the eviction (task work); the lease went at the fput before it
  const t = tc([dax(0)], [[open(0, false)], [{ op: 'fcntl_setlease', fd: 0, type: 'wr' }, unlink(0), { op: 'close', fd: 0 }]]);
  for (const name of ['mainline-fixed', 'mapdirect-fixed', 'linux-6.1']) {
    const r = explore(findVariant(name), t, opts);
    assert.ok(r.complete && !r.divergence, `${name}: ${r.divergence?.message}`);
  }
});

test('the 10-minute campaign\'s two other result-mismatches at .leases.length replay clean: a call\'s fdput drops the lease before its task work evicts, a pending layoutget holds no user file, a pending mmap holds its own', () => {
  for (const name of ['campaign-fallocate-close-unlinked', 'campaign-layoutget-close-unlinked', 'campaign-mmap-holds-file', 'campaign-mmap-close-lease']) {
    const cx = JSON.parse(readFileSync(new URL(`fixtures/${name}.json`, import.meta.url), 'utf8'));
    const r = runTestCase(findVariant(cx.variant.name), cx.testCase);
    assert.is(r.divergence, null, `${name}: ${r.divergence?.message}`);
    assert.ok(r.steps >= cx.divergence.step, `${name}: ran past where it diverged`);
  }
});

test('the reference holds the promise: an unlinked file\'s blocks go only when nothing holds it', () => {
  const t = tc([dax(1)], [[open(0), unlink(0)]]);
  const r = new Reference('upstream', t, 'linux-6.1');
  for (const op of t.threads[0].ops) {
    r.invoke(0, 0, op);
    r.commit(0);
    r.complete(0, 0);
  }
  r.inodeFreed(-1, 0);
  assert.match(r.divergence?.message ?? '', /the blocks of file 0 were freed while it was still open/);
  const named = new Reference('upstream', t, 'linux-6.1');
  named.inodeFreed(-1, 0);
  assert.match(named.divergence?.message ?? '', /while it still had its name/);
});

test.run();
