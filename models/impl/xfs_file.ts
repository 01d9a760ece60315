// fs/xfs/xfs_file.c, xfs_iops.c, xfs_pnfs.c: the XFS entry points that
// change a file's size or block map, the layout breaking they do first,
// and the fault handler.
//
// Lock order: IOLOCK (i_rwsem) -> mmap_sem -> MMAPLOCK.  truncate and
// fallocate hold IOLOCK and MMAPLOCK exclusive around xfs_break_layouts;
// a fault holds mmap_sem and MMAPLOCK shared.

import { FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_ZERO_RANGE, FALLOC_MODES, LIMITS, fallocRange, type Op } from '../testcase.ts';
import { HOLE, WRITTEN } from '../abstract.ts';
import { EBADF, EFBIG, EINVAL, ENOENT, ENOSPC, EOPNOTSUPP, EWOULDBLOCK, VM_FAULT_SIGBUS } from '../errno.ts';
import { ZERO_PAGE, fn, type Frame, type Kernel, type Next, type Pin, type Thread } from './kernel.ts';
import { dma_read_page } from './dio.ts';
import { down_read, down_write, rwsem_is_write_locked, up_read, up_write } from './rwsem.ts';
import { page_ref_count } from './page.ts';
import { dax_busy_page, dax_iomap_fault, dax_iomap_pmd_fault, dax_layout_busy_page_unmap } from './dax.ts';
import { __break_lease, break_layout_nowait, LAYOUT_BREAKER } from './locks.ts';
import { free_blocks, page_state, xfs_bmap_shift_extent, xfs_bmapi_write, xfs_bunmapi, xfs_convert_unwritten } from './xfs_bmap.ts';
import { do_cow_fault, invalidate_inode_pages2_range, mapping_mapped, set_pte, truncate_pagecache_range, unmap_mapping_range, type FaultFrame } from './mm.ts';
import { xfs_vma_has_direct_lease } from './mapdirect.ts';
import { dax_cow_busy_page, xfs_reflink_cow_page, xfs_refcount_find_shared } from './xfs_reflink.ts';
import { fdget } from './file.ts';
import { fput_iput } from './inode.ts';

function xfs_iunlock_iolock(k: Kernel, t: Thread, inode: number): void {
  const id = k.inodes[inode].iolock;
  if (rwsem_is_write_locked(k, t, id)) up_write(k, t, id);
  else up_read(k, t, id);
}

// ---- the fault handler ----

