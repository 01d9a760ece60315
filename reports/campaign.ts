// A campaign folder (or any folder of counterexamples, such as the
// repository's corpus/) as one page: what diverged, by variant and class,
// new or already in corpus/, the campaign's speed over time, and a link
// to each counterexample's page.

import type { Summary } from '../fuzz/campaign.ts';
import { html, page, STYLE, type Markup } from './html.ts';
import { shorten } from './story.ts';

export interface IndexEntry {
  variant: string;
  cls: string;
  title: string; // the stable title (story.ts)
  message: string;
  length: number;
  href: string; // relative link to the counterexample's page
  file: string; // the counterexample file, as given
  isNew: boolean; // the repository's corpus/ does not hold this (variant, class)
  expectClean: boolean; // a clean variant: any divergence is a regression
  reproduced: boolean;
  realKernel: string | null; // daxcheck repro's verdict, when it has been run
  firstAtMs: number | null;
  hits: number | null;
}

const CHART_W = 520;
const CHART_H = 150;

// One rate (runs or steps per second) between the timeline's points.
function chart(name: string, points: [number, number][]): Markup {
  if (points.length < 2) return html``;
  const rates: [number, number][] = [];
  for (let i = 1; i < points.length; i++) {
    const dt = (points[i][0] - points[i - 1][0]) / 1000;
    if (dt > 0) rates.push([points[i][0] / 1000, (points[i][1] - points[i - 1][1]) / dt]);
  }
  if (rates.length === 0) return html``;
  const maxT = Math.max(...rates.map((r) => r[0]));
  const maxY = Math.max(1, ...rates.map((r) => r[1]));
  const L = 64;
  const B = 22;
  const x = (t: number) => L + (t / maxT) * (CHART_W - L - 10);
  const y = (v: number) => CHART_H - B - (v / maxY) * (CHART_H - B - 10);
  const path = rates.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)} ${y(v).toFixed(1)}`).join(' ');
  const fmt = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0));
  return html`<figure style="margin:0 16px 0 0;display:inline-block"><svg class="chart" data-series="${name}" width="${CHART_W}" height="${CHART_H}" viewBox="0 0 ${CHART_W} ${CHART_H}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${name} over time" style="font:10px sans-serif">
<line x1="${L}" y1="${CHART_H - B}" x2="${CHART_W - 10}" y2="${CHART_H - B}" stroke="#999"/><line x1="${L}" y1="10" x2="${L}" y2="${CHART_H - B}" stroke="#999"/>
<text x="${L - 4}" y="14" text-anchor="end">${fmt(maxY)}</text><text x="${L - 4}" y="${CHART_H - B}" text-anchor="end">0</text>
<text x="${L}" y="${CHART_H - 6}">0 s</text><text x="${CHART_W - 10}" y="${CHART_H - 6}" text-anchor="end">${`${maxT.toFixed(0)} s`}</text>
<path d="${path}" fill="none" stroke="#1565c0" stroke-width="1.6"/>
</svg><figcaption class="dim">${name}</figcaption></figure>`;
}

export function indexPage(dir: string, summary: Summary | null, entries: IndexEntry[], variants: { name: string; expectClean: boolean }[]): string {
  const titleText = summary ? `daxcheck campaign ${dir}: ${entries.length} divergences` : `daxcheck corpus ${dir}: ${entries.length} counterexamples`;
  const byVariant = new Map<string, IndexEntry[]>();
  for (const e of entries) byVariant.set(e.variant, [...(byVariant.get(e.variant) ?? []), e]);
  // one row per title: counterexamples of one bug found at one point are
  // one divergence; the shortest leads, the others are linked beside it
  const byTitle = new Map<string, IndexEntry[]>();
  for (const e of entries) byTitle.set(`${e.variant}\0${e.title}`, [...(byTitle.get(`${e.variant}\0${e.title}`) ?? []), e]);
  const rows = [...byVariant.values()].flatMap((list) => [...new Set(list.map((e) => `${e.variant}\0${e.title}`))].map((key) => byTitle.get(key)!.sort((a, b) => a.length - b.length)));
  const quiet = variants.filter((v) => !byVariant.has(v.name));
  const regressions = entries.filter((e) => e.expectClean);
  const fresh = entries.filter((e) => e.isNew);
  const s = summary;
  const body = html`
