// The abstraction function: what a user could observe of the
// implementation's state, in the reference model's terms.

import { LEASE_MAP, LEASE_MR, NO_COW, type AbstractState } from '../models/abstract.ts';
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

// abstractImpl, written as models/abstract.ts encodes it.
export function encodeImpl(k: Kernel, out: number[]): void {
  out.length = 0;
  out.push(k.clock, k.inodes.length);
  for (const ip of k.inodes) {
    out.push(ip.size);
    for (let pg = 0; pg < ip.size; pg++) out.push(page_state(k, ip.id, pg), read_file_page(k, ip.id, pg));
  }
  out.push(k.procs.length);
  for (const pr of k.procs) {
    const fds = k.openFds(pr.id);
    out.push(1, fds.length);
    for (const fd of fds) {
      const filp = k.filps[pr.fds[fd]]!;
      out.push(fd, filp.inode, +filp.write);
    }
    out.push(pr.vmas.length);
    for (const v of pr.vmas) {
      out.push(v.id, v.inode, v.pgoff, v.npages, +v.shared, +v.direct, +v.sync, +v.write, +xfs_vma_has_direct_lease(k, v), v.cow.length);
      for (const id of v.cow) out.push(id >= 0 ? k.anonData[id] : NO_COW);
    }
    out.push(pr.sigio.length, ...pr.sigio);
  }
  const leases = k.leases.filter((l) => l.onList).sort((a, b) => kindOf(a.kind) - kindOf(b.kind) || a.holder - b.holder);
  out.push(leases.length);
  for (const l of leases) out.push(kindOf(l.kind), l.holder, l.inode, +l.breaking, l.breaking ? l.breakTime : 0);
  let live = 0;
  for (const m of k.mrs) if (m.live) live++;
  out.push(live);
  for (const m of k.mrs) if (m.live) out.push(m.id, m.proc, m.span, +m.revoked);
}

const kindOf = (kind: 'map_direct' | 'lease_direct') => (kind === 'map_direct' ? LEASE_MAP : LEASE_MR);