export const __xfs_filemap_fault = fn<FaultFrame>('__xfs_filemap_fault', {
  xfs_ilock_mmaplock_shared(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma)!;
    return down_read(k, t, k.inodes[vma.inode].mmaplock, 'fault');
  },
  fault(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma)!;
    if (!xfs_vma_has_direct_lease(k, vma)) {
      // 004 v9 6/6: MAP_DIRECT faults are served only while the lease is valid
      if (f.write) k.ref.writeFault(t.id, f.vma, f.page);
      else k.ref.readFault(t.id, f.vma, f.page);
      t.rv = VM_FAULT_SIGBUS;
      return 'xfs_iunlock_mmaplock';
    }
    if (f.huge) return 'dax_iomap_pmd_fault';
    return k.inodes[vma.inode].dax ? 'dax_iomap_fault' : 'filemap_fault';
  },
  dax_iomap_fault(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma)!;
    const busy = f.write && vma.shared ? dax_cow_busy_page(k, k.inodes[vma.inode].bmap[vma.pgoff + f.page]) : -1;
    if (busy >= 0) return k.sleep(t, 'page', busy, 'dax_iomap_fault', false);
    t.rv = dax_iomap_fault(k, t, vma, f.page, f.write);
    return 'xfs_iunlock_mmaplock';
  },
  dax_iomap_pmd_fault(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma)!;
    t.rv = dax_iomap_pmd_fault(k, t, vma, f.page, f.write);
    return 'xfs_iunlock_mmaplock';
  },
  // filemap_fault / iomap_page_mkwrite for a page-cache file.
  filemap_fault(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma)!;
    const p = f.page;
    const pg = vma.pgoff + p;
    const ip = k.inodes[vma.inode];
    const refFault = () => (f.write ? k.ref.writeFault(t.id, vma.id, p) : k.ref.readFault(t.id, vma.id, p));
    if (pg >= ip.size) {
      refFault();
      t.rv = VM_FAULT_SIGBUS;
    } else if (!vma.shared && (f.write || vma.cow[p] >= 0)) {
      do_cow_fault(k, vma, p);
      refFault();
      t.rv = 0;
    } else if (!f.write) {
      set_pte(k, vma, p, page_state(k, vma.inode, pg) === WRITTEN ? ip.cache[pg] : ZERO_PAGE, false);
      refFault();
      t.rv = 0;
    } else {
      const state = page_state(k, vma.inode, pg);
      if (state === HOLE) xfs_bmapi_write(k, t, vma.inode, pg, false, 'SIGBUS');
      else if (state !== WRITTEN) xfs_convert_unwritten(k, vma.inode, pg);
      set_pte(k, vma, p, ip.cache[pg], true);
      refFault();
      t.rv = 0;
    }
    return 'xfs_iunlock_mmaplock';
  },
  xfs_iunlock_mmaplock(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma)!;
    up_read(k, t, k.inodes[vma.inode].mmaplock);
    return k.ret(t, t.rv);
  },
});

// ---- breaking layouts ----

interface DaxBreakFrame extends Frame {
  inode: number;
  page: number;
  slept: boolean;
}

// xfs_break_dax_layouts (001, "xfs, dax: introduce xfs_break_dax_layouts()"):
// find a pinned page and wait for it to go idle, dropping the MMAPLOCK
// (and only the MMAPLOCK: holding the IOLOCK keeps new direct I/O out, so
// truncate makes progress) while asleep.  Returns (error, retry).
export const xfs_break_dax_layouts = fn<DaxBreakFrame>('xfs_break_dax_layouts', {
  dax_layout_busy_page(k, t, f) {
    if (!k.inodes[f.inode].dax) return k.ret(t, 0);
    if (k.flags.busyScanSkipsUnmapped && !mapping_mapped(k, f.inode)) return k.ret(t, 0);
    dax_layout_busy_page_unmap(k, f.inode);
    return k.flags.daxLayoutLock ? 'synchronize_rcu' : 'dax_busy_page_scan';
  },
  // dax-v8: wait for every get_user_pages_fast inside dax_layout_lock()
  synchronize_rcu(k, t) {
    if (k.daxLayoutReaders > 0) return k.sleep(t, 'rcu', 0, 'synchronize_rcu', false);
    return 'dax_busy_page_scan';
  },
  dax_busy_page_scan(k, t, f) {
    f.page = dax_busy_page(k, f.inode);
    if (f.page < 0) return k.ret(t, 0);
    return 'wait_var_event';
  },
  // ___wait_var_event(page refcount == 1, TASK_INTERRUPTIBLE, xfs_wait_dax_page)
  wait_var_event(k, t, f) {
    // 4.18 set *did_unlock (the retry) in the wait's callback, so only once it slept
    if (page_ref_count(k, f.page) === 1) return k.retRetry(t, 0, f.slept || !k.flags.busyWaitRetriesOnlyAfterSleep);
    if (t.sigpending) return k.retRetry(t, k.interrupted(t));
    const ip = k.inodes[f.inode];
    up_write(k, t, ip.mmaplock);
    if (k.flags.busyWaitDropsIolock) up_write(k, t, ip.iolock); // dax-v8: both locks dropped between rescans
    return k.sleep(t, 'page', f.page, 'xfs_ilock', true);
  },
  xfs_ilock(k, t, f) {
    const ip = k.inodes[f.inode];
    f.slept = true;
    if (k.flags.busyWaitDropsIolock) return down_write(k, t, ip.iolock, 'xfs_ilock_mmaplock');
    return down_write(k, t, ip.mmaplock, 'wait_var_event');
  },
  xfs_ilock_mmaplock(k, t, f) {
    return down_write(k, t, k.inodes[f.inode].mmaplock, 'wait_var_event');
  },
});

