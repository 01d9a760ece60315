// `daxcheck fuzz` and `daxcheck merge`: runs the slots of fuzz/slots.ts on
// worker threads, keeps one counterexample per (variant, class), and keeps
// the campaign folder consistent at every moment:
//
//   DIR/summary.json             the campaign: plan, slots done, totals, findings
//   DIR/corpus/<class>/<h>.json  one counterexample per (variant, class)
//
// Every file is written whole and renamed into place, the counterexample
// before the summary that names it, so a campaign killed at any moment
// (SIGKILL included) leaves complete files, and --resume picks up from the
// summary without running a slot twice.

import { Worker } from 'node:worker_threads';
import { existsSync, lstatSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { catalogVariant, findVariant, type Variant } from '../models/variants/index.ts';
import { CLASS_NAMES } from '../properties/classes.ts';
import { FileError, parseWith, printable, readJsonFile } from './files.ts';
import { CorpusError, type Counterexample, readCounterexample, writeCounterexample, writeFileAtomic } from './corpus.ts';
import { HARNESS_VERSION } from './version.ts';
import { ENGINES, PCT_DEPTHS, PlanSchema, findingKey, segmentOf, shardChains, shardSlots, type PctStats, type Plan, type Shard, type SlotResult, type SlotSpec } from './slots.ts';
import { pctBound } from './schedulers.ts';
import { ROOT, siblingModule } from './root.ts';
import { acquireLock, writeNewFolder } from './lock.ts';

export const SUMMARY = 'summary.json';
export const SUMMARY_TEXT = 'summary.txt';
export const SUMMARY_FORMAT = 1;

// The campaign folder's summary.json, declared once: parsing and types.
const count = z.number().int().min(0);
const ms = z.number().min(0).max(1e15);

export const FoundEntrySchema = z.strictObject({
  variant: z.string().max(100),
  class: z.enum(CLASS_NAMES),
  file: z.string().max(300).regex(/^corpus\/[a-z-]+\/[0-9a-f]{16}\.json$/, 'expected corpus/<class>/<hash>.json'), // relative to the campaign folder
  firstAtMs: ms, // campaign time of the first meeting, whichever slot
  slot: count, // where the stored counterexample comes from: the earliest (slot, run)
  run: count,
  engine: z.enum(ENGINES),
  hits: count, // divergent runs of this (variant, class), over all slots
  length: count, // steps of the stored counterexample
  message: z.string().max(10_000),
  shrunk: z.boolean(),
  inCorpus: z.boolean(), // the repository's corpus/ already holds this (variant, class): not news
});
export type FoundEntry = z.infer<typeof FoundEntrySchema>;

export const SummarySchema = z.strictObject({
  kind: z.literal('daxcheck-campaign', { error: 'not a daxcheck campaign summary' }),
  format: z.literal(SUMMARY_FORMAT, { error: (iss) => `unsupported summary format ${JSON.stringify(iss.input)} (this harness reads ${SUMMARY_FORMAT})` }),
  harness: z.string().max(100),
  // the fields of DESIGN §7
  runs: count,
  steps: count,
  stepsPerSecond: count,
  workers: z.number().int().min(1).max(4096),
  found: z.array(FoundEntrySchema).max(10_000),
  // the rest
  plan: PlanSchema,
  shards: z.array(z.string().regex(/^\d{1,6}\/\d{1,6}$/, 'expected i/N')).min(1).max(100_000), // "i/N" of each shard in this folder
  started: z.string().max(40),
  elapsedMs: ms, // summed over the sessions (a resumed campaign has several)
  sessions: count,
  interrupted: z.boolean(), // the last session was stopped by a signal
  exhausted: z.boolean(), // every slot of the run budget is done
  skippedSlots: count.optional(), // with plan.untilExpected: slots of decided variants not run
  slots: z.array(z.tuple([count.max(2 ** 40), count, count, ms, z.union([z.literal(0), z.literal(1)])])).max(10_000_000), // [slot, runs, steps, ms, complete]
  timeline: z.array(z.tuple([ms, count, count])).max(1_000_000), // [ms, runs, steps]
  pct: z.strictObject({ depths: z.array(count).max(8), runs: count, threads: count, steps: count, bounds: z.record(z.string().max(20), z.number()) }).nullable(),
});
export type Summary = z.infer<typeof SummarySchema>;

export class CampaignError extends Error {}

// The (variant, class) pairs the repository's corpus/ already shows.
const REPO_CORPUS = fileURLToPath(new URL('corpus/', ROOT));

export function corpusPairs(dir = REPO_CORPUS): Set<string> {
  const out = new Set<string>();
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.json')) continue;
    try {
      const { cx } = readCounterexample(join(e.parentPath, e.name));
      out.add(findingKey(cx.variant.name, cx.divergence.class));
    } catch {
      // not a counterexample file: `daxcheck replay` reports it
    }
  }
  return out;
}

