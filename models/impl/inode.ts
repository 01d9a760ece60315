// fs/inode.c: the last reference to an inode, and its eviction.

import { fn, type Frame, type Kernel, type Thread } from './kernel.ts';
import { dax_busy_page, dax_delete_mapping_entry, dax_layout_busy_page_unmap } from './dax.ts';
import { page_ref_count } from './page.ts';
import { xfs_inactive } from './xfs_inode.ts';
import { LIMITS } from '../testcase.ts';

// Whether the inode's last reference is gone: no name, no struct file
// (fds, vmas and calls under way hold theirs), no truncate(2) holding its
// path, no lease (each holder keeps its file), and eviction not yet
// begun.
export function iput_final_due(k: Kernel, inode: number): boolean {
  const ip = k.inodes[inode];
  if (ip.nlink > 0 || ip.freeing || ip.writeAccess > 0) return false;
  return !k.filps.some((f) => f !== null && f.inode === inode) && !k.leases.some((l) => l.inode === inode);
}

// fput of an unlinked inode's last file: __fput's dput -> iput runs on the
// way back to user space (task_work), or from a kernel thread by the
// delayed_fput worker.  (truncate(2)'s path_put is synchronous, before
// the call returns: the same to its caller.)
export function fput_iput(k: Kernel, t: Thread, inode: number): void {
  if (!iput_final_due(k, inode)) return;
  k.inodes[inode].freeing = true;
  if (t.kind === 'proc') t.taskWork.push(inode);
  else k.work.push({ kind: 'delayed_fput', inode });
}

export interface EvictFrame extends Frame {
  inode: number;
  page: number;
}

// iput_final -> evict.  Mainline's xfs_fs_evict_inode first waits, without
// a signal to stop it, for every pinned DAX page to go idle
// (dax_break_layout_final); 4.18 and 6.1 have no such wait.  Then the
// mapping's entries go (truncate_inode_pages_final) and destroy_inode
// frees the blocks (xfs_inactive).
export const evict = fn<EvictFrame>('evict', {
  evict_inode(k, t, f) {
    const ip = k.inodes[f.inode];
    if (ip.dax && !k.flags.evictFreesPinnedBlocks) return 'dax_break_layout_final';
    return 'truncate_inode_pages_final';
  },
  dax_break_layout_final(k, t, f) {
    dax_layout_busy_page_unmap(k, f.inode);
    f.page = dax_busy_page(k, f.inode);
    return f.page < 0 ? 'truncate_inode_pages_final' : 'wait_page_idle_uninterruptible';
  },
  wait_page_idle_uninterruptible(k, t, f) {
    if (page_ref_count(k, f.page) === 1) return 'dax_break_layout_final';
    return k.sleep(t, 'page', f.page, 'wait_page_idle_uninterruptible', false);
  },
  // 4.18 and 6.1 only WARN here when a page is still pinned
  // (dax_disassociate_entry), and go on.  (A page-cache file's pages are
  // its data in the model: they go with its blocks, in xfs_inactive.)
  truncate_inode_pages_final(k, t, f) {
    if (k.inodes[f.inode].dax) for (let pg = 0; pg < LIMITS.pagesPerFile; pg++) dax_delete_mapping_entry(k, f.inode, pg);
    return 'xfs_inactive';
  },
  xfs_inactive(k, t, f) {
    xfs_inactive(k, t, f.inode);
    return k.ret(t, 0);
  },
});
