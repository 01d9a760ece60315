// fcntl(F_SETLEASE) leases (docs/fidelity.md, "fcntl leases"): what each
// call returns, how opens and truncate(2) break them, SIGIO, the
// lease-break-time deadline, and the two fs/locks.c bugs every version
// has (README, "Findings").  The outcomes of the programs below are the
// real 6.1 kernel's (test/conform.test.ts boots it on them).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findVariant, type FlagName, type Variant } from '../models/variants/index.ts';
import type { Op, TestCase } from '../models/testcase.ts';
import { runTestCase } from '../fuzz/lockstep.ts';
import { explore, loadScenario } from '../fuzz/explore.ts';
import { Reference } from '../models/reference/index.ts';
import { LEASE_PROGRAMS, dax, open, setlease, sigwait, tc } from './programs.ts';

const without = (v: Variant, flag: FlagName): Variant => ({ ...v, flags: { ...v.flags, [flag]: false } });

// One process, lease-break-time a second.
const prog = (threads: Op[][]): TestCase => tc([dax(2)], threads, { config: { files: [dax(2)], procs: [{ uid: 0, capLease: false }], blocks: 8, leaseBreakTime: 1 } });

function run(v: Variant, t: TestCase) {
  const r = runTestCase(v, t);
  return { d: r.divergence, of: (tid: number) => r.trace.filter((s) => s.tid === tid && s.result !== undefined).map((s) => s.result) };
}

test('each program gives, on linux-6.1, what the real 6.1 kernel gave', () => {
  for (const p of LEASE_PROGRAMS) {
    const r = run(findVariant('linux-6.1'), prog([p.ops]));
    assert.equal(r.of(0), p.kernel, p.name);
    assert.is(r.d === null, p.name !== 'stale-downgrade', `${p.name}: ${r.d?.message}`);
  }
});

test('a downgrade deadline its holder answered downgrades a later write lease on every version; the reference calls it, and the fix keeps the write lease', () => {
  const stale = LEASE_PROGRAMS.find((p) => p.name === 'stale-downgrade')!;
  for (const name of ['linux-4.18', 'linux-6.1', 'linux-mainline']) {
    const r = run(findVariant(name), prog([stale.ops]));
    assert.is(r.d?.class, 'result-mismatch', name);
    assert.match(r.d!.message, /downgraded the write lease of open 0 to a read lease though no break asked for it/, name);
    // the flag is what does it
    const fixed = run(without(findVariant(name), 'staleLeaseDowngrade'), prog([stale.ops]));
    assert.is(fixed.d, null, name);
    assert.equal(fixed.of(0).slice(-1), [1], name);
  }
  // explore meets it in the shipped scenario on the versions, and ends clean on the fixed variants
  const scenario = loadScenario('sys-fcntl-lease-upgrade').cases[0].testCase;
  const opts = { depth: 400, maxStates: 200_000 };
  assert.is(explore(findVariant('linux-6.1'), scenario, opts).divergence?.class, 'result-mismatch');
  for (const name of ['mainline-fixed', 'mapdirect-fixed']) {
    const r = explore(findVariant(name), scenario, opts);
    assert.ok(r.complete && !r.divergence, `${name}: ${r.divergence?.message}`);
  }
});

test('another thread\'s open waits for the holder: released at once, or the kernel removes the lease after lease-break-time; either way the opener gets its fd', () => {
  // T0 holds a write lease, waits for the SIGIO and gives the lease up; T1 opens for writing
  const t = prog([[open(0, false), setlease('wr'), sigwait, setlease('unlck')], [open(0, true)]]);
  const seen = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const r = run(findVariant('mainline-fixed'), { ...t, schedule: Array.from({ length: 40 }, (_, j) => (j * 7 + i) % 3) });
    assert.is(r.d, null, r.d?.message);
    assert.type(r.of(1)[0], 'number'); // an fd: the open always succeeds
    seen.add(JSON.stringify(r.of(0)));
  }
  // T1's open before the lease, after it with the SIGIO seen or not yet, the lease given up or already removed
  assert.ok(seen.size >= 3, [...seen].join(' '));
});

test('an O_NONBLOCK open that meets a lease counts as a reader until it returns: a write lease asked for meanwhile is refused, in every interleaving', () => {
  // do_dentry_open counts the reader (i_readcount_inc) before break_lease
  // and drops it (put_file_access) only on the way out with EWOULDBLOCK
  const t = prog([[open(0, false), setlease('wr')], [setlease('wr')], [{ op: 'open', file: 0, write: false, nonblock: true }]]);
  for (const name of ['mainline-fixed', 'linux-6.1']) {
    const r = explore(findVariant(name), t, { depth: 100, maxStates: 100_000 });
    assert.ok(r.complete && !r.divergence, `${name}: ${r.divergence?.message}`);
  }
  // T0's lease, T2 into the break, T1's F_SETLEASE inside the window, T2
  // out (a schedule's picks count from the running thread)
  const inWindow = run(findVariant('mainline-fixed'), { ...t, schedule: [0, 0, 1, 0, 0, 1] });
  assert.is(inWindow.d, null);
  assert.equal(inWindow.of(1), ['EAGAIN']);
  assert.equal(inWindow.of(2), ['EAGAIN']);
});

test('the reference holds the promises: an open does not take effect over a lease it conflicts with, and a lease is timed out only after its deadline', () => {
  const t = prog([[open(0, false), setlease('wr')], [open(0, true)]]);
  const ref = () => {
    const r = new Reference('upstream', t, 'linux-6.1');
    r.invoke(0, 0, t.threads[0].ops[0]);
    r.commit(0);
    r.complete(0, 0);
    r.invoke(0, 0, t.threads[0].ops[1]);
    r.commit(0);
    r.complete(0, 0);
    return r;
  };
  // a write open that took effect with the write lease still there
  let r = ref();
  r.invoke(1, 0, t.threads[1].ops[0]);
  r.commit(1);
  assert.match(r.divergence?.message ?? '', /open of file 0 took effect while open 0 held a write lease on it that it never broke/);
  // broken, and removed before its deadline
  r = ref();
  r.invoke(1, 0, t.threads[1].ops[0]);
  r.leaseBreak(1, 0, true);
  assert.equal(r.procs[0].sigio, [-1]);
  r.leaseTimedOut(0, 2);
  assert.match(r.divergence?.message ?? '', /timed out the lease of open 0 at t=0, before its deadline 1/);
  // removed at its deadline: the open may take effect
  r = ref();
  r.invoke(1, 0, t.threads[1].ops[0]);
  r.leaseBreak(1, 0, true);
  r.setClock(1);
  r.leaseTimedOut(0, 2);
  r.commit(1);
  assert.is(r.divergence, null);
});

test.run();
