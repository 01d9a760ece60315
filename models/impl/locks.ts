// fs/locks.c: FL_LAYOUT leases and __break_lease.
//
// MAP_DIRECT, lease_direct and pNFS layout leases have fl_break_time = 0: the breaker
// waits, interruptibly and without a timeout, until the lease leaves the
// inode's list; the lease holder's lm_break arranges its own revocation
// after lease-break-time (004 v9 3/6, "Like the pnfs case MAP_DIRECT does
// its own timeout of the lease").

import { ENOMEM, ERESTARTSYS, ETXTBSY, EWOULDBLOCK } from '../errno.ts';
import { fn, type FileLock, type Frame, type Kernel, type Thread } from './kernel.ts';
import { map_direct_lm_break } from './mapdirect.ts';
import { lease_direct_lm_break } from './umem.ts';
import { nfsd4_layout_lm_break } from './nfsd.ts';

export function leases_on(k: Kernel, inode: number): FileLock[] {
  return k.leases.filter((l) => l.inode === inode && l.onList);
}

// What a failed allocation looks like to user space, given where it
// happened: in a fault it is a signal or EFAULT, elsewhere the errno.
export function faultVisible(k: Kernel, t: Thread): string {
  const op = k.currentOp(t).op;
  return op === 'load' || op === 'store' ? 'SIGBUS' : 'EFAULT';
}

// __break_lease's allocation of the breaker's own file_lock.
export function lease_alloc(k: Kernel, t: Thread, onFail: string): boolean {
  return !k.allocFails(t, onFail);
}

function lm_break(k: Kernel, t: Thread, l: FileLock): void {
  if (l.kind === 'map_direct') map_direct_lm_break(k, t, l);
  else if (l.kind === 'nfsd_layout') nfsd4_layout_lm_break(k, l);
  else lease_direct_lm_break(k, l);
}

// Marks every lease on the inode that is not yet breaking and calls its
// lm_break; returns whether any lease is left to wait for.
function break_leases_mark(k: Kernel, t: Thread, inode: number): boolean {
  const leases = leases_on(k, inode);
  if (leases.length === 0) return false;
  for (const l of leases) {
    if (l.breaking) continue;
    l.breaking = true;
    l.breakTime = k.clock;
    lm_break(k, t, l);
  }
  k.ref.breakLeases(inode);
  return true;
}

// break_layout(inode, false): start breaking and return at once.
export function break_layout_nowait(k: Kernel, t: Thread, inode: number, onFail: string): number {
  if (leases_on(k, inode).length === 0) return 0; // break_layout's inline check: no lease, no __break_lease
  if (leases_on(k, inode).some((l) => l.unbreakable)) return ETXTBSY;
  if (!lease_alloc(k, t, onFail)) return ENOMEM;
  return break_leases_mark(k, t, inode) ? EWOULDBLOCK : 0;
}

// Removes a lease from the inode's list and wakes every breaker waiting
// on it (lease_modify(F_UNLCK) -> locks_wake_up_blocks).
export function locks_delete_lease(k: Kernel, l: FileLock): void {
  l.onList = false;
  k.wake('lease', l.inode);
}

// vfs_setlease(F_UNLCK) by the lease's owner (generic_delete_lease): off
// the list, its breakers woken, the revocation it had scheduled cancelled.
export function generic_delete_lease(k: Kernel, l: FileLock): void {
  if (l.onList) locks_delete_lease(k, l);
  k.timers = k.timers.filter((x) => !(x.kind === 'work' && x.work.lease === l.id));
  k.work = k.work.filter((w) => w.lease !== l.id);
  k.leases = k.leases.filter((x) => x !== l);
}

interface BreakLeaseFrame extends Frame {
  inode: number;
}

// break_layout(inode, true): wait until no lease is left on the inode.
export const __break_lease = fn<BreakLeaseFrame>('__break_lease', {
  lease_alloc(k, t, f) {
    if (leases_on(k, f.inode).length === 0) return k.ret(t, 0);
    if (leases_on(k, f.inode).some((l) => l.unbreakable)) return k.ret(t, ETXTBSY);
    if (!lease_alloc(k, t, 'ENOMEM')) return k.ret(t, ENOMEM);
    return 'restart';
  },
  restart(k, t, f) {
    if (!break_leases_mark(k, t, f.inode)) return k.ret(t, 0);
    return k.sleep(t, 'lease', f.inode, 'woken', true);
  },
  // wait_event_interruptible_timeout: the condition (our lease is gone)
  // is looked at before the signal
  woken(k, t, f) {
    if (t.rv === ERESTARTSYS && leases_on(k, f.inode).length > 0) return k.ret(t, k.interrupted(t, true));
    return 'restart';
  },
});
