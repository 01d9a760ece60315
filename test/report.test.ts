// Reports: the text form of every committed counterexample fits a mail
// reply, pages have a lane per thread and the divergence marked at its
// step, what the pages say about blocks and IOVAs agrees with the
// divergence found, hostile corpus strings stay text, and `report` on bad
// input changes nothing.  The browser checks are in browser.test.ts.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { counterexampleFiles } from '../fuzz/campaign.ts';
import { record } from '../reports/record.ts';
import { counterexamplePage } from '../reports/counterexample.ts';
import { readCounterexample, reproduction } from '../fuzz/corpus.ts';
import { shellLines, textReport, wrap, WIDTH } from '../reports/text.ts';
import { blockStories, causalChain, iovaLines, title } from '../reports/story.ts';
import { CLEAN_VARIANTS } from '../models/variants/index.ts';
import { arbTestCase } from '../fuzz/arbitraries.ts';
import { hostileCounterexample } from './hostile.ts';
import { daxcheck, oneLineError, snapshot } from './daxcheck.ts';

const committed = counterexampleFiles('corpus').map((file) => ({ file, ...readCounterexample(file) }));

test('the corpus is there to report on', () => {
  assert.ok(committed.length >= 20, `${committed.length} committed counterexamples`);
});

test('the text report of every committed counterexample: no line over 72 characters, the trace up to the divergence, the replay command', () => {
  for (const { file, cx, variant } of committed) {
    const text = textReport(file, cx, record(variant, cx.testCase));
    const lines = text.split('\n');
    const long = lines.filter((l) => l.length > WIDTH);
    assert.equal(long, [], `${file}: ${long.length} lines over ${WIDTH}`);
    assert.ok(lines[0].startsWith(`${cx.divergence.class} in `), `${file}: title ${lines[0]}`);
    assert.ok(text.includes(`\n\n${cx.variant.name}: `), `${file}: the variant under the title`);
    const marked = lines.filter((l) => l.startsWith('>>'));
    assert.is(marked.length, 1, `${file}: one marked step`);
    assert.match(marked[0], new RegExp(`^>>\\s*${cx.divergence.step} `));
    assert.ok(asTheShellReadsIt(text).includes(`daxcheck replay ${file} --trace`), `${file}: replay command`);
    assert.not.ok(text.includes('NOTE: this harness does not reproduce'), `${file}: reproduces`);
  }
});

// Backslash-newline removed, then runs of blanks as one: what a shell
// makes of a pasted command.
function asTheShellReadsIt(text: string): string {
  return text.replace(/\\\n/g, '').replace(/[ \t]+/g, ' ');
}

test('a replay command too long for a line still pastes as the same command', () => {
  for (const path of ['corpus/x.json', `${'deep/'.repeat(20)}x.json`, `corpus/${'y'.repeat(150)}.json`]) {
    const cmd = `daxcheck replay ${path} --trace`;
    const lines = shellLines(cmd);
    for (const l of lines) assert.ok(l.length <= WIDTH, l);
    assert.is(asTheShellReadsIt(lines.join('\n')).trim(), cmd);
  }
});

test('wrap keeps every word, in order, and no line is wider than asked', () => {
  const word = fc.string({ minLength: 1, maxLength: 90, unit: fc.constantFrom('a', 'b', '_', '(', '=', '1') });
  fc.assert(
    fc.property(fc.array(word, { maxLength: 30 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 20, max: 80 }), (words, indent, width) => {
      const first = ' '.repeat(indent);
      const lines = wrap(words.join(' '), first, first, width);
      for (const l of lines) assert.ok(l.length <= width, `${l.length} > ${width}: ${l}`);
      // a cut word loses no characters: the text without spaces is the same
      assert.is(lines.join('').replace(/\s+/g, ''), words.join(''));
    }),
    { seed: 7, numRuns: 300 },
  );
});

test('every page: one lane per thread, the divergence marked once at its step, and the same bytes when made again', () => {
  for (const { file, cx, variant } of committed) {
    const rec = record(variant, cx.testCase);
    assert.ok(reproduction(cx, rec.run).reproduced, `${file}: the recorded run is the replayed one`);
    const page = counterexamplePage(file, cx, rec);
    const lanes = [...page.matchAll(/<g class="lane" data-thread="([^"]+)"/g)].map((m) => m[1]);
    assert.is(lanes.length, cx.testCase.threads.length + 4, `${file}: lanes ${lanes.join(' ')}`);
    assert.is(new Set(lanes).size, lanes.length);
    const marks = [...page.matchAll(/<g class="step divergence" data-step="(\d+)" data-class="([^"]+)"/g)];
    assert.is(marks.length, 1, `${file}: one divergence mark`);
    assert.is(Number(marks[0][1]), cx.divergence.step);
    assert.is(marks[0][2], cx.divergence.class);
    assert.is(counterexamplePage(file, cx, record(variant, cx.testCase)), page);
  }
});

