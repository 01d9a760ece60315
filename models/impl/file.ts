// fs/file.c and fs/open.c: the fd table and struct file lifetime.

import { EACCES, EBADF, EINVAL, EMFILE, ENOENT, ENOMEM, EPERM } from '../errno.ts';
import { fn, type Ctl, type Filp, type Frame, type Kernel, type Thread } from './kernel.ts';
import type { Op } from '../testcase.ts';
import { map_direct_fd_close } from './mapdirect.ts';
import { fput_iput } from './inode.ts';
import { __break_lease, F_RDLCK, F_UNLCK, F_WRLCK, fcntl_delete_lease, fcntl_getlease, generic_add_lease, lease_alloc, leases_on, locks_remove_lease, setlease_permitted } from './locks.ts';

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

// fput -> __fput: the last reference takes the file's fcntl leases with
// it (locks_remove_file) and stops counting as a reader or writer; then
// its dentry, and with it an unlinked inode (fput_iput).
export function fput(k: Kernel, t: Thread, filp: number): void {
  const f = k.filps[filp]!;
  if (--f.refs > 0) return;
  locks_remove_lease(k, filp);
  k.filps[filp] = null;
  fput_iput(k, t, f.inode);
}

// An fd get_unused_fd_flags has handed out but fd_install has not filled.
export const FD_RESERVED = -2;

interface OpenFrame extends Frame {
  op: Extract<Op, { op: 'open' }>;
  fd: number;
  filp: number;
}

// do_sys_open: the lowest free fd first (get_unused_fd_flags), then the
// file: do_dentry_open counts it as a reader or writer, then breaks the
// leases it conflicts with (break_lease), waiting unless O_NONBLOCK;
// fd_install last.
export const sys_open = fn<OpenFrame>('sys_open', {
  do_sys_open(k, t, f) {
    const pr = k.procs[t.proc];
    const fd = pr.fds.indexOf(-1);
    if (fd < 0) return k.ret(t, EMFILE);
    f.fd = fd;
    let id = k.filps.indexOf(null);
    if (id < 0) id = k.filps.length;
    const inode = f.op.file % k.inodes.length;
    if (k.inodes[inode].nlink === 0) return k.ret(t, ENOENT); // do_filp_open's lookup
    k.filps[id] = { id, inode, write: f.op.write, refs: 1, mapDirect: false, ofid: k.nextOfid++ };
    f.filp = id;
    if (leases_on(k, inode).length === 0) return fd_install(k, t, f); // break_lease's inline check
    pr.fds[fd] = FD_RESERVED;
    return k.call(t, __break_lease, { inode, breaker: { layout: false, write: f.op.write }, nonblock: f.op.nonblock ?? false }, 'break_lease');
  },
  break_lease(k, t, f) {
    if (!t.rv) return fd_install(k, t, f);
    k.procs[t.proc].fds[f.fd] = -1;
    fput(k, t, f.filp);
    return k.ret(t, t.rv);
  },
});

function fd_install(k: Kernel, t: Thread, f: OpenFrame): Ctl {
  k.procs[t.proc].fds[f.fd] = f.filp;
  k.ref.commit(t.id);
  return k.ret(t, f.fd);
}

// The fd's slot is emptied and its file put (close_fd, filp_close); a
// MAP_DIRECT lease's SIGIO no longer names it.
export function filp_close(k: Kernel, t: Thread, proc: number, fd: number): void {
  const pr = k.procs[proc];
  const filp = pr.fds[fd];
  map_direct_fd_close(k, proc, fd, filp);
  pr.fds[fd] = -1;
  fput(k, t, filp);
}

interface CloseFrame extends Frame {
  op: Extract<Op, { op: 'close' }>;
}

export const sys_close = fn<CloseFrame>('sys_close', {
  close_fd(k, t, f) {
    const fd = fd_lookup(k, t.proc, f.op.fd);
    if (fd < 0) return k.ret(t, EBADF);
    filp_close(k, t, t.proc, fd);
    k.ref.commit(t.id);
    return k.ret(t, 0);
  },
});

interface SetleaseFrame extends Frame {
  op: Extract<Op, { op: 'fcntl_setlease' }>;
}

const leaseArg = (type: 'rd' | 'wr' | 'unlck'): number => (type === 'rd' ? F_RDLCK : type === 'wr' ? F_WRLCK : F_UNLCK);

// fcntl(fd, F_SETLEASE, arg) -> generic_setlease.  The lease belongs to
// the struct file; its SIGIO goes to the caller.
export const sys_fcntl_setlease = fn<SetleaseFrame>('sys_fcntl_setlease', {
  fcntl_setlease(k, t, f) {
    const fd = fd_lookup(k, t.proc, f.op.fd);
    if (fd < 0) return k.ret(t, EBADF);
    const filp = k.procs[t.proc].fds[fd];
    const arg = leaseArg(f.op.type);
    // do_fcntl_add_lease: the lease and its fasync entry, before any check
    if (arg !== F_UNLCK && (!lease_alloc(k, t, 'ENOMEM') || !lease_alloc(k, t, 'ENOMEM'))) return k.ret(t, ENOMEM);
    if (!setlease_permitted(k, t.proc, filp)) return k.ret(t, EACCES);
    const err = arg === F_UNLCK ? fcntl_delete_lease(k, filp) : generic_add_lease(k, t.proc, fd, filp, arg);
    k.ref.commit(t.id);
    return k.ret(t, err);
  },
});

interface GetleaseFrame extends Frame {
  op: Extract<Op, { op: 'fcntl_getlease' }>;
}

export const sys_fcntl_getlease = fn<GetleaseFrame>('sys_fcntl_getlease', {
  fcntl_getlease(k, t, f) {
    const filp = fdget(k, t.proc, f.op.fd);
    if (!filp) return k.ret(t, EBADF);
    const type = fcntl_getlease(k, filp.id);
    k.ref.commit(t.id);
    return k.ret(t, type);
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
