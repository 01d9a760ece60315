// fs/xfs/xfs_reflink.c, fs/remap_range.c and fs/ioctl.c: FICLONERANGE
// (a clone shares the source's written blocks with the destination), and
// the copy-on-write of a shared DAX block that a write, a write fault or
// a DAX O_DIRECT write makes.  A block's share count is the refcount
// btree; a page-cache file shares disk blocks the model does not have,
// so its clone copies the page-cache pages and its copy-on-write happens
// at writeback, where nothing can see it.

import { cloneRange, LIMITS, type Op } from '../testcase.ts';
import { UNWRITTEN, WRITTEN } from '../abstract.ts';
import { EBADF, EINVAL, ENOSPC, EWOULDBLOCK } from '../errno.ts';
import { fn, type Frame, type Kernel, type Thread } from './kernel.ts';
import { down_write, up_write } from './rwsem.ts';
import { __break_lease, break_layout_nowait, LAYOUT_BREAKER } from './locks.ts';
import { dax_busy_page, dax_layout_busy_page_unmap } from './dax.ts';
import { fdget } from './file.ts';
import { page_state, xfs_alloc_vextent, xfs_bmapi_write, xfs_bunmapi } from './xfs_bmap.ts';
import { truncate_pagecache_range } from './mm.ts';
import { page_ref_count } from './page.ts';
import { xfs_break_dax_layouts } from './xfs_file.ts';

// xfs_refcount_find_shared for one block: more than one file maps it.
export function xfs_refcount_find_shared(k: Kernel, b: number): boolean {
  return b >= 0 && b < k.nblocks && k.refcount[b] > 1;
}

// Before a DAX copy-on-write moves a file page off a shared block, a pin
// on that block must go, as a truncate waits for one (dax_break_layout):
// the block stays with the other file, and a DMA through the pin would
// reach that file.  Upstream does not wait (daxCowIgnoresPins).  The
// block to wait for, or -1.
export function dax_cow_busy_page(k: Kernel, b: number): number {
  if (k.flags.daxCowIgnoresPins || !xfs_refcount_find_shared(k, b) || page_ref_count(k, b) <= 1) return -1;
  return b;
}

// xfs_reflink_allocate_cow with convert_now (DAX), and the copy the DAX
// iomap iterator makes from the shared block (dax_iomap_cow_copy): a new
// block holding the page's data, or -ENOSPC.  Called under the ILOCK.
function xfs_reflink_allocate_cow(k: Kernel, inode: number, pg: number): number {
  if (k.blockFree.length === 0) return ENOSPC;
  return xfs_alloc_vextent(k, inode, pg, k.pageData[k.inodes[inode].bmap[pg]]);
}

// xfs_reflink_end_cow: the copy replaces the shared block in the file's
// block map, and the shared block loses this file's reference.
function xfs_reflink_end_cow(k: Kernel, inode: number, pg: number, b: number): void {
  xfs_bunmapi(k, inode, pg);
  k.inodes[inode].bmap[pg] = b;
  k.emit({ kind: 'blockmap', inode });
}

// A copy-on-write of one page of a DAX file, as a write's iomap_begin
// and iomap_end make it, in one step: 0, or -ENOSPC with nothing changed.
export function xfs_reflink_cow_page(k: Kernel, inode: number, pg: number): number {
  const b = xfs_reflink_allocate_cow(k, inode, pg);
  if (b < 0) return b;
  xfs_reflink_end_cow(k, inode, pg, b);
  return 0;
}

// xfs_reflink_remap_extent for one page: the destination's old extent
// goes (its block losing a reference), and a written source block is
// mapped in, shared.  Both unwritten: left alone.  A page-cache file gets
// a copy of the source's cached page (what reading the shared block back
// would give).
function xfs_reflink_remap_extent(k: Kernel, t: Thread, src: number, spg: number, dest: number, dpg: number): void {
  const s = k.inodes[src];
  const d = k.inodes[dest];
  const sstate = page_state(k, src, spg);
  if (sstate === UNWRITTEN && page_state(k, dest, dpg) === UNWRITTEN) return;
  xfs_bunmapi(k, dest, dpg);
  if (sstate !== WRITTEN) return;
  if (d.dax) {
    const b = s.bmap[spg];
    d.bmap[dpg] = b;
    d.unwritten[dpg] = 0;
    k.refcount[b]++;
    k.touchPage(b);
    k.emit({ kind: 'blockmap', inode: dest });
    return;
  }
  const page = xfs_bmapi_write(k, t, dest, dpg, false, null);
  k.pageData[page] = k.pageData[s.cache[spg]];
}

