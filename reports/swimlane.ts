// The interleaving as an SVG swimlane diagram: time runs down, one lane
// per thread.  A step is a box in its thread's lane named after the kernel
// function and label it ran (the full name beside, in the trace column);
// an operation row opens each system call; the locks a thread holds are
// bars at the left of its lane (solid exclusive, pale shared); a sleep is
// a dashed line down the lane, ended by an arrow from the step that woke
// it; the divergent step is a red band.

import { html, type Markup } from './html.ts';
import { divergentStep, endText, lassoLoop, laneTitle, rows, shorten, type Row } from './story.ts';
import type { Recording, StepRecord } from './record.ts';

const ROW = 18;
const HEAD = 34;
const STEP_COL = 44;
const LANE = 128;
const BAR = 5; // width of one lock bar
const SLOTS = 4; // lock bars per lane
const TRACE_COL = 560;
const CHAR = 6.1; // advance of the 10px monospace font

const LOCK_COLOUR: Record<string, string> = { i_rwsem: '#1565c0', mmap_sem: '#2e7d32', mmaplock: '#ef6c00' };

export const SWIMLANE_STYLE = `
svg.swimlane { display: block; font-family: ui-monospace, 'DejaVu Sans Mono', monospace; }
svg.swimlane text { font-size: 10px; fill: #1d2330; }
svg.swimlane .head text { font-size: 11px; font-weight: 600; }
svg.swimlane .lane-bg { fill: #f7f8fa; } svg.swimlane .lane-bg.odd { fill: #eef0f4; }
svg.swimlane .box { fill: #dfe6f3; stroke: #7d8aa5; stroke-width: .6; }
svg.swimlane .box.returns { fill: #cfe3d2; }
svg.swimlane .box.access { stroke: #6a1b9a; stroke-width: 1.4; }
svg.swimlane .op text { font-weight: 600; fill: #0d3c8c; }
svg.swimlane .sleep { stroke: #8a94a8; stroke-dasharray: 3 3; stroke-width: 1.4; }
svg.swimlane .wake { stroke: #6a1b9a; stroke-width: 1.2; fill: none; }
svg.swimlane .divergence rect { fill: #c62828; fill-opacity: .16; }
svg.swimlane .divergence .box { fill: #ef9a9a; stroke: #c62828; stroke-width: 1.5; }
svg.swimlane .divergence text.mark { fill: #c62828; font-weight: 700; }
svg.swimlane .stepno { fill: #6b7385; }
svg.swimlane .tracecol { fill: #39414f; }
`;

function fit(s: string, width: number): string {
  return shorten(s, Math.max(3, Math.floor(width / CHAR)));
}

interface Placed {
  row: Row;
  y: number;
}

