// The version-pinned variants: each difference between 4.18, 6.1 and
// mainline, on a program that shows it, and the same program on the
// version without it.  Each check is also run with the one flag turned
// off on the version that has it, so a flag that stopped mattering fails
// here.  Kernel lines: docs/fidelity.md.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findVariant, type FlagName, type Variant } from '../models/variants/index.ts';
import type { Op, TestCase } from '../models/testcase.ts';
import { dax, mmap, open, pagecache, reg, tc } from './programs.ts';
import { runTestCase } from '../fuzz/lockstep.ts';
import { explore } from '../fuzz/explore.ts';
import { readFileSync } from 'node:fs';
import seedrandom from 'seedrandom';
import { expectation } from '../fuzz/conform.ts';

const aioRead = (fd: number, off: number, map: number, page: number): Op => ({ op: 'dio_read', fd, off, map, page, aio: true });

const without = (v: Variant, flag: FlagName): Variant => ({ ...v, flags: { ...v.flags, [flag]: false } });
const opts = { depth: 400, maxStates: 400_000 };

function explored(v: Variant, t: TestCase): string | null {
  const r = explore(v, t, opts);
  assert.ok(r.complete || r.divergence, `${v.name}: exploration incomplete`);
  return r.divergence?.class ?? null;
}

function results(v: Variant, t: TestCase, tid = 0) {
  const r = runTestCase(v, t);
  assert.is(r.divergence, null, `${v.name}: ${r.divergence?.message}`);
  return r.trace.filter((s) => s.tid === tid && s.result !== undefined).map((s) => s.result);
}

test('4.18 and 6.1: the busy-page scan returns at once when nothing maps the file, so a truncate after the last munmap frees a block direct I/O still has pinned', () => {
  // an AIO O_DIRECT read from a page-cache file into the DAX mapping, the mapping unmapped, the DAX file truncated
  const t = tc([dax(1), pagecache(1)], [[open(0), open(1), mmap(0), aioRead(1, 0, 0, 0), { op: 'munmap', map: 0 }, { op: 'truncate', fd: 0, size: 0 }]]);
  for (const name of ['linux-6.1', 'linux-4.18']) {
    assert.is(explored(findVariant(name), t), 'dma-into-reallocated-block', name);
    assert.is(explored(without(findVariant(name), 'busyScanSkipsUnmapped'), t), null, `${name} without the flag`);
  }
  assert.is(explored(findVariant('linux-mainline'), t), null);
});

test('4.18: the busy-page wait asks for a rescan only if it slept, so a second pinned page goes unseen', () => {
  // two pages pinned by direct I/O; the first found goes idle before the wait looks at it
  const t = tc([dax(2), pagecache(2)], [[open(0), open(1), mmap(0, { len: 1 }), aioRead(1, 0, 0, 0), aioRead(1, 1, 0, 1), { op: 'truncate', fd: 0, size: 0 }]]);
  const only = { ...findVariant('linux-mainline'), flags: { ...findVariant('linux-mainline').flags, busyWaitRetriesOnlyAfterSleep: true } };
  assert.is(explored(only, t), 'dma-into-reallocated-block');
  assert.is(explored(findVariant('linux-mainline'), t), null);
});

test('4.18 refuses a registration of a DAX mapping\'s private copies, which 6.1 and mainline pin; and it faults the range in before it refuses', () => {
  const copies = tc([dax(1)], [[open(0), mmap(0, { type: 'private' }), { op: 'store', map: 0, page: 0, val: 7 }, reg(0)]]);
  assert.equal(results(findVariant('linux-mainline'), copies), [0, 0, 0, 0]);
  assert.equal(results(findVariant('linux-6.1'), copies), [0, 0, 0, 0]);
  assert.equal(results(findVariant('linux-4.18'), copies), [0, 0, 0, 'EOPNOTSUPP']);
  // a shared mapping of a hole, with one free block: 4.18's write fault takes it before the refusal
  const hole = tc([dax(2, true)], [[open(0), mmap(0, { len: 1 }), reg(0), { op: 'write', fd: 0, off: 1, val: 1 }]]);
  hole.config.blocks = 1;
  assert.equal(results(findVariant('linux-mainline'), hole), [0, 0, 'EOPNOTSUPP', 0]);
  assert.equal(results(findVariant('linux-4.18'), hole), [0, 0, 'EOPNOTSUPP', 'ENOSPC']);
});

