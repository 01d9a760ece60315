// Each divergence class's check, on a state built by hand: it fires on the
// bad state and stays quiet on the good one next to it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kernel, BLOCKED } from '../models/impl/kernel.ts';
import { Reference } from '../models/reference/index.ts';
import { NO_FLAGS, type Contract, type Variant } from '../models/variants/index.ts';
import type { TestCase } from '../models/testcase.ts';
import { xfs_bunmapi, xfs_bmapi_write } from '../models/impl/xfs_bmap.ts';
import { abstractImpl, encodeImpl } from './abstraction.ts';
import {
  checkAbstraction, checkAccess, checkBlockmapUnderLease, checkDeadlock, checkIova, checkNotification, checkRefcounts,
} from './checks.ts';
import { Lockdep } from './lockdep.ts';
import { Execution, lasso } from '../fuzz/lockstep.ts';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { arbTestCase } from '../fuzz/arbitraries.ts';
import { VARIANTS } from '../models/variants/index.ts';
import { Encoding, sameState, type AbstractState } from '../models/abstract.ts';

function world(contract: Contract = 'upstream', threads = 2): { k: Kernel; ref: Reference; tc: TestCase } {
  const tc: TestCase = {
    config: {
      files: [
        { owner: 0, dax: true, reflink: false, size: 2, sparse: false },
        { owner: 0, dax: true, reflink: false, size: 1, sparse: false },
      ],
      procs: [{ uid: 0, capLease: false }],
      blocks: 6,
      leaseBreakTime: 1,
    },
    threads: Array.from({ length: threads }, () => ({ proc: 0, ops: [{ op: 'tick' as const }], loop: false })),
    nic: [],
    schedule: [],
    cycle: [],
    faults: [],
  };
  const variant: Variant = { name: 'handmade', contract, kernel: 'linux-mainline', flags: { ...NO_FLAGS }, expect: [], seed: '', summary: '' };
  const ref = new Reference(contract, tc);
  return { k: new Kernel(variant, tc, ref), ref, tc };
}

test('dma-into-reallocated-block: a DMA into a block freed since the pin fires, into a block still in place does not', () => {
  const { k } = world();
  const b = k.inodes[0].bmap[0];
  const access = { kind: 'access' as const, who: 'dio' as const, tid: 0, page: b, epoch: k.pageEpoch[b], inode: 0, index: 0, write: true, held: true };
  assert.is(checkAccess(k, access), null);
  xfs_bunmapi(k, 0, 0);
  assert.is(checkAccess(k, access)?.class, 'dma-into-reallocated-block');
});

test('dma-into-reallocated-block: a block handed back to the same page counts as reallocated', () => {
  const { k } = world();
  const b = k.inodes[0].bmap[0];
  const access = { kind: 'access' as const, who: 'nic' as const, tid: 0, page: b, epoch: k.pageEpoch[b], inode: 0, index: 0, write: false, held: true };
  xfs_bunmapi(k, 0, 0);
  assert.is(xfs_bmapi_write(k, k.threads[0], 0, 0, false, null), b, 'freed blocks are reused first');
  assert.is(checkAccess(k, access)?.class, 'dma-into-reallocated-block');
});

test('dma-into-reallocated-block: a DMA through a pin its holder released fires, even into a block still in place', () => {
  const { k } = world();
  const b = k.inodes[0].bmap[0];
  const access = { kind: 'access' as const, who: 'nic' as const, tid: 0, page: b, epoch: k.pageEpoch[b], inode: 0, index: 0, write: true, held: true };
  assert.is(checkAccess(k, access), null);
  assert.match(checkAccess(k, { ...access, held: false })!.message, /through a pin already released/);
});

test('iova-reuse: a DMA that reaches another registration fires', () => {
  assert.is(checkIova({ kind: 'iova', iova: 3, issuedFor: 1, reached: 1 }), null);
  assert.is(checkIova({ kind: 'iova', iova: 3, issuedFor: 1, reached: 2 })?.class, 'iova-reuse');
});

test('blockmap-changed-under-lease: a change to a file with a live lease fires, to another file does not', () => {
  const { ref } = world('mapdirect');
  ref.invoke(0, 0, { op: 'open', file: 0, write: true });
  ref.commit(0);
  ref.complete(0, 0);
  ref.invoke(0, 0, { op: 'mmap', fd: 0, off: 0, len: 0, type: 'validate', sync: false, direct: true, write: true });
  ref.commit(0);
  ref.complete(0, 0);
  assert.is(ref.divergence, null);
  assert.is(checkBlockmapUnderLease(ref, 1), null);
  assert.is(checkBlockmapUnderLease(ref, 0)?.class, 'blockmap-changed-under-lease');
});