// What the pages say about blocks and IOVAs is computed from the run's
// events, apart from the checks; it must agree with them: a wrong access
// (or IOVA) at the divergent step of those classes, and none in runs
// that do not diverge.
test('the blocks and IOVAs a page shows as wrong are where the checks found the divergence, and only there', () => {
  for (const { file, cx, variant } of committed) {
    const rec = record(variant, cx.testCase);
    const wrongAccess = blockStories(rec).flatMap((s) => s.lines.filter((l) => l.wrong).map((l) => l.step));
    const wrongIova = iovaLines(rec).filter((l) => l.wrong).map((l) => l.step);
    if (cx.divergence.class === 'dma-into-reallocated-block') assert.equal(wrongAccess, [cx.divergence.step], file);
    else if (cx.divergence.class === 'iova-reuse') assert.equal(wrongIova, [cx.divergence.step], file);
    else {
      assert.equal(wrongAccess, [], file);
      assert.equal(wrongIova, [], file);
    }
  }
  for (const variant of CLEAN_VARIANTS) {
    fc.assert(
      fc.property(arbTestCase, (tc) => {
        const rec = record(variant, tc);
        if (rec.divergence) return; // a clean variant never diverges; the suite says so
        assert.equal(blockStories(rec).flatMap((s) => s.lines.filter((l) => l.wrong)), []);
        assert.equal(iovaLines(rec).filter((l) => l.wrong), []);
      }),
      { seed: 11, numRuns: 150 },
    );
  }
});

test("a hostile corpus file's strings reach the page as text, never as markup", () => {
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-hostile-'));
  const file = hostileCounterexample(dir);
  const r = daxcheck('report', file, '--html', join(dir, 'page.html'));
  assert.is(r.code, 0, r.err);
  const page = readFileSync(join(dir, 'page.html'), 'utf8');
  assert.not.match(page, /<script/i);
  assert.not.match(page, /<img/i);
  assert.not.match(page, /<svg[^>]*onload/i);
  assert.ok(page.includes('&lt;script&gt;window.__pwned=1&lt;/script&gt;'));
  const text = daxcheck('report', file, '--text');
  assert.is(text.code, 0, text.err);
  assert.ok(text.out.split('\n').every((l) => l.length <= WIDTH));
});

test('report on a campaign folder: an index with a NEW or known mark and a working link per counterexample', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-report-'));
  const out = join(dir, 'camp');
  const f = daxcheck('fuzz', '--variant', 'K7', '--variant', 'mainline-fixed', '--runs', '200', '--workers', '1', '--slot-runs', '100', '--out', out);
  assert.is(f.code, 0, f.err); // K7 shows what it is expected to, upstream stays clean
  const r = daxcheck('report', out);
  assert.is(r.code, 0, r.err);
  const index = readFileSync(join(out, 'report.html'), 'utf8');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const links = [...index.matchAll(/<a href="([^"]+)">/g)].map((m) => decodeURIComponent(m[1]));
  assert.is(links.length, summary.found.length);
  assert.ok(links.length >= 1);
  for (const l of links) assert.ok(existsSync(resolve(out, l)), `link ${l}`);
  assert.match(index, /<span class="tag (new|known)">/);
  assert.match(index, /mainline-fixed \(clean\)/); // listed among the variants with no divergence
  // an index somewhere else links back into the folder
  const elsewhere = join(dir, 'site', 'index.html');
  assert.is(daxcheck('report', out, '--html', elsewhere).code, 0);
  for (const m of readFileSync(elsewhere, 'utf8').matchAll(/<a href="([^"]+)">/g)) assert.ok(existsSync(resolve(dirname(elsewhere), decodeURIComponent(m[1]))));
});

