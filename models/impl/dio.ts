// O_DIRECT I/O on a page-cache file: xfs_file_dio_{read,write} ->
// iomap_dio_rw, and the device that later moves the data and completes
// the request.  (A DAX file goes to xfs_file_dax_rw below: a CPU copy.)
//
// The user buffer is pinned with get_user_pages_fast; the device reads or
// writes the pinned page by physical address when it gets to the request,
// and the pin is dropped at completion.  A read of a hole or unwritten
// extent pins nothing and moves nothing: the CPU zeroes the buffer inside
// the syscall (iomap_dio_hole_iter).  A write's page-cache page is
// allocated written at submission (the model has no writeback), and the
// file grows when the write completes.

import { HOLE, UNWRITTEN, WRITTEN } from '../abstract.ts';
import { EBADF, EFAULT, ENOSPC } from '../errno.ts';
import { LIMITS, type Op } from '../testcase.ts';
import { ANON_PAGE, BLOCKED, ZERO_PAGE, fn, type DioReq, type Frame, type Kernel, type Next, type Pin, type Thread } from './kernel.ts';
import { down_read, down_write, rwsem_is_write_locked, up_read, up_write } from './rwsem.ts';
import { unpin_user_page } from './page.ts';
import { get_user_pages_fast, gupFrame } from './gup.ts';
import { file_page, free_blocks, page_state, xfs_bmapi_write, xfs_convert_unwritten } from './xfs_bmap.ts';
import { BREAK_WRITE, dax_iomap_iter_cow_invalidate, xfs_break_layouts } from './xfs_file.ts';
import { dax_cow_busy_page, xfs_reflink_cow_page, xfs_refcount_find_shared } from './xfs_reflink.ts';
import { fdget, fput } from './file.ts';
import { do_user_addr_fault, invalidate_inode_pages2_range } from './mm.ts';

interface DioFrame extends Frame {
  op: Extract<Op, { op: 'dio_read' | 'dio_write' }>;
  inode: number;
  vma: number;
  page: number;
  off: number;
  pins: Pin[];
  error: number;
  req: number;
}

export function dioFrame(op: Extract<Op, { op: 'dio_read' | 'dio_write' }>): Omit<DioFrame, 'fn' | 'pc'> {
  return { op, inode: -1, vma: -1, page: 0, off: 0, pins: [], error: 0, req: -1 };
}

// blk_mq_get_tag: a free tag, or one a completion handed to this thread.
// Tags go to waiters in order, so a stream of new requests cannot starve
// one that is already waiting.
function blk_mq_get_tag(k: Kernel, t: Thread): boolean {
  const handed = k.tagHandedTo.indexOf(t.id);
  if (handed >= 0) {
    k.tagHandedTo.splice(handed, 1);
    return true;
  }
  const waiting = k.threads.some((o) => o.status === BLOCKED && o.wait === 'dio_tag');
  return !waiting && k.dioQueue.length + k.tagHandedTo.length < LIMITS.queueDepth;
}

// blk_mq_put_tag: hand the tag to the oldest waiter, if any.
function blk_mq_put_tag(k: Kernel): void {
  let oldest: Thread | null = null;
  for (const o of k.threads) if (o.status === BLOCKED && o.wait === 'dio_tag' && (!oldest || o.waitSeq < oldest.waitSeq)) oldest = o;
  if (!oldest) return;
  k.tagHandedTo.push(oldest.id);
  k.wakeThread(oldest);
}

function inode_dio_end(k: Kernel, inode: number): void {
  if (--k.inodes[inode].dioCount === 0) k.wake('inode_dio', inode);
}

function unlock_iolock(k: Kernel, t: Thread, inode: number): void {
  const id = k.inodes[inode].iolock;
  if (rwsem_is_write_locked(k, t, id)) up_write(k, t, id);
  else up_read(k, t, id);
}

