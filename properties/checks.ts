// The general properties, checked after every step.  None of them knows
// about variants, flags or particular bugs: each states something that
// must hold of any kernel, over the implementation state, the reference
// state, and what the step did.

import { Encoding, firstDifference, sameState, type AbstractState } from '../models/abstract.ts';
import type { Event, Kernel, Thread, Vma } from '../models/impl/kernel.ts';
import { BLOCKED, DONE } from '../models/impl/kernel.ts';
import { is_zone_device_page } from '../models/impl/page.ts';
import type { Reference, Target } from '../models/reference/index.ts';
import { abstractImpl, encodeImpl } from './abstraction.ts';
import { divergence, type Divergence } from './classes.ts';
import type { Lockdep } from './lockdep.ts';

function where(k: Kernel, page: number): string {
  if (k.pageOwner[page] < 0) return 'free';
  if (!is_zone_device_page(k, page)) return `file ${k.pageOwner[page]} page ${k.pageIndex[page]}`;
  const owners: string[] = [];
  for (const ip of k.inodes) ip.bmap.forEach((b, pg) => b === page && owners.push(`file ${ip.id} page ${pg}`));
  return owners.join(' and ');
}

// Whether the page holds page `pg` of file `inode` (pg -1: any page of
// it): a block by the file's block map, which a reflink shares between
// files; a page-cache page by the one slot it fills.
function holds(k: Kernel, page: number, inode: number, pg: number): boolean {
  if (!is_zone_device_page(k, page)) return k.pageOwner[page] === inode && (pg < 0 || k.pageIndex[page] === pg);
  const bmap = k.inodes[inode].bmap;
  return pg < 0 ? bmap.includes(page) : bmap[pg] === page;
}

// A DMA or CPU access through a pin or a pte must reach the page it was
// taken for.  A filesystem block must still belong to the same file and
// not have been freed or allocated again since (COLLAPSE_RANGE and
// INSERT_RANGE move a block to another offset, its data with it: what
// lands there is what the reference's page holds); a page-cache page may
// have left the file (truncation orphans it, harmlessly) but must not
// have been handed out again.  And a DMA must go through a pin its holder
// still holds: once the pin is dropped nothing keeps the block from being
// reallocated under it (001: the pin is all that holds it).
export function checkAccess(k: Kernel, e: Extract<Event, { kind: 'access' }>): Divergence | null {
  if (e.inode < 0) return null;
  const block = is_zone_device_page(k, e.page);
  const reallocated = k.pageEpoch[e.page] !== e.epoch;
  const moved = block && !holds(k, e.page, e.inode, -1);
  if (!reallocated && !moved && e.held) return null;
  const what = block ? `block ${e.page}` : `page-cache page ${e.page}`;
  const who = e.who === 'cpu' ? 'CPU' : e.who === 'nic' ? 'NIC DMA' : 'device DMA';
  const dir = e.write ? 'write into' : 'read from';
  const message =
    !reallocated && !moved
      ? `${who} ${dir} ${what} (file ${e.inode} page ${e.index}) through a pin already released: nothing keeps the block from being reallocated under it`
      : `${who} ${dir} ${what}, pinned or mapped as file ${e.inode} page ${e.index}, which is now ${where(k, e.page)}${reallocated ? ' (allocated again since)' : ''}`;
  return divergence('dma-into-reallocated-block', message, { ...e, now: { owner: k.pageOwner[e.page], index: k.pageIndex[e.page], epoch: k.pageEpoch[e.page] } });
}

// A DMA by IOVA must reach a page of the registration the IOVA was issued
// for.
export function checkIova(e: Extract<Event, { kind: 'iova' }>): Divergence | null {
  if (e.reached === e.issuedFor) return null;
  return divergence('iova-reuse', `NIC DMA by IOVA ${e.iova} of registration ${e.issuedFor} reached registration ${e.reached}`, e);
}

