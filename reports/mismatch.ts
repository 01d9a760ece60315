// A kernel-mismatch file (daxcheck conform) as a page or as text: the
// program, the model's outcome and the kernel's, and for a concurrent
// section (conform --threads) its history drawn as a timeline, each
// operation a bar from its call to its return, so which overlapped which
// can be read off.

import { formatOp } from '../models/testcase.ts';
import type { Mismatch } from '../fuzz/conform.ts';
import { timeline } from '../fuzz/threads.ts';
import { html, page, STYLE, type Markup } from './html.ts';
import { wrap } from './text.ts';

const LANE = 34;
const LEFT = 60;
const WIDTH = 760;

function timelineSvg(h: NonNullable<Mismatch['history']>): Markup {
  const t0 = Math.min(...h.ops.map((o) => o.call).filter((x) => x >= 0));
  const t1 = Math.max(...h.ops.map((o) => (o.ret >= 0 ? o.ret : o.call)));
  const span = Math.max(1, t1 - t0);
  const x = (t: number) => LEFT + ((t - t0) / span) * (WIDTH - LEFT - 20);
  const threads = [...new Set(h.ops.map((o) => o.thread))].sort((a, b) => a - b);
  const y = (th: number) => 10 + threads.indexOf(th) * LANE;
  const height = 20 + threads.length * LANE + 16;
  return html`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" role="img" aria-label="timeline of the section">
${threads.map((th) => html`<text x="4" y="${y(th) + 16}" font-size="12">T${th}</text><line x1="${LEFT}" y1="${y(th) + 12}" x2="${WIDTH - 20}" y2="${y(th) + 12}" stroke="#ddd"/>`)}
${h.ops.map((o, i) => {
    if (o.call < 0) return '';
    const a = x(o.call);
    const b = o.ret >= 0 ? x(o.ret) : WIDTH - 20;
    const wrong = o.ret < 0;
    return html`<g><title>${`${i}: ${o.text} -> ${o.got}, ${(o.call / 1e6).toFixed(3)} ms .. ${o.ret >= 0 ? `${(o.ret / 1e6).toFixed(3)} ms` : 'no return'}`}</title><rect x="${a.toFixed(1)}" y="${y(o.thread) + 2}" width="${Math.max(2, b - a).toFixed(1)}" height="20" rx="3" fill="${wrong ? '#f3c2c2' : '#cfe0f5'}" stroke="${wrong ? '#b00' : '#3b6ea8'}" ${wrong ? html`stroke-dasharray="4 3"` : ''}/><text x="${(a + 3).toFixed(1)}" y="${y(o.thread) + 16}" font-size="11">${`${i} ${o.text.split('(')[0]}`}</text></g>`;
  })}
<text x="${LEFT}" y="${height - 4}" font-size="10" fill="#666">0 ms</text><text x="${WIDTH - 80}" y="${height - 4}" font-size="10" fill="#666">${`${(span / 1e6).toFixed(3)} ms`}</text>
</svg>`;
}

export function mismatchPage(file: string, m: Mismatch): string {
  const h = m.history;
  const body = html`
<h1>${`kernel-mismatch on ${m.kernel} (model: ${m.variant})`}</h1>
<div class="message" id="message">${`${m.opText}: the model says ${m.expected}, the kernel ${m.observed}`}</div>
<table>
<tr><th>listed</th><td>${m.listed ? 'yes: docs/fidelity.md lists it as a deliberate abstraction' : 'no'}</td></tr>
<tr><th>file</th><td><code>${file}</code></td></tr>
</table>
${h ? html`<h2>The section as the kernel ran it</h2>
<p class="dim">One lane per thread, time running right; each bar is one operation from its call to its return (hover for the times). A dashed red bar never returned.</p>
<div class="wide" id="timeline">${timelineSvg(h)}</div>
<table class="mono">
<tr><th>op</th><th>thread</th><th>operation</th><th>kernel</th><th>called</th><th>returned</th></tr>
${h.ops.map((o, i) => html`<tr class="${o.ret < 0 ? 'divergent' : ''}"><td>${i}</td><td>T${o.thread}</td><td>${o.text}</td><td>${o.got}</td><td>${(o.call / 1e6).toFixed(3)} ms</td><td>${o.ret >= 0 ? `${(o.ret / 1e6).toFixed(3)} ms` : 'no return'}</td></tr>`)}
</table>
<p>${h.longest.length ? `The longest order the reference explains: ${h.longest.join(', ')}.` : 'No operation could be placed first.'}${h.files.length ? ` The kernel's files at the end: ${h.files.join('; ')}.` : ''}</p>
${h.stacks.length ? html`<h3>Kernel stacks</h3><pre>${h.stacks.join('\n')}</pre>` : ''}` : ''}
<h2>Program</h2>
<table class="mono">
${m.testCase.threads.map((t, i) => html`<tr><th>${h ? (i === 0 ? 'prologue' : `T${i}`) : `T${i}`}</th><td>${t.ops.map(formatOp).join('; ')}</td></tr>`)}
${m.testCase.nic.length ? html`<tr><th>nic</th><td>${m.testCase.nic.map(formatOp).join('; ')}</td></tr>` : ''}
</table>
`;
  return page(`kernel-mismatch: ${m.opText}`, STYLE, body);
}

export function mismatchText(file: string, m: Mismatch): string {
  const out = [`kernel-mismatch on ${m.kernel} (model: ${m.variant})${m.listed ? ', listed in docs/fidelity.md' : ''}`, ''];
  out.push(...wrap(`${m.opText}: the model says ${m.expected}, the kernel ${m.observed}`));
  if (m.history) {
    out.push('', 'The section as the kernel ran it:', '', ...timeline(m.history).map((l) => `  ${l}`));
    if (m.history.longest.length) out.push('', ...wrap(`The longest order the reference explains: ${m.history.longest.join(', ')}`));
    if (m.history.files.length) out.push(...wrap(`The kernel's files at the end: ${m.history.files.join('; ')}`));
    if (m.history.stacks.length) out.push('', 'Kernel stacks:', ...m.history.stacks.map((l) => `  ${l}`));
  }
  out.push('', 'Program:');
  m.testCase.threads.forEach((t, i) => out.push(...wrap(t.ops.map(formatOp).join('; '), `  ${(m.history ? (i === 0 ? 'prologue' : `T${i}`) : `T${i}`).padEnd(9)}`, ' '.repeat(11))));
  out.push('', `File: ${file}`);
  return out.join('\n') + '\n';
}
