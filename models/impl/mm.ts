// mm/memory.c, mm/mmap.c, kernel/fork.c: page tables, faults, CPU
// accesses, mmap/munmap/fork.
//
// A process's page table lives in its vmas: vma.pte[p] is the page mapped
// at page p of the mapping (or -1).  Faults run with mmap_sem held for
// read and call the filesystem's fault handler.

import { LIMITS, madviseSpan, type Op } from '../testcase.ts';
import { EACCES, EAGAIN, EBADF, EINVAL, ENOMEM, EOPNOTSUPP, EPERM, VM_FAULT_FALLBACK, VM_FAULT_SIGSEGV } from '../errno.ts';
import { ANON_PAGE, PMD_HUGE, PMD_NONE, PMD_TABLE, ZERO_PAGE, fn, type Frame, type Kernel, type Thread, type Vma } from './kernel.ts';
import { down_read, down_write, up_read, up_write } from './rwsem.ts';
import { __xfs_filemap_fault } from './xfs_file.ts';
import { generic_map_direct_close, generic_map_direct_open, map_direct_setup } from './mapdirect.ts';
import { fd_lookup, fput } from './file.ts';
import { anon_alloc, anon_put, page_cache_alloc, page_cache_release, page_dup_anon_rmap } from './page.ts';
import { read_file_page } from './xfs_bmap.ts';
import { dax_delete_mapping_entry } from './dax.ts';

// zap_page_range_single over pages [from, to) of the vma, with no
// zap_details: private copies go with the ptes.
function zap_page_range_single(k: Kernel, vma: Vma, from: number, to: number): void {
  for (let p = from; p < to; p++) {
    zap_pte(k, vma, p);
    drop_cow_page(k, vma, p);
  }
}

// zap_page_range for a whole vma.
export function zap_vma_ptes(k: Kernel, vma: Vma): void {
  zap_page_range_single(k, vma, 0, vma.npages);
}

// The pages of the vma under the same pmd as page p.
export function pmd_range(vma: Vma, p: number): [number, number] {
  const from = Math.max(0, p - ((vma.pgoff + p) % LIMITS.pmdPages));
  return [from, Math.min(vma.npages, from + LIMITS.pmdPages - ((vma.pgoff + from) % LIMITS.pmdPages))];
}

// Whether the whole PMD holding page p lies inside the vma (mmap's
// thp_get_unmapped_area gives a DAX mapping the file's PMD alignment).
export function pmd_fits(vma: Vma, p: number): boolean {
  const [from, to] = pmd_range(vma, p);
  return to - from === LIMITS.pmdPages;
}

// Clear the pte of page p.  A huge pmd over it is split, which for DAX
// (__split_huge_pmd_locked, vma_is_special_huge) clears the whole pmd: the
// other pages of the PMD are unmapped too.
export function zap_pte(k: Kernel, vma: Vma, p: number): void {
  if (vma.pmd[p] === PMD_HUGE) {
    split_huge_pmd(k, vma, p);
    return;
  }
  vma.pte[p] = -1;
  vma.pteWrite[p] = 0;
}

export function split_huge_pmd(k: Kernel, vma: Vma, p: number): void {
  if (vma.pmd[p] !== PMD_HUGE) return;
  const [from, to] = pmd_range(vma, p);
  for (let q = from; q < to; q++) {
    vma.pte[q] = -1;
    vma.pteWrite[q] = 0;
    vma.pmd[q] = PMD_NONE;
  }
}

// vmf_insert_pfn_pmd: map the PMD holding page p, `first` at its first
// page and the pages after it in order (or the huge zero page).
export function set_pmd(k: Kernel, vma: Vma, p: number, first: number, write: boolean): void {
  const [from, to] = pmd_range(vma, p);
  for (let q = from; q < to; q++) {
    vma.pte[q] = first === ZERO_PAGE ? ZERO_PAGE : first + q - from;
    vma.pteWrite[q] = write ? 1 : 0;
    vma.pteEpoch[q] = vma.pte[q] >= 0 ? k.pageEpoch[vma.pte[q]] : 0;
    vma.pmd[q] = PMD_HUGE;
    k.touchPte(vma, q);
  }
}