test('lock-order: taking B then A after A then B fires, with both chains', () => {
  const ld = new Lockdep();
  assert.is(ld.acquire('T0', [], 'i_rwsem'), null);
  assert.is(ld.acquire('T0', ['i_rwsem'], 'mmaplock'), null);
  assert.is(ld.acquire('T1', ['mmap_sem'], 'mmaplock'), null);
  const d = ld.acquire('T1', ['mmaplock'], 'i_rwsem');
  assert.is(d?.class, 'lock-order');
  assert.match(d!.message, /i_rwsem -> mmaplock/);
});

test('lock-order: a consistent order through a third lock is fine, closing the cycle is not', () => {
  const ld = new Lockdep();
  assert.is(ld.acquire('T0', ['i_rwsem'], 'mmap_sem'), null);
  assert.is(ld.acquire('T0', ['mmap_sem'], 'mmaplock'), null);
  assert.is(ld.acquire('T1', ['i_rwsem'], 'mmaplock'), null);
  assert.is(ld.acquire('T2', ['mmaplock'], 'i_rwsem')?.class, 'lock-order');
});

test('deadlock: two threads each waiting for the lock the other holds is reported with the cycle', () => {
  const { k } = world();
  const [a, b] = [k.inodes[0].iolock, k.inodes[1].iolock];
  const [t0, t1] = k.threads;
  k.locks[a].writer = t0.id;
  t0.held.push(a);
  k.locks[b].writer = t1.id;
  t1.held.push(b);
  Object.assign(t0, { status: BLOCKED, wait: 'rwsem', waitId: b });
  Object.assign(t1, { status: BLOCKED, wait: 'rwsem', waitId: a });
  const d = checkDeadlock(k);
  assert.is(d?.class, 'deadlock');
  assert.match(d!.message, /T0 -> T1 -> T0|T1 -> T0 -> T1/);
});

test('deadlock: nothing to report when every program has finished', () => {
  const { k } = world();
  for (const t of k.threads) if (t.kind === 'proc') t.status = 2;
  assert.is(checkDeadlock(k), null);
});

test('no-progress: a repeating loop with a pending op in which every thread runnable throughout ran fires; an unfair loop does not', () => {
  const { k } = world('upstream', 2);
  // T0 is mid-operation; T1 and the device take turns forever
  k.threads[0].stack.push({ fn: { name: 'x', labels: [], index: new Map(), steps: [] }, pc: 0 });
  const loop = [
    { step: 10, tid: 1, thread: 'T1', fn: 'f', label: 'a', op: null },
    { step: 11, tid: 0, thread: 'T0', fn: 'g', label: 'b', op: null },
    { step: 12, tid: 1, thread: 'T1', fn: 'f', label: 'a', op: null },
  ];
  const both = Array(13).fill(0b11); // T0 and T1 runnable before every step
  const none = Array(13).fill(0);
  const fair = lasso(k, [...Array(10).fill(loop[0]), ...loop], { enabled: both, excused: none }, 10, 13);
  assert.is(fair?.class, 'no-progress');
  const unfair = lasso(k, [...Array(10).fill(loop[0]), loop[0], loop[2]], { enabled: both, excused: none }, 10, 12); // T0 can run but never does
  assert.is(unfair, null);
  // weak fairness: a thread not runnable at some point of the loop need not run in it
  const blockedOnce = [...Array(10).fill(0b11), 0b10, 0b11];
  assert.is(lasso(k, [...Array(10).fill(loop[0]), loop[0], loop[2]], { enabled: blockedOnce, excused: none }, 10, 12)?.class, 'no-progress');
  // a thread starved outside the promise at one point of the loop is not pending
  const excusedOnce = [...Array(11).fill(0), 0b11]; // T0 and T1 each wait, at step 11, on a page pinned by direct I/O to another file
  assert.is(lasso(k, [...Array(10).fill(loop[0]), ...loop], { enabled: both, excused: excusedOnce }, 10, 13), null);
});

test('result-mismatch: the reference flags a wrong return value', () => {
  const { ref } = world();
  ref.invoke(0, 0, { op: 'open', file: 0, write: true });
  ref.commit(0);
  ref.complete(0, 3);
  assert.is(ref.divergence?.class, 'result-mismatch');
  assert.match(ref.divergence!.message, /open returned 3, expected 0/);
});

test('data-mismatch and result-mismatch: a file content difference and a mapping difference are told apart', () => {
  const { k, ref } = world();
  assert.is(checkAbstraction(abstractImpl(k), ref.abstract()), null);
  k.pageData[k.inodes[1].bmap[0]] = 99;
  assert.is(checkAbstraction(abstractImpl(k), ref.abstract())?.class, 'data-mismatch');
  k.pageData[k.inodes[1].bmap[0]] = ref.abstract().files[1].data[0];
  k.procs[0].sigio.push(3);
  assert.is(checkAbstraction(abstractImpl(k), ref.abstract())?.class, 'result-mismatch');
});

