// A counterexample as a plain-text report for a mailing-list reply: no
// line longer than 72 characters, laid out like a kernel bug report
// (title, what it ran on, the numbered trace, the state difference, how
// to reproduce).

import { formatOp } from '../models/testcase.ts';
import { gzipSync } from 'node:zlib';
import { reproduction, type Counterexample } from '../fuzz/corpus.ts';
import type { Recording } from './record.ts';
import { blockStories, causalChain, configText, divergentStep, endText, iovaLines, laneTitle, provenance, realKernel, replayCommand, rows, stateChanges, stateDiff, title, variantFacts } from './story.ts';
import { showValue } from './chain.ts';
import { INITIAL_CONTENT_RULE } from './resolve.ts';

export const WIDTH = 72;

// Breaks `text` at spaces into lines of at most `width` characters, the
// first starting with `first` and the rest with `rest` (their indents).
// A word longer than a line is cut.
export function wrap(text: string, first = '', rest = first, width = WIDTH): string[] {
  const out: string[] = [];
  let line = first;
  let fresh = true; // nothing but the indent on `line` yet
  const room = () => width - line.length;
  for (let word of text.split(/\s+/).filter(Boolean)) {
    if (!fresh && word.length + 1 > room()) {
      out.push(line);
      line = rest;
      fresh = true;
    }
    while (word.length > room() - (fresh ? 0 : 1)) {
      const cut = Math.max(1, room() - (fresh ? 0 : 1));
      line += (fresh ? '' : ' ') + word.slice(0, cut);
      out.push(line);
      line = rest;
      fresh = true;
      word = word.slice(cut);
    }
    if (word) {
      line += (fresh ? '' : ' ') + word;
      fresh = false;
    }
  }
  if (!fresh || out.length === 0) out.push(line);
  return out;
}

// A preformatted line (a diff, the trace) wider than a line continues on
// the next, indented under its start.
function fold(line: string, width = WIDTH): string[] {
  if (line.length <= width) return [line];
  const indent = ' '.repeat(Math.min(line.length - line.trimStart().length + 4, 24));
  const out = [line.slice(0, width)];
  for (let rest = line.slice(width); rest.length; rest = rest.slice(width - indent.length)) out.push(indent + rest.slice(0, width - indent.length));
  return out;
}

function field(name: string, value: string): string[] {
  return wrap(value, `${name.padEnd(10)} `, ' '.repeat(11));
}

// The report a reviewer reads in a minute, at most LINES lines: the
// title, what it ran on, the configuration, the causal chain, the state
// difference, how to reproduce (with the counterexample itself as a
// heredoc when it fits, since the reader has no copy of the file).
// `full` adds the whole trace, the blocks' stories and the test case,
// and always embeds the counterexample.
export const LINES = 40;

