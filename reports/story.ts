// What both report forms (HTML and plain text) say about a counterexample,
// as plain data: the title, the variant, how it was found, the trace cut
// into operations, the blocks involved, and the state difference.

import jsonDiff from 'json-diff';
import { FLAGS, KNOWN_BUGS, setFlags } from '../models/variants/index.ts';
import type { Counterexample } from '../fuzz/corpus.ts';
import { csourceRefusal } from '../fuzz/csource.ts';
import { readRepro } from '../fuzz/repro.ts';
import { sameState } from '../models/abstract.ts';
import type { TestCase } from '../models/testcase.ts';
import type { Recording, StepRecord } from './record.ts';
import { accessText, callsOf, causalChain, describePage, type ChainLink } from './chain.ts';

export { causalChain, describePage, type ChainLink };

export function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1).trimEnd()}…`;
}

// A title that stays put, as syzbot's do: the class, the kernel function
// that was running when it was detected, and the operation it happened in
// or after; no step, run, variant or value, so every counterexample of one
// bug found at one point gets the same title.  (The variant and the
// message follow the title.)
export function title(cx: Counterexample, rec: Recording, chain: ChainLink[] = causalChain(rec)): string {
  const d = cx.divergence;
  const at = rec.steps.find((s) => s.step === d.step) ?? rec.steps.at(-1);
  if (!at) return d.class;
  const name = (op: string) => op.split('(')[0];
  const proc = (tid: number) => rec.lanes[tid]?.kind === 'proc';
  const during = proc(at.tid) ? callsOf(rec).get(at.step)?.call ?? null : null;
  const last = rec.steps.filter((s) => s.step <= at.step && s.call !== null && proc(s.tid)).at(-1)?.call ?? null;
  // a DMA's title names the operation that freed the block (or took the
  // reference), whichever operations came between
  const links = chain.slice(0, -1).filter((l) => l.op !== null);
  const cause = (links.find((l) => l.text.startsWith('frees')) ?? links.at(-1))?.op;
  const op = during ? ` during ${name(during)}` : cause ? ` after ${cause}` : last ? ` after ${name(last)}` : '';
  return `${d.class} in ${at.fn}${op}`;
}

export interface VariantFacts {
  name: string;
  contract: string;
  flags: { name: string; what: string }[];
  follows: string; // seed file and passage
  summary: string;
  knownBug: string | null; // "K4: the DMA mapping is torn down ..."
}

export function variantFacts(rec: Recording): VariantFacts {
  const v = rec.variant;
  const bug = KNOWN_BUGS.find((b) => b.id === v.name);
  return {
    name: v.name,
    contract: v.contract,
    flags: setFlags(v).map((f) => ({ name: f, what: FLAGS[f] })),
    follows: v.seed,
    summary: v.summary,
    knownBug: bug ? `${bug.id}: ${bug.title}` : null,
  };
}

export function provenance(cx: Counterexample): string {
  const s = cx.search;
  const by = !s
    ? cx.fastCheck ? `fast-check, seed ${cx.fastCheck.seed}${cx.fastCheck.path ? `, path ${cx.fastCheck.path}` : ''}` : 'unrecorded'
    : s.engine === 'explore'
      ? `breadth-first exploration of scenario ${s.scenario} (${s.states} states)`
      : `${s.engine} search, seed ${s.seed}, run ${s.run}${s.slot !== undefined ? `, campaign slot ${s.slot}` : ''}${s.shrunk === false ? ' (not fully shrunk: the campaign was stopped)' : ''}`;
  return `${by}; harness ${cx.harness}`;
}

export function laneTitle(rec: Recording, tid: number): string {
  const l = rec.lanes[tid];
  switch (l.kind) {
    case 'proc': return `${l.name} (process ${l.proc})`;
    case 'device': return 'device (block I/O completion)';
    case 'nic': return 'nic (RDMA NIC)';
    case 'timer': return 'timer (softirq)';
    default: return 'kworker (kernel worker)';
  }
}

// The trace as rows: an operation row when a thread starts an operation,
// then its steps.  The process threads' operations come from the trace;
// the NIC's from the work request it ran.
// A divergence found when no step was taken (no thread could run, or the
// run came back to a state it had been in) ends the rows at its own step.
export type Row = { kind: 'op'; tid: number; text: string } | { kind: 'step'; s: StepRecord } | { kind: 'end'; step: number } | { kind: 'fold'; from: number; to: number };

// The steps a no-progress lasso repeats, [first, last], if it is one.
export function lassoLoop(rec: Recording): [number, number] | null {
  const loop = (rec.divergence?.detail as { loop?: [number, number] } | undefined)?.loop;
  return rec.divergence?.class === 'no-progress' && loop ? [loop[0], loop[1] - 1] : null;
}

// What the row after the last step says when the divergence is there.
export function endText(rec: Recording): string {
  const loop = lassoLoop(rec);
  if (loop) return `back in the state of step ${loop[0]}: steps ${loop[0]}..${loop[1]} repeat forever`;
  return 'no thread can run';
}

// The step the divergence is marked at, if it is a step of the trace.
export function divergentStep(rec: Recording): number | null {
  const d = rec.divergence;
  return d && rec.steps.some((s) => s.step === d.step) ? d.step : null;
}

// With `keep`, the runs of three or more steps it leaves out are folded
// into one row each (TLC shows only what changed).
export function rows(rec: Recording, keep?: Set<number>): Row[] {
  const out: Row[] = [];
  let fold: StepRecord[] = [];
  const flush = () => {
    if (fold.length >= 3) out.push({ kind: 'fold', from: fold[0].step, to: fold.at(-1)!.step });
    else for (const s of fold) out.push({ kind: 'step', s });
    fold = [];
  };
  for (const s of rec.steps) {
    if (keep && !keep.has(s.step) && s.call === null) fold.push(s);
    else {
      flush();
      if (s.call !== null) out.push({ kind: 'op', tid: s.tid, text: s.call });
      out.push({ kind: 'step', s });
    }
  }
  flush();
  if (rec.divergence && divergentStep(rec) === null) out.push({ kind: 'end', step: rec.divergence.step });
  return out;
}

// The steps a folded trace keeps: the chain's, every call's first and
// returning step, sleeps and wakeups, and what a reviewer looks for
// (an access, a block or lease changing hands, a signal, an IOVA mapped).
export function stepsThatMatter(rec: Recording, chain: ChainLink[]): Set<number> {
  const keep = new Set(chain.map((l) => l.step));
  for (const s of rec.steps) {
    const eventful = s.events.some((e) => e.kind === 'access' || e.kind === 'iova' || e.kind === 'sigio' || e.kind === 'blockmap');
    if (s.call !== null || s.work !== null || s.result !== null || s.sleeps || s.woke.length || eventful || s.pages.length || s.leases.length || s.iommu.length) keep.add(s.step);
  }
  const d = divergentStep(rec);
  if (d !== null) keep.add(d);
  const loop = lassoLoop(rec);
  if (loop) keep.add(loop[0]).add(loop[1]);
  return keep;
}


export interface BlockStory {
  name: string; // "block 1"
  // in step order: who owned it (the first line: at the start), and every
  // DMA or store that reached it; `wrong` marks an access the block no
  // longer answered for
  lines: { step: number | null; text: string; by: string; wrong: boolean }[];
}

// The pages a DMA or store reached, with who owned each one over the run.
// When nothing reached a page, the pages whose owner changed.
export function blockStories(rec: Recording): BlockStory[] {
  const touched = new Set<number>();
  for (const s of rec.steps) for (const e of s.events) if (e.kind === 'access' && e.inode >= 0) touched.add(e.page);
  if (touched.size === 0) for (const s of rec.steps) for (const p of s.pages) touched.add(p.page);
  const stories: BlockStory[] = [];
  for (const page of [...touched].sort((a, b) => a - b)) {
    const first = rec.initialPages[page];
    const story: BlockStory = { name: describePage(rec, first).split(':')[0], lines: [] };
    story.lines.push({ step: null, text: describePage(rec, first), by: 'at the start', wrong: false });
    let now = first;
    for (const s of rec.steps) {
      const by = `${rec.lanes[s.tid].name} in ${s.fn}:${s.label}`;
      const changed = s.pages.find((p) => p.page === page);
      if (changed) {
        now = changed;
        story.lines.push({ step: s.step, text: describePage(rec, changed), by, wrong: false });
      }
      for (const e of s.events) {
        if (e.kind === 'access' && e.page === page && e.inode >= 0) story.lines.push({ step: s.step, by, ...accessText(rec, e, now) });
      }
    }
    stories.push(story);
  }
  return stories;
}

// DMA by IOVA: which registration an IOVA was issued for, and which one's
// page it reached.
export function iovaLines(rec: Recording): { step: number; text: string; wrong: boolean }[] {
  const out: { step: number; text: string; wrong: boolean }[] = [];
  for (const s of rec.steps) {
    for (const e of s.events) {
      if (e.kind !== 'iova') continue;
      out.push({ step: s.step, text: `NIC DMA by IOVA ${e.iova}, issued for registration ${e.issuedFor}, reached a page of registration ${e.reached}`, wrong: e.issuedFor !== e.reached });
    }
  }
  return out;
}

// The reference against the implementation, as json-diff lines: ' ' kept,
// '-' the reference's, '+' the implementation's.  Empty when they agree.
export function stateDiff(rec: Recording): { sign: ' ' | '-' | '+'; text: string }[] {
  if (!rec.reference || !rec.implementation) return [];
  const d = jsonDiff.diff(rec.reference, rec.implementation, { maxElisions: 1 });
  if (d === undefined) return [];
  const out: { sign: ' ' | '-' | '+'; text: string }[] = [];
  jsonDiff.colorizeToCallback(d, { maxElisions: 1 }, (sign, text) => out.push({ sign, text }));
  return out;
}

// JSON indented by object, with a list of numbers, or any short value, on
// one line: the abstract states read like a struct dump.
export function compactJson(v: unknown, indent = ''): string {
  const flat = JSON.stringify(v);
  if (flat === undefined) return 'null';
  if (flat.length <= 72 - indent.length || typeof v !== 'object' || v === null) return flat;
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== 'object' || x === null)) return flat;
    return `[\n${v.map((x) => inner + compactJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${compactJson(x, inner)}`).join(',\n')}\n${indent}}`;
}

// The test case's configuration in words: the files (which are DAX: the
// whole of some bugs), the blocks, the processes, lease-break-time, and
// the rule the initial contents follow.
export function configText(tc: TestCase): string {
  const files = tc.config.files.map((f, i) => `file ${i}: ${f.dax ? 'DAX' : 'page cache'}, ${f.size} page${f.size === 1 ? '' : 's'}${f.sparse ? ' (holes)' : ''}${f.reflink ? ', reflinked' : ''}${f.owner ? `, owner uid ${f.owner}` : ''}`);
  const plain = tc.config.procs.length === 1 && tc.config.procs[0].uid === 0 && !tc.config.procs[0].capLease && !tc.config.procs[0].capImmutable;
  const procs = plain ? [] : tc.config.procs.map((p, i) => `process ${i}: uid ${p.uid}${p.capLease ? ', CAP_LEASE' : ''}${p.capImmutable ? ', CAP_LINUX_IMMUTABLE' : ''}`);
  const faults = tc.faults.map((f) => `${f.kind === 'signal' ? 'a signal at interruptible sleep' : 'an allocation failure at allocation'} ${f.nth} of T${f.thread}`);
  return [...files, `${tc.config.blocks} block${tc.config.blocks === 1 ? '' : 's'}${tc.config.pmd ? ' (PMD faults)' : ''}`, ...procs, `lease-break-time ${tc.config.leaseBreakTime} s`, ...faults].join('; ');
}

// The abstract states' differences as one list: each leaf where the
// reference and the implementation part, with both values; a list of
// another length is one entry, its length.
export function stateChanges(rec: Recording): { path: string; reference: unknown; implementation: unknown }[] {
  const out: { path: string; reference: unknown; implementation: unknown }[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (sameState(a, b)) return;
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length) out.push({ path: `${path}.length`, reference: a.length, implementation: b.length });
      else a.forEach((x, i) => walk(x, b[i], `${path}[${i}]`));
      return;
    }
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      return;
    }
    out.push({ path: path || '.', reference: a, implementation: b });
  };
  if (rec.reference && rec.implementation) walk(rec.reference, rec.implementation, '');
  return out;
}

export function replayCommand(file: string): string {
  return `daxcheck replay ${file} --trace`;
}

// The counterexample on a real kernel: the reproducer's commands (as
// syzbot's mail ends with its C reproducer), and what `daxcheck repro`
// saw when it was run (FILE.repro.json).
export function realKernel(file: string, cx: Counterexample): { commands: string[]; refusal: string | null; verdict: string | null; evidence: string[] } {
  const refusal = csourceRefusal(cx.testCase);
  const r = readRepro(file);
  const evidence = r ? [...r.evidence.filter((e) => /wrote block|returned|reads|has not returned|SIGKILL|WARNING|BUG/.test(e)).slice(0, 6), ...r.kernelWarnings.slice(0, 3).map((k) => `kernel: ${k}`)] : [];
  return {
    commands: refusal ? [] : [`daxcheck csource ${file} -o repro.c`, 'gcc -static -pthread -O2 -o repro repro.c', './repro DAXDIR [SLOWDIR]', `daxcheck repro ${file}`],
    refusal,
    verdict: r ? `${r.verdict} (${r.date.slice(0, 10)}, ${r.kernel})` : null,
    evidence,
  };
}
