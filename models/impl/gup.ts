// mm/gup.c: get_user_pages and get_user_pages_fast.  A pin is a page
// reference; it pins the page, not the page's place in the file.

import { EFAULT } from '../errno.ts';
import { ANON_PAGE, PMD_HUGE, ZERO_PAGE, fn, type Frame, type Kernel, type Pin, type Vma } from './kernel.ts';
import { down_read, up_read } from './rwsem.ts';
import { get_page, is_zone_device_page, put_page, try_get_page, unpin_user_page } from './page.ts';
import { handle_mm_fault } from './mm.ts';

export interface GupFrame extends Frame {
  vma: number; // mapping id
  first: number;
  n: number;
  write: boolean;
  follPin: boolean; // FOLL_PIN (pin_user_pages), not FOLL_GET
  pins: Pin[]; // output, owned by the caller
  i: number;
  err: number;
  // gup_fast: what the lockless pmd and pte read saw
  huge: boolean; // a huge pmd (gup_huge_pmd)
  page: number;
  pteWrite: number;
  epoch: number;
  inode: number;
  index: number;
  anon: number;
}

export function gupFrame(vma: number, first: number, n: number, write: boolean, follPin: boolean, pins: Pin[]): Omit<GupFrame, 'fn' | 'pc'> {
  return { vma, first, n, write, follPin, pins, i: 0, err: 0, huge: false, page: -1, pteWrite: 0, epoch: 0, inode: -1, index: -1, anon: -1 };
}

// The pin's reference is already taken (get_page); an anonymous page gets
// its reference here.
function record_pin(k: Kernel, f: Pick<GupFrame, 'inode' | 'index' | 'pins' | 'follPin'>, page: number, epoch: number, anon: number): void {
  const file = page !== ANON_PAGE && page !== ZERO_PAGE;
  if (anon >= 0) {
    k.anonRef[anon]++;
    if (f.follPin) k.anonPinned[anon]++;
  }
  f.pins.push({ page, epoch, inode: file ? f.inode : -1, index: file ? f.index : -1, anon, follPin: f.follPin });
}

// gup_must_unshare: a FOLL_PIN read pin of a private copy that fork left
// shared must first make it the process's own, or a later write by
// either process could leave the pin on the other's page.
function gup_must_unshare(k: Kernel, f: GupFrame, vma: Vma, p: number): boolean {
  return f.follPin && !f.write && vma.pte[p] === ANON_PAGE && !k.anonExclusive[vma.cow[p]];
}

// The slow path: under mmap_sem, look each page up, faulting it in when it
// is not mapped as needed.
export const get_user_pages = fn<GupFrame>('get_user_pages', {
  down_read_mmap_sem(k, t) {
    return down_read(k, t, k.procs[t.proc].mmapSem, 'follow_page_mask');
  },
  follow_page_mask(k, t, f) {
    if (f.i === f.n) return 'up_read_mmap_sem';
    const p = f.first + f.i;
    const vma = k.vmaById(t.proc, f.vma);
    if (!vma || (f.write && !vma.write)) {
      if (f.write) k.ref.writeFault(t.id, f.vma, p);
      else k.ref.readFault(t.id, f.vma, p);
      f.err = EFAULT;
      return 'undo';
    }
    const page = vma.pte[p];
    if (page === -1 || (f.write && !vma.pteWrite[p])) return k.call(t, handle_mm_fault, { vma: f.vma, page: p, write: f.write }, 'faultin_page');
    if (gup_must_unshare(k, f, vma, p)) return k.call(t, handle_mm_fault, { vma: f.vma, page: p, write: false, unshare: true }, 'faultin_page');
    get_page(k, page);
    f.inode = vma.inode;
    f.index = vma.pgoff + p;
    record_pin(k, f, page, vma.pteEpoch[p], page === ANON_PAGE ? vma.cow[p] : -1);
    k.ref.pin(t.id, f.vma, p, f.write);
    f.i++;
    return 'follow_page_mask';
  },
  faultin_page(k, t, f) {
    if (t.rv < 0) {
      f.err = EFAULT;
      return 'undo';
    }
    return 'follow_page_mask';
  },
  undo(k, t, f) {
    for (const pin of f.pins) unpin_user_page(k, pin);
    f.pins.length = 0;
    return 'up_read_mmap_sem';
  },
  up_read_mmap_sem(k, t, f) {
    up_read(k, t, k.procs[t.proc].mmapSem);
    return k.ret(t, f.err);
  },
});

