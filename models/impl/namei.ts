// fs/namei.c: unlink(2).

import { ENOENT } from '../errno.ts';
import { fn, type Frame } from './kernel.ts';
import type { Op } from '../testcase.ts';
import { down_write, up_write } from './rwsem.ts';
import { evict, iput_final_due } from './inode.ts';
import { xfs_remove } from './xfs_inode.ts';

interface UnlinkFrame extends Frame {
  op: Extract<Op, { op: 'unlink' }>;
  inode: number;
}

// do_unlinkat: the name's lookup, then vfs_unlink under the victim's
// i_rwsem (the XFS IOLOCK); the parent directory's lock, which keeps two
// unlinks of one name apart, is the recheck under the IOLOCK here.  The
// dentry's reference goes last (iput), evicting the inode if nothing else
// holds it.
export const sys_unlink = fn<UnlinkFrame>('sys_unlink', {
  do_unlinkat(k, t, f) {
    f.inode = f.op.file % k.inodes.length;
    if (k.inodes[f.inode].nlink === 0) return k.ret(t, ENOENT);
    return 'inode_lock';
  },
  inode_lock(k, t, f) {
    return down_write(k, t, k.inodes[f.inode].iolock, 'xfs_remove');
  },
  xfs_remove(k, t, f) {
    const ip = k.inodes[f.inode];
    const gone = ip.nlink === 0;
    if (!gone) xfs_remove(k, f.inode);
    k.ref.commit(t.id);
    up_write(k, t, ip.iolock);
    return gone ? k.ret(t, ENOENT) : 'iput';
  },
  iput(k, t, f) {
    if (!iput_final_due(k, f.inode)) return k.ret(t, 0);
    k.inodes[f.inode].freeing = true;
    return k.call(t, evict, { inode: f.inode, page: -1 }, 'done');
  },
  done(k, t) {
    return k.ret(t, 0);
  },
});