interface CloneFrame extends Frame {
  op: Extract<Op, { op: 'clone' }>;
  src: number; // inodes
  dest: number;
  first: number; // the two inodes in lock order
  second: number;
  len: number;
  error: number;
}

// Both files DAX, on a version that shares DAX blocks.
function daxPair(k: Kernel, f: CloneFrame): boolean {
  return !k.flags.reflinkRefusesDax && k.inodes[f.first].dax && k.inodes[f.second].dax;
}

function lockOrder(f: CloneFrame): void {
  f.first = Math.min(f.src, f.dest);
  f.second = Math.max(f.src, f.dest);
}

function inode_unlock_two(k: Kernel, t: Thread, f: CloneFrame): void {
  up_write(k, t, k.inodes[f.first].iolock);
  if (f.second !== f.first) up_write(k, t, k.inodes[f.second].iolock);
}

function xfs_iunlock2_io_mmap(k: Kernel, t: Thread, f: CloneFrame): void {
  up_write(k, t, k.inodes[f.second].mmaplock);
  if (f.second !== f.first) up_write(k, t, k.inodes[f.first].mmaplock);
  inode_unlock_two(k, t, f);
}

// __generic_remap_file_range_prep's checks of the range (generic_remap_checks,
// 4.18 vfs_clone_file_prep_inodes), in pages: the length to clone, or a
// negative errno.  A range past the source's EOF or one the destination's
// RLIMIT_FSIZE (the span an op names) would shorten is refused: clone
// cannot shorten a request.
function generic_remap_checks(k: Kernel, f: CloneFrame): number {
  const { soff, doff, len } = cloneRange(f.op);
  const isize = k.inodes[f.src].size;
  if (k.flags.cloneEmptySourceSucceeds && isize === 0) return 0;
  let count = len;
  if (count === 0) {
    if (soff === isize) return 0;
    if (soff > isize) return EINVAL;
    count = isize - soff;
  }
  if (soff >= isize || soff + count > isize || doff + count > LIMITS.pagesPerFile) return EINVAL;
  if (f.src === f.dest && doff + count > soff && doff < soff + count) return EINVAL;
  return count;
}