test('the reference says which registrations a version refuses: a kernel that refuses what its version pins is caught', () => {
  const copies = tc([dax(1)], [[open(0), mmap(0, { type: 'private' }), { op: 'store', map: 0, page: 0, val: 7 }, reg(0)]]);
  const refusesTooMuch = { ...findVariant('linux-mainline'), flags: { ...findVariant('linux-mainline').flags, longtermChecksEveryVma: true } };
  const r = runTestCase(refusesTooMuch, copies);
  assert.is(r.divergence?.class, 'result-mismatch');
  assert.match(r.divergence!.message, /reg_mr returned EOPNOTSUPP/);
  // and one that pins what its version refuses
  const pinsTooMuch = { ...findVariant('linux-4.18'), flags: { ...findVariant('linux-4.18').flags, longtermChecksEveryVma: false } };
  assert.is(runTestCase(pinsTooMuch, copies).divergence?.class, 'result-mismatch');
  // a shared DAX mapping: refused in every version
  const shared = tc([dax(1)], [[open(0), mmap(0), reg(0)]]);
  for (const name of ['linux-4.18', 'linux-6.1', 'linux-mainline']) assert.equal(results(findVariant(name), shared), [0, 0, 'EOPNOTSUPP'], name);
});

test('4.18: a stream of registrations that get_user_pages_longterm pins and then refuses starves truncate, outside the promise as a stream of direct I/O is', () => {
  // found by a campaign on linux-4.18 as no-progress before the promise counted a refused registration's pins as transient
  const t: TestCase = {
    ...tc([dax(0)], [
      [open(0), mmap(0)],
      [reg(0)],
      [{ op: 'fallocate', fd: 0, mode: 'alloc', off: 0, len: 0 }, { op: 'tick' }, { op: 'truncate', fd: 0, size: 0 }],
    ]),
    schedule: [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, ...Array(17).fill(0), 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, ...Array(20).fill(0), 1, 0, 1, 1, 1, 0, 0, 0, 1, ...Array(16).fill(0), 1, 0],
    repeatFrom: 61,
  };
  t.config.blocks = 1;
  t.config.leaseBreakTime = 1;
  t.threads[1].loop = true;
  const r = runTestCase(findVariant('linux-4.18'), t);
  assert.is(r.divergence, null);
  assert.is(r.finished, false); // the truncate never returns, and that is not a broken promise
  assert.ok(r.trace.some((s) => s.tid === 1 && s.result === 'EOPNOTSUPP'));
});

test('gup-fast: a pte zapped and set again to the same block between the read and the recheck pins the block as it is now', () => {
  // found by a campaign on linux-4.18 as dma-into-reallocated-block: the pin kept the block's earlier allocation,
  // though the recheck, comparing the pte's value, cannot tell the two apart (mm/gup.c, gup_pte_range)
  const t = JSON.parse(readFileSync('test/fixtures/gup-fast-same-pte-again.json', 'utf8')) as TestCase;
  const r = runTestCase(findVariant('linux-4.18'), t);
  assert.is(r.divergence, null);
  assert.ok(r.trace.filter((s) => s.fn === 'blk_mq_run_hw_queue' && s.label === 'dma_transfer').length >= 3);
});

test('6.1 and mainline lose the blocking lease break\'s error: a truncate hit by a signal polls on until the lease is gone, where the fixed series returns EINTR', () => {
  // reachable only where something takes a layout lease: MAP_DIRECT here
  const t = { ...tc([dax(2)], [[open(0), mmap(0, { type: 'validate', direct: true })], [{ op: 'truncate', fd: 0, size: 0 }]]), faults: [{ kind: 'signal' as const, thread: 1, nth: 0 }] };
  assert.equal(results(findVariant('mapdirect-fixed'), t, 1), ['EINTR']);
  const asSixOne = { ...findVariant('mapdirect-fixed'), flags: { ...findVariant('mapdirect-fixed').flags, leasedBreakLosesBlockingError: true } };
  const r = runTestCase(asSixOne, t);
  assert.is(r.divergence?.class, 'result-mismatch');
  assert.match(r.divergence!.message, /after a signal interrupted its wait/);
  assert.ok(findVariant('linux-6.1').flags.leasedBreakLosesBlockingError && findVariant('linux-mainline').flags.leasedBreakLosesBlockingError);
});

test('gup-fast: a private copy zapped and made again in the same slot between the read and the recheck is pinned as it is now', () => {
  // found by a 10-minute campaign on linux-mainline (and there since before the version-pinned variants):
  // a truncate drops the private copy the O_DIRECT buffer's pte pointed at, a store makes a new one in the
  // same slot, and the pin kept the reference's view of the old copy while the device wrote into the new
  const t = JSON.parse(readFileSync('test/fixtures/gup-fast-private-copy-again.json', 'utf8')) as TestCase;
  const r = runTestCase(findVariant('linux-mainline'), t);
  assert.is(r.divergence, null);
  assert.ok(r.trace.some((s) => s.fn === 'get_user_pages_fast' && s.label === 'gup_get_page'));
});

test('every version-pinned variant cites its release and tree, and upstream and v4.18 name versions', () => {
  for (const name of ['linux-4.18', 'linux-6.1', 'linux-mainline']) {
    const v = findVariant(name);
    assert.is(v.kernel, name);
    assert.match(v.seed, /read in github:/);
  }
  assert.is(findVariant('upstream').name, 'linux-mainline');
  assert.is(findVariant('v4.18').name, 'linux-4.18');
});


