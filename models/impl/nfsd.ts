// fs/nfsd/nfs4layouts.c and fs/xfs/xfs_pnfs.c: pNFS block layouts.
//
// An NFS client's LAYOUTGET hands it the file's block map, to read and
// write the blocks itself; nfsd keeps an FL_LAYOUT lease for the client's
// layout state on the file, which xfs_break_leased_layouts breaks before
// the block map changes, and whose lm_break recalls the layout.  The op's
// process stands for the client, its fd for the client's open of the file.
// A recalled client that does not return its layout is fenced after two
// lease periods (nfsd4_cb_layout_done) and, no longer renewing, expires,
// which frees its layout state and the lease: the model drops the lease
// two lease periods after the recall, with lease-break-time as nfsd's
// lease period.

import { EBADF, NFS4ERR_BAD_STATEID, NFS4ERR_DELAY, NFS4ERR_LAYOUTUNAVAILABLE, NFS4ERR_RECALLCONFLICT } from '../errno.ts';
import type { Op } from '../testcase.ts';
import { fn, type FileLock, type Frame, type Kernel } from './kernel.ts';
import { down_write, up_write } from './rwsem.ts';
import { fdget } from './file.ts';
import { generic_delete_lease, lease_alloc, leases_on, new_lease, time_out_leases } from './locks.ts';

interface LayoutFrame extends Frame {
  op: Extract<Op, { op: 'layoutget' | 'layoutreturn' }>;
  inode: number;
  result: number;
}

export function layoutFrame(op: Extract<Op, { op: 'layoutget' | 'layoutreturn' }>): Omit<LayoutFrame, 'fn' | 'pc'> {
  return { op, inode: -1, result: 0 };
}

// The client's layout stateid for the file, by its lease.
function find_layout_stateid(k: Kernel, proc: number, inode: number): FileLock | null {
  return leases_on(k, inode).find((l) => l.kind === 'nfsd_layout' && l.holder === proc) ?? null;
}

// nfsd4_alloc_layout_stateid -> nfsd4_layout_setlease -> vfs_setlease: a
// read lease on the whole file.  generic_add_lease skips the open-file
// checks for FL_LAYOUT but, after timing out the fcntl leases, refuses a
// new lease while another owner's, of either kind, is being broken
// (FL_UNLOCK_PENDING); either failure is NFS4ERR_DELAY.
function nfsd4_layout_setlease(k: Kernel, proc: number, inode: number): FileLock | null {
  time_out_leases(k, inode);
  if (leases_on(k, inode).some((l) => l.unlockPending)) return null;
  return new_lease(k, { inode, kind: 'nfsd_layout', holder: proc, granted: false });
}

export const nfsd4_layoutget = fn<LayoutFrame>('nfsd4_layoutget', {
  nfsd4_preprocess_layout_stateid(k, t, f) {
    const filp = fdget(k, t.proc, f.op.fd);
    if (!filp) return k.ret(t, EBADF);
    f.inode = filp.inode;
    if (find_layout_stateid(k, t.proc, f.inode)) return 'xfs_ilock';
    if (!lease_alloc(k, t, 'NFS4ERR_DELAY')) return k.ret(t, NFS4ERR_DELAY);
    const l = nfsd4_layout_setlease(k, t.proc, f.inode);
    k.ref.layoutSetlease(t.id);
    if (!l) return k.ret(t, NFS4ERR_DELAY);
    return 'xfs_ilock';
  },
  // xfs_fs_map_blocks hands the map out under the IOLOCK, exclusive
  xfs_ilock(k, t, f) {
    return down_write(k, t, k.inodes[f.inode].iolock, 'xfs_fs_map_blocks');
  },
  // The recall check comes first: no layout while any of the file's is
  // being recalled (fi_lo_recalls), or once the client's layout state on
  // the file is gone.
  xfs_fs_map_blocks(k, t, f) {
    const l = find_layout_stateid(k, t.proc, f.inode);
    if (!l || leases_on(k, f.inode).some((x) => x.kind === 'nfsd_layout' && x.breaking)) f.result = NFS4ERR_RECALLCONFLICT;
    else if (k.inodes[f.inode].reflink) f.result = NFS4ERR_LAYOUTUNAVAILABLE; // xfs_fs_map_blocks: -ENXIO
    else {
      l.granted = true;
      f.result = 0;
    }
    k.ref.commit(t.id);
    return 'xfs_iunlock';
  },
  xfs_iunlock(k, t, f) {
    up_write(k, t, k.inodes[f.inode].iolock);
    return k.ret(t, f.result);
  },
});

// LAYOUTRETURN of the whole file: the layouts go, and with none left the
// layout stateid is freed (nfsd4_return_file_layouts), which unlocks the
// lease and wakes whoever waits to break it (nfsd4_free_layout_stateid).
export const nfsd4_layoutreturn = fn<LayoutFrame>('nfsd4_layoutreturn', {
  nfsd4_return_file_layouts(k, t, f) {
    const filp = fdget(k, t.proc, f.op.fd);
    if (!filp) return k.ret(t, EBADF);
    const l = find_layout_stateid(k, t.proc, filp.inode);
    k.ref.commit(t.id);
    if (!l) return k.ret(t, NFS4ERR_BAD_STATEID);
    generic_delete_lease(k, l);
    return k.ret(t, 0);
  },
});

// lm_break (nfsd4_layout_lm_break -> nfsd4_recall_file_layout): recall,
// with no timeout from fs/locks.c (fl_break_time = 0); nfsd fences a
// client that has not returned it two lease periods on.
export function nfsd4_layout_lm_break(k: Kernel, l: FileLock): void {
  k.addTimer({ deadline: k.clock + 2 * k.lbt, kind: 'work', work: { kind: 'nfsd4_layout_fence', lease: l.id } });
}

// The fenced client's layout state goes (nfsd4_cb_layout_fail, then the
// client's expiry).
export function nfsd4_layout_fence(k: Kernel, leaseId: number): void {
  const l = k.leaseById(leaseId);
  if (!l || !l.onList) return;
  generic_delete_lease(k, l); // nfsd4_free_layout_stateid
  k.ref.leaseExpire('layout', l.holder, l.inode);
}