// A lease-break SIGIO must name, in the receiver's fd table at delivery,
// the open file the lease was taken through: si_fd is all the receiver
// has to find what it must give up.
export function checkNotification(k: Kernel, e: Extract<Event, { kind: 'sigio' }>): Divergence | null {
  const filp = k.procs[e.proc].fds[e.fd];
  if (filp === e.filp) return null;
  const names = filp >= 0 ? k.filps[filp]!.inode : -1;
  const now = names < 0 ? 'is closed' : names === e.inode ? `now names another open of that file` : `now names file ${names}`;
  return divergence(
    'stale-notification',
    `SIGIO for the lease break on file ${e.inode} carries si_fd ${e.fd}, which in process ${e.proc} ${now}`,
    { ...e, names },
  );
}

// No block-map change to a file while the reference holds a layout lease
// on it that has not been released or revoked, but one the reference
// itself just made and lets pass under a lease.
export function checkBlockmapUnderLease(ref: Reference, inode: number): Divergence | null {
  if (!ref.hasLiveLease(inode) || ref.changeAllowedUnderLease(inode)) return null;
  return divergence('blockmap-changed-under-lease', `the block map of file ${inode} changed while a layout lease was held on it`, { inode, leases: ref.abstract().leases });
}

// Refcounts never fall below idle, and no page table maps a page that is
// free or belongs elsewhere.
export function checkRefcounts(k: Kernel): Divergence | null {
  for (let page = 0; page < k.npages; page++) {
    const d = checkPageRef(k, page);
    if (d) return d;
  }
  for (const pr of k.procs) {
    for (const vma of pr.vmas) {
      for (let p = 0; p < vma.npages; p++) {
        const d = checkPte(k, pr.id, vma, p);
        if (d) return d;
      }
    }
  }
  return null;
}

// checkRefcounts over what the step touched (Kernel.touchPage,
// touchPte), given that it held before the step: the page's own count,
// every pte that maps a touched page, and every pte installed.  Nothing
// else it reads can have changed.  It reports what the full check would,
// as properties/incremental.test.ts checks on random runs.
export function checkTouchedPages(k: Kernel): Divergence | null {
  const touched = k.touchedPages;
  if (touched.length > 0) {
    for (let page = 0; page < k.npages; page++) {
      if (touched.includes(page)) {
        const d = checkPageRef(k, page);
        if (d) return d;
      }
    }
  }
  for (const pr of k.procs) {
    for (const vma of pr.vmas) {
      const installed = k.touchedPtes.includes(vma);
      for (let p = 0; p < vma.npages; p++) {
        const page = vma.pte[p];
        if (page < 0 || !(touched.includes(page) || (installed && ptesInstalled(k, vma, p)))) continue;
        const d = checkPte(k, pr.id, vma, p);
        if (d) return d;
      }
    }
  }
  return null;
}

function ptesInstalled(k: Kernel, vma: Vma, p: number): boolean {
  for (let i = 0; i < k.touchedPtes.length; i++) if (k.touchedPtes[i] === vma && k.touchedPteIndex[i] === p) return true;
  return false;
}

function checkPageRef(k: Kernel, page: number): Divergence | null {
  const idle = is_zone_device_page(k, page) || k.pageOwner[page] >= 0 ? 1 : 0;
  if (k.pageRef[page] >= idle) return null;
  return divergence('refcount', `page ${page} has refcount ${k.pageRef[page]}, below its idle count ${idle}`, { page, count: k.pageRef[page] });
}

function checkPte(k: Kernel, proc: number, vma: Vma, p: number): Divergence | null {
  const page = vma.pte[p];
  if (page < 0) return null;
  const pg = vma.pgoff + p;
  if (holds(k, page, vma.inode, pg) && k.pageEpoch[page] === vma.pteEpoch[p]) return null;
  return divergence(
    'refcount',
    `process ${proc} mapping ${vma.id} maps page ${page} at file ${vma.inode} page ${pg}, but that page is ${where(k, page)}`,
    { proc, vma: vma.id, page },
  );
}

export function checkAbstraction(impl: AbstractState, ref: AbstractState): Divergence | null {
  if (sameState(ref, impl)) return null;
  const path = firstDifference(ref, impl);
  if (path === null) return null;
  const cls = path.startsWith('.files') ? 'data-mismatch' : 'result-mismatch';
  return divergence(cls, `state differs from the reference at ${path}`, { path, reference: ref, implementation: impl });
}

