// io_uring/rsrc.c, rw.c and register.c: registered (fixed) buffers.
//
// IORING_REGISTER_BUFFERS pins a buffer long-term (FOLL_WRITE |
// FOLL_LONGTERM), and READ_FIXED and WRITE_FIXED then copy into and out of
// the pinned pages without looking at the process's mappings again: a
// second long-term pin source beside RDMA.  Each process has a ring of its
// own with one buffer slot.  4.18 has no io_uring; 6.1 pins with
// pin_user_pages under mmap_sem and then refuses any file mapping but shmem
// and hugetlbfs; mainline pins with pin_user_pages_fast and leaves the
// refusal to GUP.

import { EBADF, EBUSY, EFAULT, ENOMEM, ENOSYS, ENXIO, EOPNOTSUPP } from '../errno.ts';
import { LIMITS, uringSpan, type Op } from '../testcase.ts';
import { fn, type Frame, type IoMappedUbuf, type Kernel, type Pin, type Thread, type Vma } from './kernel.ts';
import { down_read, down_write, up_read, up_write } from './rwsem.ts';
import { unpin_user_pages } from './page.ts';
import { get_user_pages, gupFrame, lockless_pages_from_mm, lockless_prefix } from './gup.ts';
import { fdget } from './file.ts';
import { dma_read_page, dma_write_page, file_pin } from './dio.ts';
import { xfs_file_buffered_write, type WriteFrame } from './xfs_file.ts';

interface RegisterFrame extends Frame {
  op: Extract<Op, { op: 'uring_register' }>;
  vma: number; // the buffer's address: the mapping it lies in, -1 if none
  inode: number;
  first: number;
  span: number;
  pins: Pin[];
  result: number;
}

export function registerFrame(op: Extract<Op, { op: 'uring_register' }>): Omit<RegisterFrame, 'fn' | 'pc'> {
  return { op, vma: -1, inode: -1, first: 0, span: 0, pins: [], result: 0 };
}

// FOLL_LONGTERM refuses an fs-DAX vma (check_vma_flags), whatever the
// mapping's type.
function vma_is_fsdax(k: Kernel, inode: number): boolean {
  return k.inodes[inode].dax && !k.flags.longtermPinFsdax;
}

// io_buffer_unmap: the pins go, and the charge with them.
function io_buffer_unmap(k: Kernel, buf: IoMappedUbuf): void {
  k.userLockedVm[buf.uid] -= buf.pins.length;
  unpin_user_pages(k, buf.pins);
}

// The vma the buffer lies in as the pin begins (under mmap_sem, so what
// the pin then sees): gone, the pin faults (EFAULT).
function find_buffer_vma(k: Kernel, t: Thread, f: RegisterFrame): Vma | null {
  const vma = f.vma >= 0 ? k.vmaById(t.proc, f.vma) : null;
  if (!vma) {
    k.ref.writeFault(t.id, f.vma, f.first);
    f.result = EFAULT;
    return null;
  }
  k.ref.pinBegin(t.id);
  return vma;
}