// ioctl_file_clone -> vfs_clone_file_range -> xfs_file_remap_range
// (4.18 xfs_reflink_remap_range).  The filesystem has reflink.
export const sys_ioctl_ficlone = fn<CloneFrame>('sys_ioctl_ficlone', {
  ioctl_file_clone(k, t, f) {
    const dst = fdget(k, t.proc, f.op.fd);
    if (!dst) return k.ret(t, EBADF);
    const src = fdget(k, t.proc, f.op.src);
    if (!src) return k.ret(t, EBADF);
    src.refs++;
    t.fdgetSrc = src.id;
    if (!dst.write) return k.ret(t, EBADF); // generic_file_rw_checks
    f.src = src.inode;
    f.dest = dst.inode;
    lockOrder(f);
    return 'break_layout_first';
  },
  // xfs_iolock_two_inodes_and_break_layout: wait out both files' layout
  // leases, then lock and check again.
  break_layout_first(k, t, f) {
    return k.call(t, __break_lease, { inode: f.first, breaker: LAYOUT_BREAKER, nonblock: false }, 'break_layout_second');
  },
  break_layout_second(k, t, f) {
    if (t.rv) return k.ret(t, t.rv);
    if (f.second === f.first) return 'inode_lock_first';
    return k.call(t, __break_lease, { inode: f.second, breaker: LAYOUT_BREAKER, nonblock: false }, 'inode_lock_first');
  },
  inode_lock_first(k, t, f) {
    if (t.rv) return k.ret(t, t.rv);
    return down_write(k, t, k.inodes[f.first].iolock, 'break_layout_nowait_first');
  },
  break_layout_nowait_first(k, t, f) {
    const e = break_layout_nowait(k, t, f.first, 'ENOMEM');
    if (e) {
      up_write(k, t, k.inodes[f.first].iolock);
      return e === EWOULDBLOCK ? 'break_layout_first' : k.ret(t, e);
    }
    if (f.second === f.first) return 'xfs_ilock2_mmap';
    return down_write(k, t, k.inodes[f.second].iolock, 'break_layout_nowait_second');
  },
  break_layout_nowait_second(k, t, f) {
    const e = break_layout_nowait(k, t, f.second, 'ENOMEM');
    if (e) {
      inode_unlock_two(k, t, f);
      return e === EWOULDBLOCK ? 'break_layout_first' : k.ret(t, e);
    }
    return 'xfs_ilock2_mmap';
  },
  // Two DAX files: xfs_mmaplock_two_inodes_and_break_dax_layout; else
  // filemap_invalidate_lock_two (4.18 xfs_lock_two_inodes), no busy pages.
  xfs_ilock2_mmap(k, t, f) {
    return down_write(k, t, k.inodes[f.first].mmaplock, 'xfs_break_dax_layouts');
  },
  xfs_break_dax_layouts(k, t, f) {
    if (!daxPair(k, f)) return 'xfs_ilock_mmaplock_second';
    return k.call(t, xfs_break_dax_layouts, { inode: f.first, page: -1, slept: false }, 'dax_layout_busy_page_second');
  },
  dax_layout_busy_page_second(k, t, f) {
    if (t.rv || t.rv2) {
      up_write(k, t, k.inodes[f.first].mmaplock);
      if (!t.rv) return 'xfs_ilock2_mmap';
      inode_unlock_two(k, t, f);
      return k.ret(t, t.rv);
    }
    return 'xfs_ilock_mmaplock_second';
  },
  xfs_ilock_mmaplock_second(k, t, f) {
    if (f.second === f.first) return 'xfs_reflink_remap_prep';
    return down_write(k, t, k.inodes[f.second].mmaplock, 'dax_busy_page_second');
  },
  // The second file's busy page cannot be waited for under the nested
  // MMAPLOCK: both are dropped and everything starts again (goto again),
  // a spin modelled as an uninterruptible wait for the page to go idle.
  dax_busy_page_second(k, t, f) {
    if (!daxPair(k, f)) return 'xfs_reflink_remap_prep';
    dax_layout_busy_page_unmap(k, f.second);
    const page = dax_busy_page(k, f.second);
    if (page < 0) return 'xfs_reflink_remap_prep';
    up_write(k, t, k.inodes[f.second].mmaplock);
    up_write(k, t, k.inodes[f.first].mmaplock);
    return k.sleep(t, 'page', page, 'xfs_ilock2_mmap', false);
  },
  // The eligibility checks under both locks, then direct I/O drains.
  xfs_reflink_remap_prep(k, t, f) {
    const s = k.inodes[f.src];
    const d = k.inodes[f.dest];
    const refused = k.flags.reflinkRefusesDax ? s.dax || d.dax : s.dax !== d.dax;
    f.len = refused ? EINVAL : generic_remap_checks(k, f);
    if (f.len <= 0) {
      f.error = f.len;
      k.ref.commit(t.id);
      return 'xfs_iunlock2_io_mmap';
    }
    return 'inode_dio_wait';
  },
  inode_dio_wait(k, t, f) {
    for (const inode of [f.src, f.dest]) if (k.inodes[inode].dioCount > 0) return k.sleep(t, 'inode_dio', inode, 'inode_dio_wait', false);
    return 'xfs_reflink_remap_blocks';
  },
  // xfs_flush_unmap_range over the destination's range (from its EOF if
  // the range starts past it), xfs_reflink_remap_blocks, and
  // xfs_reflink_update_dest; both files get the reflink flag.
  xfs_reflink_remap_blocks(k, t, f) {
    const { soff, doff } = cloneRange(f.op);
    const s = k.inodes[f.src];
    const d = k.inodes[f.dest];
    s.reflink = true;
    d.reflink = true;
    truncate_pagecache_range(k, f.dest, Math.min(doff, d.size), doff + f.len, false);
    for (let i = 0; i < f.len; i++) xfs_reflink_remap_extent(k, t, f.src, soff + i, f.dest, doff + i);
    d.size = Math.max(d.size, doff + f.len);
    f.error = 0;
    k.ref.commit(t.id);
    return 'xfs_iunlock2_io_mmap';
  },
  xfs_iunlock2_io_mmap(k, t, f) {
    xfs_iunlock2_io_mmap(k, t, f);
    return k.ret(t, f.error);
  },
});

export function cloneFrame(op: Extract<Op, { op: 'clone' }>): Omit<CloneFrame, 'fn' | 'pc'> {
  return { op, src: -1, dest: -1, first: -1, second: -1, len: 0, error: 0 };
}