// Whether any vma, shared or private, maps the file (its i_mmap tree).
export function mapping_mapped(k: Kernel, inode: number): boolean {
  return k.procs.some((pr) => pr.vmas.some((v) => v.inode === inode));
}

// Zap the ptes of every vma mapping pages [from, to) of the file.  With
// evenCows, private copy-on-write pages go too (truncate_pagecache); hole
// punching and the busy-page scan leave them (mm/truncate.c).
export function unmap_mapping_range(k: Kernel, inode: number, from: number, to: number, evenCows: boolean): void {
  for (const pr of k.procs) {
    for (const vma of pr.vmas) {
      if (vma.inode !== inode) continue;
      for (let p = 0; p < vma.npages; p++) {
        const pg = vma.pgoff + p;
        if (pg < from || pg >= to) continue;
        if (vma.pte[p] === ANON_PAGE) {
          if (!evenCows) continue;
          drop_cow_page(k, vma, p);
        }
        zap_pte(k, vma, p);
      }
    }
  }
}

// truncate_pagecache (evenCows: a truncate drops private copies past EOF)
// or truncate_pagecache_range (a hole punch keeps them): unmap the pages,
// then truncate_inode_pages_range, which for DAX deletes their entries
// (the page-cache pages go with their blocks, in xfs_bunmapi).
export function truncate_pagecache_range(k: Kernel, inode: number, from: number, to: number, evenCows: boolean): void {
  unmap_mapping_range(k, inode, from, to, evenCows);
  for (let pg = from; pg < to; pg++) dax_delete_mapping_entry(k, inode, pg);
}

// invalidate_inode_pages2_range for one page of a page-cache file
// (mm/truncate.c), as O_DIRECT writes do before and after the transfer
// (fs/iomap/direct-io.c): the page is unmapped (private copies stay) and
// leaves the cache even when pinned; what it held is on disk, so the next
// lookup reads it into a fresh page.  The model's cache page is also the
// disk block: O_DIRECT requests in flight to it go to the fresh one, and a
// page no one but the cache holds, which would read back the same, stays.
export function invalidate_inode_pages2_range(k: Kernel, inode: number, pg: number): void {
  const ip = k.inodes[inode];
  const old = ip.cache[pg];
  if (ip.dax || old < 0 || k.pageRef[old] <= 1) return;
  unmap_mapping_range(k, inode, pg, pg + 1, false);
  const fresh = page_cache_alloc(k, inode, pg); // before the old one is free, so not the same page
  k.pageData[fresh] = k.pageData[old];
  for (const r of k.dioQueue) {
    if (r.filePage !== old) continue;
    r.filePage = fresh;
    r.fileEpoch = k.pageEpoch[fresh];
  }
  page_cache_release(k, old);
  k.ref.pageCacheDrop(inode, pg);
}

// do_cow_fault: give the page of a private mapping its own anonymous
// copy of what the file holds, and map it writable; unless a racing fault
// mapped one first (finish_fault finds the pte set: VM_FAULT_NOPAGE).
export function do_cow_fault(k: Kernel, vma: Vma, p: number): void {
  if (vma.cow[p] >= 0) return;
  vma.cow[p] = anon_alloc(k, read_file_page(k, vma.inode, vma.pgoff + p));
  set_pte(k, vma, p, ANON_PAGE, true);
}

// fork's copy of a private page the parent may have pinned: the child's
// own, mapped writable.
function copy_present_page(k: Kernel, child: Vma, p: number, value: number): void {
  child.cow[p] = anon_alloc(k, value);
  set_pte(k, child, p, ANON_PAGE, true);
}