// fork and pins: which process keeps a private page that DMA targets.
// The registration's NIC write lands after the parent's store; the
// parent's load shows whose page the registration kept.
const forkAfterPin = (pin: Op[], nicAt = 0): TestCase =>
  tc([pagecache(1), pagecache(1)], [[open(0), open(1), mmap(0, { type: 'private' }), { op: 'store', map: 0, page: 0, val: 5 }, ...pin, { op: 'fork' }, { op: 'store', map: 0, page: 0, val: 7 }, { op: 'tick' }, { op: 'load', map: 0, page: 0 }]], {
    nic: nicAt ? [{ op: 'rdma_write', mr: 0, page: 0, val: 9, at: nicAt }] : [],
  });

test('4.18: fork shares a registered private page with the child, and the parent\'s next store copies it: the NIC writes the child\'s page; 6.1 and mainline copy it for the child at fork (FOLL_PIN)', () => {
  const t = forkAfterPin([reg(0)], 1);
  const last = (v: Variant) => {
    const e = expectation(v, t);
    assert.is(e.modelDivergence, null, v.name);
    return e.steps.at(-1)!.expected;
  };
  assert.is(last(findVariant('linux-4.18')), 'ok 7');
  // a 4.18 that pinned with FOLL_PIN keeps the page for the parent: the reference for 4.18 says it cannot
  assert.match(expectation(without(findVariant('linux-4.18'), 'noFollPin'), t).modelDivergence ?? '', /state differs from the reference at \.procs\[1\]\.maps\[0\]\.cow\[0\]/);
  assert.is(last(findVariant('linux-6.1')), 'ok 9');
  assert.is(last(findVariant('linux-mainline')), 'ok 9');
});

test('6.1: an AIO O_DIRECT read in flight at fork targets a page fork shares (FOLL_GET), so it lands in the child\'s page once the parent stores; mainline pins with FOLL_PIN and the parent keeps the page', () => {
  // file 1 holds 21 at page 0; the read may land before the parent's store of 7 (then 7 wins) or after
  const t = forkAfterPin([aioRead(1, 0, 0, 0)]);
  // the parent's last load over many schedules, or the first divergence
  const outcomes = (v: Variant): unknown[] | string => {
    const seen = new Set<unknown>();
    const rng = seedrandom('fork');
    for (let i = 0; i < 300; i++) {
      const schedule = Array.from({ length: 60 }, () => (rng() < 0.3 ? Math.floor(rng() * 3) : 0));
      const r = runTestCase(v, { ...t, schedule });
      if (r.divergence) return r.divergence.message;
      seen.add(r.trace.filter((s) => s.tid === 0 && s.result !== undefined).at(-1)!.result);
    }
    return [...seen].sort();
  };
  assert.equal(outcomes(findVariant('linux-6.1')), [7]);
  assert.equal(outcomes(findVariant('linux-4.18')), [7]);
  assert.equal(outcomes(findVariant('linux-mainline')), [21, 7]);
  // a 6.1 whose O_DIRECT pinned with FOLL_PIN would keep the page for the parent: caught
  assert.match(String(outcomes(without(findVariant('linux-6.1'), 'dioPinsWithFollGet'))), /state differs from the reference at \.procs\[\d\]\.maps\[0\]\.cow\[0\]/);
});

test('every version is clean under every interleaving of a fork with a registration and an AIO read of the same private page', () => {
  const t = tc([pagecache(1), pagecache(1)], [
    [open(0), open(1), mmap(0, { type: 'private' }), { op: 'store', map: 0, page: 0, val: 5 }, aioRead(1, 0, 0, 0), { op: 'store', map: 0, page: 0, val: 7 }, { op: 'load', map: 0, page: 0 }],
    [{ op: 'fork' }, reg(0), { op: 'load', map: 0, page: 0 }],
  ], { nic: [{ op: 'rdma_write', mr: 0, page: 0, val: 9, at: 0 }] });
  for (const name of ['linux-4.18', 'linux-6.1', 'linux-mainline']) assert.is(explored(findVariant(name), t), null, name);
});

test('fork while a synchronous O_DIRECT read that pinned a private copy is completing: the pin is gone at bio_endio, before the read returns, so fork shares the page (found by the matrix on K2)', () => {
  const t = tc([pagecache(1), dax(1)], [
    [open(1, false), { op: 'open', file: 0, write: false }, mmap(0, { type: 'private' }), { op: 'fork' }, reg(0)],
    [{ op: 'dio_read', fd: 1, off: 0, map: 0, page: 0, aio: false }],
  ]);
  t.config.blocks = 1;
  for (const name of ['linux-4.18', 'linux-6.1', 'linux-mainline']) assert.is(explored(findVariant(name), t), null, name);
});

test.run();