// The lockless fast path, for one page (the O_DIRECT buffer): read the
// pmd, and the pte under it unless the pmd maps the PMD whole; take a
// speculative reference, then re-read the entry and back off if it
// changed.  The pte path always re-read; the devmap pmd path
// (__gup_device_huge_pmd) did not before 001 ("mm: fix __gup_device_huge
// vs unmap").  The pin of a file's page takes effect at the read: the
// page is the one mapped then, and a recheck that passes proves it still
// is.  A private copy is pinned at the recheck: until its reference is
// taken, fork does not see it pinned (page_maybe_dma_pinned).
export const get_user_pages_fast = fn<GupFrame>('get_user_pages_fast', {
  gup_pte_range(k, t, f) {
    const vma = k.vmaById(t.proc, f.vma);
    const p = f.first;
    if (!vma || vma.pte[p] === -1 || (f.write && !vma.pteWrite[p])) return 'slow_path';
    if (k.flags.daxLayoutLock) k.daxLayoutReaders++; // dax_layout_lock()
    f.huge = vma.pmd[p] === PMD_HUGE;
    f.page = vma.pte[p];
    f.pteWrite = vma.pteWrite[p];
    f.epoch = vma.pteEpoch[p];
    f.inode = vma.inode;
    f.index = vma.pgoff + p;
    f.anon = f.page === ANON_PAGE ? vma.cow[p] : -1;
    if (f.page !== ANON_PAGE) k.ref.pin(t.id, f.vma, p, f.write);
    return 'gup_get_page';
  },
  gup_get_page(k, t, f) {
    const p = f.first;
    const anon = f.page === ANON_PAGE;
    const got = try_get_page(k, f.page);
    if (k.flags.daxLayoutLock && --k.daxLayoutReaders === 0) k.wake('rcu', 0); // dax_layout_unlock()
    if (!got) {
      k.ref.unpin(t.id);
      return 'slow_path';
    }
    if (!k.flags.gupFastNoRecheck || !f.huge || !is_zone_device_page(k, f.page)) {
      const vma = k.vmaById(t.proc, f.vma);
      if (!vma || vma.pte[p] !== f.page || vma.pteWrite[p] !== f.pteWrite || (vma.pmd[p] === PMD_HUGE) !== f.huge || (anon && vma.cow[p] !== f.anon) || gup_must_unshare(k, f, vma, p)) {
        put_page(k, f.page);
        if (!anon) k.ref.unpin(t.id);
        return 'slow_path';
      }
      // the pte was zapped and set again to the same page in between: the
      // recheck sees the same value, so the pin is of the page as mapped
      // now (a private copy's slot may hold a new copy: no epoch tells)
      if (anon) k.ref.pin(t.id, f.vma, p, f.write);
      else if (vma.pteEpoch[p] !== f.epoch) {
        k.ref.unpin(t.id);
        k.ref.pin(t.id, f.vma, p, f.write);
        f.epoch = vma.pteEpoch[p];
      }
    }
    record_pin(k, f, f.page, f.epoch, f.anon);
    return k.ret(t, 0);
  },
  slow_path(k, t, f) {
    return k.call(t, get_user_pages, gupFrame(f.vma, f.first, 1, f.write, f.follPin, f.pins), 'slow_done');
  },
  slow_done(k, t) {
    return k.ret(t, t.rv);
  },
});

// pin_user_pages_fast(FOLL_LONGTERM): the lockless walk pins a present,
// writable pte of an ordinary page without a look at the vma, page after
// page with interrupts off, so no zap of the range comes between.  It
// stops at a DAX page, or a missing or read-only pte; the rest is left to
// the slow path, where check_vma_flags refuses FOLL_LONGTERM on an fs-DAX
// vma before it faults anything in.  The pages it would pin from `first`:
export function lockless_prefix(vma: Vma, first: number, span: number): number {
  let n = 0;
  while (n < span && vma.pte[first + n] === ANON_PAGE && vma.pteWrite[first + n]) n++;
  return n;
}

// ... and the walk itself (lockless_pages_from_mm), over `n` pages its
// prefix allows.
export function lockless_pages_from_mm(k: Kernel, t: { id: number }, vma: Vma, first: number, n: number, pins: Pin[]): void {
  const f = gupFrame(vma.id, first, n, true, !k.flags.noFollPin, pins);
  for (let p = first; p < first + n; p++) {
    record_pin(k, f, ANON_PAGE, vma.pteEpoch[p], vma.cow[p]);
    k.ref.pin(t.id, vma.id, p, true);
  }
}
