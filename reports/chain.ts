// The causal chain of a divergence: the five to fifteen steps a reviewer
// reads before anything else, computed from the recorded run.
//   a DMA or store into a block its page no longer answers for: where the
//     reference was taken, dropped early, the block freed, handed on, hit;
//   an IOVA reached through a registration it was not issued for: where
//     it was mapped, unmapped, mapped again for someone else, used;
//   a lease divergence: where the lease was set, broken, notified,
//     revoked, and the change or the signal;
//   a deadlock: who holds what the sleepers wait for, and the sleeps;
//   a lasso: the operations that never finish and what each thread does
//     in the loop;
//   any other: the operation, where the states parted, what the reference
//     allows against what the implementation did.

import type { Event } from '../models/impl/kernel.ts';
import { initialValue } from '../models/testcase.ts';
import type { LeaseState, PageState, Recording, StepRecord } from './record.ts';

export interface ChainLink {
  step: number;
  who: string; // "T0 in truncate(fd 0 → file 0, size 0)", "kworker in map_direct_invalidate"
  op: string | null; // the system call the step was part of, by name
  text: string;
}

type Access = Extract<Event, { kind: 'access' }>;

export const MAX_LINKS = 12;

export function pageName(rec: Recording, page: number): string {
  if (page === -2) return 'an anonymous page (a private copy)';
  if (page === -3) return 'the zero page';
  return page < rec.blocks ? `block ${page}` : `page-cache page ${page}`;
}

export function describePage(rec: Recording, p: PageState): string {
  const what = pageName(rec, p.page);
  if (p.owner < 0) return `${what}: free`;
  return `${what}: file ${p.owner} page ${p.index} (allocation ${p.epoch})`;
}

// A block must still be the (file, page) the pin or pte was taken for; a
// page-cache page may have left the file (truncation orphans it) but must
// not have been handed out again; and a DMA needs a pin still held.
export function accessText(rec: Recording, e: Access, now: PageState): { text: string; wrong: boolean } {
  const who = e.who === 'cpu' ? 'CPU store' : e.who === 'nic' ? 'NIC DMA' : 'device DMA';
  const dir = e.write ? (e.who === 'cpu' ? 'into' : 'writes into') : 'reads from';
  const as = `file ${e.inode} page ${e.index} (allocation ${e.epoch})`;
  const same = now.owner === e.inode && now.index === e.index && now.epoch === e.epoch;
  const reallocated = now.epoch !== e.epoch;
  const wrong = reallocated || (e.page < rec.blocks && !same) || !e.held;
  const landed = same ? 'which it still is' : wrong ? `which is now ${describePage(rec, now).replace(/^[^:]*: /, '')}` : 'which has left the file since (truncated, not reused)';
  const released = e.held ? '' : ', through a pin already released';
  return { text: `${who} ${dir} it as ${as}, ${landed}${released}`, wrong };
}

// The call each step of a process thread or the NIC is part of, resolved,
// and the step it began: a call runs from the step that starts it to the
// one that returns (the NIC's, one step).
export function callsOf(rec: Recording): Map<number, { call: string; start: number }> {
  const out = new Map<number, { call: string; start: number }>();
  const open = new Map<number, { call: string; start: number }>();
  for (const s of rec.steps) {
    if (s.call !== null) open.set(s.tid, { call: s.call, start: s.step });
    const o = open.get(s.tid);
    if (o) out.set(s.step, o);
    if (s.result !== null || rec.lanes[s.tid].kind === 'nic') open.delete(s.tid);
  }
  return out;
}

interface Actor {
  lane: string;
  what: string; // the call the step is part of, the worker's item, or the kernel function
  op: string | null; // a process thread's system call, by name
  callStep: number;
}