// do_wp_page for a private copy whose pte is read-only (fork shared it):
// the process keeps the page (wp_page_reuse) when no one else can see it,
// else writes to a copy of its own (wp_page_copy), and whoever else holds
// the old page, the other process or a pin, keeps it.  An unshare fault
// (a FOLL_PIN read pin of a shared page) makes the page the process's own
// but leaves the pte read-only.
export function do_wp_page(k: Kernel, t: Thread, vma: Vma, p: number, unshare: boolean): void {
  if (unshare) k.ref.unshareFault(t.id, vma.id, p);
  else k.ref.writeFault(t.id, vma.id, p);
  const id = vma.cow[p];
  if (k.anonExclusive[id] || k.anonRef[id] === 1) {
    k.anonExclusive[id] = 1;
    if (!unshare) set_pte(k, vma, p, ANON_PAGE, true);
    return;
  }
  vma.cow[p] = anon_alloc(k, k.anonData[id]);
  anon_put(k, id);
  set_pte(k, vma, p, ANON_PAGE, !unshare);
}

function drop_cow_page(k: Kernel, vma: Vma, p: number): void {
  if (vma.cow[p] < 0) return;
  anon_put(k, vma.cow[p]);
  vma.cow[p] = -1;
}

// The pte of page p; the pmd over it now holds a page table.
export function set_pte(k: Kernel, vma: Vma, p: number, page: number, write: boolean): void {
  split_huge_pmd(k, vma, p);
  if (vma.pmd[p] !== PMD_TABLE) {
    const [from, to] = pmd_range(vma, p);
    for (let q = from; q < to; q++) vma.pmd[q] = PMD_TABLE; // pte_alloc
  }
  vma.pte[p] = page;
  vma.pteWrite[p] = write ? 1 : 0;
  vma.pteEpoch[p] = page >= 0 ? k.pageEpoch[page] : 0;
  k.touchPte(vma, p);
}

// What a load through a present pte reads.
function read_pte(k: Kernel, t: Thread, vma: Vma, p: number, write: boolean): number {
  const page = vma.pte[p];
  if (page === ZERO_PAGE) return 0;
  if (page === ANON_PAGE) return k.anonData[vma.cow[p]];
  k.emit({ kind: 'access', who: 'cpu', tid: t.id, page, epoch: vma.pteEpoch[p], inode: vma.inode, index: vma.pgoff + p, write, held: true });
  return k.pageData[page];
}

// ---- handle_mm_fault: called with mmap_sem held for read ----

export interface FaultFrame extends Frame {
  vma: number; // mapping id
  page: number;
  write: boolean;
  huge?: boolean; // ->huge_fault(PE_SIZE_PMD) rather than ->fault
  unshare?: boolean; // FAULT_FLAG_UNSHARE: gup_must_unshare asked for the page
}

export const handle_mm_fault = fn<FaultFrame>('handle_mm_fault', {
  handle_mm_fault(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma);
    if (!vma) {
      if (f.write) k.ref.writeFault(t.id, f.vma, f.page);
      else k.ref.readFault(t.id, f.vma, f.page);
      return k.ret(t, VM_FAULT_SIGSEGV);
    }
    // handle_pte_fault: a present pte of a private copy needs no filesystem
    if (vma.pte[f.page] === ANON_PAGE) {
      do_wp_page(k, t, vma, f.page, f.unshare === true);
      return k.ret(t, 0);
    }
    // __handle_mm_fault: a DAX vma (VM_HUGEPAGE, which hugepage_vma_check
    // grants DAX in a fault whatever the sysfs setting) tries the whole PMD
    // first where the pmd is none (create_huge_pmd), or where a write meets
    // a read-only huge pmd (wp_huge_pmd: a private one is split for the
    // copy); VM_FAULT_FALLBACK leaves the fault to the pte
    if (k.hugePmd && k.inodes[vma.inode].dax) {
      const p = f.page;
      const wp = vma.pmd[p] === PMD_HUGE && f.write && !vma.pteWrite[p];
      if (wp && !vma.shared) split_huge_pmd(k, vma, p);
      else if (vma.pmd[p] === PMD_NONE || wp) return k.call(t, __xfs_filemap_fault, { vma: f.vma, page: p, write: f.write, huge: true }, 'handle_pte_fault');
    }
    return k.call(t, __xfs_filemap_fault, { vma: f.vma, page: f.page, write: f.write }, 'done');
  },
  done(k, t) {
    return k.ret(t, t.rv);
  },
  handle_pte_fault(k, t, f) {
    if (t.rv !== VM_FAULT_FALLBACK) return k.ret(t, t.rv);
    return k.call(t, __xfs_filemap_fault, { vma: f.vma, page: f.page, write: f.write }, 'done');
  },
});