test('stale-notification: si_fd must still name the open file the lease was taken through', () => {
  const { k } = world();
  k.filps = [{ id: 0, inode: 1, write: true, refs: 1, mapDirect: false, ofid: 0 }, { id: 1, inode: 1, write: true, refs: 1, mapDirect: false, ofid: 0 }];
  k.procs[0].fds[3] = 0;
  assert.is(checkNotification(k, { kind: 'sigio', proc: 0, fd: 3, filp: 0, inode: 1 }), null);
  // the fd was closed and reused by another open of the same file
  assert.is(checkNotification(k, { kind: 'sigio', proc: 0, fd: 3, filp: 1, inode: 1 })?.class, 'stale-notification');
  // or it is closed
  assert.is(checkNotification(k, { kind: 'sigio', proc: 0, fd: 4, filp: 0, inode: 1 })?.class, 'stale-notification');
});

test('refcount: a ZONE_DEVICE page below its idle count fires', () => {
  const { k } = world();
  assert.is(checkRefcounts(k), null);
  k.pageRef[k.inodes[0].bmap[1]] = 0;
  assert.is(checkRefcounts(k)?.class, 'refcount');
});

test('refcount: a pte still mapping a freed block fires', () => {
  const { k } = world();
  k.procs[0].vmas.push({
    id: 0, filp: 0, inode: 0, pgoff: 0, npages: 1, shared: true, direct: false, sync: false, write: true,
    pte: Int16Array.of(k.inodes[0].bmap[0]), pteWrite: Uint8Array.of(1), pteEpoch: Int32Array.of(k.pageEpoch[k.inodes[0].bmap[0]]),
    cow: Int16Array.of(-1), pmd: Uint8Array.of(1), lease: -1,
  });
  assert.is(checkRefcounts(k), null);
  xfs_bunmapi(k, 0, 0);
  assert.is(checkRefcounts(k)?.class, 'refcount');
});

test('the encoding records every field: changing any one argument of a record changes the list', () => {
  const records: [string, unknown[]][] = [
    ['page', [1, 7]],
    ['fd', [2, 1, true]],
    ['map', [3, 1, 0, 2, true, true, false, true, true, 1]],
    ['cow', [5]],
    ['lease', [0, 3, 1, true, 2]],
    ['mr', [1, 0, 2, true]],
  ];
  const write = (name: string, args: unknown[]) => {
    const e = new Encoding();
    (e as unknown as Record<string, (...a: unknown[]) => void>)[name](...args);
    return e;
  };
  for (const [name, args] of records) {
    const base = write(name, args);
    args.forEach((a, i) => {
      const other = [...args];
      other[i] = typeof a === 'boolean' ? !a : name === 'cow' ? null : (a as number) + 1;
      assert.not.ok(write(name, other).equals(base), `${name} argument ${i}`);
    });
  }
});

test('the encoded abstract states agree with the objects: equal encodings exactly when equal states, across every variant and random runs', () => {
  // states of both models at every step of random runs, compared across
  // steps and runs too, so most pairs differ somewhere
  const snaps: { obj: AbstractState; code: Encoding }[] = [];
  const tcs = fc.sample(arbTestCase, { numRuns: 400, seed: 5 });
  VARIANTS.forEach((v, vi) => {
    for (const tc of tcs.slice(vi * 16, vi * 16 + 40)) {
      const ex = new Execution(v, tc);
      const rng = seedrandom(`enc:${v.name}`);
      for (let n = 0; n < 300; n++) {
        const ids = ex.runnableIds();
        if (!ids.length) break;
        const { divergence } = ex.advance(ids[Math.floor(rng() * ids.length)]);
        const impl = new Encoding();
        const ref = new Encoding();
        encodeImpl(ex.k, impl);
        ex.ref.encode(ref);
        const io = abstractImpl(ex.k);
        const ro = ex.ref.abstract();
        assert.is(impl.equals(ref), sameState(io, ro), `${v.name} step ${n}`);
        if (rng() < 0.2) snaps.push({ obj: io, code: impl }, { obj: structuredClone(ro), code: ref });
        if (divergence) break;
      }
    }
  });
  const rng = seedrandom('pairs');
  let equal = 0;
  for (let i = 0; i < 20000; i++) {
    const a = snaps[Math.floor(rng() * snaps.length)];
    const b = snaps[Math.floor(rng() * snaps.length)];
    const same = sameState(a.obj, b.obj);
    equal += +same;
    assert.is(a.code.equals(b.code), same);
  }
  assert.ok(equal > 10 && equal < 19000, `both kinds of pairs (${equal} equal)`);
});

test.run();