export const io_uring_register = fn<RegisterFrame>('io_uring_register', {
  // The iovec gives the buffer's address; which mapping holds it is
  // decided here, as the address is.
  __io_uring_register(k, t, f) {
    if (k.flags.noIoUring) return k.ret(t, ENOSYS);
    const vmas = k.procs[t.proc].vmas;
    const vma = vmas.length ? vmas[f.op.map % vmas.length] : null;
    const { first, span } = uringSpan(f.op, vma ? vma.npages : null);
    f.first = first;
    f.span = span;
    if (vma) {
      f.vma = vma.id;
      f.inode = vma.inode;
    }
    const ring = k.procs[t.proc].ring;
    if (ring.lock < 0) ring.lock = k.newLock('uring_lock', t.proc);
    return down_write(k, t, ring.lock, 'io_sqe_buffers_register');
  },
  io_sqe_buffers_register(k, t, f) {
    if (k.procs[t.proc].ring.buf) {
      k.ref.commit(t.id);
      f.result = EBUSY;
      return 'mutex_unlock';
    }
    if (k.allocFails(t, 'ENOMEM')) {
      f.result = ENOMEM; // io_rsrc_data_alloc, or io_pin_pages' page array
      return 'mutex_unlock';
    }
    return k.flags.ioUringRefusesFileMappings ? 'pin_user_pages' : 'pin_user_pages_fast';
  },
  // 6.1: the slow path over the whole buffer, then the vmas it found.
  pin_user_pages(k, t, f) {
    if (!find_buffer_vma(k, t, f)) return 'mutex_unlock';
    if (vma_is_fsdax(k, f.inode)) {
      f.result = EOPNOTSUPP;
      return 'mutex_unlock';
    }
    return k.call(t, get_user_pages, gupFrame(f.vma, f.first, f.span, true, true, f.pins), 'io_pin_pages');
  },
  io_pin_pages(k, t, f) {
    if (t.rv < 0) {
      f.result = EFAULT;
      return 'mutex_unlock';
    }
    unpin_user_pages(k, f.pins); // "don't support file backed memory"
    f.result = EOPNOTSUPP;
    return 'mutex_unlock';
  },
  // Mainline: what the lockless walk pins, then the slow path for the
  // rest; part of the buffer pinned and the rest refused is EFAULT.
  pin_user_pages_fast(k, t, f) {
    const vma = find_buffer_vma(k, t, f);
    if (!vma) return 'mutex_unlock';
    const n = lockless_prefix(vma, f.first, f.span);
    lockless_pages_from_mm(k, t, vma, f.first, n, f.pins);
    if (n === f.span) return 'io_buffer_account_pin';
    // check_vma_flags: FOLL_LONGTERM on fs-DAX, and a long-term write pin
    // of a mapping that needs dirty tracking (writable_file_mapping_allowed)
    const refused = vma_is_fsdax(k, f.inode) ? EOPNOTSUPP : !k.inodes[f.inode].dax && vma.shared && !k.flags.longtermPinsWritableFileMappings ? EFAULT : 0;
    if (refused) {
      f.result = n > 0 ? EFAULT : refused;
      unpin_user_pages(k, f.pins);
      return 'mutex_unlock';
    }
    return k.call(t, get_user_pages, gupFrame(f.vma, f.first + n, f.span - n, true, true, f.pins), 'gup_fast_fallback');
  },
  gup_fast_fallback(k, t, f) {
    if (t.rv < 0) {
      unpin_user_pages(k, f.pins);
      f.result = EFAULT;
      return 'mutex_unlock';
    }
    return 'io_buffer_account_pin';
  },
  // Charged to the user's locked_vm once pinned, refused beyond
  // RLIMIT_MEMLOCK (no CAP_IPC_LOCK); the buffer is published with it.
  io_buffer_account_pin(k, t, f) {
    const pr = k.procs[t.proc];
    k.ref.commit(t.id);
    if (k.userLockedVm[pr.uid] + f.pins.length > LIMITS.memlockPages) {
      unpin_user_pages(k, f.pins);
      f.result = ENOMEM;
      return 'mutex_unlock';
    }
    k.userLockedVm[pr.uid] += f.pins.length;
    pr.ring.buf = { pins: f.pins, uid: pr.uid, refs: 0, live: true };
    f.result = 0;
    return 'mutex_unlock';
  },
  mutex_unlock(k, t, f) {
    up_write(k, t, k.procs[t.proc].ring.lock);
    return k.ret(t, f.result);
  },
});

// The ring's last reference goes (io_ring_ctx_free, from io_ring_exit_work):
// its buffer with it, once no request uses it.
export function io_ring_ctx_free(k: Kernel, proc: number): void {
  const ring = k.procs[proc].ring;
  const buf = ring.buf;
  if (!buf) return;
  ring.buf = null;
  buf.live = false;
  if (buf.refs === 0) io_buffer_unmap(k, buf);
}

