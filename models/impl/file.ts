// fs/file.c and fs/open.c: the fd table and struct file lifetime.

import { EBADF, EINVAL, EMFILE, EPERM } from '../errno.ts';
import { fn, type Filp, type Frame, type Kernel } from './kernel.ts';
import type { Op } from '../testcase.ts';
import { map_direct_fd_close } from './mapdirect.ts';

// The fd an op's `fd` index names: the index-th open fd, lowest first.
export function fd_lookup(k: Kernel, proc: number, index: number): number {
  const fds = k.openFds(proc);
  return fds.length ? fds[index % fds.length] : -1;
}

// fdget: the open file behind descriptor `index` (an index modulo the
// open ones, as test cases name fds), or null for EBADF.
export function fdget(k: Kernel, proc: number, index: number): Filp | null {
  const fd = fd_lookup(k, proc, index);
  return fd < 0 ? null : k.filps[k.procs[proc].fds[fd]];
}

export function fput(k: Kernel, filp: number): void {
  const f = k.filps[filp]!;
  if (--f.refs === 0) k.filps[filp] = null;
}

interface OpenFrame extends Frame {
  op: Extract<Op, { op: 'open' }>;
}

// get_unused_fd_flags hands out the lowest free fd.
export const sys_open = fn<OpenFrame>('sys_open', {
  do_sys_open(k, t, f) {
    const pr = k.procs[t.proc];
    const fd = pr.fds.indexOf(-1);
    k.ref.commit(t.id);
    if (fd < 0) return k.ret(t, EMFILE);
    let id = k.filps.indexOf(null);
    if (id < 0) id = k.filps.length;
    k.filps[id] = { id, inode: f.op.file % k.inodes.length, write: f.op.write, refs: 1, mapDirect: false };
    pr.fds[fd] = id;
    return k.ret(t, fd);
  },
});

interface CloseFrame extends Frame {
  op: Extract<Op, { op: 'close' }>;
}

export const sys_close = fn<CloseFrame>('sys_close', {
  close_fd(k, t, f) {
    const fd = fd_lookup(k, t.proc, f.op.fd);
    if (fd < 0) return k.ret(t, EBADF);
    const pr = k.procs[t.proc];
    const filp = pr.fds[fd];
    map_direct_fd_close(k, t.proc, fd, filp);
    pr.fds[fd] = -1;
    fput(k, filp);
    k.ref.commit(t.id);
    return k.ret(t, 0);
  },
});

interface FcntlFrame extends Frame {
  op: Extract<Op, { op: 'fcntl_map_direct' }>;
}

// fcntl(fd, F_MAP_DIRECT): MAP_DIRECT v5 (002) let a CAP_LINUX_IMMUTABLE
// process mark an fd so that whoever gets the fd may map it MAP_DIRECT.
// Elsewhere the command does not exist.
export const sys_fcntl_map_direct = fn<FcntlFrame>('sys_fcntl', {
  f_map_direct(k, t, f) {
    const filp = fdget(k, t.proc, f.op.fd);
    if (!filp) return k.ret(t, EBADF);
    if (!k.flags.mapDirectNeedsCapImmutable) return k.ret(t, EINVAL);
    if (!k.procs[t.proc].capImmutable) return k.ret(t, EPERM);
    filp.mapDirect = true;
    k.ref.commit(t.id);
    return k.ret(t, 0);
  },
});