const unshrunk = (cx: Counterexample) => cx.search !== undefined && 'shrunk' in cx.search && cx.search.shrunk === false;

export function shardName(s: Shard): string {
  return `${s.index}/${s.count}`;
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new CampaignError(`--shard: expected i/N with 0 <= i < N, got "${text}"`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

export function readSummary(dir: string): Summary {
  const path = join(dir, SUMMARY);
  let s: Summary;
  try {
    if (!existsSync(path)) throw new FileError(`${printable(dir)}: no campaign here (no summary.json)`);
    s = parseWith(SummarySchema, readJsonFile(path, 'campaign summary'), printable(path));
  } catch (e) {
    throw e instanceof FileError ? new CampaignError(e.message) : e;
  }
  for (const [i, v] of s.plan.variants.entries()) {
    if (!catalogVariant(v)) throw new CampaignError(`${printable(path)}: plan.variants[${i}]: unknown variant "${printable(v)}"`);
  }
  for (const [i, f] of s.found.entries()) {
    if (!s.plan.variants.includes(f.variant)) throw new CampaignError(`${printable(path)}: found[${i}].variant: "${printable(f.variant)}" is not among the plan's variants`);
  }
  return s;
}

export function isCampaign(dir: string): boolean {
  try {
    return (readJsonFile(join(dir, SUMMARY), 'campaign summary') as { kind?: unknown }).kind === 'daxcheck-campaign';
  } catch {
    return false;
  }
}

// The counterexample files at a path: the file itself, or every .json
// file under a folder (a campaign's summary left out), in name order.
// Symbolic links inside a folder are not followed: what is found, and
// what a report writes beside it, stays inside the folder.
export function counterexampleFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new CorpusError(`no such file or directory: ${printable(path)}`);
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const name of readdirSync(path).sort()) {
    const p = join(path, name);
    if (name === SUMMARY && isCampaign(path)) continue;
    const l = lstatSync(p);
    if (l.isSymbolicLink()) continue;
    if (l.isDirectory()) out.push(...counterexampleFiles(p));
    else if (l.isFile() && name.endsWith('.json') && !name.endsWith('.repro.json')) out.push(p); // a reproducer's result rides beside its counterexample
  }
  return out;
}

function removeTemporaries(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.tmp')) rmSync(join(e.parentPath, e.name), { force: true });
  }
}

