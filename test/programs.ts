// Hand-written programs for the model tests: files, the ops they use
// most, and a test case with its schedule left to the runner.

import type { FileSpec, Op, TestCase } from '../models/testcase.ts';

export const dax = (size: number, sparse = false): FileSpec => ({ owner: 0, dax: true, reflink: false, size, sparse });
export const pagecache = (size: number): FileSpec => ({ owner: 0, dax: false, reflink: false, size, sparse: false });

export function tc(files: FileSpec[], threads: Op[][], more: Partial<TestCase> = {}): TestCase {
  return {
    config: { files, procs: [{ uid: 0, capLease: false }], blocks: 8, leaseBreakTime: 45 },
    threads: threads.map((ops) => ({ proc: 0, ops, loop: false })),
    nic: [],
    schedule: [],
    cycle: [],
    faults: [],
    ...more,
  };
}

export const open = (file: number, write = true): Op => ({ op: 'open', file, write });
export const mmap = (fd: number, more: Partial<Extract<Op, { op: 'mmap' }>> = {}): Op => ({ op: 'mmap', fd, off: 0, len: 0, type: 'shared', sync: false, direct: false, write: true, ...more });
export const reg = (map: number, page = 0, npages = 0, unaligned = false): Op => ({ op: 'reg_mr', map, page, npages, unaligned });