interface LeasedBreakFrame extends Frame {
  inode: number;
  error: number;
  mmaplocked: boolean;
  unlocked: boolean;
}

// xfs_break_leased_layouts (xfs_pnfs.c): start the break; if a lease
// remains, drop the locks, wait for it, retake them exclusive, retry.
// Returns (error, retry) where retry means the locks were dropped.
export const xfs_break_leased_layouts = fn<LeasedBreakFrame>('xfs_break_leased_layouts', {
  break_layout_nowait(k, t, f) {
    const e = break_layout_nowait(k, t, f.inode, 'ENOMEM');
    // 004 v9 4/6: `while ((error = break_layout(inode, false) == -EWOULDBLOCK))`
    // keeps the comparison and loses the error
    f.error = k.flags.breakLayoutsLosesError ? (e === EWOULDBLOCK ? 1 : 0) : e;
    if (f.error === (k.flags.breakLayoutsLosesError ? 1 : EWOULDBLOCK)) return 'xfs_iunlock';
    return k.retRetry(t, f.error, f.unlocked);
  },
  xfs_iunlock(k, t, f) {
    const ip = k.inodes[f.inode];
    f.mmaplocked = rwsem_is_write_locked(k, t, ip.mmaplock);
    if (f.mmaplocked) up_write(k, t, ip.mmaplock);
    xfs_iunlock_iolock(k, t, f.inode);
    f.unlocked = true;
    return k.call(t, __break_lease, { inode: f.inode, breaker: LAYOUT_BREAKER, nonblock: false }, 'xfs_ilock_iolock_excl');
  },
  xfs_ilock_iolock_excl(k, t, f) {
    f.error = t.rv;
    return down_write(k, t, k.inodes[f.inode].iolock, 'xfs_ilock_mmaplock_excl');
  },
  xfs_ilock_mmaplock_excl(k, t, f) {
    if (!f.mmaplocked) return 'loop';
    return down_write(k, t, k.inodes[f.inode].mmaplock, 'loop');
  },
  // 4.18 to 6.18: `while ((error = break_layout(inode, false)) == -EWOULDBLOCK)`
  // overwrites the blocking break's error before anything returns it
  loop(k, t, f) {
    if (f.error && !k.flags.breakLayoutsLosesError && !k.flags.leasedBreakLosesBlockingError) return k.retRetry(t, f.error, true);
    return 'break_layout_nowait';
  },
});

export const BREAK_WRITE = 0;
export const BREAK_UNMAP = 1;

interface BreakFrame extends Frame {
  inode: number;
  reason: number;
  stage: number;
  error: number;
  retry: boolean;
}

const DAX = 0;
const LEASED = 1;

// xfs_break_layouts: repeat until neither kind of layout needed breaking
// with the locks dropped.  Upstream breaks DAX layouts (busy pages) first;
// with lease_direct, a long-term pin is only released by revoking its
// lease, so the leases are broken first.
export const xfs_break_layouts = fn<BreakFrame>('xfs_break_layouts', {
  retry(k, t, f) {
    f.retry = false;
    f.stage = 0;
    return 'next_stage';
  },
  next_stage(k, t, f) {
    const order = k.mapdirect ? [LEASED, DAX] : [DAX, LEASED];
    if (f.stage >= order.length) return 'loop';
    const what = order[f.stage++];
    if (what === DAX) {
      if (f.reason !== BREAK_UNMAP || k.flags.truncateIgnoresPins) return 'next_stage';
      return k.call(t, xfs_break_dax_layouts, { inode: f.inode, page: -1, slept: false }, 'stage_done');
    }
    return k.call(t, xfs_break_leased_layouts, { inode: f.inode, error: 0, mmaplocked: false, unlocked: false }, 'stage_done');
  },
  stage_done(k, t, f) {
    f.error = t.rv;
    if (t.rv2) f.retry = true;
    return f.error || f.retry ? 'loop' : 'next_stage';
  },
  loop(k, t, f) {
    if (f.error === 0 && f.retry) return 'retry';
    return k.ret(t, f.error);
  },
});