// Indented, but a list of numbers (a slot, a timeline point) on one line.
function writeSummary(dir: string, s: Summary): void {
  const text = JSON.stringify(s, null, 2).replace(/\[\s+(-?[\d.e+-]+(?:,\s+-?[\d.e+-]+)*)\s+\]/g, (_, inner: string) => `[${inner.split(/,\s+/).join(', ')}]`);
  writeFileAtomic(join(dir, SUMMARY), text + '\n');
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

// The campaign for a reader: totals, the PCT bound, and a line per
// (variant, class) found, its file named by `path`.
export function summaryText(s: Summary, path: (file: string) => string = (f) => f): string[] {
  const why = s.interrupted ? 'stopped by a signal' : s.exhausted ? 'run budget done' : 'time budget done';
  const out = [
    `daxcheck fuzz: seed ${s.plan.seed}, ${s.plan.variants.length} variants x ${s.plan.engines.join(', ')}, shards ${s.shards.join(', ')}, started ${printable(s.started)}`,
    `${why}: ${s.runs} runs, ${s.steps} steps (${s.stepsPerSecond}/s), ${s.slots.length} slots, ${duration(s.elapsedMs)}, ${s.sessions} session(s)`,
  ];
  if (s.pct) {
    const b = Object.entries(s.pct.bounds).map(([d, p]) => `1/${Math.round(1 / p)} at ${d.replace('depth', 'depth ')}`).join(', ');
    out.push(`pct: ${s.pct.runs} runs, median n = ${s.pct.threads} threads, k = ${s.pct.steps} scheduling points: at least ${b}, per run`);
  }
  if (!s.found.length) return [...out, 'no divergence'];
  out.push(`${'variant'.padEnd(16)} ${'class'.padEnd(29)} ${'hits'.padStart(6)} ${'first at'.padStart(8)} ${'steps'.padStart(5)}  file`);
  for (const f of s.found) {
    const raw = (f.inCorpus ? '' : ' NEW: not in corpus/') + (f.shrunk ? '' : ' (unshrunk: stopped)');
    out.push(`${f.variant.padEnd(16)} ${f.class.padEnd(29)} ${String(f.hits).padStart(6)} ${duration(f.firstAtMs).padStart(8)} ${String(f.length).padStart(5)}  ${path(f.file)}${raw}`);
  }
  return out;
}

function writeSummaryText(dir: string, s: Summary): void {
  writeFileAtomic(join(dir, SUMMARY_TEXT), summaryText(s).join('\n') + '\n');
}

// Over this session's PCT slots (the medians) and every session's runs.
function pctSummary(pcts: PctStats[], prev: Summary['pct']): Summary['pct'] {
  if (!pcts.length) return prev;
  const runs = pcts.reduce((n, p) => n + p.runs, 0) + (prev?.runs ?? 0);
  const mid = <K extends 'threads' | 'steps'>(k: K) => [...pcts.map((p) => p[k])].sort((a, b) => a - b)[pcts.length >> 1];
  const threads = mid('threads');
  const steps = mid('steps');
  const bounds = Object.fromEntries(PCT_DEPTHS.map((d) => [`depth${d}`, pctBound({ threads, steps, depth: d })]));
  return { depths: [...PCT_DEPTHS], runs, threads, steps, bounds };
}

export type CampaignEvent =
  | { kind: 'found'; entry: FoundEntry; replaced: boolean } // a (variant, class) new to the campaign, or an earlier occurrence of one
  | { kind: 'stopping' };

export interface CampaignOptions {
  dir: string;
  workers: number;
  budgetMs: number | null; // this session's time budget
  onEvent?: (e: CampaignEvent) => void;
  command?: string; // what holds the folder's lock, for the refusal a second writer gets
}

export interface NewCampaign {
  plan: Plan;
  shard: Shard;
}

// A campaign session: a new one, or `resume` of the one in opts.dir.
export class Campaign {
  readonly summary: Summary;
  private readonly release: () => void;
  onEvent: ((e: CampaignEvent) => void) | undefined;
  private readonly shard: Shard;
  private readonly done: Set<number>;
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));
  private readonly live: Float64Array;
  private readonly workers: Worker[] = [];
  private readonly elapsedBefore: number;
  private t0 = 0;
  private stopping = false;
  private aborted = false;
  private finish: (() => void) | null = null;
  private pctSlots: PctStats[] = [];
  private readonly pctBefore: Summary['pct'];
  private readonly known = corpusPairs();
  private skipped = 0;

  constructor(private readonly opts: CampaignOptions, fresh: NewCampaign | null) {
    const existing = existsSync(join(opts.dir, SUMMARY));
    if (fresh && existing) throw new CampaignError(`${printable(opts.dir)} already holds a campaign: --resume ${printable(opts.dir)} to go on with it, or choose another --out`);
    if (!fresh) readSummary(opts.dir); // refused before anything is written, the folder included
    this.release = acquireLock(opts.dir, opts.command ?? (fresh ? 'fuzz' : 'fuzz --resume'));
    try {
      this.summary = this.start(fresh);
    } catch (e) {
      this.release();
      throw e;
    }
    this.shard = fresh ? fresh.shard : parseShard(this.summary.shards[0]);
    this.done = new Set(this.summary.slots.map((s) => s[0]));
    this.elapsedBefore = this.summary.elapsedMs;
    this.pctBefore = this.summary.pct;
    this.live = new Float64Array(new SharedArrayBuffer(16 * opts.workers));
    this.onEvent = opts.onEvent;
  }

  // The summary a session starts from: a new one, or the folder's, read
  // again now that the lock is held (another writer may have ended since).
  private start(fresh: NewCampaign | null): Summary {
    const opts = this.opts;
    if (fresh) {
      if (fresh.plan.untilExpected && fresh.plan.runsPerVariant === null) throw new CampaignError('a campaign that stops at what it expects needs a run budget');
      if (existsSync(join(opts.dir, SUMMARY))) throw new CampaignError(`${printable(opts.dir)} already holds a campaign: --resume ${printable(opts.dir)} to go on with it, or choose another --out`);
      return {
        kind: 'daxcheck-campaign', format: SUMMARY_FORMAT, harness: HARNESS_VERSION,
        runs: 0, steps: 0, stepsPerSecond: 0, workers: opts.workers, found: [],
        plan: fresh.plan, shards: [shardName(fresh.shard)], started: new Date().toISOString(), elapsedMs: 0, sessions: 0,
        interrupted: false, exhausted: false, slots: [], timeline: [], pct: null,
      };
    }
    const s = readSummary(opts.dir);
    if (s.shards.length !== 1) throw new CampaignError(`${printable(opts.dir)}: a merged campaign (shards ${s.shards.join(', ')}) cannot be resumed; resume each shard`);
    removeTemporaries(opts.dir); // left by a campaign killed mid-write
    s.workers = opts.workers;
    return s;
  }

  get budgetMs(): number | null {
    return this.opts.budgetMs;
  }

  private elapsed(): number {
    return this.elapsedBefore + (Date.now() - this.t0);
  }

  // Live figures for a progress line.
  progress(): { runs: number; steps: number; elapsedMs: number; found: number; leftMs: number | null } {
    let runs = this.summary.runs;
    let steps = this.summary.steps;
    for (let w = 0; w < this.opts.workers; w++) {
      runs += this.live[2 * w];
      steps += this.live[2 * w + 1];
    }
    const left = this.opts.budgetMs === null ? null : Math.max(0, this.opts.budgetMs - (Date.now() - this.t0));
    return { runs, steps, elapsedMs: this.elapsed(), found: this.summary.found.length, leftMs: left };
  }

  // Stop taking slots; the slots in hand end at their next poll, keep what
  // they found unshrunk, and are recorded.
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.summary.interrupted = true;
    Atomics.store(this.stopFlag, 0, 1);
    this.onEvent?.({ kind: 'stopping' });
  }

  // Stop now: the slots in hand are dropped (not recorded, so a resume runs
  // them); the summary is written as it stands.
  abort(): void {
    this.stop();
    this.aborted = true;
    for (const w of this.workers) void w.terminate();
    this.finish?.();
  }

  async run(): Promise<Summary> {
    try {
      return await this.session();
    } finally {
      this.release();
    }
  }

  private async session(): Promise<Summary> {
    this.t0 = Date.now();
    this.summary.sessions++;
    this.summary.interrupted = false;
    const deadline = this.opts.budgetMs === null ? null : this.t0 + this.opts.budgetMs;
    // A chain's search lives in the worker that first took it: a worker
    // takes the earliest slot not yet done of a chain that is its own or
    // nobody's yet, and not in hand (its earlier slot must end first).
    const slots = shardSlots(this.summary.plan, this.shard, this.done);
    const chains = shardChains(this.summary.plan, this.shard).length;
    const queue: SlotSpec[] = [];
    const owner = new Map<number, number>();
    const inHand = new Map<number, SlotSpec>();
    let drained = false;
    const untilExpected = this.summary.plan.untilExpected === true;
    // With untilExpected, a variant's next segment waits for its earlier
    // ones, and is dropped once they met an expected class: what a slot of
    // the same segment met does not count, or whether the rest of that
    // segment ran would depend on which worker finished first.
    const decided = (s: SlotSpec) => {
      const want = findVariant(s.variant).expect;
      return this.summary.found.some((f) => f.variant === s.variant && want.includes(f.class) && segmentOf(this.summary.plan, f.slot) < s.segment);
    };
    const earlierPending = (s: SlotSpec) =>
      [...queue, ...inHand.values()].some((o) => o !== s && o.variant === s.variant && o.segment < s.segment);
    // 'wait': nothing this worker may take now, but a slot in hand may free one
    const next = (w: number): SlotSpec | null | 'wait' => {
      if (this.stopping || (deadline !== null && Date.now() >= deadline)) return null;
      const mine = [...owner.values()].some((o) => o === w);
      if (!mine && owner.size === chains) return null; // more workers than chains
      for (let i = 0; ; i++) {
        if (i === queue.length) {
          const r = slots.next();
          if (r.done) {
            drained = true;
            // what is left waits for a slot in hand: its earlier segment, or its chain's owner
            return queue.length ? 'wait' : null;
          }
          queue.push(r.value);
        }
        const s = queue[i];
        const o = owner.get(s.chain);
        if (inHand.has(s.chain) || (o !== undefined && o !== w)) continue;
        if (untilExpected && s.segment > 0) {
          if (earlierPending(s)) continue;
          if (decided(s)) {
            queue.splice(i--, 1);
            this.skipped++;
            continue;
          }
        }
        queue.splice(i, 1);
        owner.set(s.chain, w);
        inHand.set(s.chain, s);
        return s;
      }
    };
    writeSummary(this.opts.dir, this.summary);
    const entry = new URL('./worker-entry.js', import.meta.url);
    const module = siblingModule('slots').href;
    await new Promise<void>((resolve, reject) => {
      let busy = 0;
      let failed = false;
      this.finish = resolve;
      // a slot that threw (a model error): stop everything, keep the
      // summary as the finished slots left it, and say so
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        this.aborted = true;
        for (const w of this.workers) void w.terminate();
        reject(e);
      };
      const parked: [Worker, number][] = [];
      let alive = this.opts.workers;
      const give = (w: Worker, index: number) => {
        const spec = next(index);
        if (spec === 'wait') {
          parked.push([w, index]);
          if (busy === 0 && parked.length === alive) {
            // cannot happen (the earliest queued slot is always takable by its chain's owner); end rather than hang
            for (const [p] of parked.splice(0)) void p.terminate();
            resolve();
          }
          return;
        }
        if (spec === null) {
          void w.terminate();
          if (--alive === 0 || (busy === 0 && parked.length === alive)) {
            for (const [p] of parked.splice(0)) void p.terminate();
            resolve();
          }
          return;
        }
        busy++;
        const started = this.elapsed();
        const known = this.summary.found.filter((f) => f.slot < spec.slot).map((f) => findingKey(f.variant, f.class));
        w.once('message', (m: { result?: SlotResult; error?: string }) => {
          busy--;
          inHand.delete(spec.chain);
          if (this.aborted) return;
          if (m.error !== undefined) {
            fail(new Error(`slot ${spec.slot} (${spec.variant}, ${spec.engine}): ${m.error}`));
            return;
          }
          try {
            this.absorb(m.result!, started);
          } catch (e) {
            fail(e as Error);
            return;
          }
          give(w, index);
          for (const [p, i] of parked.splice(0)) give(p, i);
        });
        w.postMessage({ id: spec.slot, args: [spec, known, deadline] });
      };
      for (let i = 0; i < this.opts.workers; i++) {
        const w = new Worker(entry, {
          workerData: { module, fn: 'runSlotInWorker', init: 'initSlotWorker', initArg: { stop: this.stopFlag.buffer, live: this.live.buffer, index: i } },
        });
        this.workers.push(w);
        w.on('error', (e) => {
          if (!this.aborted) fail(e);
        });
        w.once('online', () => give(w, i));
      }
    });
    this.summary.exhausted = drained && queue.length === 0 && !this.stopping;
    this.summary.skippedSlots = (this.summary.skippedSlots ?? 0) + this.skipped;
    this.summary.elapsedMs = this.elapsed();
    this.summary.stepsPerSecond = Math.round(this.summary.steps / Math.max(0.001, this.summary.elapsedMs / 1000));
    writeSummary(this.opts.dir, this.summary);
    writeSummaryText(this.opts.dir, this.summary);
    return this.summary;
  }

  // A slot's result into the summary: its counterexamples first, then the
  // summary that names them, then the files they replace are removed.
  private absorb(r: SlotResult, startedMs: number): void {
    const s = this.summary;
    s.slots.push([r.slot, r.runs, r.steps, r.ms, r.complete ? 1 : 0]);
    this.done.add(r.slot);
    s.runs += r.runs;
    s.steps += r.steps;
    const stale: string[] = [];
    const events: CampaignEvent[] = [];
    for (const f of r.findings) {
      const i = s.found.findIndex((e) => e.variant === r.variant && e.class === f.class);
      const cur = i >= 0 ? s.found[i] : null;
      const at = startedMs + f.atMs;
      const earlier = !cur || r.slot < cur.slot || (r.slot === cur.slot && f.run < cur.run);
      if (earlier && f.counterexample) {
        const file = relative(this.opts.dir, writeCounterexample(join(this.opts.dir, 'corpus'), f.counterexample, findVariant(r.variant)));
        if (cur && cur.file !== file) stale.push(cur.file);
        const d = f.counterexample.divergence;
        const entry: FoundEntry = {
          variant: r.variant, class: f.class, file, firstAtMs: Math.min(at, cur?.firstAtMs ?? at), slot: r.slot, run: f.run, engine: r.engine,
          hits: (cur?.hits ?? 0) + f.hits, length: f.counterexample.length, message: d.message, shrunk: !unshrunk(f.counterexample),
          inCorpus: this.known.has(findingKey(r.variant, f.class)),
        };
        if (cur) s.found[i] = entry;
        else s.found.push(entry);
        events.push({ kind: 'found', entry, replaced: cur !== null });
      } else if (cur) {
        cur.hits += f.hits;
        cur.firstAtMs = Math.min(cur.firstAtMs, at);
      }
    }
    s.found.sort((a, b) => a.slot - b.slot || a.run - b.run);
    if (r.pct && r.pct.runs) this.pctSlots.push(r.pct);
    s.pct = pctSummary(this.pctSlots, this.pctBefore);
    const ms = this.elapsed();
    const last = s.timeline[s.timeline.length - 1];
    if (!last || ms - last[0] >= Math.max(1000, ms / 200)) s.timeline.push([ms, s.runs, s.steps]);
    s.elapsedMs = ms;
    s.stepsPerSecond = Math.round(s.steps / Math.max(0.001, ms / 1000));
    writeSummary(this.opts.dir, s);
    for (const f of stale) rmSync(join(this.opts.dir, f), { force: true });
    for (const e of events) this.onEvent?.(e);
  }
}