export const xfs_file_dio_aio_rw = fn<DioFrame>('xfs_file_dio_aio_rw', {
  entry(k, t, f) {
    const filp = fdget(k, t.proc, f.op.fd);
    if (!filp || (f.op.op === 'dio_write' && !filp.write)) return k.ret(t, EBADF);
    // no mapping at all: the buffer is an address nothing maps, which only
    // the pin (gup) finds out; a read at the end of the file never gets there
    const vmas = k.procs[t.proc].vmas;
    const vma = vmas.length ? vmas[f.op.map % vmas.length] : null;
    f.inode = filp.inode;
    f.vma = vma ? vma.id : -1;
    f.page = vma ? f.op.page % vma.npages : 0;
    if (k.inodes[f.inode].dax) return k.call(t, xfs_file_dax_rw, { ...dioFrame(f.op), inode: f.inode, vma: f.vma, page: f.page }, 'dax_done'); // xfs_file_read_iter / _write_iter: IS_DAX first
    return 'xfs_ilock_iolock_shared';
  },
  dax_done(k, t) {
    return k.ret(t, t.rv);
  },
  xfs_ilock_iolock_shared(k, t, f) {
    return down_read(k, t, k.inodes[f.inode].iolock, f.op.op === 'dio_write' ? 'xfs_file_aio_write_checks' : 'iomap_dio_rw');
  },
  xfs_file_aio_write_checks(k, t, f) {
    return k.call(t, xfs_break_layouts, { inode: f.inode, reason: BREAK_WRITE, stage: 0, error: 0, retry: false }, 'iomap_dio_rw');
  },
  iomap_dio_rw(k, t, f) {
    if (f.op.op === 'dio_write' && t.rv) {
      f.error = t.rv;
      return 'xfs_iunlock';
    }
    const ip = k.inodes[f.inode];
    // a read at the end of the file returns 0 before the buffer is pinned
    // (6.1 fs/iomap/direct-io.c:523, fs/dax.c:1332); a write there extends the file
    if (ip.size === 0 && f.op.op === 'dio_read') {
      k.ref.commit(t.id);
      f.error = 0;
      return 'xfs_iunlock';
    }
    f.off = ip.size ? f.op.off % ip.size : 0;
    if (f.op.op === 'dio_read' && page_state(k, f.inode, f.off) !== WRITTEN) {
      k.ref.dioHoleRead(t.id);
      return 'iomap_dio_hole_iter';
    }
    // before the buffer is pinned: a write that then fails has still taken the page out
    if (f.op.op === 'dio_write') invalidate_inode_pages2_range(k, f.inode, f.off);
    ip.dioCount++; // inode_dio_begin
    return k.call(t, get_user_pages_fast, gupFrame(f.vma, f.page, 1, f.op.op === 'dio_read', !k.flags.dioPinsWithFollGet, f.pins), 'submit_bio');
  },
  submit_bio(k, t, f) {
    if (t.rv === 0 && !blk_mq_get_tag(k, t)) return k.sleep(t, 'dio_tag', 0, 'submit_bio', false);
    if (t.rv < 0) {
      inode_dio_end(k, f.inode);
      f.error = EFAULT;
      return 'xfs_iunlock';
    }
    const read = f.op.op === 'dio_read';
    // a page-cache file: a hole or unwritten page becomes a written page, which cannot fail
    if (!read && page_state(k, f.inode, f.off) === HOLE) xfs_bmapi_write(k, t, f.inode, f.off, false, null);
    else if (!read && page_state(k, f.inode, f.off) === UNWRITTEN) xfs_convert_unwritten(k, f.inode, f.off);
    const page = file_page(k, f.inode, f.off);
    const req: DioReq = {
      refId: k.ref.commit(t.id), tid: t.id, dir: read ? 'read' : 'write', aio: f.op.aio, filp: f.op.aio ? t.fdget : -1, inode: f.inode, off: f.off,
      filePage: page < 0 ? ZERO_PAGE : page, fileEpoch: page < 0 ? 0 : k.pageEpoch[page], buf: f.pins[0],
    };
    if (req.filp >= 0) k.filps[req.filp]!.refs++; // aio_prep_rw's fget, dropped by iocb_destroy
    k.dioQueue.push(req);
    f.req = req.refId;
    f.error = 0;
    if (f.op.aio) return 'xfs_iunlock'; // -EIOCBQUEUED: the I/O completes on its own
    return k.sleep(t, 'dio', t.id, 'xfs_iunlock', false);
  },
  xfs_iunlock(k, t, f) {
    unlock_iolock(k, t, f.inode);
    return k.ret(t, f.error);
  },
  // iomap_dio_hole_iter: iov_iter_zero, a CPU store of zeroes into the
  // buffer, faulting it in like any user access; nothing is pinned and the
  // read, AIO or not, is complete when the syscall returns
  iomap_dio_hole_iter(k, t, f) {
    const buf = user_copy_page(k, t, f, true, 'hole_faulted');
    if (typeof buf === 'string' || !('epoch' in buf)) return buf;
    copy_done(k, t);
    dma_write_page(k, t, buf, 'cpu', 0);
    f.error = 0;
    return 'xfs_iunlock';
  },
  hole_faulted(k, t, f) {
    return t.rv < 0 ? copy_fault(k, t, f) : 'iomap_dio_hole_iter';
  },
});