// `keep`: the steps to draw, the others folded into one row a run
// (stepsThatMatter); left out, every step.
export function swimlane(rec: Recording, keep?: Set<number>): Markup {
  const lanes = rec.lanes;
  const laneX = (tid: number) => STEP_COL + tid * LANE;
  const boxX = (tid: number) => laneX(tid) + 2 + SLOTS * BAR + 2;
  const placed: Placed[] = rows(rec, keep).map((row, i) => ({ row, y: HEAD + i * ROW }));
  const height = HEAD + placed.length * ROW + 24;
  const width = STEP_COL + lanes.length * LANE + TRACE_COL;
  const stepY = new Map<number, number>(); // step -> y of its row
  for (const p of placed) if (p.row.kind === 'step') stepY.set(p.row.s.step, p.y);
  const divergent = divergentStep(rec);

  // lock bars: for each thread, each lock's runs of consecutive steps
  const bars: Markup[] = [];
  lanes.forEach((lane) => {
    const slot = new Map<number, number>();
    const open = new Map<number, { from: number; write: boolean }>();
    const close = (lock: number, o: { from: number; write: boolean }, toY: number) => {
      const s = slot.get(lock)!;
      if (s >= SLOTS) return;
      const info = rec.locks[lock];
      bars.push(html`<rect class="lock" data-lock="${info.name}" x="${laneX(lane.id) + 2 + s * BAR}" y="${o.from}" width="${BAR - 1}" height="${Math.max(2, toY - o.from)}" fill="${LOCK_COLOUR[info.cls] ?? '#555'}" fill-opacity="${o.write ? 0.95 : 0.4}"><title>${`${lane.name} holds ${info.name} ${o.write ? 'exclusive' : 'shared'}`}</title></rect>`);
    };
    for (const p of placed) {
      if (p.row.kind !== 'step') continue;
      const held = p.row.s.held[lane.id];
      const now = new Map(held.map((h) => [h.lock, h.write]));
      for (const [lock, o] of open) {
        if (now.get(lock) !== o.write) {
          close(lock, o, p.y + ROW / 2);
          open.delete(lock);
        }
      }
      for (const h of held) {
        if (open.has(h.lock)) continue;
        if (!slot.has(h.lock)) slot.set(h.lock, slot.size);
        open.set(h.lock, { from: p.y + ROW / 2, write: h.write });
      }
    }
    for (const [lock, o] of open) close(lock, o, height - 24);
  });

  // sleeps and wakeups
  const sleeps: Markup[] = [];
  const asleep = new Map<number, { y: number; what: string }>();
  for (const p of placed) {
    if (p.row.kind !== 'step') continue;
    const s = p.row.s;
    for (const w of s.woke) {
      const from = asleep.get(w);
      const x = laneX(w) + LANE / 2;
      if (from) sleeps.push(html`<line class="sleep" x1="${x}" y1="${from.y}" x2="${x}" y2="${p.y + ROW / 2}"><title>${from.what}</title></line>`);
      asleep.delete(w);
      const x1 = laneX(s.tid) + (w > s.tid ? LANE - 6 : 18);
      const x2 = laneX(w) + (w > s.tid ? 18 : LANE - 6);
      sleeps.push(html`<path class="wake" d="M${x1} ${p.y + ROW / 2} L${x2} ${p.y + ROW / 2}" marker-end="url(#arrow)"><title>${`step ${s.step}: ${lanes[s.tid].name} wakes ${lanes[w].name}`}</title></path>`);
    }
    if (s.sleeps) asleep.set(s.tid, { y: p.y + ROW - 2, what: s.sleeps });
  }
  for (const [tid, from] of asleep) {
    const x = laneX(tid) + LANE / 2;
    sleeps.push(html`<line class="sleep" x1="${x}" y1="${from.y}" x2="${x}" y2="${height - 24}"><title>${`${from.what} (never woken)`}</title></line>`);
  }

  const body = placed.map(({ row, y }) => (row.kind === 'op' ? opRow(row.tid, row.text, y) : row.kind === 'end' ? endRow(row.step, y) : row.kind === 'fold' ? foldRow(row.from, row.to, y) : stepRow(row.s, y, row.s.step === divergent)));

  function foldRow(from: number, to: number, y: number): Markup {
    return html`<g class="fold" data-from="${from}" data-to="${to}"><text class="stepno" x="${STEP_COL - 6}" y="${y + 13}" text-anchor="end">⋮</text><text class="dim" x="${STEP_COL + 6}" y="${y + 13}">${`steps ${from}..${to} folded (${to - from + 1} steps): nothing a reviewer looks for; the whole trace is below`}</text></g>`;
  }

  // the divergence after the last step: no box, the band alone
  function endRow(step: number, y: number): Markup {
    const d = rec.divergence!;
    return html`<g class="step divergence" data-step="${step}" data-class="${d.class}"><rect x="0" y="${y}" width="${width}" height="${ROW}"><title>${`${d.class}: ${d.message}`}</title></rect><text class="stepno" x="${STEP_COL - 6}" y="${y + 13}" text-anchor="end">${step}</text><text class="mark" x="${STEP_COL + 6}" y="${y + 13}">${`✖ ${d.class}: ${endText(rec)}`}</text></g>`;
  }

  function opRow(tid: number, text: string, y: number): Markup {
    const x = boxX(tid);
    return html`<g class="op" data-thread="${lanes[tid].name}"><text x="${x}" y="${y + 13}">${`▸ ${fit(text, LANE - (x - laneX(tid)) - 2)}`}</text><text class="tracecol" x="${STEP_COL + lanes.length * LANE + 12}" y="${y + 13}">${fit(`${lanes[tid].name}: ${text}`, TRACE_COL - 16)}</text></g>`;
  }

  function stepRow(s: StepRecord, y: number, isDivergence: boolean): Markup {
    const x = boxX(s.tid);
    const w = laneX(s.tid) + LANE - 4 - x;
    const name = `${s.fn}:${s.label}`;
    const ret = s.result !== null ? ` = ${s.result}` : '';
    const access = s.events.some((e) => e.kind === 'access' || e.kind === 'iova');
    const tip = [`step ${s.step}: ${rec.lanes[s.tid].name} ${name}${ret}`, ...(s.op ? [s.op] : []), ...(s.sleeps ? [`sleeps: ${s.sleeps}`] : [])].join('\n');
    const cls = `box${s.result !== null ? ' returns' : ''}${access ? ' access' : ''}`;
    const inner = html`<text class="stepno" x="${STEP_COL - 6}" y="${y + 13}" text-anchor="end">${s.step}</text><rect class="${cls}" x="${x}" y="${y + 2}" width="${w}" height="${ROW - 4}" rx="3"><title>${tip}</title></rect><text x="${x + 3}" y="${y + 13}">${fit(s.label + ret, w - 5)}</text><text class="tracecol" x="${STEP_COL + lanes.length * LANE + 12}" y="${y + 13}">${fit(`${rec.lanes[s.tid].name.padEnd(8)}${name}${ret}`, TRACE_COL - 16)}</text>`;
    if (!isDivergence) return html`<g class="step" data-step="${s.step}">${inner}</g>`;
    const d = rec.divergence!;
    return html`<g class="step divergence" data-step="${s.step}" data-class="${d.class}"><rect x="0" y="${y}" width="${width}" height="${ROW}"><title>${`${d.class}: ${d.message}`}</title></rect>${inner}<text class="mark" x="${x + w + 6}" y="${y + 13}">${`✖ ${d.class}`}</text></g>`;
  }

  // a lasso's loop: a bracket beside the step numbers
  const loop = lassoLoop(rec);
  const loopMark = loop && stepY.has(loop[0]) && stepY.has(loop[1])
    ? html`<g class="loop"><path d="M6 ${stepY.get(loop[0])! + 3} h5 M6 ${stepY.get(loop[0])! + 3} V${stepY.get(loop[1])! + ROW - 3} h5" stroke="#6a1b9a" stroke-width="1.5" fill="none"/><title>${`steps ${loop[0]}..${loop[1]} repeat forever`}</title></g>`
    : '';

  const heads = lanes.map((l, i) => html`<g class="lane" data-thread="${l.name}" data-kind="${l.kind}"><rect class="lane-bg${i % 2 ? ' odd' : ''}" x="${laneX(i)}" y="0" width="${LANE}" height="${height}"/><text x="${laneX(i) + 6}" y="14">${fit(l.name, LANE - 8)}</text><text x="${laneX(i) + 6}" y="27" class="dim">${fit(laneTitle(rec, i).replace(/^\S+ /, ''), LANE - 8)}</text><title>${laneTitle(rec, i)}</title></g>`);
  return html`<svg class="${keep ? 'swimlane folded' : 'swimlane'}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${`interleaving of ${lanes.length} threads over ${rec.steps.length} steps`}">
<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L8 4 L0 8 z" fill="#6a1b9a"/></marker></defs>
<g class="head">${heads}<text x="${STEP_COL + lanes.length * LANE + 12}" y="14">kernel function:label, in step order</text></g>
${bars}
${sleeps}
${loopMark}
${body}
</svg>`;
}

export function lockLegend(rec: Recording): { cls: string; colour: string }[] {
  const seen = new Set(rec.steps.flatMap((s) => s.held.flat().map((h) => rec.locks[h.lock].cls)));
  return Object.entries(LOCK_COLOUR).filter(([cls]) => seen.has(cls)).map(([cls, colour]) => ({ cls, colour }));
}
