// kernel/time and kernel/workqueue.c: the virtual clock, timers, and the
// worker that runs delayed work in process context.
//
// Time passes only when the timer thread runs: it advances the clock to
// the earliest deadline (or to when the NIC's next work request is
// posted) and fires everything due.

import { ERESTARTSYS } from '../errno.ts';
import type { Op } from '../testcase.ts';
import { BLOCKED, fn, type Frame } from './kernel.ts';
import { map_direct_invalidate } from './mapdirect.ts';
import { ib_umem_lease_break } from './umem.ts';
import { nfsd4_layout_fence } from './nfsd.ts';
import { nic_next_post } from './nic.ts';
import { evict } from './inode.ts';

export const run_timer_softirq = fn<Frame>('run_timer_softirq', {
  run_timer_softirq(k, t) {
    let next = Infinity;
    for (const x of k.timers) next = Math.min(next, x.deadline);
    const post = nic_next_post(k);
    if (post > k.clock) next = Math.min(next, post);
    if (next > k.clock) {
      k.clock = next;
      k.ref.setClock(k.clock);
    }
    const due = k.timers.filter((x) => x.deadline <= k.clock);
    k.timers = k.timers.filter((x) => x.deadline > k.clock);
    for (const x of due) {
      if (x.kind === 'sleep') {
        const sleeper = k.threads[x.tid];
        if (sleeper.status === BLOCKED) k.wakeThread(sleeper);
      }
      else k.work.push(x.work);
    }
    return k.ret(t, 0);
  },
});

export const process_one_work = fn<Frame>('process_one_work', {
  process_one_work(k, t) {
    const w = k.work.shift()!;
    if (w.kind === 'delayed_fput') return k.call(t, evict, { inode: w.inode, page: -1 }, 'done');
    if (w.kind === 'map_direct_invalidate') return k.call(t, map_direct_invalidate, { lease: w.lease, inode: -1 }, 'done');
    if (w.kind === 'nfsd4_layout_fence') nfsd4_layout_fence(k, w.lease);
    else ib_umem_lease_break(k, w.lease);
    return k.ret(t, 0);
  },
  done(k, t) {
    return k.ret(t, 0);
  },
});

interface SleepFrame extends Frame {
  op: Extract<Op, { op: 'tick' }>;
}

// nanosleep for one virtual second: schedule_timeout_interruptible.
export const sys_nanosleep = fn<SleepFrame>('sys_nanosleep', {
  schedule_timeout_interruptible(k, t) {
    return k.sleepUntil(t, 'timer', t.id, 'woken', k.clock + 1);
  },
  woken(k, t) {
    if (t.rv === ERESTARTSYS) return k.ret(t, k.interrupted(t));
    k.ref.commit(t.id);
    return k.ret(t, 0);
  },
});
