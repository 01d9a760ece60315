// fs/locks.c: the inode's lease list, fcntl(F_SETLEASE) leases and
// FL_LAYOUT leases, and __break_lease.
//
// Two kinds of lease share the list and never break each other
// (leases_conflict): FL_LEASE leases, which open(2) and truncate(2) break,
// and FL_LAYOUT leases, which XFS breaks before it changes the block map.
// An FL_LEASE lease's break has a deadline, lease-break-time on; whoever
// next looks at the list after it (time_out_leases) downgrades or removes
// the lease.  MAP_DIRECT, lease_direct and pNFS layout leases have their
// fl_break_time cleared by their lm_break: the breaker waits until the
// lease leaves the list, and the holder's lm_break arranges its own
// revocation (004 v9 3/6, "Like the pnfs case MAP_DIRECT does its own
// timeout of the lease").
//
// Time is in virtual seconds: a deadline has passed once the clock reaches
// it (the kernel's time_after(jiffies, then), with the jiffy the breaker
// sleeps past its timeout to see it).

import { EAGAIN, ENOMEM, ERESTARTSYS, ETXTBSY, EWOULDBLOCK } from '../errno.ts';
import { fn, type FileLock, type Frame, type Kernel, type Thread, type Work } from './kernel.ts';
import { map_direct_lm_break } from './mapdirect.ts';
import { lease_direct_lm_break } from './umem.ts';
import { nfsd4_layout_lm_break } from './nfsd.ts';
import { kill_fasync } from './signal.ts';

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

export function leases_on(k: Kernel, inode: number): FileLock[] {
  return k.leases.filter((l) => l.inode === inode && l.onList);
}

// The FL_LAYOUT leases on the inode: what holds its block map.
export function layouts_on(k: Kernel, inode: number): FileLock[] {
  return leases_on(k, inode).filter((l) => l.kind !== 'lease');
}

// A lease on the list, its lock-manager state cleared.
export function new_lease(k: Kernel, l: Pick<FileLock, 'inode' | 'kind' | 'holder'> & Partial<FileLock>): FileLock {
  const lease: FileLock = {
    id: k.nextLease++, type: F_RDLCK, granted: true, onList: true, breaking: false, unlockPending: false, downgradePending: false, breakTime: 0, downgradeTime: 0,
    unbreakable: false, valid: true, vmaRefs: 0, fasync: null, ...l,
  };
  k.leases.push(lease);
  return lease;
}

// What a failed allocation looks like to user space, given where it
// happened: in a fault it is a signal or EFAULT, elsewhere the errno.
export function faultVisible(k: Kernel, t: Thread): string {
  const op = k.currentOp(t).op;
  return op === 'load' || op === 'store' ? 'SIGBUS' : 'EFAULT';
}

// lease_alloc / locks_alloc_lock.
export function lease_alloc(k: Kernel, t: Thread, onFail: string): boolean {
  return !k.allocFails(t, onFail);
}

// The lease a breaker would set: FL_LAYOUT or FL_LEASE, for writing or
// for reading (open(2) O_RDONLY breaks write leases only).
export interface Breaker {
  layout: boolean;
  write: boolean;
}
export const LAYOUT_BREAKER: Breaker = { layout: true, write: true };

function leases_conflict(l: FileLock, b: Breaker): boolean {
  if ((l.kind !== 'lease') !== b.layout) return false;
  return b.write || l.type === F_WRLCK; // locks_conflict
}

function any_leases_conflict(k: Kernel, inode: number, b: Breaker): boolean {
  return leases_on(k, inode).some((l) => leases_conflict(l, b));
}

function past_time(k: Kernel, then: number): boolean {
  return then !== 0 && k.clock >= then;
}

function lm_break(k: Kernel, t: Thread, l: FileLock): void {
  if (l.kind === 'lease') lease_break_callback(k, l);
  else if (l.kind === 'map_direct') map_direct_lm_break(k, t, l);
  else if (l.kind === 'nfsd_layout') nfsd4_layout_lm_break(k, l);
  else lease_direct_lm_break(k, l);
}

// The default lm_break of an fcntl lease: SIGIO to the owner of the file.
function lease_break_callback(k: Kernel, l: FileLock): void {
  if (l.fasync) kill_fasync(k, l.fasync.proc, l.fasync.fd, l.fasync.filp, l.inode, false);
}

// lease_modify: the holder, a timeout or the last close changes an fcntl
// lease's type; F_UNLCK takes it off the list.  Either way, whoever waits
// for it looks again.  The pending flags go (lease_clear_pending); the
// downgrade deadline stays where the kernel leaves it.
export function lease_modify(k: Kernel, l: FileLock, arg: number): void {
  if (arg === F_UNLCK) l.unlockPending = false;
  if (arg !== F_WRLCK) {
    l.downgradePending = false;
    if (!k.flags.staleLeaseDowngrade) l.downgradeTime = 0;
  }
  l.breaking = l.unlockPending || l.downgradePending;
  if (arg === F_UNLCK) {
    l.fasync = null; // fasync_helper(0, ...)
    locks_delete_lease(k, l);
    k.leases = k.leases.filter((x) => x !== l);
    return;
  }
  l.type = arg;
  k.wake('lease', l.inode);
}