// The user buffer of a CPU copy (copy_to_user, copy_from_user, clear_user):
// its page, as the reference sees the copy take it, or the step that
// faults it in (then `faulted`), or the end of a copy that cannot reach it.
function user_copy_page(k: Kernel, t: Thread, f: DioFrame, write: boolean, faulted: string): Pin | Next {
  const vma = f.vma >= 0 ? k.vmaById(t.proc, f.vma) : null;
  if (!vma || (write && !vma.write)) {
    if (write) k.ref.writeFault(t.id, f.vma, f.page);
    else k.ref.readFault(t.id, f.vma, f.page);
    return copy_fault(k, t, f);
  }
  const p = f.page;
  if (vma.pte[p] === -1 || (write && !vma.pteWrite[p])) return k.call(t, do_user_addr_fault, { vma: vma.id, page: p, write }, faulted);
  k.ref.pin(t.id, vma.id, p, write);
  return { page: vma.pte[p], epoch: vma.pteEpoch[p], inode: vma.inode, index: vma.pgoff + p, anon: vma.pte[p] === ANON_PAGE ? vma.cow[p] : -1, follPin: false };
}

// A CPU copy is the whole transfer: the reference sees it issued, land
// and complete at once.
function copy_done(k: Kernel, t: Thread): void {
  const id = k.ref.commit(t.id);
  k.ref.dioLand(id);
  k.ref.dioComplete(id);
}

// The copy met a buffer it cannot reach: EFAULT, but for a read of a hole
// or unwritten extent, which iov_iter_zero ends as a short read on DAX
// (dax_iomap_iter), and on a page-cache file where the version's
// iomap_dio_hole_iter does not turn nothing zeroed into EFAULT.
function copy_fault(k: Kernel, t: Thread, f: DioFrame): string {
  const short = k.inodes[f.inode].dax || k.flags.dioHoleReadFaultShort;
  if (f.op.op === 'dio_read' && page_state(k, f.inode, f.off) !== WRITTEN && short) {
    k.ref.commit(t.id);
    f.error = 0;
  } else f.error = EFAULT;
  return 'xfs_iunlock';
}

// xfs_file_dax_read / xfs_file_dax_write -> dax_iomap_rw: O_DIRECT on a
// DAX file is a CPU copy between the user buffer and the block, under the
// IOLOCK (exclusive for a write): no pin, no bio, nothing in flight.  The
// copy faults the buffer in like any user access; the data moves in one
// step once its pte is there.
export const xfs_file_dax_rw = fn<DioFrame>('xfs_file_dax_rw', {
  xfs_ilock(k, t, f) {
    const lock = k.inodes[f.inode].iolock;
    return f.op.op === 'dio_write' ? down_write(k, t, lock, 'xfs_file_write_checks') : down_read(k, t, lock, 'dax_iomap_rw');
  },
  xfs_file_write_checks(k, t, f) {
    return k.call(t, xfs_break_layouts, { inode: f.inode, reason: BREAK_WRITE, stage: 0, error: 0, retry: false }, 'dax_iomap_rw');
  },
  dax_iomap_rw(k, t, f) {
    const read = f.op.op === 'dio_read';
    if (!read && t.rv) {
      f.error = t.rv;
      return 'xfs_iunlock';
    }
    const ip = k.inodes[f.inode];
    if (ip.size === 0 && read) {
      k.ref.commit(t.id);
      f.error = 0;
      return 'xfs_iunlock';
    }
    f.off = ip.size ? f.op.off % ip.size : 0;
    return read ? 'dax_iomap_iter' : 'xfs_dax_write_iomap_begin';
  },
  // The block is allocated (zeroed and written, XFS_BMAPI_ZERO) before the
  // copy, so a write that then faults on its buffer leaves it allocated.
  xfs_dax_write_iomap_begin(k, t, f) {
    const state = page_state(k, f.inode, f.off);
    const ip = k.inodes[f.inode];
    if (state === WRITTEN && xfs_refcount_find_shared(k, ip.bmap[f.off])) {
      const busy = dax_cow_busy_page(k, ip.bmap[f.off]);
      if (busy >= 0) return k.sleep(t, 'page', busy, 'xfs_dax_write_iomap_begin', false);
      if (xfs_reflink_cow_page(k, f.inode, f.off) < 0) {
        k.ref.commit(t.id);
        f.error = ENOSPC;
        return 'xfs_iunlock';
      }
      dax_iomap_iter_cow_invalidate(k, f.inode, f.off);
      k.ref.daxWriteBegin(t.id);
      return 'dax_iomap_iter';
    }
    if (state === WRITTEN) return 'dax_iomap_iter';
    if (state === HOLE && free_blocks(k) === 0) {
      k.ref.commit(t.id);
      f.error = ENOSPC;
      return 'xfs_iunlock';
    }
    if (state === HOLE) xfs_bmapi_write(k, t, f.inode, f.off, false, null);
    else xfs_convert_unwritten(k, f.inode, f.off);
    k.ref.daxWriteBegin(t.id);
    return 'dax_iomap_iter';
  },
  dax_iomap_iter(k, t, f) {
    const read = f.op.op === 'dio_read';
    const buf = user_copy_page(k, t, f, read, 'faulted'); // written by a read, read by a write
    if (typeof buf === 'string' || !('epoch' in buf)) return buf;
    if (!read) k.inodes[f.inode].size = Math.max(k.inodes[f.inode].size, f.off + 1); // xfs_file_dax_write: past EOF, i_size_write
    copy_done(k, t);
    const file = file_pin(k, f.inode, f.off);
    if (read) dma_write_page(k, t, buf, 'cpu', dma_read_page(k, t, file, 'cpu'));
    else dma_write_page(k, t, file, 'cpu', dma_read_page(k, t, buf, 'cpu'));
    f.error = 0;
    return 'xfs_iunlock';
  },
  faulted(k, t, f) {
    return t.rv < 0 ? copy_fault(k, t, f) : 'dax_iomap_iter';
  },
  xfs_iunlock(k, t, f) {
    unlock_iolock(k, t, f.inode);
    return k.ret(t, f.error);
  },
});

