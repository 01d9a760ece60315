// fs/dax.c: the busy-page scan and the DAX fault path.

import { HOLE, WRITTEN } from '../abstract.ts';
import { ENOMEM, ETXTBSY, VM_FAULT_SIGBUS } from '../errno.ts';
import { ZERO_PAGE, type Kernel, type Thread, type Vma } from './kernel.ts';
import { page_ref_count } from './page.ts';
import { free_blocks, page_state, xfs_bmapi_write, xfs_convert_unwritten } from './xfs_bmap.ts';
import { do_cow_fault, set_pte, unmap_mapping_range } from './mm.ts';
import { break_layout_nowait, faultVisible, leases_on } from './locks.ts';
import { LIMITS } from '../testcase.ts';

// dax_layout_busy_page, first half: unmap every mapping of the file so a
// new page reference has to come through a fault (and so the MMAPLOCK).
export function dax_layout_busy_page_unmap(k: Kernel, inode: number): void {
  // 4.18 passed even_cows = 1 here (fixed in 2019, "dax: dax_layout_busy_page() should not unmap cow pages")
  unmap_mapping_range(k, inode, 0, LIMITS.pagesPerFile, k.flags.busyScanDropsCows);
}

// dax_layout_busy_page, second half: the first page of the file whose
// refcount shows a pin (ZONE_DEVICE pages idle at 1), or -1.
export function dax_busy_page(k: Kernel, inode: number): number {
  const ip = k.inodes[inode];
  if (!ip.dax) return -1;
  for (let pg = 0; pg < ip.bmap.length; pg++) {
    const b = ip.bmap[pg];
    if (b >= 0 && page_ref_count(k, b) > 1) return b;
  }
  return -1;
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
  if (state !== WRITTEN) {
    // A write fault that must allocate or convert: with a layout lease on
    // the file, start the break and fail rather than change the block map.
    if (k.mapdirect && leases_on(k, vma.inode).length > 0 && !k.flags.mapDirectFaultAllocates) {
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
