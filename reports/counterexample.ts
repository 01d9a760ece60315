// One counterexample as a self-contained HTML page: title, message and
// replay command first, then the interleaving, the two abstract states
// and their difference, the blocks involved, the variant, the test case.

import { formatOp } from '../models/testcase.ts';
import { reproduction, type Counterexample } from '../fuzz/corpus.ts';
import { CLASSES } from '../properties/classes.ts';
import { html, page, STYLE } from './html.ts';
import type { Recording } from './record.ts';
import { blockStories, causalChain, compactJson, iovaLines, laneTitle, provenance, realKernel, replayCommand, stateDiff, title, variantFacts } from './story.ts';
import { lockLegend, swimlane, SWIMLANE_STYLE } from './swimlane.ts';

export function counterexamplePage(file: string, cx: Counterexample, rec: Recording): string {
  const repro = reproduction(cx, rec.run);
  const v = variantFacts(rec);
  const diff = stateDiff(rec);
  const stories = blockStories(rec);
  const iova = iovaLines(rec);
  const tc = cx.testCase;
  const real = realKernel(file, cx);
  const chain = causalChain(rec);
  const heading = title(cx, rec, chain);
  const body = html`
<h1>${heading}</h1>
<div class="dim" id="variant">${`${cx.variant.name}: ${cx.divergence.class}`}</div>
<div class="message" id="message">${cx.divergence.message}</div>
${chain.length ? html`<h2>What happened</h2>
<table class="mono" id="chain">
${chain.map((l) => html`<tr><td>step ${l.step}</td><td>${l.who}</td><td>${l.text}</td></tr>`)}
</table>` : ''}
${repro.reproduced ? '' : html`<div class="warn">This harness does not reproduce the recorded divergence (${cx.divergence.class} at step ${cx.divergence.step}): it meets ${repro.got}. The page shows the run as this harness replays it.</div>`}
<table>
<tr><th>replay</th><td><code>${replayCommand(file)}</code></td></tr>
<tr><th>real kernel</th><td>${real.verdict ? html`<b>${real.verdict}</b>${real.evidence.length ? html`<ul class="mono" style="margin:0;padding-left:18px">${real.evidence.map((e) => html`<li>${e}</li>`)}</ul>` : ''}` : html`<span class="dim">not run (daxcheck repro)</span>`}${real.refusal ? html`<br><span class="dim">${real.refusal}</span>` : html`<br><code>${real.commands[0]}</code>`}</td></tr>
<tr><th>divergence</th><td>${cx.divergence.class} at step ${cx.divergence.step} of ${cx.length} <span class="dim">(${rec.steps.length} steps replayed)</span></td></tr>
<tr><th>found by</th><td>${provenance(cx)}</td></tr>
<tr><th>file</th><td><code>${file}</code></td></tr>
</table>

<h2>Pages and blocks involved</h2>
${stories.length === 0 && iova.length === 0 ? html`<p>No DMA or store reached a file page, and no block changed hands.</p>` : ''}
${stories.map((s) => html`<h3>${s.name}</h3>
<table class="mono">
${s.lines.map((l) => html`<tr class="${l.wrong ? 'divergent' : ''}"><td>${l.step === null ? 'start' : `step ${l.step}`}</td><td>${l.text}</td><td class="dim">${l.by}</td></tr>`)}
</table>`)}
${iova.length ? html`<h3>DMA by IOVA</h3><table class="mono">${iova.map((a) => html`<tr class="${a.wrong ? 'divergent' : ''}"><td>step ${a.step}</td><td>${a.text}</td></tr>`)}</table>` : ''}

<h2>Interleaving</h2>
<p class="dim">One lane per thread, time running down. Boxes are steps, named by kernel function label (full names in the right column; hover for details). Bars at the left of a lane are locks held
${lockLegend(rec).map((l) => html` <span class="tag" style="${`background:${l.colour};color:#fff`}">${l.cls}</span>`)}, solid when exclusive and pale when shared. Dashed lines are sleeps; arrows are wakeups. Outlined boxes touched a page by DMA or store. The red band is where the run diverged.</p>
<div class="scroll">${swimlane(rec)}</div>
${rec.waits.length ? html`<p><b>Asleep at the end:</b></p><ul>${rec.waits.map((w) => html`<li>${w}</li>`)}</ul>` : ''}

<h2>Abstract state at the divergence</h2>
${diff.length === 0
    ? html`<p>The reference and the implementation agree on what a user can observe here; what diverged is in the mechanism: ${CLASSES[cx.divergence.class]}.</p>`
    : html`<p>json-diff of the reference (<span class="diff"><span class="del" style="display:inline">−</span></span>) against the implementation (<span class="diff"><span class="add" style="display:inline">+</span></span>):</p>
<pre class="diff" id="state-diff">${diff.map((l) => html`<span class="${l.sign === '+' ? 'add' : l.sign === '-' ? 'del' : ''}">${`${l.sign}${l.text}`}</span>`)}</pre>`}
<div class="cols">
<div><h3>reference (the promise)</h3><pre id="reference">${compactJson(rec.reference)}</pre></div>
<div><h3>implementation, abstracted</h3><pre id="implementation">${compactJson(rec.implementation)}</pre></div>
</div>

<h2>Variant ${v.name}</h2>
<table>
${v.knownBug ? html`<tr><th>known bug</th><td>${v.knownBug}</td></tr>` : ''}
<tr><th>contract</th><td>${v.contract}</td></tr>
<tr><th>flags</th><td>${v.flags.length ? html`<ul style="margin:0;padding-left:18px">${v.flags.map((f) => html`<li><code>${f.name}</code>: ${f.what}</li>`)}</ul>` : 'none (a clean variant)'}</td></tr>
<tr><th>follows</th><td>${v.follows || html`<span class="dim">not a variant of this catalog</span>`}</td></tr>
${v.summary ? html`<tr><th>summary</th><td>${v.summary}</td></tr>` : ''}
</table>

<h2>Test case</h2>
<table class="mono">
<tr><th>config</th><td>${`${tc.config.blocks} blocks, lease-break-time ${tc.config.leaseBreakTime}; files: ${tc.config.files.map((f, i) => `${i}: owner ${f.owner}, ${f.size} pages${f.dax ? ', DAX' : ''}${f.reflink ? ', reflinked' : ''}${f.sparse ? ', sparse' : ''}`).join('; ')}; processes: ${tc.config.procs.map((p, i) => `${i}: uid ${p.uid}${p.capLease ? ', CAP_LEASE' : ''}${p.capImmutable ? ', CAP_LINUX_IMMUTABLE' : ''}`).join('; ')}`}</td></tr>
${tc.threads.map((t, i) => html`<tr><th>${laneTitle(rec, i)}</th><td>${t.ops.map(formatOp).join('; ')}${t.loop ? ' (repeats)' : ''}</td></tr>`)}
${tc.nic.length ? html`<tr><th>nic</th><td>${tc.nic.map(formatOp).join('; ')}</td></tr>` : ''}
${tc.faults.length ? html`<tr><th>faults</th><td>${tc.faults.map((f) => `${f.kind === 'signal' ? 'signal at interruptible sleep' : 'allocation failure at allocation'} ${f.nth} of T${f.thread}`).join('; ')}</td></tr>` : ''}
<tr><th>schedule</th><td>${tc.schedule.join(' ') || '(empty)'}${tc.cycle.length ? ` | tail cycle ${tc.cycle.join(' ')}` : ''}${tc.repeatFrom !== undefined && tc.repeatFrom >= 0 ? ` | repeats from ${tc.repeatFrom}` : ''}</td></tr>
</table>`;
  return page(heading, STYLE + SWIMLANE_STYLE, body);
}