// `daxcheck merge`: shards of one campaign (the same plan, disjoint slots)
// into one folder, keeping for each (variant, class) the counterexample
// of the earliest (slot, run) over all of them, as one campaign would.
export function mergeCampaigns(dirs: string[], out: string): Summary {
  if (existsSync(join(out, SUMMARY))) throw new CampaignError(`${printable(out)} already holds a campaign: merge into a new folder`);
  const parts = dirs.map((d) => ({ dir: d, s: readSummary(d) }));
  const plan = parts[0].s.plan;
  const same = (a: Plan, b: Plan) => JSON.stringify(a) === JSON.stringify(b);
  for (const p of parts) if (!same(p.s.plan, plan)) throw new CampaignError(`${p.dir}: not a shard of the same campaign as ${parts[0].dir} (seed, variants, engines or run budget differ)`);
  const owner = new Map<number, string>();
  for (const p of parts) {
    for (const [slot] of p.s.slots) {
      const other = owner.get(slot);
      if (other !== undefined) throw new CampaignError(`slot ${slot} is in both ${other} and ${p.dir}: the same shard given twice?`);
      owner.set(slot, p.dir);
    }
  }
  // read every counterexample before writing anything
  const found = new Map<string, { e: FoundEntry; dir: string }>();
  const hits = new Map<string, number>();
  const first = new Map<string, number>();
  for (const p of parts) {
    for (const e of p.s.found) {
      const key = findingKey(e.variant, e.class);
      hits.set(key, (hits.get(key) ?? 0) + e.hits);
      first.set(key, Math.min(first.get(key) ?? Infinity, e.firstAtMs));
      const cur = found.get(key);
      if (!cur || e.slot < cur.e.slot || (e.slot === cur.e.slot && e.run < cur.e.run)) found.set(key, { e, dir: p.dir });
    }
  }
  const loaded = [...found.entries()].map(([key, { e, dir }]) => {
    try {
      const got = readCounterexample(join(dir, e.file));
      if (got.cx.variant.name !== e.variant || got.cx.divergence.class !== e.class) throw new CorpusError(`${printable(join(dir, e.file))}: holds ${printable(got.cx.variant.name)} ${got.cx.divergence.class}, but the summary names it for ${printable(e.variant)} ${e.class}`);
      return { key, e, ...got };
    } catch (err) {
      throw new CampaignError(err instanceof CorpusError ? err.message : `${join(dir, e.file)}: ${(err as Error).message}`);
    }
  });
  const known = corpusPairs();
  // every input is read and valid: now write
  return writeNewFolder(out, 'merge', () => writeMerged(out, parts, loaded, hits, first, known, plan));
}