// Who ran each step: the thread and the call it was in, or a kernel
// thread and the work item or function it ran.
function actors(rec: Recording): Map<number, Actor> {
  const calls = callsOf(rec);
  const out = new Map<number, Actor>();
  for (const s of rec.steps) {
    const lane = rec.lanes[s.tid];
    const c = calls.get(s.step);
    if (c) out.set(s.step, { lane: lane.name, what: c.call, op: lane.kind === 'proc' ? c.call.split('(')[0] : null, callStep: c.start });
    else out.set(s.step, { lane: lane.name, what: s.work ?? s.fn, op: null, callStep: s.step });
  }
  return out;
}

class Chain {
  readonly links: ChainLink[] = [];
  readonly by: Map<number, Actor>;
  constructor(readonly rec: Recording) {
    this.by = actors(rec);
  }
  at(step: number, text: string): void {
    if (this.links.some((l) => l.step === step && l.text === text)) return;
    const a = this.by.get(step);
    this.links.push({ step, who: a ? `${a.lane} in ${a.what}` : 'the run', op: a?.op ?? null, text });
  }
  // the step a call began: the thread, and the call resolved
  call(step: number, suffix = ''): void {
    const a = this.by.get(step)!;
    if (!this.links.some((l) => l.step === step && l.text.startsWith('calls '))) this.links.push({ step, who: a.lane, op: a.op, text: `calls ${a.what}${suffix}` });
  }
  end(step: number, text: string): void {
    this.links.push({ step, who: 'the run', op: null, text });
  }
  // in step order; what one actor did in one step on one line; at most
  // MAX_LINKS, keeping the first two and the last
  done(): ChainLink[] {
    const out: ChainLink[] = [];
    for (const l of [...this.links].sort((a, b) => a.step - b.step)) {
      const prev = out.at(-1);
      if (prev && prev.step === l.step && prev.who === l.who) prev.text += `; ${l.text}`;
      else if (prev && prev.step === l.step && prev.text.startsWith('calls ') && l.who.startsWith(`${prev.who} in `)) out[out.length - 1] = { ...l }; // the call is in the who
      else out.push({ ...l });
    }
    return out.length <= MAX_LINKS ? out : [...out.slice(0, 2), ...out.slice(out.length - (MAX_LINKS - 2))];
  }
}

export function causalChain(rec: Recording): ChainLink[] {
  const d = rec.divergence;
  if (!d) return [];
  switch (d.class) {
    case 'iova-reuse': return iovaChain(rec);
    case 'blockmap-changed-under-lease':
    case 'stale-notification': return leaseChain(rec);
    case 'deadlock':
    case 'lock-order': return waitChain(rec);
    case 'no-progress': return lassoChain(rec);
    default: {
      const access = accessChain(rec);
      return access.length ? access : resultChain(rec);
    }
  }
}

function accessChain(rec: Recording): ChainLink[] {
  let now = rec.initialPages.map((p) => ({ ...p }));
  let hit: { s: StepRecord; e: Access; was: PageState } | null = null;
  for (const s of rec.steps) {
    for (const p of s.pages) now[p.page] = p;
    for (const e of s.events) if (!hit && e.kind === 'access' && e.inode >= 0 && accessText(rec, e, now[e.page]).wrong) hit = { s, e, was: now[e.page] };
    if (hit) break;
  }
  if (!hit) return [];
  const { e } = hit;
  const name = pageName(rec, e.page);
  const as = `file ${e.inode} page ${e.index}`;
  const c = new Chain(rec);
  // the reference: the last rise of the page's count while it was still (file, page, allocation) of the access
  let owner = rec.initialPages[e.page];
  let taken: StepRecord | null = null;
  let count = 0;
  let freed: StepRecord | null = null;
  let reused: { s: StepRecord; p: PageState } | null = null;
  let released: StepRecord | null = null;
  let prev = 1;
  for (const s of rec.steps) {
    if (s.step > hit.s.step) break;
    const r = s.refs.find((x) => x.page === e.page);
    const same = owner.owner === e.inode && owner.index === e.index && owner.epoch === e.epoch;
    if (r) {
      if (r.count > prev && same && !freed) { taken = s; count = r.count; released = null; }
      else if (r.count < prev && taken && !released && !e.held) released = s;
      prev = r.count;
    }
    const p = s.pages.find((x) => x.page === e.page);
    if (p) {
      if (p.owner < 0 && same && !freed) freed = s;
      else if (freed && p.owner >= 0 && p.epoch !== e.epoch && !reused) reused = { s, p };
      owner = p;
    }
  }
  if (taken) c.at(taken.step, `takes a reference on ${name} (${as}) for the ${e.who === 'cpu' ? 'mapping' : e.who === 'nic' ? 'registration' : 'transfer'}: count ${count}`);
  if (released) c.at(released.step, `drops that reference while the ${e.who === 'nic' ? 'NIC' : 'device'} can still use it`);
  if (freed) c.at(freed.step, `frees ${name}${taken && !released ? ', its count still above 1' : ''}`);
  if (reused) c.at(reused.s.step, `hands ${name} to ${describePage(rec, reused.p).replace(/^[^:]*: /, '').replace(/ \(allocation \d+\)$/, '')}`);
  c.at(hit.s.step, accessText(rec, e, hit.was).text.replace(/ \(allocation \d+\)/g, '').replace(/ it as /, ` ${name} as `));
  return c.done();
}

