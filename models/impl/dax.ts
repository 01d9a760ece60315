// fs/dax.c: the busy-page scan and the DAX fault path.

import { HOLE, UNWRITTEN, WRITTEN } from '../abstract.ts';
import { ENOMEM, ETXTBSY, VM_FAULT_FALLBACK, VM_FAULT_SIGBUS } from '../errno.ts';
import { DAX_NONE, DAX_PMD, DAX_PMD_ZERO, DAX_PTE, PMD_TABLE, ZERO_PAGE, type Inode, type Kernel, type Thread, type Vma } from './kernel.ts';
import { page_ref_count } from './page.ts';
import { free_blocks, page_state, xfs_bmapi_write, xfs_convert_unwritten } from './xfs_bmap.ts';
import { do_cow_fault, pmd_fits, set_pmd, set_pte, split_huge_pmd, unmap_mapping_range } from './mm.ts';
import { break_layout_nowait, faultVisible, layouts_on } from './locks.ts';
import { LIMITS } from '../testcase.ts';
import { xfs_reflink_cow_page, xfs_refcount_find_shared } from './xfs_reflink.ts';

// dax_layout_busy_page, first half: unmap every mapping of the file so a
// new page reference has to come through a fault (and so the MMAPLOCK).
export function dax_layout_busy_page_unmap(k: Kernel, inode: number): void {
  // 4.18 passed even_cows = 1 here (fixed in 2019, "dax: dax_layout_busy_page() should not unmap cow pages")
  unmap_mapping_range(k, inode, 0, LIMITS.pagesPerFile, k.flags.busyScanDropsCows);
}

// dax_layout_busy_page, second half: over the file's xarray entries (the
// pages its mappings have faulted in), the first whose refcount shows a
// pin (ZONE_DEVICE pages idle at 1), or -1.  A block a clone shares and
// only the other file's mappings reached is that file's to wait for.
export function dax_busy_page(k: Kernel, inode: number): number {
  const ip = k.inodes[inode];
  if (!ip.dax) return -1;
  for (let pg = 0; pg < ip.bmap.length; pg++) {
    const b = ip.bmap[pg];
    if (b >= 0 && ip.daxEntry[pg] !== DAX_NONE && page_ref_count(k, b) > 1) return b;
  }
  return -1;
}

// The first file page of the PMD holding page pg (index & ~PG_PMD_COLOUR).
function pmd_index(pg: number): number {
  return pg - (pg % LIMITS.pmdPages);
}

// A PMD-order entry, or none, over the whole PMD holding page pg.
function set_pmd_entry(ip: Inode, pg: number, entry: number): void {
  for (let q = pmd_index(pg); q < pmd_index(pg) + LIMITS.pmdPages; q++) ip.daxEntry[q] = entry;
}

// grab_mapping_entry(order 0): a PTE fault under an empty or zero-page PMD
// entry downgrades it (unmapping the huge zero page everywhere); under a
// PMD entry of a mapped extent it maps the one page and keeps the entry.
function grab_mapping_entry_pte(k: Kernel, ip: Inode, pg: number): void {
  if (ip.daxEntry[pg] === DAX_PMD_ZERO) {
    unmap_mapping_range(k, ip.id, pmd_index(pg), pmd_index(pg) + LIMITS.pmdPages, false);
    set_pmd_entry(ip, pg, DAX_NONE);
  }
  if (ip.daxEntry[pg] === DAX_NONE) ip.daxEntry[pg] = DAX_PTE;
}

// dax_delete_mapping_entry, as truncate_inode_pages_range calls it for
// each page it drops: a PMD entry goes whole.
export function dax_delete_mapping_entry(k: Kernel, inode: number, pg: number): void {
  const ip = k.inodes[inode];
  if (ip.daxEntry[pg] === DAX_PTE) ip.daxEntry[pg] = DAX_NONE;
  else if (ip.daxEntry[pg] !== DAX_NONE) set_pmd_entry(ip, pg, DAX_NONE);
}

