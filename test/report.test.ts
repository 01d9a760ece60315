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
import { parseCounterexample, readCounterexample, reproduction } from '../fuzz/corpus.ts';
import { LINES, shellLines, textReport, wrap, WIDTH } from '../reports/text.ts';
import { gunzipSync } from 'node:zlib';
import { csourceRefusal } from '../fuzz/csource.ts';
import { runTestCase } from '../fuzz/lockstep.ts';
import { blockStories, causalChain, iovaLines, title } from '../reports/story.ts';
import { MAX_LINKS } from '../reports/chain.ts';
import { CLEAN_VARIANTS } from '../models/variants/index.ts';
import { arbTestCase } from '../fuzz/arbitraries.ts';
import { hostileCounterexample } from './hostile.ts';
import { daxcheck, oneLineError, snapshot } from './daxcheck.ts';

const committed = counterexampleFiles('corpus').map((file) => ({ file, ...readCounterexample(file) }));

test('the corpus is there to report on', () => {
  assert.ok(committed.length >= 20, `${committed.length} committed counterexamples`);
});

// The mail: at most 40 lines of 72 columns that hold the title, the
// config and the causal chain, and the counterexample itself as a
// heredoc when it fits; --full has the trace with the divergent step
// marked and the replay command for the file.
test('the text report of every committed counterexample: at most 40 lines of 72 columns, with the config and the causal chain; --full has the whole trace', () => {
  for (const { file, cx, variant } of committed) {
    const rec = record(variant, cx.testCase);
    const text = textReport(file, cx, rec);
    const lines = text.trimEnd().split('\n');
    assert.ok(lines.length <= LINES, `${file}: ${lines.length} lines`);
    const long = lines.filter((l) => [...l].length > WIDTH);
    assert.equal(long, [], `${file}: ${long.length} lines over ${WIDTH}`);
    assert.ok(lines[0].startsWith(`${cx.divergence.class} in `), `${file}: title ${lines[0]}`);
    assert.is(lines[0], title(cx, rec), file);
    assert.ok(lines.some((l) => l.startsWith('config: file 0: ')), `${file}: the config`);
    const chain = causalChain(rec);
    assert.ok(chain.length >= 2, `${file}: a chain of ${chain.length}`);
    const at = lines.indexOf('What happened:');
    assert.ok(at > 0, file);
    // each link, in order, its step at the start of a line
    const starts = lines.slice(at + 1).filter((l) => /^ {2}[ \d]{3}\d /.test(l)).map((l) => Number(l.slice(2, 6)));
    assert.equal(starts.slice(0, chain.length), chain.map((l) => l.step), file);
    assert.ok(asTheShellReadsIt(text).includes(csourceRefusal(cx.testCase) ? 'daxcheck replay cx.json --trace' : 'daxcheck csource cx.json -o repro.c'), `${file}: how to reproduce`);
    const full = textReport(file, cx, rec, true);
    const marked = full.split('\n').filter((l) => l.startsWith('>>'));
    assert.is(marked.length, 1, `${file}: one marked step`);
    assert.match(marked[0], new RegExp(`^>>\\s*${cx.divergence.step} `));
    assert.ok(asTheShellReadsIt(full).includes(`daxcheck replay ${file} --trace`), `${file}: replay command`);
    assert.ok(full.includes("base64 -d <<'EOF' | gunzip > cx.json"), `${file}: --full embeds the counterexample`);
  }
});

