// The RDMA NIC: DMA by IOVA through the IOMMU, at any time, for any
// registration the application has not deregistered.

import { IOMMU_FAULT, userResult } from '../errno.ts';
import { fn, type Frame, type Kernel } from './kernel.ts';
import { iommu_iova_mapped } from './iommu.ts';
import { dma_read_page, dma_write_page } from './dio.ts';

// When the NIC's next work request is posted, or -1 if it has none left.
export function nic_next_post(k: Kernel): number {
  return k.nicIp < k.nic.length ? k.nic[k.nicIp].at : -1;
}

export const nic_dma = fn<Frame>('nic_dma', {
  nic_dma(k, t) {
    const op = k.nic[k.nicIp++];
    const live = k.liveMrs();
    const mr = live[op.mr % live.length];
    const iova = mr.iova + (op.page % mr.span);
    let result: number;
    if (!iommu_iova_mapped(k, iova)) result = IOMMU_FAULT;
    else {
      // the page the IOMMU entry leads to, and the pin it was mapped for
      const owner = k.mrs.find((m) => m.id === k.iommuMr[iova])!;
      const pin = owner.pins[k.iommuIdx[iova]];
      k.emit({ kind: 'iova', iova, issuedFor: mr.id, reached: owner.id });
      if (op.op === 'rdma_write') {
        dma_write_page(k, t, pin, 'nic', op.val, owner.pinned);
        result = 0;
      } else result = dma_read_page(k, t, pin, 'nic', owner.pinned);
    }
    k.ref.nicDma(op, userResult(result));
    return k.ret(t, 0);
  },
});