// The CPU's page-fault entry (do_user_addr_fault): mmap_sem around
// handle_mm_fault.
export const do_user_addr_fault = fn<FaultFrame>('do_user_addr_fault', {
  down_read_mmap_sem(k, t) {
    return down_read(k, t, k.procs[t.proc].mmapSem, 'fault');
  },
  fault(k, t, f) {
    return k.call(t, handle_mm_fault, { vma: f.vma, page: f.page, write: f.write }, 'up_read_mmap_sem');
  },
  up_read_mmap_sem(k, t) {
    up_read(k, t, k.procs[t.proc].mmapSem);
    return k.ret(t, t.rv);
  },
});

// ---- CPU load and store through a mapping ----

export interface AccessFrame extends Frame {
  op: Extract<Op, { op: 'load' | 'store' }>;
  vma: number;
}

function resolveMap(k: Kernel, t: Thread, index: number): number {
  const vmas = k.procs[t.proc].vmas;
  return vmas.length ? vmas[index % vmas.length].id : -1;
}

export const cpu_load = fn<AccessFrame>('cpu_load', {
  entry(k, t, f) {
    f.vma = resolveMap(k, t, f.op.map);
    return f.vma < 0 ? k.ret(t, VM_FAULT_SIGSEGV) : 'load';
  },
  load(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma);
    if (!vma) {
      k.ref.commit(t.id);
      return k.ret(t, VM_FAULT_SIGSEGV);
    }
    const p = f.op.page % vma.npages;
    if (vma.pte[p] === -1) return k.call(t, do_user_addr_fault, { vma: vma.id, page: p, write: false }, 'faulted');
    const v = read_pte(k, t, vma, p, false);
    k.ref.commit(t.id);
    return k.ret(t, v);
  },
  faulted(k, t) {
    return t.rv < 0 ? k.ret(t, t.rv) : 'load';
  },
});

export const cpu_store = fn<AccessFrame>('cpu_store', {
  entry(k, t, f) {
    f.vma = resolveMap(k, t, f.op.map);
    if (f.vma < 0 || !k.vmaById(t.proc, f.vma)!.write) return k.ret(t, VM_FAULT_SIGSEGV);
    return 'store';
  },
  store(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma);
    if (!vma) {
      k.ref.commit(t.id);
      return k.ret(t, VM_FAULT_SIGSEGV);
    }
    const p = f.op.page % vma.npages;
    if (vma.pte[p] === -1 || !vma.pteWrite[p]) return k.call(t, do_user_addr_fault, { vma: vma.id, page: p, write: true }, 'faulted');
    const op = f.op as Extract<Op, { op: 'store' }>;
    const page = vma.pte[p];
    if (page === ANON_PAGE) k.anonData[vma.cow[p]] = op.val;
    else {
      k.emit({ kind: 'access', who: 'cpu', tid: t.id, page, epoch: vma.pteEpoch[p], inode: vma.inode, index: vma.pgoff + p, write: true, held: true });
      k.pageData[page] = op.val;
    }
    k.ref.commit(t.id);
    return k.ret(t, 0);
  },
  faulted(k, t) {
    return t.rv < 0 ? k.ret(t, t.rv) : 'store';
  },
});

