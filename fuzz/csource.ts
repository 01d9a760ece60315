// `daxcheck csource`: a counterexample as a standalone C program, as
// syzkaller writes one for every crash.  The program is executor/ops.c
// (the oracle's operations, verbatim), the counterexample as data, and
// executor/repro.c (threads, rendezvous, repetition, checks).
//
// The data comes from a replay of the counterexample on its variant:
// every operation that started in the trace, resolved to the executor's
// line from the reference's state just before it started (as conform
// resolves a sequential program), with the outcome the model gave, and
// the order constraints the schedule implies: an operation starts once
// the operations of other threads that started before it in the trace
// have started, and those that returned before it have returned.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ANY, type Result } from '../models/abstract.ts';
import { Reference } from '../models/reference/index.ts';
import { LIMITS, formatOp, initialValue, type NicOp, type Op, type TestCase } from '../models/testcase.ts';
import type { Variant } from '../models/variants/index.ts';
import type { Counterexample } from './corpus.ts';
import { outcome, resolve, resolveNic } from './conform.ts';
import { runTestCase } from './lockstep.ts';
import { ROOT } from './root.ts';
import type { DivergenceClass } from '../properties/classes.ts';

export class CsourceError extends Error {}

// Why a program has no C reproducer, or null: the operations with no line
// in the executor (a pNFS layout is an NFS client's request to nfsd;
// exit_group would end the reproducer's own process).
export function csourceRefusal(tc: TestCase): string | null {
  const op = tc.threads.flatMap((t) => t.ops).find((o) => o.op === 'exit' || o.op === 'layoutget' || o.op === 'layoutreturn');
  return op ? `${op.op} has no line in the executor (conform does not run it either): no C reproducer for this counterexample` : null;
}

const MAXOPS = 64; // repro.c
const MAXT = 8;
const SLOTS = 64; // ops.c

// What the real kernel can show of each class (repro.c's facts: 1
// results, 2 blocks, 4 coherence, 8 hang).
const CONSEQUENCE: Record<DivergenceClass, number> = {
  'dma-into-reallocated-block': 2 | 4,
  'iova-reuse': 2 | 4,
  'data-mismatch': 2 | 4,
  refcount: 4 | 2,
  'result-mismatch': 1,
  'stale-notification': 1,
  deadlock: 8,
  'no-progress': 8,
  'blockmap-changed-under-lease': 0,
  'lock-order': 0,
};

interface Instance {
  thread: number; // program thread, or the NIC (threads.length)
  op: Op | NicOp;
  line: string;
  start: number;
  ret: number | null;
  model: string | null;
  allowed: string | null;
  xfer: { file: number; page: number } | null;
  mapsBefore: Set<number>; // the mapping and registration ids when it started: a new one is its own
  mrsBefore: Set<number>;
}

interface MapInfo { slot: number; file: number; pgoff: number; pages: number; shared: boolean }

export interface Csource {
  text: string;
  needsRdma: boolean;
  ops: number;
  threads: number;
  consequence: number; // 0: nothing a real kernel shows
  slowDevice: boolean; // an asynchronous transfer to or from a page-cache file: the reproducer wants SLOWDIR
}

const cstr = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, '?')}"`;