// Everything checked after a step, most specific first.  The abstract
// states are compared when the step did something a user could see (the
// reference acted, or the kernel reported an event other than locking),
// or when `compare` asks for it.  `full` checks every page, not only the
// ones the step touched: for a state no checked step led to.
export function checkStep(k: Kernel, ref: Reference, lockdep: Lockdep, compare: boolean, full = false): Divergence | null {
  let changed: Set<number> | null = null;
  for (const e of k.events) {
    if (e.kind !== 'lock') compare = true;
    let d: Divergence | null = null;
    if (e.kind === 'access') d = checkAccess(k, e);
    else if (e.kind === 'iova') d = checkIova(e);
    else if (e.kind === 'sigio') d = checkNotification(k, e);
    else if (e.kind === 'lock') {
      d = lockdep.acquire(k.threads[e.tid].name, e.held.map((id) => k.locks[id].cls), e.cls);
    } else if (e.kind === 'blockmap') (changed ??= new Set()).add(e.inode);
    if (d) return d;
  }
  for (const inode of changed ?? []) {
    const d = checkBlockmapUnderLease(ref, inode);
    if (d) return d;
  }
  if (ref.divergence) return ref.divergence;
  const d = full ? checkRefcounts(k) : checkTouchedPages(k);
  if (d || !compare) return d;
  encodeImpl(k, implCode);
  ref.encode(refCode);
  if (implCode.equals(refCode)) return null;
  // they differ: the objects say where
  const found = checkAbstraction(abstractImpl(k), ref.abstract());
  if (!found) throw new Error('the abstract state encodings differ where the states do not (models/abstract.ts)');
  return found;
}

const implCode = new Encoding();
const refCode = new Encoding();

export function describeWait(k: Kernel, t: Thread): string {
  switch (t.wait) {
    case 'rwsem': {
      const l = k.locks[t.waitId];
      const holders = l.writer >= 0 ? [k.threads[l.writer].name + ' (write)'] : l.readers.map((r) => k.threads[r].name + ' (read)');
      return `${t.name} waits for ${l.cls} of ${l.cls === 'mmap_sem' ? 'process' : 'file'} ${l.owner}, held by ${holders.join(', ') || 'nobody'}`;
    }
    case 'page': return `${t.name} waits for page ${t.waitId} to go idle (refcount ${k.pageRef[t.waitId]})`;
    case 'lease': return `${t.name} waits for the layout leases on file ${t.waitId} to go`;
    case 'dio': return `${t.name} waits for its O_DIRECT request to complete`;
    case 'dio_tag': return `${t.name} waits for a free device tag`;
    case 'rcu': return `${t.name} waits in synchronize_rcu for dax_layout_lock readers`;
    case 'inode_dio': return `${t.name} waits for direct I/O on file ${t.waitId} to drain`;
    case 'timer': return `${t.name} sleeps until its timer fires`;
    default: return `${t.name} is blocked`;
  }
}

// Called when no thread can run: unfinished work means deadlock.  Reports
// the cycle among lock waits when there is one.
export function checkDeadlock(k: Kernel): Divergence | null {
  const stuck = k.threads.filter((t) => t.kind === 'proc' && t.status !== DONE);
  if (stuck.length === 0) return null;
  const waitsFor = (t: Thread): number[] => {
    if (t.status !== BLOCKED || t.wait !== 'rwsem') return [];
    const l = k.locks[t.waitId];
    return l.writer >= 0 ? [l.writer] : l.readers;
  };
  let cycle: string[] | null = null;
  for (const start of stuck) {
    const path: number[] = [start.id];
    const seen = new Set(path);
    let cur = start;
    for (;;) {
      const next = waitsFor(cur)[0];
      if (next === undefined) break;
      if (seen.has(next)) {
        cycle = path.slice(path.indexOf(next)).map((id) => k.threads[id].name);
        break;
      }
      path.push(next);
      seen.add(next);
      cur = k.threads[next];
    }
    if (cycle) break;
  }
  const waits = stuck.map((t) => describeWait(k, t));
  return divergence('deadlock', cycle ? `lock cycle ${[...cycle, cycle[0]].join(' -> ')}: ${waits.join('; ')}` : `no thread can run: ${waits.join('; ')}`, { cycle, waits });
}

