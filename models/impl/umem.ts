// drivers/infiniband/core/umem.c and uverbs: memory registration.
//
// ibv_reg_mr pins the pages long-term (get_user_pages with FOLL_LONGTERM),
// maps them through the IOMMU at an IOVA, and the NIC may DMA by IOVA at
// any time until ibv_dereg_mr.  Upstream refuses long-term pins of fs-DAX
// pages.  With lease_direct (000, v8), a DAX registration needs a
// MAP_DIRECT mapping and takes a layout lease of its own; when the lease
// is broken, the registration is revoked after lease-break-time by
// unmapping exactly the IOVA range it mapped (the IOMMU API, as Joerg
// Roedel asked in 004), keeping the IOVA allocated until ibv_dereg_mr so
// it cannot be reused while the NIC still holds it (000, "Fix IOVA reuse
// race"), and dropping the page pins so truncate can proceed.

import { EFAULT, ENOENT, ENOMEM, EOPNOTSUPP } from '../errno.ts';
import { LIMITS, mrSpan, type Op } from '../testcase.ts';
import { fn, type FileLock, type Frame, type Kernel, type Mr, type Pin } from './kernel.ts';
import { down_write, up_write } from './rwsem.ts';
import { unpin_user_pages } from './page.ts';
import { get_user_pages, gupFrame, lockless_pages_from_mm, lockless_prefix } from './gup.ts';
import { alloc_iova, free_iova, iommu_map, iommu_unmap } from './iommu.ts';
import { generic_delete_lease, lease_alloc, new_lease } from './locks.ts';

interface RegFrame extends Frame {
  op: Extract<Op, { op: 'reg_mr' }>;
  vma: number;
  inode: number;
  first: number;
  span: number;
  leased: boolean; // takes a lease_direct lease
  iolocked: boolean;
  unaligned: boolean;
  pins: Pin[];
  charged: number; // pages added to mm->pinned_vm
  result: number;
}

export function regFrame(op: Extract<Op, { op: 'reg_mr' }>): Omit<RegFrame, 'fn' | 'pc'> {
  return { op, vma: -1, inode: -1, first: 0, span: 0, leased: false, iolocked: false, unaligned: false, pins: [], charged: 0, result: 0 };
}

// Whether FOLL_LONGTERM refuses this vma: an fs-DAX vma upstream (not
// MAP_DIRECT, not before 5f1d43de5416).
function longtermRefusesFsdax(k: Kernel, inode: number): boolean {
  return k.inodes[inode].dax && !k.mapdirect && !k.flags.longtermPinFsdax;
}

export const ib_uverbs_reg_mr = fn<RegFrame>('ib_uverbs_reg_mr', {
  // The pages are charged to mm->pinned_vm before anything is pinned, and
  // refused beyond RLIMIT_MEMLOCK (no CAP_IPC_LOCK); a registration that
  // fails gives its charge back, as does ib_umem_release.  A failure in
  // this step never takes the charge at all.
  ib_umem_get(k, t, f) {
    const pr = k.procs[t.proc];
    const vmas = pr.vmas;
    const vma = vmas.length ? vmas[f.op.map % vmas.length] : null;
    const { first, span, unaligned } = mrSpan(f.op, vma ? vma.npages : null);
    if (pr.pinnedVm + span > LIMITS.memlockPages) return k.ret(t, ENOMEM);
    if (!vma) return k.ret(t, EFAULT);
    f.vma = vma.id;
    f.unaligned = unaligned;
    f.inode = vma.inode;
    f.first = first;
    f.span = span;
    // from an fs-DAX vma FOLL_LONGTERM takes only what the lockless walk
    // takes; anything else goes through the slow path, as every range does
    // under 4.18's get_user_pages_longterm
    const locklessOnly = longtermRefusesFsdax(k, vma.inode) && !k.flags.longtermChecksEveryVma;
    if (locklessOnly && lockless_prefix(vma, first, span) < span) return k.ret(t, EOPNOTSUPP);
    if (locklessOnly) lockless_pages_from_mm(k, t, vma, first, span, f.pins);
    if (k.inodes[vma.inode].dax && k.mapdirect) {
      let refused = false;
      if (k.flags.rdmaFsdaxRefused) refused = true; // v9: "Defer the lease_direct mechanism and RDMA core changes" (004)
      else if (!k.flags.rdmaPinsWithoutLease) {
        refused = !vma.direct;
        f.leased = !refused;
      }
      if (refused) return k.ret(t, EOPNOTSUPP);
    }
    pr.pinnedVm += span;
    f.charged = span;
    // a shared, writable page-cache mapping needs dirty tracking: the
    // lockless walk leaves it, and check_vma_flags refuses the long-term
    // write pin before anything is pinned (6.18 writable_file_mapping_allowed)
    if (!k.inodes[vma.inode].dax && vma.shared && !k.flags.longtermPinsWritableFileMappings) {
      f.result = EFAULT;
      return 'unlock';
    }
    if (locklessOnly) return 'dma_map_sg';
    f.iolocked = f.leased && !k.flags.mapDirectSetupUnlocked;
    return f.iolocked ? 'inode_lock' : 'get_user_pages';
  },
  // A lease_direct lease is set under the IOLOCK, like MAP_DIRECT's.
  inode_lock(k, t, f) {
    return down_write(k, t, k.inodes[f.inode].iolock, 'get_user_pages');
  },
  get_user_pages(k, t, f) {
    return k.call(t, get_user_pages, gupFrame(f.vma, f.first, f.span, true, !k.flags.noFollPin, f.pins), 'after_gup');
  },
  // The slow path's pins: a fault that failed is EFAULT; under 4.18's
  // get_user_pages_longterm an fs-DAX vma refuses the lot only now, once
  // its pages are faulted in and pinned, private copies included.
  after_gup(k, t, f) {
    if (t.rv < 0) {
      f.result = EFAULT;
      return 'unlock';
    }
    if (longtermRefusesFsdax(k, f.inode)) {
      unpin_user_pages(k, f.pins);
      f.result = EOPNOTSUPP;
      return 'unlock';
    }
    return 'dma_map_sg';
  },
  // IOVA allocation, IOMMU mapping, the lease, and publication: one step,
  // so no lease breaker sees a lease whose registration does not exist.
  dma_map_sg(k, t, f) {
    if (k.allocFails(t, 'ENOMEM') || (f.leased && !lease_alloc(k, t, 'ENOMEM'))) {
      unpin_user_pages(k, f.pins);
      f.result = ENOMEM;
      return 'unlock';
    }
    const iova = alloc_iova(k, f.span);
    const mr: Mr = {
      id: k.nextMrId++, proc: t.proc, span: f.span, pins: f.pins, pinned: true, iova, iovaPages: f.span,
      sgPages: f.span - (f.unaligned ? 1 : 0), lease: -1, revoked: false, live: true,
    };
    f.pins.forEach((pin, i) => iommu_map(k, iova + i, pin.page, mr.id, i));
    if (f.leased) {
      const l = new_lease(k, { inode: f.inode, kind: 'lease_direct', holder: mr.id });
      mr.lease = l.id;
    }
    k.mrs.push(mr);
    k.ref.commit(t.id);
    f.result = mr.id;
    return 'unlock';
  },
  // A failure gives the charge back as the call returns, where the
  // reference sees it.
  unlock(k, t, f) {
    if (f.iolocked) up_write(k, t, k.inodes[f.inode].iolock);
    if (f.result < 0) k.procs[t.proc].pinnedVm -= f.charged;
    return k.ret(t, f.result);
  },
});