// ---- truncate and fallocate ----

interface UnmapFrame extends Frame {
  inode: number;
}

// What truncate (xfs_vn_setattr) and fallocate (xfs_file_fallocate) do
// before they touch the block map: take the IOLOCK and MMAPLOCK
// exclusive, break every layout, wait for direct I/O to drain.  Returns
// the error, with both locks held either way.
export const xfs_break_layouts_unmap = fn<UnmapFrame>('xfs_break_layouts_unmap', {
  inode_lock(k, t, f) {
    return down_write(k, t, k.inodes[f.inode].iolock, 'xfs_ilock_mmaplock');
  },
  xfs_ilock_mmaplock(k, t, f) {
    return down_write(k, t, k.inodes[f.inode].mmaplock, 'xfs_break_layouts');
  },
  xfs_break_layouts(k, t, f) {
    return k.call(t, xfs_break_layouts, { inode: f.inode, reason: BREAK_UNMAP, stage: 0, error: 0, retry: false }, 'inode_dio_wait');
  },
  inode_dio_wait(k, t, f) {
    if (t.rv) return k.ret(t, t.rv);
    if (k.inodes[f.inode].dioCount > 0 && !k.flags.truncateSkipsDioWait) return k.sleep(t, 'inode_dio', f.inode, 'inode_dio_wait', false);
    return k.ret(t, 0);
  },
});

function xfs_iunlock_both(k: Kernel, t: Thread, inode: number): void {
  up_write(k, t, k.inodes[inode].mmaplock);
  xfs_iunlock_iolock(k, t, inode);
}

interface SetattrFrame extends Frame {
  inode: number;
  size: number;
  error: number;
  writeAccess: boolean; // the caller took write access to the inode (truncate(2))
}

// xfs_vn_setattr -> xfs_setattr_size, once xfs_break_layouts has run.
const xfs_setattr_size_steps = {
  // truncate_setsize + xfs_itruncate_extents: unmap, drop the page cache,
  // free the blocks past the new size.
  xfs_setattr_size(k: Kernel, t: Thread, f: SetattrFrame) {
    f.error = t.rv;
    if (f.error) return 'xfs_iunlock';
    xfs_itruncate_extents(k, f.inode, f.size);
    k.ref.commit(t.id);
    return 'xfs_iunlock';
  },
  xfs_iunlock(k: Kernel, t: Thread, f: SetattrFrame) {
    xfs_iunlock_both(k, t, f.inode);
    if (f.writeAccess) path_put(k, t, f.inode);
    return k.ret(t, f.error);
  },
};

interface TruncateFrame extends SetattrFrame {
  op: Extract<Op, { op: 'truncate' }>;
}

// do_sys_ftruncate -> do_truncate -> xfs_vn_setattr: no lease break (the
// fd is open for writing, which broke them).
export const sys_ftruncate = fn<TruncateFrame>('sys_ftruncate', {
  do_sys_ftruncate(k, t, f) {
    const filp = fdget(k, t.proc, f.op.fd);
    if (!filp) return k.ret(t, EBADF);
    if (!filp.write) return k.ret(t, EINVAL);
    f.inode = filp.inode;
    f.size = f.op.size % (LIMITS.pagesPerFile + 1);
    return k.call(t, xfs_break_layouts_unmap, { inode: f.inode }, 'xfs_setattr_size');
  },
  ...xfs_setattr_size_steps,
});

