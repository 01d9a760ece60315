// kernel/locking/rwsem.c: reader/writer semaphores with owners and a FIFO
// wait queue.  A waiting writer holds off new readers; on release the
// lock is handed to the next waiter (or run of readers), which wakes
// already owning it.  Every acquisition attempt is reported to lockdep.

import { BLOCKED, type Kernel, type Thread, type Next, type RwSem } from './kernel.ts';

function hasWaiters(k: Kernel, l: RwSem): boolean {
  for (const t of k.threads) if (t.status === BLOCKED && t.wait === 'rwsem' && t.waitId === l.id) return true;
  return false;
}

function lockAttempt(k: Kernel, t: Thread, l: RwSem, write: boolean): void {
  k.emit({ kind: 'lock', tid: t.id, lock: l.id, cls: l.cls, write, held: [...t.held] });
}

export function down_read(k: Kernel, t: Thread, id: number, cont: string): Next {
  const l = k.locks[id];
  lockAttempt(k, t, l, false);
  if (l.writer < 0 && !hasWaiters(k, l)) {
    l.readers.push(t.id);
    t.held.push(id);
    return cont;
  }
  t.waitMode = 0;
  return k.sleep(t, 'rwsem', id, cont, false);
}

export function down_write(k: Kernel, t: Thread, id: number, cont: string): Next {
  const l = k.locks[id];
  lockAttempt(k, t, l, true);
  if (l.writer < 0 && l.readers.length === 0 && !hasWaiters(k, l)) {
    l.writer = t.id;
    t.held.push(id);
    return cont;
  }
  t.waitMode = 1;
  return k.sleep(t, 'rwsem', id, cont, false);
}

export function up_read(k: Kernel, t: Thread, id: number): void {
  const l = k.locks[id];
  const i = l.readers.indexOf(t.id);
  if (i < 0) throw new Error(`up_read of ${l.cls}#${l.id} by ${t.name}, which does not hold it`);
  l.readers.splice(i, 1);
  dropHeld(t, id);
  grant(k, l);
}

export function up_write(k: Kernel, t: Thread, id: number): void {
  const l = k.locks[id];
  if (l.writer !== t.id) throw new Error(`up_write of ${l.cls}#${l.id} by ${t.name}, which does not hold it`);
  l.writer = -1;
  dropHeld(t, id);
  grant(k, l);
}

export function rwsem_is_write_locked(k: Kernel, t: Thread, id: number): boolean {
  return k.locks[id].writer === t.id;
}

function dropHeld(t: Thread, id: number): void {
  const i = t.held.lastIndexOf(id);
  if (i >= 0) t.held.splice(i, 1);
}

// Hands the lock to the oldest waiter; a reader at the head takes every
// reader queued before the next writer with it.
function grant(k: Kernel, l: RwSem): void {
  if (l.writer >= 0) return;
  const waiters = k.threads.filter((t) => t.status === BLOCKED && t.wait === 'rwsem' && t.waitId === l.id).sort((a, b) => a.waitSeq - b.waitSeq);
  if (waiters.length === 0) return;
  if (waiters[0].waitMode === 1) {
    if (l.readers.length > 0) return;
    l.writer = waiters[0].id;
    waiters[0].held.push(l.id);
    k.wakeThread(waiters[0]);
    return;
  }
  for (const w of waiters) {
    if (w.waitMode === 1) break;
    l.readers.push(w.id);
    w.held.push(l.id);
    k.wakeThread(w);
  }
}