interface DeregFrame extends Frame {
  op: Extract<Op, { op: 'dereg_mr' }>;
}

function drop_lease(k: Kernel, mr: Mr): void {
  const l = k.leaseById(mr.lease);
  if (!l) return;
  generic_delete_lease(k, l);
  mr.lease = -1;
}

export const ib_uverbs_dereg_mr = fn<DeregFrame>('ib_uverbs_dereg_mr', {
  // ib_dereg_mr + ib_umem_release
  ib_dereg_mr(k, t, f) {
    const mine = k.liveMrs().filter((m) => m.proc === t.proc);
    if (mine.length === 0) return k.ret(t, ENOENT); // no such handle: uobj_get_destroy finds none
    ib_dereg_mr_user(k, mine[f.op.mr % mine.length]);
    k.ref.commit(t.id);
    return k.ret(t, 0);
  },
});

// The registration goes: its lease, its IOMMU mapping and IOVA, its pins
// and their charge (ib_umem_release).
export function ib_dereg_mr_user(k: Kernel, mr: Mr): void {
  drop_lease(k, mr);
  if (!mr.revoked) iommu_unmap(k, mr.iova, mr.iovaPages);
  if (mr.iovaPages > 0) free_iova(k, mr.iova, mr.iovaPages);
  if (mr.pinned) unpin_user_pages(k, mr.pins);
  k.procs[mr.proc].pinnedVm -= mr.span;
  mr.pinned = false;
  mr.live = false;
}

// lm_break for a lease_direct lease: revoke after lease-break-time (000,
// "Arrange for lease_direct leases to also wait the lease-break-time
// period before calling break_fn").
export function lease_direct_lm_break(k: Kernel, l: FileLock): void {
  const delay = k.flags.leaseDirectRevokesImmediately ? 0 : k.lbt; // v7 called break_fn at once (000)
  k.addTimer({ deadline: k.clock + delay, kind: 'work', work: { kind: 'ib_umem_lease_break', lease: l.id } });
}

// The revocation (ib_umem_lease_break): unmap the registration's IOVA
// range, drop its pins, unlock the lease.
export function ib_umem_lease_break(k: Kernel, leaseId: number): void {
  const l = k.leaseById(leaseId);
  if (!l || !l.onList) return;
  const mr = k.mrs.find((m) => m.id === l.holder)!;
  // 004, Joerg Roedel: the DMA API may have mapped more than iommu_sg_num_pages()
  iommu_unmap(k, mr.iova, k.flags.revokeUnmapsSgPages ? mr.sgPages : mr.iovaPages);
  if (k.flags.leaseBreakFreesIova) {
    // v7: dma_unmap_sg at lease break; the IOVA goes back to the allocator
    free_iova(k, mr.iova, mr.iovaPages);
    mr.iovaPages = 0;
  }
  unpin_user_pages(k, mr.pins);
  mr.pinned = false;
  mr.revoked = true;
  l.valid = false;
  generic_delete_lease(k, l);
  mr.lease = -1;
  k.ref.leaseExpire('mr', mr.id);
}

