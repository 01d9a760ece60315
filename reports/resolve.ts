// An operation as a reader wants it: each index resolved to what it
// named when the call was made, by the test case's own rules (an fd is an
// index modulo the open descriptors, a map modulo the process's mappings,
// a registration modulo the live ones; models/impl/file.ts fd_lookup, the
// callers of mrSpan), read off the kernel the call ran in.

import { mrSpan, uringSpan, type NicOp, type Op } from '../models/testcase.ts';
import { fd_lookup } from '../models/impl/file.ts';
import type { Kernel } from '../models/impl/kernel.ts';

function fdText(k: Kernel, proc: number, index: number): string {
  const fd = fd_lookup(k, proc, index);
  if (fd < 0) return 'fd ? (none open)';
  return `fd ${fd} → file ${k.filps[k.procs[proc].fds[fd]]!.inode}`;
}

function mapText(k: Kernel, proc: number, op: Record<string, unknown>): string {
  const vmas = k.procs[proc].vmas;
  if (vmas.length === 0) return 'map ? (nothing mapped)';
  const vma = vmas[(op.map as number) % vmas.length];
  const at = `map ${vma.id} → file ${vma.inode}`;
  if (typeof op.page !== 'number') return at;
  if (op.op === 'reg_mr' || op.op === 'uring_register') {
    const { first, span } = op.op === 'reg_mr' ? mrSpan(op as { page: number; npages: number; unaligned: boolean }, vma.npages) : uringSpan(op as { page: number; npages: number }, vma.npages);
    const p = vma.pgoff + first;
    return span > 1 ? `${at} pages ${p}..${p + span - 1}` : `${at} page ${p}`;
  }
  return `${at} page ${vma.pgoff + (op.page % vma.npages)}`;
}

export function describeCall(k: Kernel, proc: number, op: Op): string {
  const o = op as Record<string, unknown>;
  const args: string[] = [];
  for (const [key, v] of Object.entries(o)) {
    if (key === 'op') continue;
    if (key === 'fd' || key === 'src') args.push(`${key === 'src' ? 'src ' : ''}${fdText(k, proc, v as number)}`);
    else if (key === 'file') args.push(`file ${(v as number) % k.inodes.length}`);
    else if (key === 'map') args.push(mapText(k, proc, o));
    else if (key === 'page' && 'map' in o) continue;
    else if (key === 'npages' && 'map' in o) continue;
    else if (key === 'unaligned' && op.op === 'reg_mr') { if (v) args.push('unaligned'); }
    else if (key === 'mr') {
      const mine = k.liveMrs().filter((m) => m.proc === proc);
      args.push(mine.length ? `registration ${mine[(v as number) % mine.length].id}` : 'registration ? (none)');
    } else if (typeof v === 'boolean') { if (v) args.push(key); }
    else if (key === 'type' || key === 'mode') args.push(String(v));
    else args.push(`${key} ${v}`);
  }
  return `${op.op}(${args.join(', ')})`;
}

// A NIC work request: the registration it goes through and the page of
// the file behind it.
export function describeNicOp(k: Kernel, op: NicOp): string {
  const live = k.liveMrs();
  const val = op.op === 'rdma_write' ? `, val ${op.val}` : '';
  if (live.length === 0) return `${op.op}(registration ? (none)${val})`;
  const mr = live[op.mr % live.length];
  const pin = mr.pins[op.page % mr.span];
  const to = pin && pin.inode >= 0 ? ` → file ${pin.inode} page ${pin.index}` : '';
  return `${op.op}(registration ${mr.id} page ${op.page % mr.span}${to}${val})`;
}

export const INITIAL_CONTENT_RULE = 'page p of file f starts holding 10(f+1)+p+1';