function iovaChain(rec: Recording): ChainLink[] {
  const c = new Chain(rec);
  let hit: { s: StepRecord; e: Extract<Event, { kind: 'iova' }> } | null = null;
  for (const s of rec.steps) for (const e of s.events) if (!hit && e.kind === 'iova' && e.issuedFor !== e.reached) hit = { s, e };
  if (!hit) return resultChain(rec);
  const { iova, issuedFor, reached } = hit.e;
  let mapped: { s: StepRecord; page: number } | null = null;
  let unmapped: StepRecord | null = null;
  let handed: { s: StepRecord; page: number } | null = null;
  for (const s of rec.steps) {
    if (s.step > hit.s.step) break;
    for (const m of s.iommu) {
      if (m.iova !== iova) continue;
      if (m.mr === issuedFor) { mapped = { s, page: m.page }; unmapped = null; handed = null; }
      else if (m.mr < 0 && mapped && !unmapped) unmapped = s;
      else if (m.mr === reached && unmapped) handed = { s, page: m.page };
    }
  }
  const lease = rec.steps.flatMap((s) => s.leases).find((l) => l.kind === 'lease_direct' && l.holder === issuedFor);
  if (lease) leaseLife(c, rec, lease.inode, hit.s.step, lease.id, false);
  if (mapped) c.at(mapped.s.step, `maps IOVA ${iova} to ${pageName(rec, mapped.page)} for registration ${issuedFor}`);
  if (unmapped) c.at(unmapped.step, `unmaps and frees IOVA ${iova} while registration ${issuedFor} still uses it`);
  if (handed) c.at(handed.s.step, `maps IOVA ${iova} again, to ${pageName(rec, handed.page)} for registration ${reached}`);
  c.at(hit.s.step, `NIC DMA by IOVA ${iova} of registration ${issuedFor} lands in registration ${reached}'s page`);
  return c.done();
}

const LEASE_KIND: Record<string, string> = {
  lease: 'F_SETLEASE lease',
  map_direct: 'MAP_DIRECT lease',
  lease_direct: 'lease_direct lease',
  nfsd_layout: 'pNFS layout lease',
};

function leaseName(l: LeaseState): string {
  return `${LEASE_KIND[l.kind] ?? l.kind} ${l.id}`;
}