// time_out_leases: every fcntl lease whose downgrade or break deadline has
// passed is downgraded or removed, the reference told of each.
export function time_out_leases(k: Kernel, inode: number): void {
  for (const l of leases_on(k, inode)) {
    if (l.kind !== 'lease') continue;
    if (past_time(k, l.downgradeTime)) {
      k.ref.leaseTimedOut(k.filps[l.holder]!.ofid, F_RDLCK);
      lease_modify(k, l, F_RDLCK);
    }
    if (past_time(k, l.breakTime)) {
      k.ref.leaseTimedOut(k.filps[l.holder]!.ofid, F_UNLCK);
      lease_modify(k, l, F_UNLCK);
    }
  }
}

// Marks every conflicting lease not yet breaking the way this breaker
// needs and calls its lm_break; returns whether any lease is left on the
// list to wait for.
function break_leases_mark(k: Kernel, t: Thread, inode: number, b: Breaker): boolean {
  const deadline = k.clock + k.lbt;
  for (const l of leases_on(k, inode)) {
    if (!leases_conflict(l, b)) continue;
    if (b.write) {
      if (l.unlockPending) continue;
      l.unlockPending = true;
      l.breakTime = l.kind === 'lease' ? deadline : k.clock;
    } else {
      if (l.breaking) continue;
      l.downgradePending = true;
      l.downgradeTime = deadline;
    }
    l.breaking = true;
    lm_break(k, t, l);
  }
  if (b.layout) k.ref.breakLeases(inode);
  else k.ref.leaseBreak(t.id, inode, b.write);
  return leases_on(k, inode).length > 0;
}

// break_layout(inode, false): start breaking and return at once.
export function break_layout_nowait(k: Kernel, t: Thread, inode: number, onFail: string): number {
  if (leases_on(k, inode).length === 0) return 0; // break_layout's inline check: an empty list, no __break_lease
  if (layouts_on(k, inode).some((l) => l.unbreakable)) return ETXTBSY;
  if (!lease_alloc(k, t, onFail)) return ENOMEM;
  time_out_leases(k, inode);
  if (!any_leases_conflict(k, inode, LAYOUT_BREAKER)) return 0;
  return break_leases_mark(k, t, inode, LAYOUT_BREAKER) ? EWOULDBLOCK : 0;
}

// Removes a lease from the inode's list and wakes every breaker waiting
// on it (lease_modify(F_UNLCK) -> locks_wake_up_blocks).
export function locks_delete_lease(k: Kernel, l: FileLock): void {
  l.onList = false;
  k.wake('lease', l.inode);
}

// vfs_setlease(F_UNLCK) by a layout lease's owner (generic_delete_lease):
// off the list, its breakers woken, the revocation it had scheduled
// cancelled.
export function generic_delete_lease(k: Kernel, l: FileLock): void {
  if (l.onList) locks_delete_lease(k, l);
  const ofLease = (w: Work) => 'lease' in w && w.lease === l.id;
  k.timers = k.timers.filter((x) => !(x.kind === 'work' && ofLease(x.work)));
  k.work = k.work.filter((w) => !ofLease(w));
  k.leases = k.leases.filter((x) => x !== l);
}

// locks_remove_file -> locks_remove_lease: the last reference to a struct
// file takes its fcntl leases with it.
export function locks_remove_lease(k: Kernel, filp: number): void {
  for (const l of k.leases) if (l.kind === 'lease' && l.holder === filp) lease_modify(k, l, F_UNLCK);
}

interface BreakLeaseFrame extends Frame {
  inode: number;
  breaker: Breaker;
  nonblock: boolean;
  slept?: boolean; // it waited once: what follows is the restart after the wait
  timer?: boolean; // that wait had a timeout
}

// When a blocked breaker looks again: at the first lease's break deadline,
// or, for a lease without one, at the next jiffy; in the model's seconds,
// the next deadline on the list, the first moment a poll can find one
// passed.
function lease_wait_deadline(k: Kernel, inode: number): number {
  const first = leases_on(k, inode)[0];
  if (first.breakTime !== 0 && first.kind === 'lease') return first.breakTime;
  let next = Infinity;
  for (const l of leases_on(k, inode)) {
    if (l.kind !== 'lease') continue;
    for (const d of [l.breakTime, l.downgradeTime]) if (d > k.clock) next = Math.min(next, d);
  }
  return next;
}