// vfs_truncate's put_write_access, then the path's reference: the last
// one of an inode unlinked meanwhile.
function path_put(k: Kernel, t: Thread, inode: number): void {
  k.inodes[inode].writeAccess--;
  fput_iput(k, t, inode);
}

interface TruncatePathFrame extends SetattrFrame {
  op: Extract<Op, { op: 'truncate_path' }>;
}

// do_sys_truncate -> vfs_truncate: no open file, so the caller takes
// write access itself and breaks every fcntl lease (break_lease O_WRONLY,
// waiting) before do_truncate.
export const sys_truncate = fn<TruncatePathFrame>('sys_truncate', {
  get_write_access(k, t, f) {
    f.inode = f.op.file % k.inodes.length;
    if (k.inodes[f.inode].nlink === 0) return k.ret(t, ENOENT); // user_path_at
    f.size = f.op.size % (LIMITS.pagesPerFile + 1);
    f.writeAccess = true;
    k.inodes[f.inode].writeAccess++;
    return k.call(t, __break_lease, { inode: f.inode, breaker: { layout: false, write: true }, nonblock: false }, 'do_truncate');
  },
  do_truncate(k, t, f) {
    if (t.rv) {
      path_put(k, t, f.inode);
      return k.ret(t, t.rv);
    }
    return k.call(t, xfs_break_layouts_unmap, { inode: f.inode }, 'xfs_setattr_size');
  },
  ...xfs_setattr_size_steps,
});

interface FallocFrame extends Frame {
  op: Extract<Op, { op: 'fallocate' }>;
  inode: number;
  error: number;
}

// vfs_fallocate's checks of the mode, before the file's: the errno, or 0.
function vfs_fallocate_mode(k: Kernel, mode: number): number {
  const keep = mode & FALLOC_FL_KEEP_SIZE;
  const excl = mode & ~FALLOC_FL_KEEP_SIZE;
  if (k.flags.fallocateModeChain) {
    if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) === (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) return EOPNOTSUPP;
    if (mode & FALLOC_FL_PUNCH_HOLE && !keep) return EOPNOTSUPP;
    if (mode & FALLOC_FL_COLLAPSE_RANGE && mode & ~FALLOC_FL_COLLAPSE_RANGE) return EINVAL;
    if (mode & FALLOC_FL_INSERT_RANGE && mode & ~FALLOC_FL_INSERT_RANGE) return EINVAL;
    if (mode & FALLOC_FL_UNSHARE_RANGE && mode & ~(FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE)) return EINVAL;
    return 0;
  }
  switch (excl) {
    case 0:
    case FALLOC_FL_UNSHARE_RANGE:
    case FALLOC_FL_ZERO_RANGE:
      return 0;
    case FALLOC_FL_PUNCH_HOLE:
      return keep ? 0 : EOPNOTSUPP;
    case FALLOC_FL_COLLAPSE_RANGE:
    case FALLOC_FL_INSERT_RANGE:
      return keep ? EOPNOTSUPP : 0;
    default:
      return EOPNOTSUPP;
  }
}

// xfs_flush_unmap_range: the range written back and out of the page
// cache and every mapping (private copies stay); a page someone still
// holds leaves the file, the next lookup reading the data back.
function xfs_flush_unmap_range(k: Kernel, inode: number, off: number, end: number): void {
  if (k.inodes[inode].dax) {
    truncate_pagecache_range(k, inode, off, end, false);
    return;
  }
  unmap_mapping_range(k, inode, off, end, false);
  for (let pg = off; pg < end; pg++) invalidate_inode_pages2_range(k, inode, pg);
}

// xfs_free_file_space: drop the range's cache and mappings (private
// copies stay), then free every whole block of it, past EOF too.
function xfs_free_file_space(k: Kernel, inode: number, off: number, end: number): void {
  truncate_pagecache_range(k, inode, off, end, false);
  for (let pg = off; pg < end; pg++) xfs_bunmapi(k, inode, pg);
}