// The kernel promises that a wait for a DAX page to go idle ends only if
// the DMA into it is transient (001: "This approach assumes that the page
// pinning is transient"); holding the IOLOCK across rescans bounds the
// direct I/O to the file itself, nothing else.  So, in the reference's
// terms, a layout change of a DAX file (truncate by fd or by name,
// fallocate, a clone onto or from it; a write to a file a clone shares
// blocks with, which may copy a page and wait for its pins) under way while a page of that file is the buffer of direct
// I/O to another file
// (submitted and not yet landed, or being pinned), or is being pinned by
// a call that has not yet taken effect (a registration that 4.18's
// get_user_pages_longterm pins, then refuses), is not promised to
// finish, nor is any operation that involves that file or waits behind
// one that does: an op on an fd or a mapping of it, and mmap, munmap and
// fork in a process with such an op under way (they need the address
// space a fault on the file holds).  Returns the threads starved outside
// the promise.
const NOBODY: ReadonlySet<number> = new Set();
const LAYOUT_CHANGES: ReadonlySet<string> = new Set(['truncate', 'truncate_path', 'fallocate', 'clone']);
const COPY_ON_WRITE: ReadonlySet<string> = new Set(['write', 'uring_write_fixed', 'dio_write', 'store']);
const ADDRESS_SPACE_OPS: ReadonlySet<string> = new Set(['mmap', 'munmap', 'fork']);

export function starvedOutsideThePromise(ref: Reference): ReadonlySet<number> {
  const held = new Set<number>(); // files whose layout change waits outside the promise
  for (const p of ref.pending) {
    // a write to a reflinked file may copy a page, and waits for its pins first
    const written = p && COPY_ON_WRITE.has(p.op.op) ? (p.op.op === 'store' ? p.mapFile : fileOf(p)) : -1;
    if (written >= 0 && ref.files[written].dax && ref.sharesStorage(written) && pinnedTransiently(ref, written)) held.add(written);
    if (!p || !LAYOUT_CHANGES.has(p.op.op)) continue;
    for (const file of filesOf(p)) if (file >= 0 && ref.files[file].dax && pinnedTransiently(ref, file)) held.add(file);
  }
  if (held.size === 0) return NOBODY; // asked after every step of a looping run
  const out = new Set<number>();
  const procs = new Set<number>();
  ref.pending.forEach((p, tid) => {
    if (p && (filesOf(p).some((f) => held.has(f)) || held.has(p.mapFile))) {
      out.add(tid);
      procs.add(p.proc);
    }
  });
  ref.pending.forEach((p, tid) => {
    if (p && procs.has(p.proc) && ADDRESS_SPACE_OPS.has(p.op.op)) out.add(tid);
  });
  return out;
}

// The file an operation names, by fd or (truncate(2)) by path; -1 if none.
function fileOf(p: NonNullable<Reference['pending'][number]>): number {
  return p.fd ? p.fd.file : p.file;
}

// ... and a clone's source besides.
function filesOf(p: NonNullable<Reference['pending'][number]>): number[] {
  return p.src ? [fileOf(p), p.src.file] : [fileOf(p)];
}

function pinnedTransiently(ref: Reference, file: number): boolean {
  const pages = ref.files[file].page;
  const ofFile = (t: Target) => t.kind === 'page' && pages.includes(t.page);
  if (ref.inflight.some((d) => d.file !== file && !d.landed && ofFile(d.target))) return true;
  // pinned by get_user_pages inside a call that has not taken effect: the
  // buffer of direct I/O not yet submitted, or a registration's pages
  // before it is refused or published
  return ref.pending.some((p) => p !== null && !p.dio && !p.committed && p.fd?.file !== file && p.pins.some(ofFile));
}
