// One counterexample as a self-contained HTML page, in the order a
// reviewer reads: the title, the sentence that explains it, the causal
// chain, the config, the state difference, how to reproduce; then the
// interleaving folded to the steps that matter (the whole of it one click
// away), the blocks involved, the variant, the test case.  Nothing has a
// fixed height, so the page prints whole.

import { formatOp } from '../models/testcase.ts';
import { reproduction, type Counterexample } from '../fuzz/corpus.ts';
import { CLASSES } from '../properties/classes.ts';
import { html, page, STYLE } from './html.ts';
import type { Recording } from './record.ts';
import { blockStories, causalChain, compactJson, configText, iovaLines, laneTitle, provenance, realKernel, replayCommand, rows, stateChanges, stepsThatMatter, title, variantFacts } from './story.ts';
import { showValue } from './chain.ts';
import { INITIAL_CONTENT_RULE } from './resolve.ts';
import { lockLegend, swimlane, SWIMLANE_STYLE } from './swimlane.ts';

export function counterexamplePage(file: string, cx: Counterexample, rec: Recording): string {
  const repro = reproduction(cx, rec.run);
  const v = variantFacts(rec);
  const changes = stateChanges(rec);
  const stories = blockStories(rec);
  const iova = iovaLines(rec);
  const tc = cx.testCase;
  const real = realKernel(file, cx);
  const chain = causalChain(rec);
  const heading = title(cx, rec, chain);
  const keep = stepsThatMatter(rec, chain);
  const folded = rows(rec, keep).some((r) => r.kind === 'fold');
  // the sentence that explains it: the known bug's flag, or what the class means
  const bug = v.knownBug && v.flags.length === 1 ? v.flags[0].what : null;
  const body = html`
<h1>${heading}</h1>
<div class="dim" id="variant">${`${cx.variant.name}${rec.variant.kernel !== cx.variant.name ? ` on ${rec.variant.kernel}` : ''} (${v.contract} contract)${v.knownBug ? ` — known bug ${v.knownBug}` : ''}`}</div>
<div class="explain" id="explain">${bug ?? `${cx.divergence.class}: ${CLASSES[cx.divergence.class]}.`}</div>
${repro.reproduced ? '' : html`<div class="warn">This harness does not reproduce the recorded divergence (${cx.divergence.class} at step ${cx.divergence.step}): it meets ${repro.got}. The page shows the run as this harness replays it.</div>`}
<h2>What happened</h2>
<table class="mono" id="chain">
${chain.map((l) => html`<tr data-step="${l.step}"><td class="nowrap">${`step ${l.step}`}</td><td>${l.who}</td><td>${l.text}</td></tr>`)}
</table>
<div class="message" id="message">${cx.divergence.message}</div>
<table>
<tr><th>config</th><td id="config">${configText(tc)}</td></tr>
<tr><th>state</th><td id="state-diff">${changes.length === 0
    ? html`the reference and the implementation agree on what a user sees; what diverged is the mechanism (${CLASSES[cx.divergence.class]})`
    : html`<table class="mono diff">${changes.map((c) => html`<tr><td>${c.path}</td><td class="del">${showValue(rec, c.reference)}</td><td>→</td><td class="add">${showValue(rec, c.implementation)}</td></tr>`)}</table><span class="dim">reference → implementation${changes.some((c) => /\.(data|cow)\[/.test(c.path)) ? `; initial contents: ${INITIAL_CONTENT_RULE}` : ''}</span>`}</td></tr>
<tr><th>reproduce</th><td>${real.refusal ? html`<code>${replayCommand(file)}</code><br><span class="dim">${real.refusal}</span>` : html`<code>${real.commands[0]}</code> <span class="dim">(a C program for the real kernel)</span><br><code>${replayCommand(file)}</code>`}</td></tr>
<tr><th>real kernel</th><td>${real.verdict ? html`<b>${real.verdict}</b>${real.evidence.length ? html`<ul class="mono" style="margin:0;padding-left:18px">${real.evidence.map((e) => html`<li>${e}</li>`)}</ul>` : ''}` : html`<span class="dim">not run (daxcheck repro)</span>`}</td></tr>
<tr><th>found by</th><td>${provenance(cx)}; ${cx.divergence.class} at step ${cx.divergence.step} of ${cx.length} <span class="dim">(${rec.steps.length} steps replayed)</span></td></tr>
<tr><th>file</th><td><code>${file}</code></td></tr>
</table>

<h2>Interleaving</h2>
<p class="dim">One lane per thread, time running down. Boxes are steps, named by kernel function label (full names in the right column; hover for details). Bars at the left of a lane are locks held
${lockLegend(rec).map((l) => html` <span class="tag" style="${`background:${l.colour};color:#fff`}">${l.cls}</span>`)}, solid when exclusive and pale when shared. Dashed lines are sleeps; arrows are wakeups. Outlined boxes touched a page by DMA or store. The red band is where the run diverged.${folded ? ' Runs of steps that changed nothing a reviewer looks for are folded; the whole trace is below.' : ''}</p>
<div class="wide">${swimlane(rec, folded ? keep : undefined)}</div>
${folded ? html`<details id="full-trace"><summary>${`the whole trace, all ${rec.steps.length} steps`}</summary><div class="wide">${swimlane(rec)}</div></details>` : ''}
${rec.waits.length ? html`<p><b>Asleep at the end:</b></p><ul>${rec.waits.map((w) => html`<li>${w}</li>`)}</ul>` : ''}

<h2>Pages and blocks involved</h2>
${stories.length === 0 && iova.length === 0 ? html`<p>No DMA or store reached a file page, and no block changed hands.</p>` : ''}
${stories.map((s) => html`<h3>${s.name}</h3>
<table class="mono">
${s.lines.map((l) => html`<tr class="${l.wrong ? 'divergent' : ''}"><td>${l.step === null ? 'start' : `step ${l.step}`}</td><td>${l.text}</td><td class="dim">${l.by}</td></tr>`)}
</table>`)}
${iova.length ? html`<h3>DMA by IOVA</h3><table class="mono">${iova.map((a) => html`<tr class="${a.wrong ? 'divergent' : ''}"><td>step ${a.step}</td><td>${a.text}</td></tr>`)}</table>` : ''}

<details id="states"><summary>the two abstract states, whole</summary>
<div class="cols">
<div><h3>reference (the promise)</h3><pre id="reference">${compactJson(rec.reference)}</pre></div>
<div><h3>implementation, abstracted</h3><pre id="implementation">${compactJson(rec.implementation)}</pre></div>
</div>
</details>

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
${tc.threads.map((t, i) => html`<tr><th>${laneTitle(rec, i)}</th><td>${t.ops.map(formatOp).join('; ')}${t.loop ? ' (repeats)' : ''}</td></tr>`)}
${tc.nic.length ? html`<tr><th>nic</th><td>${tc.nic.map(formatOp).join('; ')}</td></tr>` : ''}
<tr><th>schedule</th><td>${tc.schedule.join(' ') || '(empty)'}${tc.cycle.length ? ` | tail cycle ${tc.cycle.join(' ')}` : ''}${tc.repeatFrom !== undefined && tc.repeatFrom >= 0 ? ` | repeats from ${tc.repeatFrom}` : ''}</td></tr>
</table>`;
  return page(heading, STYLE + SWIMLANE_STYLE, body);
}