export const io_uring_unregister = fn<Frame>('io_uring_unregister', {
  // The buffer leaves the table now; a request under way keeps it pinned
  // until it ends (io_put_rsrc_node).  No lock: the table changes in this
  // one step.
  io_sqe_buffers_unregister(k, t) {
    if (k.flags.noIoUring) return k.ret(t, ENOSYS);
    if (!k.procs[t.proc].ring.buf) return k.ret(t, ENXIO);
    io_ring_ctx_free(k, t.proc);
    k.ref.commit(t.id);
    return k.ret(t, 0);
  },
});

export interface FixedFrame extends Frame {
  op: Extract<Op, { op: 'uring_read_fixed' | 'uring_write_fixed' }>;
  inode: number;
  error: number;
  buf: Pin | null;
  ubuf: IoMappedUbuf | null;
}

export function fixedFrame(op: Extract<Op, { op: 'uring_read_fixed' | 'uring_write_fixed' }>): Omit<FixedFrame, 'fn' | 'pc'> {
  return { op, inode: -1, error: 0, buf: null, ubuf: null };
}

// The request's hold on the buffer (its rsrc node reference) ends.
function io_put_rsrc_node(k: Kernel, f: FixedFrame): void {
  const buf = f.ubuf;
  if (!buf) return;
  f.ubuf = null;
  if (--buf.refs === 0 && !buf.live) io_buffer_unmap(k, buf);
}

// Submission: the buffer slot and the file.  6.1 looks the slot up at
// prep (io_prep_rw), before the file; mainline finds the file at issue
// (io_assign_file), then imports the buffer (io_import_reg_buf).
function io_prep_rw_fixed(k: Kernel, t: Thread, f: FixedFrame, write: boolean): number {
  if (k.flags.noIoUring) return ENOSYS;
  const ubuf = k.procs[t.proc].ring.buf;
  if (!ubuf && k.flags.ioUringFixedBufferCheckedFirst) return EFAULT;
  const filp = fdget(k, t.proc, f.op.fd);
  if (!filp) return EBADF;
  if (!ubuf) return EFAULT;
  if (write && !filp.write) return EBADF; // io_rw_init_file: FMODE_WRITE
  ubuf.refs++;
  f.ubuf = ubuf;
  f.buf = ubuf.pins[f.op.page % ubuf.pins.length];
  f.inode = filp.inode;
  return 0;
}

// READ_FIXED of one page: xfs_file_read_iter (buffered, or DAX) copies the
// file's page into the buffer's, under the IOLOCK shared.
export const io_read = fn<FixedFrame>('io_read', {
  io_prep_rw(k, t, f) {
    const err = io_prep_rw_fixed(k, t, f, false);
    return err ? k.ret(t, err) : 'xfs_ilock';
  },
  xfs_ilock(k, t, f) {
    return down_read(k, t, k.inodes[f.inode].iolock, 'copy_page_to_iter');
  },
  copy_page_to_iter(k, t, f) {
    const off = f.op.off % LIMITS.pagesPerFile;
    const ip = k.inodes[f.inode];
    k.ref.commit(t.id);
    if (off < ip.size) dma_write_page(k, t, f.buf!, 'cpu', dma_read_page(k, t, file_pin(k, f.inode, off), 'cpu'));
    return 'xfs_iunlock';
  },
  xfs_iunlock(k, t, f) {
    up_read(k, t, k.inodes[f.inode].iolock);
    io_put_rsrc_node(k, f);
    return k.ret(t, 0);
  },
});

// WRITE_FIXED of one page: xfs_file_write_iter with the buffer's page as
// the data.
const write_iter = xfs_file_buffered_write();
export const io_write = fn<FixedFrame & WriteFrame>('io_write', {
  io_prep_rw(k, t, f) {
    const err = io_prep_rw_fixed(k, t, f, true);
    return err ? k.ret(t, err) : 'xfs_ilock_iolock_excl';
  },
  ...write_iter,
  xfs_iunlock(k, t, f) {
    io_put_rsrc_node(k, f);
    return write_iter.xfs_iunlock(k, t, f);
  },
});