<h1>${titleText}</h1>
${regressions.length ? html`<div class="message">A clean variant diverged: ${[...new Set(regressions.map((e) => e.variant))].join(', ')}.</div>` : ''}
${s ? html`<table>
<tr><th>runs</th><td>${s.runs.toLocaleString('en-US')} (${s.steps.toLocaleString('en-US')} steps, ${s.stepsPerSecond.toLocaleString('en-US')} steps/s on ${s.workers} workers)</td></tr>
<tr><th>time</th><td>${`${(s.elapsedMs / 1000).toFixed(1)} s over ${s.sessions} session${s.sessions === 1 ? '' : 's'}${s.interrupted ? ', interrupted' : ''}${s.exhausted ? ', run budget exhausted' : ''}; started ${s.started}`}</td></tr>
<tr><th>plan</th><td>${`seed ${s.plan.seed}; engines ${s.plan.engines.join(', ')}; ${s.plan.variants.length} variants; shards ${s.shards.join(', ') || 'all'}`}</td></tr>
${s.pct ? html`<tr><th>PCT</th><td>${`depths ${s.pct.depths.join(', ')}; for the median run (${s.pct.threads} threads, ${s.pct.steps} scheduling points) the probability bound per run is ${Object.entries(s.pct.bounds).map(([d, b]) => `${b.toExponential(2)} at ${d.replace(/^depth/, "depth ")}`).join(', ')}`}</td></tr>` : ''}
</table>` : ''}
<p>${`${entries.length} counterexample${entries.length === 1 ? '' : 's'}, ${fresh.length} new (not yet in corpus/); ${rows.length} distinct by variant and title.`}</p>

${s && s.timeline.length >= 2 ? html`<h2>Speed over time</h2>${chart('runs per second', s.timeline.map((p) => [p[0], p[1]]))}${chart('steps per second', s.timeline.map((p) => [p[0], p[2]]))}` : ''}

<h2>Divergences by variant and title</h2>
<table id="divergences">
<tr><th>variant</th><th>title</th><th></th><th>steps</th>${s ? html`<th>first at</th><th>hits</th>` : ''}<th>real kernel</th><th>message</th></tr>
${rows.map(([e, ...more]) => html`<tr class="${e.expectClean ? 'divergent' : ''}">
<td>${e.variant}${e.expectClean ? html` <span class="bad">(clean variant)</span>` : ''}</td>
<td><a href="${e.href}">${e.title}</a>${more.length ? html`<br><span class="dim">the same, longer:</span> ${more.map((o, i) => html`${i ? ', ' : ''}<a class="also" href="${o.href}">${`${o.length} steps`}</a>`)}` : ''}</td>
<td class="nowrap">${e.isNew ? html`<span class="tag new">NEW</span>` : html`<span class="tag known">in corpus/</span>`}${e.reproduced ? '' : html` <span class="bad">not reproduced</span>`}</td>
<td>${e.length}</td>
${s ? html`<td>${e.firstAtMs === null ? '' : `${(e.firstAtMs / 1000).toFixed(1)} s`}</td><td>${e.hits ?? ''}</td>` : ''}
<td class="nowrap">${e.realKernel ?? html`<span class="dim">not run</span>`}</td>
<td>${shorten(e.message, 110)}</td>
</tr>`)}
</table>
${quiet.length ? html`<p><b>No divergence:</b> ${quiet.map((v, i) => html`${i ? ', ' : ''}${v.name}${v.expectClean ? ' (clean)' : ''}`)}</p>` : ''}`;
  return page(titleText, STYLE, body);
}
