// drivers/iommu: the IOVA allocator and a one-level IOMMU page table.
// Freed IOVA ranges are handed out again before fresh space, as the
// per-CPU IOVA caches of alloc_iova_fast do.

import { LIMITS } from '../testcase.ts';
import type { Kernel } from './kernel.ts';

export function alloc_iova(k: Kernel, len: number): number {
  for (let i = k.iovaFree.length - 1; i >= 0; i--) {
    const r = k.iovaFree[i];
    if (r.len < len) continue;
    const start = r.start;
    if (r.len === len) k.iovaFree.splice(i, 1);
    else k.iovaFree[i] = { start: r.start + len, len: r.len - len };
    return start;
  }
  if (k.iovaTop + len > LIMITS.iovaPages) throw new Error('model limit: IOVA space exhausted (raise LIMITS.iovaPages)');
  const start = k.iovaTop;
  k.iovaTop += len;
  return start;
}

export function free_iova(k: Kernel, start: number, len: number): void {
  k.iovaFree.push({ start, len });
}

export function iommu_map(k: Kernel, iova: number, page: number, mr: number, idx: number): void {
  k.iommuPage[iova] = page;
  k.iommuMr[iova] = mr;
  k.iommuIdx[iova] = idx;
}

export function iommu_unmap(k: Kernel, iova: number, n: number): void {
  for (let i = iova; i < iova + n; i++) {
    k.iommuPage[i] = -1;
    k.iommuMr[i] = -1;
    k.iommuIdx[i] = -1;
  }
}

// Whether the device's DMA by IOVA translates (an anonymous page has a
// negative id, so presence is the entry's owner).
export function iommu_iova_mapped(k: Kernel, iova: number): boolean {
  return iova >= 0 && iova < LIMITS.iovaPages && k.iommuMr[iova] >= 0;
}