// xfs_prepare_shift: every page from the one before the shift on leaves
// the page cache (written back first) and every mapping of it; a DAX
// file's entries go.  A page-cache page someone still holds leaves the
// file: the shift moves what it held on disk, not the page.
function xfs_prepare_shift(k: Kernel, inode: number, from: number): void {
  from = Math.max(0, from - 1);
  const ip = k.inodes[inode];
  if (ip.dax) {
    truncate_pagecache_range(k, inode, from, LIMITS.blockMapPages, false);
    return;
  }
  unmap_mapping_range(k, inode, from, LIMITS.blockMapPages, false);
  for (let pg = from; pg < LIMITS.pagesPerFile; pg++) invalidate_inode_pages2_range(k, inode, pg);
}

// xfs_setattr_size's truncate part: unmap and drop past the new size
// (private copies too), free the blocks there, set the size.
function xfs_itruncate_extents(k: Kernel, inode: number, size: number): void {
  truncate_pagecache_range(k, inode, size, LIMITS.blockMapPages, true);
  for (let pg = size; pg < LIMITS.blockMapPages; pg++) xfs_bunmapi(k, inode, pg);
  k.inodes[inode].size = size;
}

// xfs_alloc_file_space: unwritten extents over the holes of the range,
// all or nothing (the space is reserved before any block is allocated);
// the size grows unless KEEP_SIZE.
function xfs_alloc_file_space(k: Kernel, t: Thread, f: FallocFrame): string {
  const ip = k.inodes[f.inode];
  const { off, end } = fallocRange(f.op);
  let need = 0;
  for (let pg = off; pg < end; pg++) if (page_state(k, f.inode, pg) === HOLE) need++;
  if (ip.dax && need > free_blocks(k)) {
    k.ref.commit(t.id);
    f.error = ENOSPC;
    return 'xfs_iunlock';
  }
  if (need > 0 && k.allocFails(t, 'ENOSPC')) {
    if (FALLOC_MODES[f.op.mode] & FALLOC_FL_ZERO_RANGE) k.ref.commit(t.id); // the punch stays
    f.error = ENOSPC;
    return 'xfs_iunlock';
  }
  for (let pg = off; pg < end; pg++) if (page_state(k, f.inode, pg) === HOLE) xfs_bmapi_write(k, t, f.inode, pg, true, null);
  if (!(FALLOC_MODES[f.op.mode] & FALLOC_FL_KEEP_SIZE)) ip.size = Math.max(ip.size, end);
  k.ref.commit(t.id);
  return 'xfs_iunlock';
}