// The counterexample's operations as they ran in its trace.
function instances(variant: Variant, cx: Counterexample): { list: Instance[]; maps: MapInfo[] } {
  const tc = cx.testCase;
  const nt = tc.threads.length;
  const nfiles = tc.config.files.length;
  const list: Instance[] = [];
  const maps: MapInfo[] = [];
  const open: (Instance | null)[] = new Array(nt).fill(null);
  const done = new Array<number>(nt).fill(0);
  let ref: Reference = new Reference(variant.contract, tc, variant.kernel);
  const lineOf = (t: number) => {
    const th = tc.threads[t];
    if (!th.ops.length || (!th.loop && done[t] >= th.ops.length)) return null;
    const op = th.ops[done[t] % th.ops.length];
    if (op.op === 'exit' || op.op === 'layoutget' || op.op === 'layoutreturn') return { op, line: '' };
    return { op, line: resolve(ref, op, SLOTS - 1, SLOTS - 1, nfiles, th.proc) };
  };
  let next = tc.threads.map((_, t) => lineOf(t));
  const mapIds = () => new Set(ref.procs.flatMap((p) => p.maps.map((m) => m.id)));
  const mrIds = () => new Set(ref.mrs.map((m) => m.id));
  let nics = 0;
  // the ids as the step before this one left them: an op's first step may already commit
  let before = { maps: new Set<number>(), mrs: new Set<number>() };
  const run = runTestCase(variant, tc, {
    observe: (ex, entry) => {
      ref = ex.ref;
      if (entry.thread === 'nic') {
        const op = tc.nic[nics++];
        list.push({ thread: nt, op, line: resolveNic(ex.ref, op), start: entry.step, ret: entry.step, model: outcome(op, ex.ref.lastNicResult ?? undefined), allowed: null, xfer: null, mapsBefore: new Set(), mrsBefore: new Set() });
      } else if (entry.tid < nt && entry.op) {
        const t = entry.tid;
        if (!open[t]) {
          const n = next[t];
          if (!n) throw new CsourceError(`thread ${t} ran an operation the program does not have`);
          if (n.line === '') throw new CsourceError(`${n.op.op} has no line in the executor (conform does not run it either): no C reproducer for this counterexample`);
          const inst: Instance = { thread: t, op: n.op, line: n.line, start: entry.step, ret: null, model: null, allowed: null, xfer: null, mapsBefore: before.maps, mrsBefore: before.mrs };
          if ((n.op.op === 'dio_read' || n.op.op === 'dio_write') && n.op.aio) {
            const list2 = ref.procs[tc.threads[t].proc].maps;
            // the reference's maps before this step: the op has not unmapped anything yet
            const m = list2.length ? list2[n.op.map % list2.length] : null;
            if (m && ref.files[m.file].dax) inst.xfer = { file: m.file, page: m.pgoff + (n.op.page % m.npages) };
          }
          list.push(inst);
          open[t] = inst;
        }
        if (entry.result !== undefined) {
          const inst = open[t]!;
          inst.ret = entry.step;
          inst.model = outcome(inst.op, entry.result);
          const op = inst.op as Op;
          if (op.op === 'mmap') {
            const fresh = [...mapIds()].filter((id) => !inst.mapsBefore.has(id));
            const id = typeof entry.result === 'number' && fresh.length ? fresh[0] : SLOTS - 1;
            if (id >= SLOTS) throw new CsourceError(`mapping ${id}: more mappings than the executor's ${SLOTS} slots`);
            inst.line = inst.line.replace(/^m \d+/, `m ${id}`);
            const m = ref.procs.flatMap((p) => p.maps).find((x) => x.id === id);
            if (m && typeof entry.result === 'number') maps.push({ slot: id, file: m.file, pgoff: m.pgoff, pages: m.npages, shared: m.shared });
          }
          if (op.op === 'reg_mr') {
            const fresh = [...mrIds()].filter((id) => !inst.mrsBefore.has(id));
            inst.line = inst.line.replace(/^g \d+/, `g ${fresh.length ? fresh[0] : SLOTS - 1}`);
          }
          open[t] = null;
          done[t]++;
        }
      }
      before = { maps: mapIds(), mrs: mrIds() };
      next = tc.threads.map((_, t) => (open[t] ? next[t] : lineOf(t)));
    },
  });
  const d = run.divergence;
  if (!d || d.class !== cx.divergence.class) throw new CsourceError(`the counterexample does not replay on ${variant.name} (${d ? d.class : 'no divergence'}): run daxcheck replay on it`);
  if (d.class === 'result-mismatch') {
    const detail = d.detail as { expected?: Result[] } | undefined;
    const at = list.find((x) => x.ret === d.step && x.thread < nt);
    if (at && detail?.expected && !detail.expected.includes(ANY)) at.allowed = detail.expected.map((r) => outcome(at.op, r)).join('|') || 'none';
  }
  return { list, maps };
}