// ---- mmap ----

interface MmapFrame extends Frame {
  op: Extract<Op, { op: 'mmap' }>;
  fd: number;
  filp: number;
  result: number;
  iolocked: boolean;
}

// do_mmap's flag checks, in the kernel's order: MAP_SHARED_VALIDATE
// rejects flags the file_operations do not list, then PROT_WRITE needs a
// writable file, then the filesystem's ->mmap checks.
function do_mmap_checks(k: Kernel, t: Thread, f: MmapFrame): number {
  const op = f.op;
  const filp = k.filps[f.filp]!;
  const ip = k.inodes[filp.inode];
  const pr = k.procs[t.proc];
  if (op.type === 'validate' && op.direct && !k.mapdirect) return EOPNOTSUPP; // not in xfs mmap_supported_flags
  if (op.type !== 'private' && op.write && !filp.write) return EACCES;
  const checkFile = !k.flags.validateIgnoresFile;
  // VM_SYNC comes from calc_vm_flag_bits(flags) before the legacy mask
  // (6.1 mm/mmap.c:1306), so MAP_SHARED|MAP_SYNC and MAP_PRIVATE|MAP_SYNC
  // carry it too, and xfs_file_mmap refuses it on a non-DAX file
  // (fs/xfs/xfs_file.c:1426, daxdev_mapping_supported)
  if (op.sync && !ip.dax && checkFile) return EOPNOTSUPP;
  if (op.type === 'validate' && op.direct) {
    if ((!ip.dax && checkFile) || ip.reflink) return EPERM; // 004: "DAX access is not available or the file has reflink extents"
    if (k.flags.mapDirectNeedsWrite && !op.write) return EINVAL; // 003: "do require a PROT_WRITE mapping"
    if (k.flags.mapDirectNeedsCapImmutable) {
      if (!pr.capImmutable && !filp.mapDirect) return EPERM; // 002 v5: CAP_LINUX_IMMUTABLE or F_MAP_DIRECT
    } else if (!k.flags.mapDirectSeal && ip.uid !== pr.uid && !pr.capLease) return EACCES; // 004: owner or CAP_LEASE
  }
  return 0;
}