// break_lease / break_layout, inline, and __break_lease: break every
// conflicting lease and, unless O_NONBLOCK, wait until none is left.
export const __break_lease = fn<BreakLeaseFrame>('__break_lease', {
  lease_alloc(k, t, f) {
    if (leases_on(k, f.inode).length === 0) return k.ret(t, 0); // the inline check: an empty list
    if (f.breaker.layout && layouts_on(k, f.inode).some((l) => l.unbreakable)) return k.ret(t, ETXTBSY);
    if (!lease_alloc(k, t, 'ENOMEM')) return k.ret(t, ENOMEM);
    return 'restart';
  },
  // First the break: time out what has expired, mark what conflicts.
  // After a wait (`slept`): time out what has expired if the wait timed
  // out, and wait again while a conflicting lease is left, broken or not.
  restart(k, t, f) {
    if (!f.slept || (f.timer && k.timedOut(t))) time_out_leases(k, f.inode);
    if (!any_leases_conflict(k, f.inode, f.breaker)) return k.ret(t, 0);
    // the fix: a lease set while the breaker slept is broken too
    if (!f.slept || !k.flags.breakWaitsUnbroken) {
      if (!break_leases_mark(k, t, f.inode, f.breaker)) return k.ret(t, 0);
      if (f.nonblock) return k.ret(t, EWOULDBLOCK);
    }
    f.slept = true;
    const deadline = lease_wait_deadline(k, f.inode);
    f.timer = deadline !== Infinity;
    if (deadline <= k.clock) return 'restart';
    if (!f.timer) return k.sleep(t, 'lease', f.inode, 'woken', true);
    return k.sleepUntil(t, 'lease', f.inode, 'woken', deadline);
  },
  // wait_event_interruptible_timeout: the condition (the lease we blocked
  // on is gone) is looked at before the signal
  woken(k, t, f) {
    if (t.rv === ERESTARTSYS && any_leases_conflict(k, f.inode, f.breaker)) {
      if (f.timer) k.timedOut(t);
      return k.ret(t, k.interrupted(t, f.breaker.layout));
    }
    return 'restart';
  },
});

// ---- fcntl(F_SETLEASE) and fcntl(F_GETLEASE) ----

// check_conflicting_open: a read lease wants no writer; a write lease no
// open at all but the caller's.
function check_conflicting_open(k: Kernel, filp: number, arg: number): number {
  const f = k.filps[filp]!;
  let readers = 0;
  let writers = k.inodes[f.inode].writeAccess;
  for (const o of k.filps) {
    if (!o || o.inode !== f.inode) continue;
    if (o.write) writers++;
    else readers++;
  }
  if (arg === F_RDLCK) return writers > 0 ? EAGAIN : 0;
  return writers !== (f.write ? 1 : 0) || readers !== (f.write ? 0 : 1) ? EAGAIN : 0;
}

// generic_add_lease, with lease_setup as lm_setup: the fasync entry for
// SIGIO, and the caller made the file's owner.
export function generic_add_lease(k: Kernel, proc: number, fd: number, filp: number, arg: number): number {
  const inode = k.filps[filp]!.inode;
  time_out_leases(k, inode);
  const err = check_conflicting_open(k, filp, arg);
  if (err) return err;
  let mine: FileLock | null = null;
  for (const l of leases_on(k, inode)) {
    if (l.kind === 'lease' && l.holder === filp) {
      mine = l;
      continue;
    }
    if (arg === F_WRLCK) return EAGAIN;
    if (l.unlockPending) return EAGAIN;
  }
  if (mine) lease_modify(k, mine, arg);
  else mine = new_lease(k, { inode, kind: 'lease', holder: filp, type: arg });
  mine.fasync = { proc: mine.fasync?.proc ?? proc, fd, filp }; // __f_setown(..., force 0): the file keeps its first owner
  return 0;
}

// generic_delete_lease for an fcntl lease: EAGAIN when the file has none.
export function fcntl_delete_lease(k: Kernel, filp: number): number {
  const inode = k.filps[filp]!.inode;
  const l = leases_on(k, inode).find((x) => x.kind === 'lease' && x.holder === filp);
  if (!l) return EAGAIN;
  lease_modify(k, l, F_UNLCK);
  return 0;
}

// generic_setlease's checks: the file's owner or CAP_LEASE.
export function setlease_permitted(k: Kernel, proc: number, filp: number): boolean {
  const pr = k.procs[proc];
  return k.inodes[k.filps[filp]!.inode].uid === pr.uid || pr.capLease;
}

// fcntl_getlease: the lease this file holds, or the type a pending break
// will leave it (target_leasetype).
export function fcntl_getlease(k: Kernel, filp: number): number {
  const inode = k.filps[filp]!.inode;
  time_out_leases(k, inode);
  const l = leases_on(k, inode).find((x) => x.kind === 'lease' && x.holder === filp);
  if (!l) return F_UNLCK;
  if (l.unlockPending) return F_UNLCK;
  if (l.downgradePending) return F_RDLCK;
  return l.type;
}