// dax_iomap_pmd_fault with xfs_read_iomap_begin or, for a write,
// xfs_direct_write_iomap_begin, over the PMD holding page p.  The iomap
// starts at the PMD's first page and must cover the whole PMD: one hole or
// unwritten extent (read: the huge zero page), or one written extent whose
// blocks are contiguous and PMD-aligned (dax_iomap_direct_access).  A
// write allocates (zeroed) or converts the hole or unwritten extent at the
// start first, all of it or, short of space, nothing.  Anything else is
// VM_FAULT_FALLBACK with the pmd split, the allocation kept.  Called with
// the MMAPLOCK held shared.
export function dax_iomap_pmd_fault(k: Kernel, t: Thread, vma: Vma, p: number, write: boolean): number {
  const ip = k.inodes[vma.inode];
  const first = pmd_index(vma.pgoff + p);
  const refFault = () => (write ? k.ref.writeFault(t.id, vma.id, p) : k.ref.readFault(t.id, vma.id, p));
  const fallback = () => {
    split_huge_pmd(k, vma, p);
    return VM_FAULT_FALLBACK;
  };
  if (first >= ip.size) {
    refFault();
    return VM_FAULT_SIGBUS;
  }
  // dax_fault_check_fallback
  if ((write && !vma.shared) || !pmd_fits(vma, p) || first + LIMITS.pmdPages > ip.size) return fallback();
  // grab_mapping_entry(PMD_ORDER): a PTE entry in the range conflicts
  for (let q = first; q < first + LIMITS.pmdPages; q++) if (ip.daxEntry[q] === DAX_PTE) return fallback();
  if (ip.daxEntry[first] === DAX_NONE) set_pmd_entry(ip, first, DAX_PMD_ZERO); // an empty PMD entry
  // raced with a pte fault that put a page table here: retry the access
  if (vma.pmd[p] === PMD_TABLE) return 0;
  const run = (state: number): number => {
    let n = 0;
    while (n < LIMITS.pmdPages && page_state(k, vma.inode, first + n) === state && (state !== UNWRITTEN || ip.bmap[first + n] === ip.bmap[first] + n)) n++;
    return n;
  };
  const start = page_state(k, vma.inode, first);
  if (!write && start !== WRITTEN) {
    if (run(start) < LIMITS.pmdPages) return fallback();
    set_pmd(k, vma, p, ZERO_PAGE, false); // dax_pmd_load_hole
    refFault();
    return 0;
  }
  if (write && start !== WRITTEN) {
    // MAP_DIRECT: the pte fault breaks the lease and fails
    if (k.mapdirect && layouts_on(k, vma.inode).length > 0 && !k.flags.mapDirectFaultAllocates) return fallback();
    const n = run(start);
    if (start === HOLE && free_blocks(k) < n) return fallback();
    for (let q = first; q < first + n; q++) {
      if (start === HOLE) xfs_bmapi_write(k, t, vma.inode, q, false, null);
      else xfs_convert_unwritten(k, vma.inode, q);
      k.ref.hugeFaultAllocates(t.id, vma.id, p, q - vma.pgoff);
    }
  }
  const b = ip.bmap[first];
  for (let q = 0; q < LIMITS.pmdPages; q++) if (page_state(k, vma.inode, first + q) !== WRITTEN || ip.bmap[first + q] !== b + q) return fallback();
  // a write over shared blocks: the copy-on-write extent is not a whole aligned PMD
  if (write && ip.bmap.slice(first, first + LIMITS.pmdPages).some((x) => xfs_refcount_find_shared(k, x))) return fallback();
  if (b % LIMITS.pmdPages !== 0) return fallback();
  set_pmd_entry(ip, first, DAX_PMD);
  set_pmd(k, vma, p, b, write);
  refFault();
  return 0;
}

// dax_iomap_fault for one page, with xfs_file_iomap_begin's allocation and
// MAP_DIRECT's break_layout_nowait (004 v9 5/6).  Called with the MMAPLOCK
// held shared; returns 0 or VM_FAULT_SIGBUS.
export function dax_iomap_fault(k: Kernel, t: Thread, vma: Vma, p: number, write: boolean): number {
  const pg = vma.pgoff + p;
  const ip = k.inodes[vma.inode];
  const refFault = () => (write ? k.ref.writeFault(t.id, vma.id, p) : k.ref.readFault(t.id, vma.id, p));
  if (pg >= ip.size) {
    refFault();
    return VM_FAULT_SIGBUS;
  }
  grab_mapping_entry_pte(k, ip, pg);
  if (!vma.shared && (write || vma.cow[p] >= 0)) {
    do_cow_fault(k, vma, p);
    refFault();
    return 0;
  }
  const state = page_state(k, vma.inode, pg);
  if (!write) {
    set_pte(k, vma, p, state === WRITTEN ? ip.bmap[pg] : ZERO_PAGE, false);
    refFault();
    return 0;
  }
  if (state === WRITTEN && xfs_refcount_find_shared(k, ip.bmap[pg])) {
    // xfs_dax_write_iomap_begin copies the shared block; dax_insert_entry
    // unmaps the page from the file's other mappings
    if (xfs_reflink_cow_page(k, vma.inode, pg) < 0) {
      refFault(); // ENOSPC
      return VM_FAULT_SIGBUS;
    }
    unmap_mapping_range(k, vma.inode, pg, pg + 1, false);
  } else if (state !== WRITTEN) {
    // A write fault that must allocate or convert: with a layout lease on
    // the file, start the break and fail rather than change the block map.
    if (k.mapdirect && layouts_on(k, vma.inode).length > 0 && !k.flags.mapDirectFaultAllocates) {
      const e = break_layout_nowait(k, t, vma.inode, faultVisible(k, t));
      if (e === ENOMEM || e === ETXTBSY) return VM_FAULT_SIGBUS; // nothing was broken
      refFault();
      return VM_FAULT_SIGBUS;
    }
    if (state === HOLE) {
      if (free_blocks(k) === 0) {
        refFault(); // ENOSPC
        return VM_FAULT_SIGBUS;
      }
      if (xfs_bmapi_write(k, t, vma.inode, pg, false, faultVisible(k, t)) < 0) return VM_FAULT_SIGBUS;
    } else {
      xfs_convert_unwritten(k, vma.inode, pg);
    }
  }
  set_pte(k, vma, p, ip.bmap[pg], true);
  refFault();
  return 0;
}
