// io_uring's registered buffers (docs/fidelity.md, `io_uring_register`,
// `io_read`, `io_write`): which buffers each version pins, what the fixed
// reads and writes move, and how long the pins last.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findVariant, type Variant } from '../models/variants/index.ts';
import { expectation } from '../fuzz/conform.ts';
import { runTestCase } from '../fuzz/lockstep.ts';
import { URING_PROGRAMS, dax, mmap, open, pagecache, tc, uringRead, uringReg, uringUnreg, uringWrite } from './programs.ts';
import type { Op } from '../models/testcase.ts';

const asKernel = (xs: (number | string)[]) => xs.map((x) => (typeof x === 'number' ? `ok ${x}` : `err ${x}`));
const results = (e: ReturnType<typeof expectation>) => e.steps.map((s) => (s.expected === 'ok' ? 'ok 0' : s.expected));
const load = (page: number, map = 0): Op => ({ op: 'load', map, page });
const store = (page: number, val: number, map = 0): Op => ({ op: 'store', map, page, val });

test('6.1 gives what the real 6.1 kernel gave, results and file; 4.18 has no io_uring', () => {
  for (const p of URING_PROGRAMS) {
    const e = expectation(findVariant('linux-6.1'), tc(p.files, [p.ops]));
    assert.is(e.modelDivergence, null, p.name);
    assert.equal(results(e), asKernel(p.kernel), p.name);
    assert.is(e.files[0], p.file, p.name);
    const old = expectation(findVariant('linux-4.18'), tc(p.files, [p.ops]));
    assert.is(old.modelDivergence, null, p.name);
    old.steps.forEach((s) => assert.is(s.expected.endsWith('ENOSYS'), s.op.op.startsWith('uring_'), `${p.name}: ${s.op.op}`));
  }
});

test('mainline registers a private DAX mapping\'s copies, and the fixed ops move data through the pinned pages', () => {
  const p = URING_PROGRAMS.find((x) => x.name === 'dax private, written')!;
  for (const name of ['linux-mainline', 'mainline-fixed']) {
    const e = expectation(findVariant(name), tc(p.files, [p.ops]));
    assert.is(e.modelDivergence, null, name);
    // READ_FIXED of page 1 lands in the private copy the load then sees; WRITE_FIXED takes it to page 0
    assert.equal(results(e), asKernel([0, 0, 0, 0, 0, 12, 0]), name);
    assert.is(e.files[0], '8192 1 12 12', name);
  }
  // a shared page-cache mapping needs dirty tracking: EFAULT, where 6.1 pins and then refuses it
  const shared = URING_PROGRAMS.find((x) => x.name === 'page cache shared')!;
  assert.equal(results(expectation(findVariant('linux-mainline'), tc(shared.files, [shared.ops]))).slice(2, 3), ['err EFAULT']);
});

test('mainline: part of a private DAX buffer pinned by the lockless walk and the rest refused is EFAULT; none of it, EOPNOTSUPP', () => {
  const v = findVariant('linux-mainline');
  const partial = expectation(v, tc([dax(2)], [[open(0), mmap(0, { type: 'private', len: 1 }), store(0, 7), uringReg(0, 0, 1), store(1, 8), uringReg(0, 0, 1), uringReg(0, 1, 0)]]));
  assert.is(partial.modelDivergence, null);
  assert.equal(results(partial), asKernel([0, 0, 0, 'EFAULT', 0, 0, 'EBUSY']));
  const none = expectation(v, tc([dax(2)], [[open(0), mmap(0, { type: 'private', len: 1 }), store(1, 8), uringReg(0, 0, 1)]]));
  assert.equal(results(none).at(-1), 'err EOPNOTSUPP');
});

test('an unregister while a fixed read waits for the IOLOCK leaves the buffer pinned and charged until the read ends', () => {
  // T0 registers two private copies and reads into them; T1's write holds
  // the IOLOCK meanwhile; T2 unregisters while the read waits
  const t = tc([pagecache(1), pagecache(2)], [
    [open(0), open(1), mmap(1, { type: 'private', len: 1 }), store(0, 7), store(1, 7), uringReg(0, 0, 1), uringRead(0, 1)],
    [{ op: 'write', fd: 0, off: 0, val: 9 }],
    [uringUnreg, load(1)],
  ]);
  let done = 0;
  let t1Locked = false;
  let t2Done = 0;
  let during: { buf: unknown; charged: number; pinned: number } | null = null;
  let after: { charged: number; pinned: number } | null = null;
  const r = runTestCase(findVariant('linux-mainline'), t, {
    picker: {
      horizon: 400,
      // T0 to its registration, T1 into the IOLOCK, T0 until it waits, T2, then whoever can
      pick(order) {
        const want = done < 6 ? 0 : !t1Locked ? 1 : order.includes(0) && t2Done === 0 ? 0 : 2;
        const i = order.indexOf(want);
        return i >= 0 ? i : 0;
      },
    },
    observe(ex, entry) {
      const k = ex.k;
      if (entry.tid === 0 && entry.result !== undefined) done++;
      if (entry.tid === 1 && entry.label === 'xfs_ilock_iolock_excl') t1Locked = true;
      if (entry.tid === 2 && entry.result !== undefined && t2Done++ === 0) {
        during = { buf: k.procs[0].ring.buf, charged: k.userLockedVm[0], pinned: k.anonPinned.reduce((a, b) => a + b, 0) };
      }
      if (entry.tid === 0 && entry.result !== undefined && done === 7) after = { charged: k.userLockedVm[0], pinned: k.anonPinned.reduce((a, b) => a + b, 0) };
    },
  });
  assert.is(r.divergence, null, r.divergence?.message);
  assert.ok(r.finished);
  assert.equal(during, { buf: null, charged: 2, pinned: 2 }, 'unregistered, still pinned and charged');
  assert.equal(after, { charged: 0, pinned: 0 }, 'released as the read ends');
});

test('fork copies a private page io_uring pinned rather than sharing it (FOLL_PIN), as for a registration', () => {
  const t = tc([pagecache(1)], [[open(0), mmap(0, { type: 'private' }), store(0, 7), uringReg(), { op: 'fork' }, store(0, 8), uringWrite(0)]]);
  const e = expectation(findVariant('linux-mainline'), t);
  assert.is(e.modelDivergence, null);
  // the parent's store lands in the pinned copy, which WRITE_FIXED writes out
  assert.is(e.files[0], '4096 0 8');
});

test('a kernel whose FOLL_LONGTERM pinned fs-DAX would be caught at the registration io_uring makes', () => {
  const base = findVariant('mainline-fixed');
  const broken: Variant = { ...base, flags: { ...base.flags, longtermPinFsdax: true } };
  const t = tc([dax(1)], [[open(0), mmap(0), uringReg(), { op: 'truncate', fd: 0, size: 0 }]]);
  assert.is(runTestCase(base, t).divergence, null);
  const r = runTestCase(broken, t);
  assert.is(r.divergence?.class, 'result-mismatch');
  assert.match(r.divergence!.message, /uring_register returned 0, expected EOPNOTSUPP/);
});

test.run();
