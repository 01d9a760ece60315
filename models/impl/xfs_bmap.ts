// fs/xfs/libxfs/xfs_bmap.c and xfs_alloc.c, reduced to one-block extents.
// Every change to a file's block map goes through these functions, which
// report it, so the "no block map change under a lease" property sees
// every one of them.
//
// A DAX file's pages live in persistent-memory blocks.  A non-DAX file's
// data lives in page-cache pages (writeback to disk is not modelled); an
// unwritten extent there is just a flag.

import { HOLE, UNWRITTEN, WRITTEN } from '../abstract.ts';
import { ENOSPC } from '../errno.ts';
import { delete_from_page_cache, page_cache_alloc } from './page.ts';
import { ZERO_PAGE, type Kernel, type Thread } from './kernel.ts';
import { zap_pte } from './mm.ts';

// A hole that gets storage must stop reading as the shared zero page:
// unmap the zero-page ptes for it everywhere (fs/dax.c unmaps zero-page
// entries when a block is inserted).
function unmap_zero_page(k: Kernel, inode: number, pg: number): void {
  for (const pr of k.procs) {
    for (const vma of pr.vmas) {
      const p = pg - vma.pgoff;
      if (vma.inode === inode && p >= 0 && p < vma.npages && vma.pte[p] === ZERO_PAGE) zap_pte(k, vma, p);
    }
  }
}

export function page_state(k: Kernel, inode: number, pg: number): number {
  const ip = k.inodes[inode];
  if (ip.dax ? ip.bmap[pg] >= 0 && !ip.unwritten[pg] : ip.cache[pg] >= 0) return WRITTEN;
  if (ip.unwritten[pg] && (!ip.dax || ip.bmap[pg] >= 0)) return UNWRITTEN;
  return HOLE;
}

// The page backing a written file page, or -1.
export function file_page(k: Kernel, inode: number, pg: number): number {
  const ip = k.inodes[inode];
  if (page_state(k, inode, pg) !== WRITTEN) return -1;
  return ip.dax ? ip.bmap[pg] : ip.cache[pg];
}

export function read_file_page(k: Kernel, inode: number, pg: number): number {
  const page = file_page(k, inode, pg);
  return page < 0 ? 0 : k.pageData[page];
}

export function free_blocks(k: Kernel): number {
  return k.blockFree.length;
}

// xfs_alloc_vextent for one block, which the caller has seen is free:
// the next on the free list, owned once, holding `data`.
export function xfs_alloc_vextent(k: Kernel, inode: number, pg: number, data: number): number {
  const b = k.blockFree.pop()!;
  k.refcount[b] = 1;
  k.pageOwner[b] = inode;
  k.pageIndex[b] = pg;
  k.pageEpoch[b]++;
  k.touchPage(b);
  k.pageData[b] = data;
  return b;
}

// xfs_bmapi_write for one page: allocate a zeroed block (DAX) or page-cache
// page (non-DAX), written or unwritten.  Returns the page, or -ENOSPC.
// `onFail` is what the user sees if an injected failure hits here; null
// when the space was reserved beforehand and the allocation cannot fail.
export function xfs_bmapi_write(k: Kernel, t: Thread, inode: number, pg: number, unwritten: boolean, onFail: string | null): number {
  const ip = k.inodes[inode];
  if (!ip.dax) {
    ip.unwritten[pg] = unwritten ? 1 : 0;
    k.emit({ kind: 'blockmap', inode });
    if (unwritten) return -1;
    unmap_zero_page(k, inode, pg);
    return ip.cache[pg] >= 0 ? ip.cache[pg] : page_cache_alloc(k, inode, pg);
  }
  if (k.blockFree.length === 0 || (onFail !== null && k.allocFails(t, onFail))) return ENOSPC;
  const b = xfs_alloc_vextent(k, inode, pg, 0);
  ip.bmap[pg] = b;
  ip.unwritten[pg] = unwritten ? 1 : 0;
  k.emit({ kind: 'blockmap', inode });
  if (!unwritten) unmap_zero_page(k, inode, pg);
  return b;
}

// xfs_iomap_write_unwritten: the extent becomes written (zeroed).
export function xfs_convert_unwritten(k: Kernel, inode: number, pg: number): number {
  const ip = k.inodes[inode];
  ip.unwritten[pg] = 0;
  k.emit({ kind: 'blockmap', inode });
  unmap_zero_page(k, inode, pg);
  if (!ip.dax) return page_cache_alloc(k, inode, pg);
  k.pageData[ip.bmap[pg]] = 0;
  return ip.bmap[pg];
}

// xfs_bunmapi for one page: the block goes back to the free list whatever
// its page refcount says; callers must have waited for pins first.
export function xfs_bunmapi(k: Kernel, inode: number, pg: number): void {
  const ip = k.inodes[inode];
  if (!ip.dax) {
    if (ip.cache[pg] < 0 && !ip.unwritten[pg]) return;
    delete_from_page_cache(k, inode, pg);
    ip.unwritten[pg] = 0;
    k.emit({ kind: 'blockmap', inode });
    return;
  }
  const b = ip.bmap[pg];
  if (b < 0) return;
  ip.bmap[pg] = -1;
  ip.unwritten[pg] = 0;
  k.emit({ kind: 'blockmap', inode });
  // a shared block only loses this file's reference (xfs_refcount_decrease_extent)
  if (--k.refcount[b] > 0) {
    k.touchPage(b);
    if (k.pageOwner[b] === inode) xfs_rmap_next_owner(k, b);
    return;
  }
  k.pageOwner[b] = -1;
  k.pageIndex[b] = -1;
  k.touchPage(b);
  k.blockFree.push(b);
}

// The reverse map's first owner of a shared block, once the one recorded
// has let it go.
function xfs_rmap_next_owner(k: Kernel, b: number): void {
  for (const ip of k.inodes) {
    const pg = ip.bmap.indexOf(b);
    if (pg >= 0) {
      k.pageOwner[b] = ip.id;
      k.pageIndex[b] = pg;
      return;
    }
  }
}

// xfs_bmap_collapse_extents / xfs_bmap_insert_extents for one page: what
// backs page `from` (a block, a page-cache page, an unwritten extent)
// backs page `to`, a hole, instead.
export function xfs_bmap_shift_extent(k: Kernel, inode: number, from: number, to: number): void {
  const ip = k.inodes[inode];
  const map = ip.dax ? ip.bmap : ip.cache;
  const b = map[from];
  if (b < 0 && !ip.unwritten[from]) return;
  map[to] = b;
  map[from] = -1;
  ip.unwritten[to] = ip.unwritten[from];
  ip.unwritten[from] = 0;
  if (b >= 0) {
    if (k.pageOwner[b] === inode) k.pageIndex[b] = to;
    k.touchPage(b);
  }
  k.emit({ kind: 'blockmap', inode });
}
