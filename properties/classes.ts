import { nameTable } from '../models/names.ts';

// Divergence classes (DESIGN §4).  A class names what went wrong, never
// which bug caused it; titles and deduplication use it.

export const CLASSES = nameTable({
  'dma-into-reallocated-block': 'a DMA or CPU access lands in a block not owned, at that moment, by the (file, page) its pin or mapping was taken from, or a DMA goes through a pin already released',
  'iova-reuse': 'a DMA by IOVA reaches a page of a registration other than the one the IOVA was issued for',
  'blockmap-changed-under-lease': "a file's extent map changed while a valid layout lease covered it",
  'lock-order': 'a lock taken against the order learned so far (lockdep-style, with both chains)',
  deadlock: 'no thread can run while work is unfinished (with the wait-for cycle)',
  'no-progress': 'an operation stays pending forever under a fair schedule (a lasso)',
  'result-mismatch': 'a returned value, errno or signal, or what the caller holds, differs from the reference',
  'data-mismatch': 'file contents differ from the reference',
  'stale-notification': 'a lease-break SIGIO whose si_fd no longer names the open file the lease was taken through',
  refcount: 'a page refcount below idle, or a free block or page still mapped by a page table',
} as const);

export type DivergenceClass = keyof typeof CLASSES;
export const CLASS_NAMES = Object.keys(CLASSES) as DivergenceClass[];

// The abstraction compare's catch-alls: they say that what a user sees
// differs from the reference, not by what mechanism.  Every other class
// names one.
export const GENERIC_CLASSES: readonly DivergenceClass[] = ['result-mismatch', 'data-mismatch'];

export interface Divergence {
  class: DivergenceClass;
  message: string;
  step: number; // index of the step at which it was detected (filled by the runner)
  detail?: unknown; // class-specific data for reports (chains, cycle, states)
}

export function divergence(cls: DivergenceClass, message: string, detail?: unknown): Divergence {
  return { class: cls, message, step: -1, detail };
}
