// struct page: reference counts, ZONE_DEVICE idle wakeups (mm/memremap.c,
// fs/dax.c) and page-cache pages (mm/filemap.c).
//
// Persistent-memory page b is filesystem block b.  It is idle at refcount
// 1; when a put brings it back to 1 the pagemap's page_free callback wakes
// whoever waits for the page to go idle (wake_up_var).  A page-cache page
// holds one reference for the cache and is freed when the count reaches 0.

import { ANON_PAGE, ZERO_PAGE, type Kernel, type Pin } from './kernel.ts';

export function is_zone_device_page(k: Kernel, page: number): boolean {
  return page >= 0 && page < k.nblocks;
}

export function page_ref_count(k: Kernel, page: number): number {
  return page >= 0 ? k.pageRef[page] : 1;
}

export function get_page(k: Kernel, page: number): void {
  if (page === ZERO_PAGE || page === ANON_PAGE) return;
  k.pageRef[page]++;
  k.touchPage(page);
}

// get_page_unless_zero (page_cache_get_speculative): gup_fast's reference
// on a page it found without locks.  A freed page-cache page is at 0 and
// refuses; a ZONE_DEVICE page is never below 1, so it always succeeds.
export function try_get_page(k: Kernel, page: number): boolean {
  if (page >= 0 && k.pageRef[page] === 0) return false;
  get_page(k, page);
  return true;
}

export function put_page(k: Kernel, page: number): void {
  if (page === ZERO_PAGE || page === ANON_PAGE) return;
  const count = --k.pageRef[page];
  k.touchPage(page);
  k.emit({ kind: 'put_page', page, count });
  if (is_zone_device_page(k, page)) {
    if (count === 1) k.wake('page', page); // the idle wake-up: 4.18 fsdax_pagefree, 6.1 __put_devmap_managed_page_refs -> wake_up_var(page)
  } else if (count === 0 && k.pageOwner[page] < 0) {
    k.cacheFree.push(page);
  }
}

// A fresh page-cache page for (inode, index), zeroed, holding the cache's
// reference.
export function page_cache_alloc(k: Kernel, inode: number, index: number): number {
  const page = k.cacheFree.pop();
  if (page === undefined) throw new Error('model limit: page cache exhausted (raise LIMITS.cachePages)');
  k.pageRef[page] = 1;
  k.pageData[page] = 0;
  k.pageOwner[page] = inode;
  k.pageIndex[page] = index;
  k.pageEpoch[page]++;
  k.touchPage(page);
  k.inodes[inode].cache[index] = page;
  return page;
}

// The page leaves the file; pinned copies live on until their last put.
export function delete_from_page_cache(k: Kernel, inode: number, index: number): void {
  const ino = k.inodes[inode];
  const page = ino.cache[index];
  if (page < 0) return;
  ino.cache[index] = -1;
  page_cache_release(k, page);
}

// A page out of the cache drops the cache's reference.
export function page_cache_release(k: Kernel, page: number): void {
  k.pageOwner[page] = -1;
  k.pageIndex[page] = -1;
  put_page(k, page); // touches it
}

// ---- anonymous pages ----

// A new private copy, mapped by the vma that made it, which owns it.
export function anon_alloc(k: Kernel, value: number): number {
  const id = k.anonFree.pop() ?? k.anonData.length;
  k.anonData[id] = value;
  k.anonRef[id] = 1;
  k.anonExclusive[id] = 1;
  k.anonPinned[id] = 0;
  return id;
}

export function anon_put(k: Kernel, id: number): void {
  if (--k.anonRef[id] === 0) k.anonFree.push(id);
}

// page_dup_rmap: fork maps the page in the child too.
export function page_dup_anon_rmap(k: Kernel, id: number): void {
  k.anonRef[id]++;
}

// unpin_user_page (FOLL_PIN) or put_page (FOLL_GET): drop the reference a
// pin holds.
export function unpin_user_pages(k: Kernel, pins: Pin[]): void {
  for (const pin of pins) unpin_user_page(k, pin);
}

export function unpin_user_page(k: Kernel, pin: Pin): void {
  if (pin.page !== ANON_PAGE) {
    put_page(k, pin.page);
    return;
  }
  if (pin.follPin) k.anonPinned[pin.anon]--;
  anon_put(k, pin.anon);
}
