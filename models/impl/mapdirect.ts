// fs/mapdirect.c (004, "[PATCH v9 3/6] fs: MAP_DIRECT core"): the layout
// lease behind a MAP_DIRECT vma.
//
// The lease lives as long as the vmas that share it (mds_vmaref).  Its
// lm_break sends SIGIO to the fd registered at mmap time and schedules
// map_direct_invalidate after lease-break-time; invalidation clears
// MAPDIRECT_VALID, zaps the vmas, and unlocks the lease, after which
// faults on the vmas get SIGBUS.

import { ENOMEM } from '../errno.ts';
import { fn, type FileLock, type Frame, type Kernel, type Thread, type Vma } from './kernel.ts';
import { down_write, up_write } from './rwsem.ts';
import { generic_delete_lease, lease_alloc, locks_delete_lease, new_lease } from './locks.ts';
import { zap_vma_ptes } from './mm.ts';
import { kill_fasync } from './signal.ts';

// ->mmap for a MAP_DIRECT vma: vfs_setlease(F_LAYOUT) and the fasync
// entry that lease breaks signal through.
export function map_direct_setup(k: Kernel, t: Thread, vma: Vma, fd: number): number {
  if (!lease_alloc(k, t, 'ENOMEM')) return ENOMEM;
  // fasync_insert_entry(fd, filp), then the check fcntl_setlk makes for a
  // racing close: the fd must still name the file, or no signal can be meant
  const stillOpen = k.procs[t.proc].fds[fd] === vma.filp;
  const seal = k.flags.mapDirectSeal; // v4/v5: a seal, with nothing to notify
  const l = new_lease(k, {
    inode: vma.inode, kind: 'map_direct', holder: -1, unbreakable: seal, vmaRefs: 1,
    fasync: !seal && (stillOpen || k.flags.sigioKeepsClosedFd) ? { proc: t.proc, fd, filp: vma.filp } : null,
  });
  vma.lease = l.id;
  vma.direct = true;
  return 0;
}

export function generic_map_direct_open(k: Kernel, vma: Vma): void {
  k.leaseById(vma.lease)!.vmaRefs++;
}

// put_map_direct_vma: the last vma unlocks the lease and flushes a
// pending invalidation.
export function generic_map_direct_close(k: Kernel, vma: Vma): void {
  const l = k.leaseById(vma.lease)!;
  if (--l.vmaRefs > 0) return;
  generic_delete_lease(k, l);
}

export function xfs_vma_has_direct_lease(k: Kernel, vma: Vma): boolean {
  if (!vma.direct) return true;
  return k.leaseById(vma.lease)?.valid ?? false;
}

// lm_break for a MAP_DIRECT lease.
export function map_direct_lm_break(k: Kernel, t: Thread, l: FileLock): void {
  if (l.fasync) kill_fasync(k, l.fasync.proc, l.fasync.fd, l.fasync.filp, l.inode);
  k.addTimer({ deadline: k.clock + k.lbt, kind: 'work', work: { kind: 'map_direct_invalidate', lease: l.id } });
  void t;
}

// close(fd): the fasync entry of a MAP_DIRECT lease belongs to the fd it
// was registered with (Al Viro, 004: the descriptor may be gone "by the
// time the event actually happens"), so closing the fd detaches it.
export function map_direct_fd_close(k: Kernel, proc: number, fd: number, filp: number): void {
  if (k.flags.sigioKeepsClosedFd) return; // 004 v9: si_fd may name a closed, reused fd
  for (const l of k.leases) {
    if (l.kind === 'map_direct' && l.fasync && l.fasync.proc === proc && l.fasync.fd === fd && l.fasync.filp === filp) l.fasync = null;
  }
}

interface InvalidateFrame extends Frame {
  lease: number;
  inode: number;
}

// The delayed work: revoke the mappings and unlock the lease.  It takes
// the MMAPLOCK exclusive, so a fault that found the lease valid under the
// MMAPLOCK finishes mapping the page before the revocation zaps it.
export const map_direct_invalidate = fn<InvalidateFrame>('map_direct_invalidate', {
  xfs_ilock_mmaplock_excl(k, t, f) {
    const l = k.leaseById(f.lease);
    if (!l || !l.onList) return k.ret(t, 0);
    f.inode = l.inode;
    if (k.flags.invalidateWithoutMmaplock) return 'invalidate'; // v9 as posted
    return down_write(k, t, k.inodes[l.inode].mmaplock, 'invalidate');
  },
  invalidate(k, t, f) {
    const l = k.leaseById(f.lease);
    if (l && l.onList) {
      l.valid = false;
      for (const pr of k.procs) for (const vma of pr.vmas) if (vma.lease === l.id) zap_vma_ptes(k, vma);
      locks_delete_lease(k, l);
      k.ref.leaseExpire('map', l.holder);
    }
    if (!k.flags.invalidateWithoutMmaplock) up_write(k, t, k.inodes[f.inode].mmaplock);
    return k.ret(t, 0);
  },
});