test('report on bad input: one line, exit 2, nothing written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-report-bad-'));
  mkdirSync(join(dir, 'corpus'));
  writeFileSync(join(dir, 'corpus', 'good.json'), readFileSync(committed[0].file));
  writeFileSync(join(dir, 'corpus', 'bad.json'), '{"format": 1, "variant": ');
  const before = snapshot(dir);
  for (const args of [
    ['report'],
    ['report', join(dir, 'missing.json')],
    ['report', join(dir, 'corpus')], // one malformed file: no page for the good one either
    ['report', join(dir, 'corpus', 'bad.json')],
    ['report', join(dir, 'corpus', 'good.json'), '--bogus'],
    ['report', join(dir, 'corpus', 'good.json'), join(dir, 'corpus', 'good.json')],
    ['report', join(dir, 'corpus', 'good.json'), '--html'],
  ]) {
    oneLineError(daxcheck(...args), args.join(' '));
    assert.is(snapshot(dir), before, `${args.join(' ')} changed the folder`);
  }
});

test('titles stay put: class, the kernel function it was detected in, the operation; no digits but a function name\'s; one title for each bug\'s counterexamples', () => {
  const titles = committed.map(({ file, cx, variant }) => ({ file, v: cx.variant.name, t: title(cx, record(variant, cx.testCase)) }));
  for (const { file, t } of titles) {
    const m = /^([a-z-]+) in (\S+)( (?:during|after) [a-z_]+)?$/.exec(t);
    assert.ok(m, `${file}: ${t}`);
    assert.not.match(`${m![1]}${m![3] ?? ''}`, /\d/, t);
  }
  const of = (f: string) => titles.find((x) => x.file.endsWith(f))!.t;
  // two K10 programs, two K4 programs, two 6.1 refcount programs: one title each
  assert.is(of('95e63094da9e6e7d.json'), of('a56e7292c8bd720f.json'));
  assert.is(of('95e63094da9e6e7d.json'), 'dma-into-reallocated-block in nic_dma after reg_mr');
  assert.is(of('196993cfc28c917a.json'), of('ad5fda83941375e6.json'));
  assert.is(of('57fddb06f4cb38e1.json'), of('a5c7d3fc55de4bb3.json'));
  assert.is(of('2ef7a4c955cadd6e.json'), 'dma-into-reallocated-block in blk_mq_run_hw_queue after truncate');
});

test('the causal chain comes first: for every committed DMA counterexample it ends at the divergent access, and it says what a reviewer would (6.1\'s truncate, K10\'s early unpin)', () => {
  const chainOf = (file: string) => {
    const { cx, variant } = readCounterexample(file);
    return { cx, chain: causalChain(record(variant, cx.testCase)) };
  };
  for (const { file } of committed.filter((c) => c.cx.divergence.class === 'dma-into-reallocated-block')) {
    const { cx, chain } = chainOf(file);
    assert.ok(chain.length >= 2, file);
    assert.is(chain.at(-1)!.step, cx.divergence.step, file);
    assert.equal(chain.map((l) => l.step), [...chain.map((l) => l.step)].sort((a, b) => a - b), file);
  }
  const linux61 = chainOf('corpus/dma-into-reallocated-block/2ef7a4c955cadd6e.json').chain;
  assert.equal(linux61.map((l) => `${l.who}: ${l.text}`), [
    'T0 in dio_read(fd=1 off=0 map=0 page=0 aio=1): takes a reference on block 0 (file 0 page 0) for the transfer: count 2',
    'T0 in truncate(fd=0 size=0): frees block 0, its count still above 1',
    'device: device DMA writes into block 0 as file 0 page 0, which is now free',
  ]);
  const k10 = chainOf('corpus/dma-into-reallocated-block/95e63094da9e6e7d.json').chain;
  assert.equal(k10.map((l) => l.text), [
    'takes a reference on block 1 (file 0 page 1) for the registration: count 2',
    'drops that reference while the NIC can still use it',
    'NIC DMA reads from block 1 as file 0 page 1, which it still is, through a pin already released',
  ]);
  // first in the text, before the variant and the trace
  const text = textReport('corpus/dma-into-reallocated-block/2ef7a4c955cadd6e.json', ...(() => { const { cx, variant } = readCounterexample('corpus/dma-into-reallocated-block/2ef7a4c955cadd6e.json'); return [cx, record(variant, cx.testCase)] as const; })());
  assert.ok(text.indexOf('What happened:') > 0 && text.indexOf('What happened:') < text.indexOf('variant:'));
  assert.match(text, /What happened:\n  step 20   T0 in dio_read/);
  // a divergence no access shows has none
  assert.equal(chainOf('corpus/result-mismatch/da64cb3b24cb8c49.json').chain, []);
});