// xfs_file_fallocate: what each mode does to the block map, once the
// layouts are broken and direct I/O has drained.
export const sys_fallocate = fn<FallocFrame>('sys_fallocate', {
  vfs_fallocate(k, t, f) {
    const filp = fdget(k, t.proc, f.op.fd);
    if (!filp) return k.ret(t, EBADF);
    const bad = vfs_fallocate_mode(k, FALLOC_MODES[f.op.mode]);
    if (bad) return k.ret(t, bad);
    if (!filp.write) return k.ret(t, EBADF);
    f.inode = filp.inode;
    return k.call(t, xfs_break_layouts_unmap, { inode: f.inode }, 'xfs_file_fallocate');
  },
  xfs_file_fallocate(k, t, f) {
    f.error = t.rv;
    if (f.error) return 'xfs_iunlock';
    const mode = FALLOC_MODES[f.op.mode];
    if (k.flags.fallocateFlushesFirst && mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_COLLAPSE_RANGE)) {
      const { off, end } = fallocRange(f.op);
      xfs_flush_unmap_range(k, f.inode, off, end);
    }
    if (mode & FALLOC_FL_PUNCH_HOLE) return 'xfs_free_file_space';
    if (mode & FALLOC_FL_COLLAPSE_RANGE) return 'xfs_collapse_file_space';
    if (mode & FALLOC_FL_INSERT_RANGE) return 'xfs_insert_file_space';
    if (mode & FALLOC_FL_ZERO_RANGE) return 'xfs_zero_file_space';
    if (mode & FALLOC_FL_UNSHARE_RANGE) return 'xfs_reflink_unshare';
    return 'xfs_alloc_file_space';
  },
  xfs_free_file_space(k, t, f) {
    const { off, end } = fallocRange(f.op);
    // whole blocks are freed whether or not they lie past EOF (only the zeroing of partial ones stops there)
    xfs_free_file_space(k, f.inode, off, end);
    k.ref.commit(t.id);
    return 'xfs_iunlock';
  },
  // Punch the range, shift every block after it down over the hole, and
  // truncate at the old size less the range: nothing stays past EOF.
  xfs_collapse_file_space(k, t, f) {
    const ip = k.inodes[f.inode];
    const { off, end } = fallocRange(f.op);
    const len = end - off;
    if (end >= ip.size) {
      k.ref.commit(t.id);
      f.error = EINVAL;
      return 'xfs_iunlock';
    }
    const size = ip.size - len;
    xfs_free_file_space(k, f.inode, off, end);
    xfs_prepare_shift(k, f.inode, off);
    for (let pg = end; pg < LIMITS.blockMapPages; pg++) xfs_bmap_shift_extent(k, f.inode, pg, pg - len);
    xfs_itruncate_extents(k, f.inode, size);
    k.ref.commit(t.id);
    return 'xfs_iunlock';
  },
  // Grow the size (RLIMIT_FSIZE: EFBIG past it), then shift every block
  // from the offset on up, leaving a hole.
  xfs_insert_file_space(k, t, f) {
    const ip = k.inodes[f.inode];
    const { off, end } = fallocRange(f.op);
    const len = end - off;
    if (off >= ip.size || ip.size + len > LIMITS.pagesPerFile) {
      k.ref.commit(t.id);
      f.error = off >= ip.size ? EINVAL : EFBIG;
      return 'xfs_iunlock';
    }
    ip.size += len;
    xfs_prepare_shift(k, f.inode, off);
    for (let pg = LIMITS.blockMapPages - 1 - len; pg >= off; pg--) xfs_bmap_shift_extent(k, f.inode, pg, pg + len);
    k.ref.commit(t.id);
    return 'xfs_iunlock';
  },
  // A punch, then unwritten extents over the range.
  xfs_zero_file_space(k, t, f) {
    const { off, end } = fallocRange(f.op);
    xfs_free_file_space(k, f.inode, off, end);
    return xfs_alloc_file_space(k, t, f);
  },
  // Every shared block of the range gets its own copy, in order, while
  // space lasts (mainline dax_file_unshare; a page-cache file's copies
  // are made at writeback, where the model cannot see them).
  xfs_reflink_unshare(k, t, f) {
    const ip = k.inodes[f.inode];
    const { off, end } = fallocRange(f.op);
    for (let pg = off; pg < end && ip.dax; pg++) {
      if (page_state(k, f.inode, pg) !== WRITTEN || !xfs_refcount_find_shared(k, ip.bmap[pg])) continue;
      const busy = dax_cow_busy_page(k, ip.bmap[pg]);
      if (busy >= 0) return k.sleep(t, 'page', busy, 'xfs_reflink_unshare', false);
      if (xfs_reflink_cow_page(k, f.inode, pg) < 0) {
        k.ref.commit(t.id);
        f.error = ENOSPC;
        return 'xfs_iunlock';
      }
    }
    return 'xfs_alloc_file_space';
  },
  xfs_alloc_file_space(k, t, f) {
    return xfs_alloc_file_space(k, t, f);
  },
  xfs_iunlock(k, t, f) {
    xfs_iunlock_both(k, t, f.inode);
    return k.ret(t, f.error);
  },
});

