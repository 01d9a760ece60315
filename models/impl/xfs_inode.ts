// fs/xfs/xfs_inode.c: removing a name, and freeing an unlinked inode's
// blocks once nothing holds it.

import type { Kernel, Thread } from './kernel.ts';
import { xfs_bunmapi } from './xfs_bmap.ts';
import { LIMITS } from '../testcase.ts';

// xfs_remove -> xfs_droplink: the file loses its one name.
export function xfs_remove(k: Kernel, inode: number): void {
  k.inodes[inode].nlink = 0;
}

// xfs_inactive -> xfs_inactive_truncate: an unlinked inode's size goes to
// zero and every extent back to the free space, pinned or not.
export function xfs_inactive(k: Kernel, t: Thread, inode: number): void {
  const ip = k.inodes[inode];
  ip.size = 0;
  for (let pg = 0; pg < LIMITS.blockMapPages; pg++) xfs_bunmapi(k, inode, pg);
  k.ref.inodeFreed(t.id, inode);
}