export function cSource(cx: Counterexample, variant: Variant, file: string): Csource {
  const tc = cx.testCase;
  const refusal = csourceRefusal(tc);
  if (refusal) throw new CsourceError(refusal);
  if (tc.threads.length + 1 > MAXT) throw new CsourceError(`${tc.threads.length} threads: a reproducer runs at most ${MAXT - 1}`);
  const { list, maps } = instances(variant, cx);
  if (list.length > MAXOPS) throw new CsourceError(`${list.length} operations ran: a reproducer runs at most ${MAXOPS}`);
  const nt = tc.threads.length + (list.some((x) => x.thread === tc.threads.length) ? 1 : 0);
  const hangs = cx.divergence.class === 'deadlock' || cx.divergence.class === 'no-progress';
  const needsRdma = list.some((x) => /^[gdWQ] /.test(x.line) || /^[gdWQ]$/.test(x.line));
  const needsRing = list.some((x) => /^[qzhj]( |$)/.test(x.line));
  const slowDevice = list.some((x) => (x.op.op === 'dio_read' || x.op.op === 'dio_write') && x.op.aio && x.xfer);
  const ticks = list.filter((x) => x.line === 'k 1').length;
  const consequence = CONSEQUENCE[cx.divergence.class];
  const rows = list.map((x) => {
    const starts = Array.from({ length: MAXT }, (_, u) => (u === x.thread ? 0 : list.filter((y) => y.thread === u && y.start < x.start).length));
    const returns = Array.from({ length: MAXT }, (_, u) => (u === x.thread ? 0 : list.filter((y) => y.thread === u && y.ret !== null && y.ret < x.start).length));
    return `\t{ ${x.thread}, ${cstr(x.line)}, ${cstr(formatOp(x.op))}, ${x.model ? cstr(x.model) : 'NULL'}, ${x.allowed ? cstr(x.allowed) : 'NULL'}, { ${starts.join(', ')} }, { ${returns.join(', ')} }, ${x.xfer ? x.xfer.file : -1}, ${x.xfer ? x.xfer.page : 0}, ${hangs && x.ret === null ? 1 : 0} },`;
  });
  const files = tc.config.files.map((f, i) => {
    const vals = Array.from({ length: LIMITS.pagesPerFile }, (_, pg) => (pg < f.size && !f.sparse ? initialValue(i, pg) : 0));
    return `\t{ ${f.dax ? 1 : 0}, ${f.size}, ${f.sparse ? 1 : 0}, { ${vals.join(', ')} } },`;
  });
  const threadProc = Array.from({ length: nt }, (_, t) => (t < tc.threads.length ? tc.threads[t].proc : 0));
  const title = `${cx.variant.name}: ${cx.divergence.class}: ${cx.divergence.message}`.slice(0, 300);
  const read = (name: string) => readFileSync(fileURLToPath(new URL(`executor/${name}`, ROOT)), 'utf8');
  const build = needsRdma
    ? 'gcc -static -pthread -O2 -o repro repro.c -Wl,--whole-archive -lrxe-rdmav34 -Wl,--no-whole-archive -libverbs -lnl-route-3 -lnl-3\n *        (libibverbs-dev; the RDMA operations use soft-RoCE, rdma_rxe, on a netdev named dummy0)'
    : 'gcc -static -pthread -O2 -o repro repro.c';
  const header = `/*
 * daxcheck reproducer, written by \`daxcheck csource\`
 *
 *   ${title.replace(/\*\//g, '* /')}
 *
 * counterexample: ${file.replace(/\*\//g, '* /')}
 * variant:        ${cx.variant.name} (what the model of that kernel does; the
 *                 kernel you run it on answers for itself)
 * operations:     ${tc.threads.map((t, i) => `T${i}: ${t.ops.map(formatOp).join('; ')}`).join('\n *                 ')}${tc.nic.length ? `\n *                 NIC: ${tc.nic.map(formatOp).join('; ')}` : ''}
 *
 * Build:  ${build}
 * Run as root:  ./repro DAXDIR [SLOWDIR] [-n TIMES] [-v]
 *   DAXDIR   a directory on a filesystem that gives DAX files, e.g.
 *              mkfs.xfs -m reflink=1 /dev/pmem0 && mount -o dax=inode /dev/pmem0 /mnt
 *            (the program sets FS_XFLAG_DAX on its own subdirectory)
 *   SLOWDIR  where the page-cache files go${slowDevice ? ' (wanted here: a transfer to or\n *            from one must outlast the operations that follow it)' : ''}: a filesystem on
 *            a device whose reads take long, e.g. dm-delay over a ramdisk:
 *              modprobe brd rd_nr=1 rd_size=409600
 *              dmsetup create slow --table "0 819200 delay /dev/ram0 0 0 /dev/ram0 0 0"
 *              mkfs.xfs /dev/mapper/slow && mount /dev/mapper/slow /slow
 *              dmsetup suspend --nolockfs slow
 *              dmsetup load slow --table "0 819200 delay /dev/ram0 0 1000 /dev/ram0 0 0"
 *              dmsetup resume slow
 *            Without it they go under DAXDIR.
 *   -n       attempts (default ${defaultTimes(list)}); -v prints every operation's outcome
 * It says what it checked, "reproduced in k/N runs" or "not reproduced in
 * N runs", and exits 1 when reproduced, 0 when not, 2 on bad usage.
 */
`;
  const data = `
/* ---- the counterexample ---- */
#define CLASS_ ${cstr(cx.divergence.class)}
#define VARIANT_ ${cstr(cx.variant.name)}
#define TITLE_ ${cstr(cx.divergence.message.slice(0, 200))}
#define CONSEQUENCE_ ${consequence}
#define NTHREADS_ ${nt}
#define NOPS_ ${list.length}
#define NFILES_ ${tc.config.files.length}
#define NMAPS_ ${maps.length}
#define LEASE_BREAK_TIME_ ${tc.config.leaseBreakTime}
#define LIMIT_FDS_ ${LIMITS.fds}
#define NEED_RDMA_ ${needsRdma ? 1 : 0}
#define NEED_RING_ ${needsRing ? 1 : 0}
#define HANG_SECONDS ${30 + 2 * ticks}
#define DEFAULT_TIMES_ ${defaultTimes(list)}
`;
  const tables = `
static const struct rfile rfiles[NFILES_] = {
${files.join('\n')}
};
static const int thread_proc[NTHREADS_] = { ${threadProc.join(', ')} };
static const struct rop rops[NOPS_] = {
${rows.join('\n')}
};
static const struct rmap rmaps[${Math.max(1, maps.length)}] = {
${maps.length ? maps.map((m) => `\t{ ${m.slot}, ${m.file}, ${m.pgoff}, ${m.pages}, ${m.shared ? 1 : 0} },`).join('\n') : '\t{ 0, 0, 0, 0, 0 },'}
};
`;
  // the tables go where the driver's types are declared and its state begins
  const repro = read('repro.c');
  const at = repro.indexOf('static struct shared *sh;');
  const text = header + (needsRdma ? '' : '#define NO_RDMA\n') + read('ops.c') + data + repro.slice(0, at) + tables + repro.slice(at);
  return { text, needsRdma, ops: list.length, threads: nt, consequence, slowDevice };
}

// Attempts by default: a sequential program shows what it shows the first
// time; a race needs tries.
function defaultTimes(list: Instance[]): number {
  return new Set(list.map((x) => x.thread)).size > 1 ? 100 : 10;
}
