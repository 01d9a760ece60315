// The abstraction function: what a user could observe of the
// implementation's state, in the reference model's terms.

import { LEASE_FILE, LEASE_LAYOUT, LEASE_MAP, LEASE_MR, type AbstractState, type Encoding } from '../models/abstract.ts';
import type { FileLock, Kernel as K } from '../models/impl/kernel.ts';
import { page_state, read_file_page } from '../models/impl/xfs_bmap.ts';
import { xfs_vma_has_direct_lease } from '../models/impl/mapdirect.ts';

export function abstractImpl(k: K): AbstractState {
  return {
    clock: k.clock,
    files: k.inodes.map((ip) => {
      const state: number[] = [];
      const data: number[] = [];
      for (let pg = 0; pg < ip.size; pg++) {
        state.push(page_state(k, ip.id, pg));
        data.push(read_file_page(k, ip.id, pg));
      }
      return { linked: ip.nlink > 0, size: ip.size, state, data };
    }),
    procs: k.procs.map((pr) => ({
      alive: !pr.dead,
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
      .map((l) => {
        const a = aLease(k, l);
        return { holder: `${HOLDER[a.kind]}:${a.holder}`, file: l.inode, breaking: l.breaking, since: a.since, mode: a.mode, downgrade: a.downgrade };
      })
      .sort((a, b) => (a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : a.file - b.file)),
    mrs: k.mrs.filter((m) => m.live).map((m) => ({ id: m.id, proc: m.proc, span: m.span, revoked: m.revoked })),
  };
}

// abstractImpl, written as models/abstract.ts encodes it.
export function encodeImpl(k: K, out: Encoding): void {
  out.n = 0;
  out.put(k.clock);
  out.put(k.inodes.length);
  for (const ip of k.inodes) {
    out.file(ip.nlink > 0, ip.size);
    for (let pg = 0; pg < ip.size; pg++) out.page(page_state(k, ip.id, pg), read_file_page(k, ip.id, pg));
  }
  out.put(k.procs.length);
  for (const pr of k.procs) {
    out.put(+!pr.dead);
    const fds = out.begin();
    for (let fd = 0; fd < pr.fds.length; fd++) {
      if (pr.fds[fd] < 0) continue; // as Kernel.openFds
      const filp = k.filps[pr.fds[fd]]!;
      out.item(fds);
      out.fd(fd, filp.inode, filp.write);
    }
    out.put(pr.vmas.length);
    for (const v of pr.vmas) {
      out.map(v.id, v.inode, v.pgoff, v.npages, v.shared, v.direct, v.sync, v.write, xfs_vma_has_direct_lease(k, v), v.cow.length);
      for (let i = 0; i < v.cow.length; i++) out.cow(v.cow[i] >= 0 ? k.anonData[v.cow[i]] : null);
    }
    out.put(pr.sigio.length);
    for (const fd of pr.sigio) out.put(fd);
  }
  const leases = out.begin();
  for (const l of k.leases) {
    if (!l.onList) continue;
    out.item(leases);
    const a = aLease(k, l);
    out.lease(a.kind, a.holder, l.inode, l.breaking, a.since, a.mode, a.downgrade);
  }
  out.sortLeases(leases);
  const mrs = out.begin();
  for (const m of k.mrs) {
    if (!m.live) continue;
    out.item(mrs);
    out.mr(m.id, m.proc, m.span, m.revoked);
  }
}

const HOLDER = ['map', 'mr', 'layout', 'lease'];

// A lease as the abstract state names it: an fcntl lease by the open it
// belongs to, with its type, pending breaks and deadlines.
function aLease(k: K, l: FileLock): { kind: number; holder: number; since: number; mode: number; downgrade: number } {
  if (l.kind === 'lease') {
    const mode = l.type + (l.unlockPending ? 2 : 0) + (l.downgradePending ? 4 : 0);
    return { kind: LEASE_FILE, holder: k.filps[l.holder]!.ofid, since: l.breakTime, mode, downgrade: l.downgradePending ? l.downgradeTime : 0 };
  }
  const kind = l.kind === 'map_direct' ? LEASE_MAP : l.kind === 'nfsd_layout' ? LEASE_LAYOUT : LEASE_MR;
  return { kind, holder: l.holder, since: l.breaking ? l.breakTime : 0, mode: 0, downgrade: 0 };
}