// A lease's life up to `until`: set, broken, invalidated, gone, and the
// SIGIO its break sent before `until`.  All the leases of the file, or one.
function leaseLife(c: Chain, rec: Recording, inode: number, until: number, only = -1, sigio = true): void {
  const was = new Map<number, LeaseState>();
  for (const s of rec.steps) {
    if (s.step > until) break;
    for (const l of s.leases) {
      if (l.inode !== inode || (only >= 0 && l.id !== only)) continue;
      const before = was.get(l.id);
      const of = l.kind === 'map_direct' ? ` for mapping ${l.holder}` : l.kind === 'lease_direct' ? ` for registration ${l.holder}` : '';
      if (!before && l.onList) c.at(s.step, `sets ${leaseName(l)}${of} on file ${inode}${l.sigioFd >= 0 && sigio ? `, SIGIO to fd ${l.sigioFd}` : ''}`);
      else if (before && !before.breaking && l.breaking) c.at(s.step, `starts breaking ${leaseName(l)}`);
      if (before && before.valid && !l.valid && !l.gone) c.at(s.step, `revokes ${leaseName(l)}`);
      if (before && before.onList && !l.onList) c.at(s.step, `removes ${leaseName(l)}`);
      was.set(l.id, l);
    }
    for (const e of s.events) if (e.kind === 'sigio' && sigio && e.inode === inode && s.step < until) c.at(s.step, `sends SIGIO for the break to process ${e.proc} with si_fd ${e.fd}`);
  }
}

function leaseChain(rec: Recording): ChainLink[] {
  const c = new Chain(rec);
  const d = rec.divergence!;
  const detail = (d.detail ?? {}) as { inode?: number; proc?: number; fd?: number };
  const inode = detail.inode ?? 0;
  leaseLife(c, rec, inode, d.step);
  if (d.class === 'stale-notification' && detail.fd !== undefined) {
    for (const s of rec.steps) {
      if (s.step >= d.step) break;
      for (const f of s.fds) if (f.proc === detail.proc && f.fd === detail.fd) c.at(s.step, f.file < 0 ? `closes fd ${f.fd}` : `opens file ${f.file} as fd ${f.fd}`);
    }
    c.at(d.step, `sends SIGIO for the break: ${d.message.replace(/^SIGIO for the lease break on file \d+ carries /, '')}`);
  } else c.at(d.step, `changes file ${inode}'s block map while the lease still holds`);
  return c.done();
}

// The locks a thread held from some step to the end, with that step.
function heldSince(rec: Recording, tid: number, lock: number): number | null {
  let since: number | null = null;
  for (const s of rec.steps) {
    const h = s.held[tid]?.some((x) => x.lock === lock);
    if (h && since === null) since = s.step;
    if (!h) since = null;
  }
  return since;
}

function waitChain(rec: Recording): ChainLink[] {
  const c = new Chain(rec);
  const d = rec.divergence!;
  // each thread's last sleep, if nothing woke it after
  const asleep = new Map<number, StepRecord>();
  for (const s of rec.steps) {
    if (s.waitOn) asleep.set(s.tid, s);
    for (const w of s.woke) asleep.delete(w);
    if (!s.waitOn) asleep.delete(s.tid);
  }
  const last = rec.steps.at(-1);
  for (const [tid, s] of asleep) {
    if (rec.lanes[tid].kind !== 'proc') continue;
    const on = s.waitOn!;
    c.at(s.step, `sleeps: ${s.sleeps}`);
    if (on.wait === 'rwsem' && last) {
      for (const holder of rec.lanes) {
        if (!last.held[holder.id]?.some((h) => h.lock === on.id)) continue;
        const since = heldSince(rec, holder.id, on.id);
        const write = last.held[holder.id].find((h) => h.lock === on.id)!.write;
        if (since !== null) c.at(since, `takes ${rec.locks[on.id].name} ${write ? 'exclusive' : 'shared'}`);
      }
    }
    if (on.wait === 'page') {
      const rise = rec.steps.filter((x) => x.step <= s.step && x.refs.some((r) => r.page === on.id)).at(-1);
      const take = rec.steps.filter((x) => x.refs.some((r) => r.page === on.id && r.count > 1)).find((x) => x.step <= s.step);
      if (take) c.at(take.step, `takes a reference on ${pageName(rec, on.id)}`);
      else if (rise) c.at(rise.step, `changes the count of ${pageName(rec, on.id)}`);
    }
    if (on.wait === 'lease') leaseLife(c, rec, on.id, s.step);
  }
  if (!rec.steps.some((s) => s.step === d.step)) c.end(d.step, 'no thread can run');
  else c.at(d.step, d.message);
  return c.done();
}

