// A counterexample as a plain-text report for a mailing-list reply: no
// line longer than 72 characters, laid out like a kernel bug report
// (title, what it ran on, the numbered trace, the state difference, how
// to reproduce).

import { formatOp } from '../models/testcase.ts';
import { reproduction, type Counterexample } from '../fuzz/corpus.ts';
import { CLASSES } from '../properties/classes.ts';
import type { Recording } from './record.ts';
import { blockStories, causalChain, divergentStep, endText, iovaLines, laneTitle, provenance, realKernel, replayCommand, rows, stateDiff, title, variantFacts } from './story.ts';

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

export function textReport(file: string, cx: Counterexample, rec: Recording): string {
  const out: string[] = [];
  const v = variantFacts(rec);
  const repro = reproduction(cx, rec.run);
  const chain = causalChain(rec);
  out.push(...wrap(title(cx, rec, chain), '', '    '));
  out.push('');
  out.push(...wrap(`${cx.variant.name}: ${cx.divergence.message}`));
  out.push('');
  if (chain.length) {
    out.push('What happened:');
    for (const l of chain) out.push(...wrap(`${l.who}: ${l.text}`, `  step ${String(l.step).padEnd(4)} `, ' '.repeat(12)));
    out.push('');
  }
  if (!repro.reproduced) {
    out.push(...wrap(`NOTE: this harness does not reproduce the recorded divergence; it meets ${repro.got}. The trace below is the replay.`));
    out.push('');
  }
  out.push(...field('variant:', `${v.name} (contract ${v.contract})${v.knownBug ? `, known bug ${v.knownBug}` : ''}`));
  if (v.flags.length === 0) out.push(...field('flags:', 'none (a clean variant)'));
  for (const f of v.flags) out.push(...field('flag:', `${f.name}: ${f.what}`));
  if (v.follows) out.push(...field('follows:', `seed ${v.follows}`));
  out.push(...field('found by:', provenance(cx)));
  out.push(...field('threads:', rec.lanes.map((l) => laneTitle(rec, l.id)).join(', ')));
  out.push('');

  out.push(...wrap(`Trace (${rec.steps.length} steps; step, thread, kernel function:label; "=" is what the operation returned):`));
  out.push('');
  const divergent = divergentStep(rec);
  for (const row of rows(rec)) {
    if (row.kind === 'op') {
      out.push(...wrap(row.text, `${' '.repeat(7)}${rec.lanes[row.tid].name.padEnd(8)}> `, ' '.repeat(17)));
      continue;
    }
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
  if (diff.length === 0) {
    out.push(...wrap(`State: the reference and the implementation agree on what a user can observe at the divergence; what diverged is in the mechanism: ${CLASSES[cx.divergence.class]}.`));
  } else {
    out.push(...wrap('State difference at the divergence (- reference, + implementation):'));
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
  return out.join('\n') + '\n';
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