// The heredoc is the counterexample: decoded, it replays to the same
// divergence at the same step by the same trace.
test('the heredoc in a text report writes a counterexample file that replays bit for bit', () => {
  let embedded = 0;
  for (const { file, cx, variant } of committed) {
    const text = textReport(file, cx, record(variant, cx.testCase));
    const m = /base64 -d <<'EOF' \| gunzip > cx\.json\n([\s\S]*?)\n {2}EOF/.exec(text);
    if (!m) continue;
    embedded++;
    const json = gunzipSync(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
    const back = parseCounterexample(json, 'cx.json');
    assert.equal(back.cx.testCase, cx.testCase, file);
    assert.equal(back.variant.flags, variant.flags, file);
    const run = runTestCase(back.variant, back.cx.testCase);
    assert.ok(reproduction(back.cx, run).reproduced, `${file}: ${reproduction(back.cx, run).got}`);
  }
  assert.ok(embedded >= committed.length / 2, `${embedded} of ${committed.length} reports embed the counterexample`);
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
    const whole = counterexamplePage(file, cx, rec);
    const page = whole.slice(whole.indexOf('<svg class="swimlane'), whole.indexOf('</svg>')); // the folded one first
    const lanes = [...page.matchAll(/<g class="lane" data-thread="([^"]+)"/g)].map((m) => m[1]);
    assert.is(lanes.length, cx.testCase.threads.length + 4, `${file}: lanes ${lanes.join(' ')}`);
    assert.is(new Set(lanes).size, lanes.length);
    const marks = [...page.matchAll(/<g class="step divergence" data-step="(\d+)" data-class="([^"]+)"/g)];
    assert.is(marks.length, 1, `${file}: one divergence mark`);
    assert.is(Number(marks[0][1]), cx.divergence.step);
    assert.is(marks[0][2], cx.divergence.class);
    assert.is(counterexamplePage(file, cx, record(variant, cx.testCase)), whole);
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

test('the causal chain comes first: for every committed counterexample it ends at the divergence, in step order, and says what a reviewer would', () => {
  const chainOf = (file: string) => {
    const { cx, variant } = readCounterexample(file);
    return { cx, chain: causalChain(record(variant, cx.testCase)) };
  };
  for (const { file } of committed) {
    const { cx, chain } = chainOf(file);
    assert.ok(chain.length >= 2, file);
    assert.ok(chain.length <= MAX_LINKS, file);
    assert.is(chain.at(-1)!.step, cx.divergence.step, file);
    assert.equal(chain.map((l) => l.step), [...chain.map((l) => l.step)].sort((a, b) => a - b), file);
  }
  const lines = (file: string) => chainOf(file).chain.map((l) => `${l.step} ${l.who}: ${l.text}`);
  // a DMA: the pin, the free, the access
  assert.equal(lines('corpus/dma-into-reallocated-block/2ef7a4c955cadd6e.json'), [
    '20 T0 in dio_read(fd 1 → file 1, off 0, map 0 → file 0 page 0, aio): takes a reference on block 0 (file 0 page 0) for the transfer: count 2',
    '44 T0 in truncate(fd 0 → file 0, size 0): frees block 0, its count still above 1',
    '45 device in blk_mq_run_hw_queue: device DMA writes into block 0 as file 0 page 0, which is now free',
  ]);
  // an IOVA: mapped, its lease broken, unmapped and freed, mapped for another registration, used
  assert.equal(lines('corpus/iova-reuse/ad5fda83941375e6.json'), [
    '22 T0 in reg_mr(map 0 → file 0 page 0): sets lease_direct lease 1 for registration 0 on file 0; maps IOVA 0 to block 0 for registration 0',
    '29 T0 in write(fd 0 → file 0, off 0, val 1): starts breaking lease_direct lease 1',
    '36 kworker in ib_umem_lease_break: removes lease_direct lease 1; unmaps and frees IOVA 0 while registration 0 still uses it',
    '73 T0 in reg_mr(map 1 → file 1 page 0): maps IOVA 0 again, to an anonymous page (a private copy) for registration 1',
    "74 nic in rdma_write(registration 0 page 0 → file 0 page 0, val 1): NIC DMA by IOVA 0 of registration 0 lands in registration 1's page",
  ]);
  // a lease notification: the lease and its fd, the close, the break, the signal
  assert.equal(lines('corpus/stale-notification/53d805885c4b398e.json').map((l) => l.replace(/^\d+ [^:]*: /, '')), [
    'opens file 0 as fd 0',
    'sets MAP_DIRECT lease 0 for mapping 0 on file 0, SIGIO to fd 0',
    'closes fd 0',
    'starts breaking MAP_DIRECT lease 0; sends SIGIO for the break: si_fd 0, which in process 1 is closed',
  ]);
  // a deadlock: who holds what the sleeper waits for, the sleep, the end
  assert.equal(lines('corpus/deadlock/a1d53f0966416d37.json'), [
    '18 T0 in reg_mr(map 0 → file 0 page 0): takes a reference on block 0',
    '40 T1 in truncate(fd 0 → file 0, size 0): sleeps: T1 waits for page 0 to go idle (refcount 2)',
    '41 the run: no thread can run',
  ]);
  // a result: the call, what the reference has against the implementation
  assert.equal(lines('corpus/result-mismatch/3eff77c933b46ff5.json'), [
    '1 T0: calls mmap(fd 0 → file 0, off 0, len 0, validate, sync)',
    '3 T0 in mmap(fd 0 → file 0, off 0, len 0, validate, sync): .procs[0].maps.length: the reference has 0, the implementation 1',
  ]);
  // the early unpin of K10
  assert.equal(chainOf('corpus/dma-into-reallocated-block/95e63094da9e6e7d.json').chain.map((l) => l.text), [
    'takes a reference on block 1 (file 0 page 1) for the registration: count 2',
    'drops that reference while the NIC can still use it',
    'NIC DMA reads from block 1 as file 0 page 1, which it still is, through a pin already released',
  ]);
  // first in the text, before the state and the reproducer
  const { cx, variant } = readCounterexample('corpus/dma-into-reallocated-block/2ef7a4c955cadd6e.json');
  const text = textReport('corpus/dma-into-reallocated-block/2ef7a4c955cadd6e.json', cx, record(variant, cx.testCase));
  assert.ok(text.indexOf('What happened:') > 0 && text.indexOf('What happened:') < text.indexOf('Reproduce'));
  assert.match(text, /What happened:\n {4}20 T0 in dio_read/);
});

// Read as a reviewer would: the first 15 lines of the text report alone
// say the bug.  K4: "A lease break made the kernel unmap and free IOVA 0
// while registration 0 still used it, a new registration was given IOVA
// 0, and the NIC's DMA through the old registration landed in the new
// one's page."  K10: "Revocation dropped the reference a registration
// held on block 1 while the NIC could still use it, and the NIC then read
// block 1 through the released pin."  Each clause is a line in the first 15.
test('the first 15 lines of the K4 and K10 text reports state the bug', () => {
  const first15 = (file: string) => {
    const { cx, variant } = readCounterexample(file);
    return textReport(file, cx, record(variant, cx.testCase)).split('\n').slice(0, 15).join(' ').replace(/\s+/g, ' ');
  };
  const inOrder = (text: string, parts: RegExp[]) => {
    let at = 0;
    for (const p of parts) {
      const m = p.exec(text.slice(at));
      assert.ok(m, `${p} after ${at} in: ${text}`);
      at += m!.index + m![0].length;
    }
  };
  inOrder(first15('corpus/iova-reuse/196993cfc28c917a.json'), [
    /^iova-reuse in nic_dma/,
    /maps IOVA 0 to block 0 for registration 0/,
    /starts breaking lease_direct lease 1/,
    /unmaps and frees IOVA 0 while registration 0 still uses it/,
    /maps IOVA 0 again, to block 0 for registration 1/,
  ]);
  inOrder(first15('corpus/dma-into-reallocated-block/95e63094da9e6e7d.json'), [
    /^dma-into-reallocated-block in nic_dma/,
    /takes a reference on block 1 \(file 0 page 1\) for the registration/,
    /kworker in ib_umem_lease_break: drops that reference while the NIC can still use it/,
    /NIC DMA reads from block 1 as file 0 page 1, .* through a pin already released/,
  ]);
});

test('a folder index lists each divergence once by variant and title, the longer counterexamples of it beside the shortest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-dedup-'));
  for (const f of ['95e63094da9e6e7d.json', 'a56e7292c8bd720f.json']) writeFileSync(join(dir, f), readFileSync(join('corpus/dma-into-reallocated-block', f)));
  writeFileSync(join(dir, 'k4.json'), readFileSync('corpus/iova-reuse/ad5fda83941375e6.json'));
  assert.is(daxcheck('report', dir).code, 0);
  const index = readFileSync(join(dir, 'report.html'), 'utf8');
  const rows = [...index.matchAll(/<tr class="">/g)];
  assert.is(rows.length, 2, 'two titles');
  assert.match(index, /dma-into-reallocated-block in nic_dma after reg_mr<\/a><br><span class="dim">the same, longer:<\/span> <a class="also" href="a56e7292c8bd720f.html">79 steps<\/a>/);
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
  assert.match(t.out, /Real kernel: reproduced on 6\.1\.0-57-amd64 in 10\/10 runs/);
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