function lassoChain(rec: Recording): ChainLink[] {
  const c = new Chain(rec);
  const d = rec.divergence!;
  const loop = (d.detail as { loop?: [number, number] } | undefined)?.loop;
  if (!loop) return resultChain(rec);
  const [from, to] = [loop[0], loop[1] - 1];
  const inLoop = rec.steps.filter((s) => s.step >= from && s.step <= to);
  // the calls under way that the loop never finishes, and what their
  // threads last slept on
  for (const lane of rec.lanes) {
    if (lane.kind !== 'proc') continue;
    const last = rec.steps.filter((s) => s.tid === lane.id && s.step <= to).at(-1);
    if (!last || last.result !== null || inLoop.some((s) => s.tid === lane.id && s.result !== null)) continue;
    c.call(c.by.get(last.step)!.callStep, ', which never returns');
    const slept = rec.steps.filter((s) => s.tid === lane.id && s.waitOn && s.step <= to).at(-1);
    if (slept && !inLoop.some((s) => s.tid === lane.id && s.step > slept.step)) {
      c.at(slept.step, `sleeps: ${slept.sleeps}`);
      if (slept.waitOn!.wait === 'lease') leaseLife(c, rec, slept.waitOn!.id, from);
    }
  }
  for (const tid of [...new Set(inLoop.map((s) => s.tid))]) {
    const mine = inLoop.filter((s) => s.tid === tid);
    const fns = [...new Set(mine.map((s) => s.fn))];
    const calls = [...new Set(mine.filter((s) => s.call).map((s) => s.call!.split('(')[0]))];
    const sleeps = mine.filter((s) => s.sleeps).length;
    const wakes = [...new Set(mine.flatMap((s) => s.woke).map((w) => rec.lanes[w].name))];
    const what = `${fns.slice(0, 4).join(', ')}${fns.length > 4 ? ', …' : ''}`;
    const again = calls.length ? `, calling ${calls.join(', ')} ${mine.filter((s) => s.call).length}× over` : '';
    c.at(mine[0].step, `loops: ${mine.length} steps of ${what}${again}${sleeps ? `; sleeps ${sleeps}×` : ''}${wakes.length ? `; wakes ${wakes.join(', ')}` : ''}`);
  }
  c.end(d.step, `back in the state of step ${from}: steps ${from}..${to} repeat forever`);
  return c.done();
}