export const sys_mmap = fn<MmapFrame>('sys_mmap', {
  do_mmap(k, t, f) {
    const fd = fd_lookup(k, t.proc, f.op.fd);
    if (fd < 0) return k.ret(t, EBADF);
    f.fd = fd;
    f.filp = k.procs[t.proc].fds[fd];
    const err = do_mmap_checks(k, t, f);
    if (err) return k.ret(t, err);
    k.filps[f.filp]!.refs++; // fget: the file outlives a concurrent close
    f.iolocked = map_direct_wanted(k, f.op) && !k.flags.mapDirectSetupUnlocked;
    return f.iolocked ? 'inode_lock' : 'down_write_mmap_sem';
  },
  // MAP_DIRECT sets its lease under the IOLOCK, which every lease breaker
  // holds from its break to its change of the file, so no breaker meets a
  // lease set up after it broke them.  The IOLOCK ranks above mmap_sem.
  inode_lock(k, t, f) {
    return down_write(k, t, k.inodes[k.filps[f.filp]!.inode].iolock, 'down_write_mmap_sem');
  },
  down_write_mmap_sem(k, t) {
    return down_write(k, t, k.procs[t.proc].mmapSem, 'mmap_region');
  },
  // ->mmap (lease setup) and vma_link in one step: both run under
  // mmap_sem held for write, and no lease breaker can act on a lease whose
  // vma is not yet linked in a way a user could tell apart.
  mmap_region(k, t, f) {
    const op = f.op;
    const pr = k.procs[t.proc];
    const filp = k.filps[f.filp]!;
    if (pr.vmas.length >= LIMITS.mapsPerProc) {
      k.ref.commit(t.id);
      f.result = ENOMEM;
      return 'unlock';
    }
    const npages = 1 + (op.len % LIMITS.mapPages);
    const vma: Vma = {
      id: -1, filp: f.filp, inode: filp.inode, pgoff: op.off % LIMITS.pagesPerFile, npages,
      shared: op.type !== 'private' || (op.direct && k.flags.mapPrivateDirectShared),
      direct: false, sync: op.sync, write: op.write,
      pte: new Int16Array(npages).fill(-1), pteWrite: new Uint8Array(npages), pteEpoch: new Int32Array(npages),
      cow: new Int16Array(npages).fill(-1), pmd: new Uint8Array(npages), lease: -1,
    };
    if (map_direct_wanted(k, op) && k.inodes[filp.inode].dax) {
      const err = map_direct_setup(k, t, vma, f.fd);
      if (err) {
        f.result = err;
        return 'unlock';
      }
    }
    vma.id = k.nextMapId++;
    if (vma.lease >= 0) k.leases.find((l) => l.id === vma.lease)!.holder = vma.id;
    filp.refs++;
    pr.vmas.push(vma);
    k.ref.commit(t.id);
    f.result = vma.id;
    return 'unlock';
  },
  unlock(k, t, f) {
    up_write(k, t, k.procs[t.proc].mmapSem);
    if (f.iolocked) up_write(k, t, k.inodes[k.filps[f.filp]!.inode].iolock);
    fput(k, t, f.filp);
    return k.ret(t, f.result);
  },
});

// Whether this mmap establishes a MAP_DIRECT lease.
function map_direct_wanted(k: Kernel, op: Extract<Op, { op: 'mmap' }>): boolean {
  if (!k.mapdirect || !op.direct) return false;
  if (op.type === 'validate') return true;
  return op.type === 'private' && k.flags.mapPrivateDirectShared; // v4: MAP_PRIVATE|MAP_DIRECT fell back to MAP_SHARED (002)
}

// ---- munmap ----

// A vma unlinked from its process goes: its ptes zapped, its MAP_DIRECT
// lease closed with its last vma (put_map_direct_vma), its file put.
export function remove_vma(k: Kernel, t: Thread, vma: Vma): void {
  zap_vma_ptes(k, vma);
  if (vma.lease >= 0) generic_map_direct_close(k, vma);
  fput(k, t, vma.filp);
}

interface MunmapFrame extends Frame {
  op: Extract<Op, { op: 'munmap' }>;
  vma: number;
}

export const sys_munmap = fn<MunmapFrame>('sys_munmap', {
  entry(k, t, f) {
    f.vma = resolveMap(k, t, f.op.map);
    return f.vma < 0 ? k.ret(t, EINVAL) : 'down_write_mmap_sem';
  },
  down_write_mmap_sem(k, t) {
    return down_write(k, t, k.procs[t.proc].mmapSem, 'do_munmap');
  },
  // Unlink, zap and close the vma; closing the last MAP_DIRECT vma drops
  // the lease (put_map_direct_vma).
  do_munmap(k, t, f) {
    const pr = k.procs[t.proc];
    const i = pr.vmas.findIndex((v) => v.id === f.vma);
    if (i >= 0) remove_vma(k, t, pr.vmas.splice(i, 1)[0]);
    k.ref.commit(t.id);
    return 'up_write_mmap_sem';
  },
  up_write_mmap_sem(k, t) {
    up_write(k, t, k.procs[t.proc].mmapSem);
    return k.ret(t, 0);
  },
});

// ---- madvise(MADV_DONTNEED) ----

interface MadviseFrame extends Frame {
  op: Extract<Op, { op: 'madvise_dontneed' }>;
  vma: number;
}