// ---- write(2): xfs_file_write_iter, buffered or DAX ----

// dax_iomap_iter after a copy-on-write: the file's ptes of the page and
// its xarray entry go (invalidate_inode_pages2_range), so the next fault
// maps the copy; 6.1 invalidated only for IOMAP_F_NEW.
export function dax_iomap_iter_cow_invalidate(k: Kernel, inode: number, pg: number): void {
  if (k.flags.daxCowWriteKeepsMappings) return;
  truncate_pagecache_range(k, inode, pg, pg + 1, false);
}

export interface WriteFrame extends Frame {
  op: Extract<Op, { op: 'write' | 'uring_write_fixed' }>;
  inode: number;
  error: number;
  buf: Pin | null; // the data's page: a registered buffer's (WRITE_FIXED); null: the op's value
}

export const sys_write = fn<WriteFrame>('sys_write', {
  vfs_write(k, t, f) {
    const filp = fdget(k, t.proc, f.op.fd);
    if (!filp || !filp.write) return k.ret(t, EBADF);
    f.inode = filp.inode;
    return 'xfs_ilock_iolock_excl';
  },
  ...xfs_file_buffered_write(),
});

// xfs_file_write_iter after the file is known, to the IOLOCK's release.
export function xfs_file_buffered_write() {
  return {
    xfs_ilock_iolock_excl(k: Kernel, t: Thread, f: WriteFrame): Next {
      return down_write(k, t, k.inodes[f.inode].iolock, 'xfs_file_aio_write_checks');
    },
    xfs_file_aio_write_checks(k: Kernel, t: Thread, f: WriteFrame): Next {
      return k.call(t, xfs_break_layouts, { inode: f.inode, reason: BREAK_WRITE, stage: 0, error: 0, retry: false }, 'iomap_apply');
    },
    // Allocate if needed, copy the data, extend the size: one step under the
    // IOLOCK and the ILOCK.
    iomap_apply(k: Kernel, t: Thread, f: WriteFrame): Next {
      if (t.rv) {
        f.error = t.rv;
        return 'xfs_iunlock';
      }
      const off = f.op.off % LIMITS.pagesPerFile;
      const ip = k.inodes[f.inode];
      const state = page_state(k, f.inode, off);
      if (state === HOLE) {
        if (ip.dax && free_blocks(k) === 0) {
          k.ref.commit(t.id);
          f.error = ENOSPC;
          return 'xfs_iunlock';
        }
        if (xfs_bmapi_write(k, t, f.inode, off, false, 'ENOSPC') < 0) {
          f.error = ENOSPC;
          return 'xfs_iunlock';
        }
      } else if (state !== WRITTEN) {
        xfs_convert_unwritten(k, f.inode, off);
      } else if (ip.dax && xfs_refcount_find_shared(k, ip.bmap[off])) {
        const busy = dax_cow_busy_page(k, ip.bmap[off]);
        if (busy >= 0) return k.sleep(t, 'page', busy, 'iomap_apply', false);
        if (xfs_reflink_cow_page(k, f.inode, off) < 0) {
          k.ref.commit(t.id);
          f.error = ENOSPC;
          return 'xfs_iunlock';
        }
        dax_iomap_iter_cow_invalidate(k, f.inode, off);
      }
      const page = ip.dax ? ip.bmap[off] : ip.cache[off];
      k.pageData[page] = f.op.op === 'write' ? f.op.val : dma_read_page(k, t, f.buf!, 'cpu');
      ip.size = Math.max(ip.size, off + 1);
      k.ref.commit(t.id);
      f.error = 0;
      return 'xfs_iunlock';
    },
    xfs_iunlock(k: Kernel, t: Thread, f: WriteFrame): Next {
      xfs_iunlock_iolock(k, t, f.inode);
      return k.ret(t, f.error);
    },
  };
}
