// Process exit (docs/fidelity.md, `sys_exit_group`, `do_exit`): the
// process's other threads killed, its AIO waited for, then its mappings
// and its files, registrations and ring with them.

import { test } from 'uvu';
import { readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { findVariant } from '../models/variants/index.ts';
import { runTestCase } from '../fuzz/lockstep.ts';
import { do_exit } from '../models/impl/exit.ts';
import { dax, mmap, open, pagecache, reg, setlease, tc, uringReg } from './programs.ts';
import type { Op, TestCase } from '../models/testcase.ts';

const store: Op = { op: 'store', map: 0, page: 0, val: 3 };
const aioRead: Op = { op: 'dio_read', fd: 1, off: 0, map: 0, page: 0, aio: true };
const exit: Op = { op: 'exit' };

// T0 (process 0) maps a DAX file and exits with an AIO read into the
// mapping in flight; T1 (process 1) truncates the file and writes it again,
// which hands its block out anew.
function exitWithAio(): TestCase {
  const t = tc([dax(1), pagecache(1)], [[open(0), open(1), mmap(0), store, aioRead, exit]]);
  t.config.procs.push({ uid: 0, capLease: false });
  t.threads.push({ proc: 1, ops: [open(0), { op: 'truncate', fd: 0, size: 0 }, { op: 'write', fd: 0, off: 0, val: 7 }], loop: false });
  return t;
}

// T0 until it sleeps in exit_aio (or is done), then T1 as far as it gets,
// then the device; the labels each thread ran, in order.
function runExitWithAio(variant: string) {
  const labels: string[] = [];
  let t0Waiting = false;
  const r = runTestCase(findVariant(variant), exitWithAio(), {
    picker: {
      horizon: 600,
      pick(order) {
        const want = !t0Waiting && order.includes(0) ? 0 : order.includes(1) ? 1 : -1;
        const i = order.indexOf(want);
        return i >= 0 ? i : 0;
      },
    },
    observe(ex, entry) {
      labels.push(`${entry.thread}:${entry.fn}:${entry.label}`);
      if (entry.tid === 0 && (ex.k.threads[0].status !== 0 || entry.label === 'exit_mmap')) t0Waiting = true;
    },
  });
  return { r, labels };
}

test('exit waits in exit_aio for the AIO in flight, so the mapping stays until the read lands, and a truncate waits for the page', () => {
  for (const v of ['linux-4.18', 'linux-6.1', 'linux-mainline']) {
    const { r, labels } = runExitWithAio(v);
    assert.is(r.divergence, null, `${v}: ${r.divergence?.message}`);
    assert.ok(r.finished, v);
    const slept = labels.indexOf('T0:do_exit:exit_aio');
    const landed = labels.findIndex((l) => l.startsWith('device:') && l.endsWith('dma_transfer'));
    const unmapped = labels.indexOf('T0:do_exit:exit_mmap');
    assert.ok(slept >= 0 && slept < landed && landed < unmapped, `${v}: exit_aio, the DMA, then exit_mmap`);
  }
});

test('without exit_aio\'s wait, 6.1 frees the block the AIO read still writes: the check catches it', () => {
  const at = do_exit.index.get('exit_aio')!;
  const wait = do_exit.steps[at];
  do_exit.steps[at] = () => 'exit_mmap';
  try {
    const { r } = runExitWithAio('linux-6.1');
    assert.is(r.divergence?.class, 'dma-into-reallocated-block');
    // mainline's busy-page scan does not skip an unmapped file: the truncate waits, nothing lands astray
    assert.is(runExitWithAio('linux-mainline').r.divergence, null);
  } finally {
    do_exit.steps[at] = wait;
  }
});

test('exit_group ends a sibling asleep in a lease break (EINTR, never returned) and the rest of its program; its leases, registrations and ring go', () => {
  // process 1 holds a read lease; T1 (process 0) opens for writing and
  // waits for the break; T0 (process 0) registers, then exits
  const t = tc([dax(1), pagecache(2)], [
    [open(1), mmap(0, { type: 'private', len: 1 }), { op: 'store', map: 0, page: 0, val: 5 }, { op: 'store', map: 0, page: 1, val: 5 }, uringReg(0, 0, 1), reg(0), exit],
    [open(0, true), { op: 'write', fd: 0, off: 0, val: 9 }],
    [open(0, false), setlease('rd'), { op: 'tick' }, { op: 'fcntl_getlease', fd: 0 }],
  ]);
  t.config.procs.push({ uid: 0, capLease: false });
  t.threads[2].proc = 1;
  let states: { alive: boolean[]; t1: number; locked: number; mrs: number } | null = null;
  const r = runTestCase(findVariant('linux-6.1'), t, {
    picker: {
      horizon: 600,
      // process 1 takes its lease, T1 starts its open, then T0 runs to its exit
      pick(order) {
        const prefer = [2, 1, 0];
        for (const id of prefer) if (order.includes(id)) return order.indexOf(id);
        return 0;
      },
    },
    observe(ex, entry) {
      if (entry.tid === 0 && entry.result !== undefined && entry.op?.op === 'exit') {
        const k = ex.k;
        states = { alive: k.procs.map((p) => !p.dead), t1: k.threads[1].status, locked: k.userLockedVm[0], mrs: k.liveMrs().length };
      }
    },
  });
  assert.is(r.divergence, null, r.divergence?.message);
  assert.ok(r.finished);
  assert.equal(states, { alive: [false, true], t1: 2, locked: 0, mrs: 0 });
  // T1's write never ran: the file keeps its first page
  const writes = r.trace.filter((s) => s.tid === 1 && s.result !== undefined);
  assert.is(writes.length, 1, 'only the open, killed in its wait, came back');
});

test('the 10-minute campaign\'s result-mismatch at .leases.length replays clean: a killed thread\'s call ends (its mmap\'s file reference put) before its do_exit puts the files', () => {
  const cx = JSON.parse(readFileSync(new URL('fixtures/campaign-exit-killed-mmap.json', import.meta.url), 'utf8'));
  const r = runTestCase(findVariant(cx.variant.name), cx.testCase);
  assert.is(r.divergence, null, r.divergence?.message);
  assert.ok(r.steps >= cx.divergence.step, 'ran past where it diverged');
});

test.run();