export function textReport(file: string, cx: Counterexample, rec: Recording, full = false): string {
  const v = variantFacts(rec);
  const repro = reproduction(cx, rec.run);
  const chain = causalChain(rec);
  const head: string[] = [];
  head.push(...wrap(title(cx, rec, chain), '', '    '));
  head.push('');
  // a known bug's title, or the first clause of the variant's summary
  const about = v.knownBug?.replace(`${v.name}: `, '') ?? (v.summary ? v.summary.split(/[:;] /)[0] : v.flags.length ? `flags ${v.flags.map((f) => f.name).join(', ')}` : 'a variant outside the catalog');
  head.push(...wrap(`${v.name}${rec.variant.kernel !== v.name ? ` on ${rec.variant.kernel}` : ''} (${v.contract} contract): ${about}`, '', '  '));
  head.push(...wrap(`config: ${configText(rec.testCase)}`, '', '  '));
  if (!repro.reproduced) head.push(...wrap(`NOTE: this harness does not reproduce the recorded divergence; it meets ${repro.got}.`));
  head.push('What happened:');
  for (const l of chain) head.push(...wrap(`${l.who}: ${l.text}`, `  ${String(l.step).padStart(4)} `, ' '.repeat(7)));
  head.push('');
  const changes = stateChanges(rec);
  const diff: string[] = [];
  if (changes.length === 0) diff.push(...wrap(`State: the reference and the implementation agree on what a user sees; it is the mechanism that diverged (${cx.divergence.class}).`));
  else {
    diff.push('State difference (reference -> implementation):');
    for (const c of changes) diff.push(...wrap(`${c.path}: ${showValue(rec, c.reference)} -> ${showValue(rec, c.implementation)}`, '  ', '      '));
    if (changes.some((c) => /\.(data|cow)\[/.test(c.path))) diff.push(...wrap(`(initial contents: ${INITIAL_CONTENT_RULE})`, '  ', '  '));
  }
  const real = realKernel(file, cx);
  const tail: string[] = [''];
  if (real.verdict) tail.push(...wrap(`Real kernel: ${real.verdict}`, '', '  '));
  tail.push('Reproduce, with the counterexample as cx.json:');
  tail.push(...shellLines(real.refusal ? 'daxcheck replay cx.json --trace' : 'daxcheck csource cx.json -o repro.c', '  '));
  const embed = embedded(cx);
  const room = LINES - head.length - tail.length;
  const out = [...head];
  if (full || diff.length + embed.length + 1 <= room) out.push(...diff, ...tail, '', ...embed);
  else {
    const keep = Math.max(2, room - 1);
    out.push(...(diff.length <= keep ? diff : [...diff.slice(0, keep - 1), `  (${diff.length - keep + 1} more lines: --full)`]));
    out.push(...tail, '  (cx.json: the counterexample file; --full embeds it)');
  }
  if (full) out.push(...details(file, cx, rec));
  return out.join('\n') + '\n';
}

// The counterexample file as a heredoc that writes cx.json: gzip, then
// base64, of the file without what replay does not read.
export function embedded(cx: Counterexample): string[] {
  const flags = Object.fromEntries(Object.entries(cx.variant.flags).filter(([, on]) => on));
  const lean = { ...cx, variant: { ...cx.variant, flags }, divergence: { ...cx.divergence, message: '' }, fastCheck: null, search: undefined };
  const b64 = gzipSync(JSON.stringify(lean), { level: 9 }).toString('base64');
  const lines: string[] = ["  base64 -d <<'EOF' | gunzip > cx.json"];
  for (let i = 0; i < b64.length; i += 68) lines.push(`  ${b64.slice(i, i + 68)}`);
  lines.push('  EOF');
  return lines;
}

// --full: the complete trace, the pages involved, the test case.
function details(file: string, cx: Counterexample, rec: Recording): string[] {
  const out: string[] = [''];
  const v = variantFacts(rec);
  for (const f of v.flags) out.push(...field('flag:', `${f.name}: ${f.what}`));
  if (v.follows) out.push(...field('follows:', `seed ${v.follows}`));
  out.push(...field('found by:', provenance(cx)));
  out.push(...field('threads:', rec.lanes.map((l) => laneTitle(rec, l.id)).join(', ')));
  out.push(...wrap(`${cx.variant.name}: ${cx.divergence.message}`));
  out.push('');
  out.push(...wrap(`Trace (${rec.steps.length} steps; step, thread, kernel function:label; "=" is what the operation returned):`));
  out.push('');
  const divergent = divergentStep(rec);
  for (const row of rows(rec)) {
    if (row.kind === 'op') {
      out.push(...wrap(row.text, `${' '.repeat(7)}${rec.lanes[row.tid].name.padEnd(8)}> `, ' '.repeat(17)));
      continue;
    }
    if (row.kind === 'fold') continue; // not folded here
    if (row.kind === 'end') {
      out.push(...wrap(`(${endText(rec)})`, `>>${String(row.step).padStart(4)} `, ' '.repeat(8)));
      continue;
    }
    const s = row.s;
    const mark = s.step === divergent ? '>>' : '  ';
    const ret = s.result !== null ? ` = ${s.result}` : '';
    out.push(...fold(`${mark}${String(s.step).padStart(4)} ${rec.lanes[s.tid].name.padEnd(8)}${s.fn}:${s.label}${ret}`));
    if (s.sleeps) out.push(...wrap(`(${s.sleeps})`, ' '.repeat(16), ' '.repeat(17)));
    for (const w of s.woke) out.push(...wrap(`(wakes ${rec.lanes[w].name})`, ' '.repeat(16)));
  }
  if (rec.divergence) {
    out.push('');
    out.push(...wrap(`${rec.divergence.class} at step ${rec.divergence.step}: ${rec.divergence.message}`, '', '    '));
  }
  if (rec.waits.length) {
    out.push('');
    out.push('Asleep at the end:');
    for (const w of rec.waits) out.push(...wrap(w, '  - ', '    '));
  }

  out.push('');
  const diff = stateDiff(rec);
  if (diff.length) {
    out.push('');
    out.push(...wrap('The abstract states at the divergence, json-diff (- reference, + implementation):'));
    out.push('');
    for (const l of diff) out.push(...fold(`${l.sign} ${l.text}`));
  }
  const stories = blockStories(rec);
  const iova = iovaLines(rec);
  if (stories.length || iova.length) {
    out.push('');
    out.push('Pages and blocks involved:');
    for (const s of stories) {
      out.push('');
      for (const l of s.lines) {
        const at = `${l.wrong ? '!' : ' '} ${(l.step === null ? 'start' : `step ${l.step}`).padEnd(10)} `;
        out.push(...wrap(`${l.text}${l.step === null ? '' : ` (${l.by})`}${l.wrong ? '  <--' : ''}`, at, ' '.repeat(13)));
      }
    }
    if (iova.length) out.push('');
    for (const a of iova) out.push(...wrap(`${a.text}${a.wrong ? '  <--' : ''}`, `${a.wrong ? '!' : ' '} ${`step ${a.step}`.padEnd(10)} `, ' '.repeat(13)));
  }

  out.push('');
  out.push('Test case:');
  rec.testCase.threads.forEach((t, i) => out.push(...wrap(`${t.ops.map(formatOp).join('; ')}${t.loop ? ' (repeats)' : ''}`, `  ${rec.lanes[i].name.padEnd(8)}`, ' '.repeat(10))));
  if (rec.testCase.nic.length) out.push(...wrap(rec.testCase.nic.map(formatOp).join('; '), `  ${'nic'.padEnd(8)}`, ' '.repeat(10)));
  out.push('');
  out.push('Reproduce with:');
  out.push('');
  out.push(...shellLines(replayCommand(file)));
  const real = realKernel(file, cx);
  out.push('');
  out.push('On a real kernel:');
  out.push('');
  if (real.verdict) {
    out.push(...wrap(real.verdict, '  '));
    for (const e of real.evidence) out.push(...wrap(e, '    ', '      '));
    out.push('');
  }
  if (real.refusal) out.push(...wrap(real.refusal, '  '));
  else for (const c of real.commands) out.push(...shellLines(c));
  return out;
}


// A command that stays pasteable however it is broken: when it does not
// fit, one word a line ending in " \\", and a word too long for a line
// cut with a backslash-newline, which the shell removes.
export function shellLines(cmd: string, indent = '  ', width = WIDTH): string[] {
  if (indent.length + cmd.length <= width) return [indent + cmd];
  const words = cmd.split(' ');
  const out: string[] = [];
  words.forEach((w, i) => {
    const lead = i === 0 ? indent : `${indent}  `;
    const tail = i === words.length - 1 ? '' : ' \\';
    let line = lead;
    while (line.length + w.length + tail.length > width) {
      const cut = Math.max(1, width - line.length - 1);
      out.push(`${line}${w.slice(0, cut)}\\`);
      w = w.slice(cut);
      line = '';
    }
    out.push(line + w + tail);
  });
  return out;
}