// A CPU copy's file side: the page holding file page `off` now, or the
// zero page for a hole or unwritten extent.
export function file_pin(k: Kernel, inode: number, off: number): Pin {
  const page = file_page(k, inode, off);
  return { page: page < 0 ? ZERO_PAGE : page, epoch: page < 0 ? 0 : k.pageEpoch[page], inode, index: off, anon: -1, follPin: false };
}

// Where exit_aio waits for a process's AIO requests to complete.
export function exit_aio_waiter(proc: number): number {
  return -1 - proc;
}

// ---- the device ----

// `held`: whether whoever took the pin still holds it (a registration
// the kernel revoked has dropped its pins, whatever the IOMMU still maps).
export function dma_read_page(k: Kernel, t: Thread, pin: Pin, who: 'dio' | 'nic' | 'cpu', held = true): number {
  if (pin.page === ZERO_PAGE) return 0;
  if (pin.page === ANON_PAGE) return k.anonData[pin.anon];
  k.emit({ kind: 'access', who, tid: t.id, page: pin.page, epoch: pin.epoch, inode: pin.inode, index: pin.index, write: false, held });
  return k.pageData[pin.page];
}

export function dma_write_page(k: Kernel, t: Thread, pin: Pin, who: 'dio' | 'nic' | 'cpu', v: number, held = true): void {
  if (pin.page === ZERO_PAGE) return;
  if (pin.page === ANON_PAGE) {
    k.anonData[pin.anon] = v;
    return;
  }
  k.emit({ kind: 'access', who, tid: t.id, page: pin.page, epoch: pin.epoch, inode: pin.inode, index: pin.index, write: true, held });
  k.pageData[pin.page] = v;
}

// The device works through its queue in order: first the data moves, then
// the request completes (bio_endio: unpin, inode_dio_end, wake).
export const blk_mq_run_hw_queue = fn<Frame>('blk_mq_run_hw_queue', {
  dma_transfer(k, t) {
    const r = k.dioQueue[0];
    // a write goes to the disk block, not to the cached page, which
    // iomap_dio_complete then drops: here the page is dropped as the data
    // lands, so a pin of it keeps what it held
    if (r.dir === 'write') invalidate_inode_pages2_range(k, r.inode, r.off);
    const file: Pin = { page: r.filePage, epoch: r.fileEpoch, inode: r.inode, index: r.off, anon: -1, follPin: false };
    if (r.dir === 'read') dma_write_page(k, t, r.buf, 'dio', dma_read_page(k, t, file, 'dio'));
    else dma_write_page(k, t, file, 'dio', dma_read_page(k, t, r.buf, 'dio'));
    k.ref.dioLand(r.refId);
    // xfs_dio_write_end_io: a write past EOF moves i_size as it completes
    if (r.dir === 'write') k.inodes[r.inode].size = Math.max(k.inodes[r.inode].size, r.off + 1);
    return 'bio_endio';
  },
  bio_endio(k, t) {
    const r = k.dioQueue.shift()!;
    unpin_user_page(k, r.buf);
    k.ref.dioComplete(r.refId);
    inode_dio_end(k, r.inode);
    if (r.filp >= 0) fput(k, t, r.filp);
    if (!r.aio) k.wake('dio', r.tid);
    else k.wake('dio', exit_aio_waiter(k.threads[r.tid].proc));
    blk_mq_put_tag(k);
    return k.ret(t, 0);
  },
});