function writeMerged(
  out: string,
  parts: { dir: string; s: Summary }[],
  loaded: { key: string; e: FoundEntry; cx: Counterexample; variant: Variant }[],
  hits: Map<string, number>,
  first: Map<string, number>,
  known: Set<string>,
  plan: Plan,
): Summary {
  const entries = loaded.map(({ key, e, cx, variant }) => {
    const file = relative(out, writeCounterexample(join(out, 'corpus'), cx, variant));
    return { ...e, file, hits: hits.get(key)!, firstAtMs: first.get(key)!, inCorpus: known.has(key) };
  });
  entries.sort((a, b) => a.slot - b.slot || a.run - b.run);
  const slots = parts.flatMap((p) => p.s.slots).sort((a, b) => a[0] - b[0]);
  const runs = slots.reduce((n, x) => n + x[1], 0);
  const steps = slots.reduce((n, x) => n + x[2], 0);
  const elapsedMs = Math.max(...parts.map((p) => p.s.elapsedMs)); // the shards ran side by side
  const pcts = parts.flatMap((p) => (p.s.pct ? [p.s.pct] : []));
  const summary: Summary = {
    kind: 'daxcheck-campaign', format: SUMMARY_FORMAT, harness: HARNESS_VERSION,
    runs, steps, stepsPerSecond: Math.round(steps / Math.max(0.001, elapsedMs / 1000)),
    workers: parts.reduce((n, p) => n + p.s.workers, 0),
    found: entries, plan,
    shards: parts.flatMap((p) => p.s.shards).sort(),
    started: parts.map((p) => p.s.started).sort()[0],
    elapsedMs, sessions: Math.max(...parts.map((p) => p.s.sessions)),
    interrupted: parts.some((p) => p.s.interrupted), exhausted: parts.every((p) => p.s.exhausted),
    slots, timeline: [],
    pct: pcts.length ? { ...pcts[0], runs: pcts.reduce((n, p) => n + p.runs, 0) } : null,
  };
  writeSummary(out, summary);
  writeSummaryText(out, summary);
  return summary;
}