// Under mmap_sem for read (6.18 takes the vma's own lock instead): the
// pages' ptes go, and a private mapping's copies with them
// (zap_page_range_single with no zap_details: even_cows); the vma stays,
// and the next access faults the file's page in again.  A range nothing
// maps is ENOMEM.
export const sys_madvise = fn<MadviseFrame>('sys_madvise', {
  entry(k, t, f) {
    f.vma = resolveMap(k, t, f.op.map);
    return 'down_read_mmap_sem';
  },
  down_read_mmap_sem(k, t) {
    return down_read(k, t, k.procs[t.proc].mmapSem, 'madvise_dontneed_single_vma');
  },
  madvise_dontneed_single_vma(k, t, f) {
    const vma = f.vma >= 0 ? k.vmaById(t.proc, f.vma) : null;
    k.ref.commit(t.id);
    if (!vma) {
      t.rv = ENOMEM;
      return 'up_read_mmap_sem';
    }
    const { first, span } = madviseSpan(f.op, vma.npages);
    zap_page_range_single(k, vma, first, first + span);
    t.rv = 0;
    return 'up_read_mmap_sem';
  },
  up_read_mmap_sem(k, t) {
    up_read(k, t, k.procs[t.proc].mmapSem);
    return k.ret(t, t.rv);
  },
});

// ---- fork: the child gets the fd table and copies of the vmas ----

interface ForkFrame extends Frame {
  op: Extract<Op, { op: 'fork' }>;
}

export const sys_fork = fn<ForkFrame>('sys_fork', {
  down_write_mmap_sem(k, t) {
    return down_write(k, t, k.procs[t.proc].mmapSem, 'dup_mmap');
  },
  // The child's page tables hold the private copies; it faults the file's
  // pages in.
  dup_mmap(k, t) {
    const parent = k.procs[t.proc];
    if (k.procs.length >= LIMITS.maxProcs) {
      k.ref.commit(t.id);
      t.rv = EAGAIN;
      return 'up_write_mmap_sem';
    }
    const child = k.newProc(k.procs.length, parent.uid, parent.capLease, parent.capImmutable);
    for (let fd = 0; fd < parent.fds.length; fd++) {
      const filp = parent.fds[fd];
      child.fds[fd] = filp;
      if (filp >= 0) k.filps[filp]!.refs++;
    }
    for (const v of parent.vmas) {
      const c: Vma = {
        ...v, id: k.nextMapId++, pte: new Int16Array(v.npages).fill(-1), pteWrite: new Uint8Array(v.npages),
        pteEpoch: new Int32Array(v.npages), cow: new Int16Array(v.npages).fill(-1), pmd: new Uint8Array(v.npages),
      };
      // copy_present_pte: each private copy is shared with the child and
      // write-protected in both, but for one the parent may have pinned
      // for DMA (page_try_dup_anon_rmap: exclusive, with FOLL_PIN pins),
      // which the child gets a copy of at once (copy_present_page)
      for (let p = 0; p < c.npages; p++) {
        const id = v.cow[p];
        if (id < 0) continue;
        if (k.anonExclusive[id] && k.anonPinned[id] > 0) {
          copy_present_page(k, c, p, k.anonData[id]);
          continue;
        }
        k.anonExclusive[id] = 0;
        page_dup_anon_rmap(k, id);
        c.cow[p] = id;
        set_pte(k, c, p, ANON_PAGE, false);
        if (v.pteWrite[p]) set_pte(k, v, p, ANON_PAGE, false);
      }
      k.filps[c.filp]!.refs++;
      if (c.lease >= 0) generic_map_direct_open(k, c);
      child.vmas.push(c);
    }
    k.procs.push(child);
    k.ref.commit(t.id);
    t.rv = child.id;
    return 'up_write_mmap_sem';
  },
  up_write_mmap_sem(k, t) {
    up_write(k, t, k.procs[t.proc].mmapSem);
    return k.ret(t, t.rv);
  },
});
