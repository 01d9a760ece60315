// The abstraction function: what a user could observe of the
// implementation's state, in the reference model's terms.

import type { AbstractState } from '../models/abstract.ts';
import type { Kernel } from '../models/impl/kernel.ts';
import { page_state, read_file_page } from '../models/impl/xfs_bmap.ts';
import { xfs_vma_has_direct_lease } from '../models/impl/mapdirect.ts';

export function abstractImpl(k: Kernel): AbstractState {
  return {
    clock: k.clock,
    files: k.inodes.map((ip) => {
      const state: number[] = [];
      const data: number[] = [];
      for (let pg = 0; pg < ip.size; pg++) {
        state.push(page_state(k, ip.id, pg));
        data.push(read_file_page(k, ip.id, pg));
      }
      return { size: ip.size, state, data };
    }),
    procs: k.procs.map((pr) => ({
      alive: true,
      fds: k.openFds(pr.id).map((fd) => {
        const filp = k.filps[pr.fds[fd]]!;
        return { fd, file: filp.inode, write: filp.write };
      }),
      maps: pr.vmas.map((v) => ({
        id: v.id, file: v.inode, pgoff: v.pgoff, npages: v.npages, shared: v.shared, direct: v.direct,
        sync: v.sync, write: v.write, valid: xfs_vma_has_direct_lease(k, v),
        cow: Array.from(v.cow, (id) => (id >= 0 ? k.anonData[id] : null)),
      })),
      sigio: [...pr.sigio],
    })),
    leases: k.leases
      .filter((l) => l.onList)
      .map((l) => ({ holder: `${l.kind === 'map_direct' ? 'map' : 'mr'}:${l.holder}`, file: l.inode, breaking: l.breaking, since: l.breaking ? l.breakTime : 0 }))
      .sort((a, b) => (a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : 0)),
    mrs: k.mrs.filter((m) => m.live).map((m) => ({ id: m.id, proc: m.proc, span: m.span, revoked: m.revoked })),
  };
}
