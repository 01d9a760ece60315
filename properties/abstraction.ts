// The abstraction function: what a user could observe of the
// implementation's state, in the reference model's terms.

import { LEASE_MAP, LEASE_MR, NO_COW, type AbstractState, type Encoding } from '../models/abstract.ts';
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
export function encodeImpl(k: Kernel, out: Encoding): void {
  out.n = 0;
  out.put(k.clock);
  out.put(k.inodes.length);
  for (const ip of k.inodes) {
    out.put(ip.size);
    for (let pg = 0; pg < ip.size; pg++) {
      out.put(page_state(k, ip.id, pg));
      out.put(read_file_page(k, ip.id, pg));
    }
  }
  out.put(k.procs.length);
  for (const pr of k.procs) {
    out.put(1);
    const count = out.n;
    out.put(0);
    for (let fd = 0; fd < pr.fds.length; fd++) {
      if (pr.fds[fd] < 0) continue; // as Kernel.openFds
      const filp = k.filps[pr.fds[fd]]!;
      out.buf[count]++;
      out.put(fd);
      out.put(filp.inode);
      out.put(+filp.write);
    }
    out.put(pr.vmas.length);
    for (const v of pr.vmas) {
      out.put(v.id);
      out.put(v.inode);
      out.put(v.pgoff);
      out.put(v.npages);
      out.put(+v.shared);
      out.put(+v.direct);
      out.put(+v.sync);
      out.put(+v.write);
      out.put(+xfs_vma_has_direct_lease(k, v));
      out.put(v.cow.length);
      for (let i = 0; i < v.cow.length; i++) out.put(v.cow[i] >= 0 ? k.anonData[v.cow[i]] : NO_COW);
    }
    out.put(pr.sigio.length);
    for (const fd of pr.sigio) out.put(fd);
  }
  // by holder: the maps' leases by id, then the registrations'
  let leases = 0;
  for (const l of k.leases) if (l.onList) leases++;
  out.put(leases);
  for (let kind = LEASE_MAP; kind <= LEASE_MR; kind++) {
    const at = out.n;
    for (const l of k.leases) {
      if (!l.onList || kindOf(l.kind) !== kind) continue;
      out.put(kind);
      out.put(l.holder);
      out.put(l.inode);
      out.put(+l.breaking);
      out.put(l.breaking ? l.breakTime : 0);
    }
    out.sortFrom(at, 5, 1);
  }
  let live = 0;
  for (const m of k.mrs) if (m.live) live++;
  out.put(live);
  for (const m of k.mrs) {
    if (!m.live) continue;
    out.put(m.id);
    out.put(m.proc);
    out.put(m.span);
    out.put(+m.revoked);
  }
}

const kindOf = (kind: 'map_direct' | 'lease_direct') => (kind === 'map_direct' ? LEASE_MAP : LEASE_MR);