// The value at a path of an abstract state (".procs[0].maps.length").
export function valueAt(state: unknown, path: string): unknown {
  let v: unknown = state;
  for (const part of path.match(/\.[A-Za-z_]+|\[\d+\]/g) ?? []) {
    if (v === null || typeof v !== 'object') return undefined;
    const key = part.startsWith('[') ? Number(part.slice(1, -1)) : part.slice(1);
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

// Where a data value comes from: a page's initial contents (the rule in
// resolve.ts), or the calls that stored it.
export function valueOrigin(rec: Recording, v: unknown): string | null {
  if (typeof v !== 'number') return null;
  const from: string[] = [];
  rec.testCase.config.files.forEach((f, file) => {
    for (let pg = 0; pg < f.size && !f.sparse; pg++) if (initialValue(file, pg) === v) from.push(`file ${file} page ${pg}'s initial content`);
  });
  for (const s of rec.steps) if (s.call && new RegExp(`\\bval ${v}\\b`).test(s.call)) from.push(`stored by ${rec.lanes[s.tid].name}'s ${s.call.split('(')[0]} at step ${s.step}`);
  return from.length ? from.slice(0, 2).join(', or ') : null;
}

export function showValue(rec: Recording, v: unknown): string {
  const o = valueOrigin(rec, v);
  return `${JSON.stringify(v) ?? 'nothing'}${o ? ` (${o})` : ''}`;
}

function resultChain(rec: Recording): ChainLink[] {
  const c = new Chain(rec);
  const d = rec.divergence!;
  const detail = (d.detail ?? {}) as { got?: unknown; expected?: unknown[]; path?: string; page?: number; proc?: number };
  const at = rec.steps.find((s) => s.step === d.step);
  const a = at ? c.by.get(at.step) : undefined;
  if (a?.op) c.call(a.callStep);
  if (rec.steps.some((s) => s.leases.length)) {
    const inodes = [...new Set(rec.steps.flatMap((s) => s.leases.map((l) => l.inode)))];
    for (const inode of inodes) leaseLife(c, rec, inode, d.step);
  }
  if (typeof detail.page === 'number') {
    // the files the page was mapped for or handed to
    const files = new Set<number>();
    for (const s of rec.steps) {
      if (s.step > d.step) break;
      for (const m of s.ptes) if (m.page === detail.page) files.add(m.inode);
      for (const p of s.pages) if (p.page === detail.page && p.owner >= 0) files.add(p.owner);
    }
    for (const s of rec.steps) {
      if (s.step > d.step) break;
      for (const m of s.ptes) if (m.page === detail.page && m.proc === detail.proc) c.at(s.step, `maps ${pageName(rec, m.page)} into mapping ${m.map} at file ${m.inode} page ${m.index}`);
      // the block maps that moved the page under the mapping: a clone, a copy
      for (const e of s.events) if (e.kind === 'blockmap' && files.has(e.inode)) c.at(s.step, `changes file ${e.inode}'s block map`);
      for (const p of s.pages) if (p.page === detail.page) c.at(s.step, p.owner < 0 ? `frees ${pageName(rec, p.page)}` : `hands ${pageName(rec, p.page)} to file ${p.owner} page ${p.index}`);
    }
  }
  const data = /^\.files\[(\d+)\]\.data\[(\d+)\]$/.exec(detail.path ?? '');
  if (data) {
    // what changed the file's blocks, and the writes that landed as the
    // contents parted, with the references they went through
    const file = Number(data[1]);
    for (const s of rec.steps) {
      if (s.step > d.step) break;
      if (s.events.some((e) => e.kind === 'blockmap' && e.inode === file)) c.at(s.step, `changes file ${file}'s block map`);
      if (s.step !== d.step) continue;
      for (const e of s.events) {
        if (e.kind !== 'access' || !e.write) continue;
        const who = e.who === 'cpu' ? 'CPU store' : e.who === 'nic' ? 'NIC DMA' : 'device DMA';
        c.at(s.step, `${who} writes into ${pageName(rec, e.page)} as file ${e.inode} page ${e.index}`);
        const took = rec.steps.filter((x) => x.step < d.step && x.refs.some((r) => r.page === e.page && r.count > 1)).at(-1);
        if (took) c.at(took.step, `takes a reference on ${pageName(rec, e.page)} (file ${e.inode} page ${e.index}): count ${took.refs.find((r) => r.page === e.page)!.count}`);
      }
    }
  }
  if (rec.parted && rec.parted.step < d.step) c.at(rec.parted.step, `the states part at ${rec.parted.path}`);
  if (detail.got !== undefined && Array.isArray(detail.expected)) {
    c.at(d.step, `returns ${detail.got}; the reference allows ${detail.expected.length ? detail.expected.join(' or ') : 'only the operation taking effect'}`);
  } else if (detail.path) {
    const path = detail.path;
    c.at(d.step, `${path}: the reference has ${showValue(rec, valueAt(rec.reference, path))}, the implementation ${showValue(rec, valueAt(rec.implementation, path))}`);
  } else c.at(d.step, d.message);
  return c.done();
}