test("a counterexample's reproducer verdict (FILE.repro.json) shows on its page, in the folder's index and at the end of the text; without one, the page says it was not run", () => {
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-realkernel-'));
  for (const f of ['2ef7a4c955cadd6e.json', '2ef7a4c955cadd6e.repro.json']) writeFileSync(join(dir, f), readFileSync(join('corpus/dma-into-reallocated-block', f)));
  writeFileSync(join(dir, 'other.json'), readFileSync('corpus/result-mismatch/da64cb3b24cb8c49.json'));
  const r = daxcheck('report', dir);
  assert.is(r.code, 0, r.err);
  const index = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.match(index, /<th>real kernel<\/th>/);
  assert.match(index, /reproduced on 6\.1\.0-57-amd64 in 10\/10 runs/);
  assert.match(index, /not run/);
  assert.match(readFileSync(join(dir, '2ef7a4c955cadd6e.html'), 'utf8'), /<th>real kernel<\/th><td><b>reproduced on 6\.1\.0-57-amd64 in 10\/10 runs/);
  assert.match(readFileSync(join(dir, 'other.html'), 'utf8'), /not run \(daxcheck repro\)/);
  const t = daxcheck('report', join(dir, '2ef7a4c955cadd6e.json'), '--text');
  assert.match(t.out, /On a real kernel:\n\n  reproduced on 6\.1\.0-57-amd64 in 10\/10 runs/);
  // a sidecar that is not one: one line, exit 2
  writeFileSync(join(dir, '2ef7a4c955cadd6e.repro.json'), '{"kind":"daxcheck-repro"}');
  oneLineError(daxcheck('report', join(dir, '2ef7a4c955cadd6e.json')), 'a broken reproducer result');
});

test("a kernel-mismatch file of conform --threads: its page draws the history (a bar per operation, from call to return, a hung one dashed), its text a timeline; a hostile string stays text", () => {
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-km-'));
  const file = join(dir, 'km.json');
  const tc = { config: { files: [{ owner: 0, dax: true, reflink: false, size: 1, sparse: false }], procs: [{ uid: 0, capLease: false }], blocks: 8, leaseBreakTime: 1 }, threads: [{ proc: 0, ops: [{ op: 'open', file: 0, write: true }], loop: false }, { proc: 0, ops: [{ op: 'load', map: 0, page: 0 }], loop: false }, { proc: 0, ops: [{ op: 'truncate', fd: 0, size: 0 }], loop: false }], nic: [], schedule: [], cycle: [], faults: [] };
  const history = { ops: [{ thread: 1, text: 'load(map=0 page=0)', call: 1000, ret: 900000, got: 'ok 11' }, { thread: 2, text: 'truncate(fd=0 size=0)<script>', call: 500000, ret: -1, got: 'hang' }], stacks: ['task 7', '  [<0>] xfs_break_dax_layouts+0x8d/0xf0'], longest: [0], files: ['4096 1 11'] };
  writeFileSync(file, JSON.stringify({ kind: 'kernel-mismatch', format: 1, kernel: 'k', variant: 'linux-6.1', testCase: tc, op: 2, opText: 'section', expected: 'every operation returns', observed: 'op 1 did not return', listed: false, history }));
  const r = daxcheck('report', file);
  assert.is(r.code, 0, r.err);
  const page = readFileSync(join(dir, 'km.html'), 'utf8');
  const svg = page.slice(page.indexOf('<svg'), page.indexOf('</svg>'));
  assert.is((svg.match(/<rect /g) ?? []).length, 2);
  assert.is((svg.match(/stroke-dasharray/g) ?? []).length, 1, 'the hung one');
  assert.match(page, /truncate\(fd=0 size=0\)&lt;script&gt;/);
  assert.not.match(page, /<script>/);
  const t = daxcheck('report', file, '--text');
  assert.is(t.code, 0, t.err);
  assert.match(t.out, /T1 \|\[0-+\] *\|\n  T2 \| +\[1-+>\|/);
  assert.match(t.out, /Kernel stacks:\n  task 7\n    \[<0>\] xfs_break_dax_layouts/);
  writeFileSync(file, JSON.stringify({ kind: 'kernel-mismatch', format: 1 }));
  oneLineError(daxcheck('report', file), 'a broken kernel-mismatch file');
});

test.run();
