// `daxcheck csource`: committed counterexamples as C reproducers.  Each
// compiles with `gcc -static -pthread` and nothing else; the operations
// are the trace's, resolved as conform resolves them, with the waits the
// schedule needs; what cannot be rendered is refused in one line.  (The
// guest runs them: test/conform.test.ts.)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCounterexample } from '../fuzz/corpus.ts';
import { cSource, CsourceError } from '../fuzz/csource.ts';
import { daxcheck, oneLineError } from './daxcheck.ts';

const gcc = spawnSync('sh', ['-c', 'command -v gcc']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'daxcheck-csource-'));

interface Row { thread: number; line: string; text: string; model: string | null; starts: number[]; returns: number[]; xfer: number }

// The table of operations a reproducer carries.
function rows(c: string): Row[] {
  const body = c.slice(c.indexOf('static const struct rop rops[NOPS_] = {'), c.indexOf('static const struct rmap'));
  return [...body.matchAll(/\t\{ (\d+), "([^"]*)", "([^"]*)", (NULL|"[^"]*"), (?:NULL|"[^"]*"), \{ ([\d, ]+) \}, \{ ([\d, ]+) \}, (-?\d+), \d+, \d \},/g)].map((m) => ({
    thread: Number(m[1]), line: m[2], text: m[3], model: m[4] === 'NULL' ? null : m[4].slice(1, -1), starts: m[5].split(', ').map(Number), returns: m[6].split(', ').map(Number), xfer: Number(m[7]),
  }));
}

function compile(name: string, text: string, libs: string[] = []): void {
  const src = join(dir, `${name}.c`);
  writeFileSync(src, text);
  const r = spawnSync('gcc', ['-static', '-pthread', '-O2', '-o', join(dir, name), src, ...libs], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr.split('\n').filter((l) => l.includes('error')).join('\n'));
}

const rendered = (file: string) => {
  const { cx, variant } = readCounterexample(file);
  return cSource(cx, variant, file);
};

test("linux-6.1's counterexample: one thread, the AIO read into the DAX page before the munmap and the truncate, its mapping in the slot the mmap made, the blocks and coherence checked; it compiles with no flags", () => {
  const file = 'corpus/dma-into-reallocated-block/2ef7a4c955cadd6e.json';
  const c = rendered(file);
  assert.is(c.threads, 1);
  assert.ok(c.slowDevice && !c.needsRdma);
  assert.is(c.consequence, 2 | 4);
  const r = rows(c.text);
  assert.equal(r.map((x) => x.line), ['o 0 1 0', 'o 1 0 0', 'm 0 0 0 1 0 0 0 1', 'r 1 0 0 0 1', 'u 0', 't 0 0']);
  assert.equal(r.map((x) => x.model), ['ok 0', 'ok 1', 'ok', 'ok 0', 'ok 0', null]); // the truncate had not returned at the divergence
  assert.equal(r.map((x) => x.xfer), [-1, -1, -1, 0, -1, -1]); // the read's transfer into file 0's page
  assert.match(c.text, /^\/\*\n \* daxcheck reproducer/);
  assert.match(c.text, / \* Build:  gcc -static -pthread -O2 -o repro repro\.c\n/);
  assert.match(c.text, /Run as root:  \.\/repro DAXDIR \[SLOWDIR\] \[-n TIMES\] \[-v\]/);
  assert.match(c.text, /#define CONSEQUENCE_ 6\n/);
  if (gcc) compile('linux61', c.text);
});

test("a race of two threads (K1): each operation waits for the other thread's operations that started, or returned, before it in the trace", () => {
  const file = 'corpus/dma-into-reallocated-block/72210f445833f2eb.json';
  const { cx } = readCounterexample(file);
  const c = rendered(file);
  const r = rows(c.text);
  assert.is(new Set(r.map((x) => x.thread)).size, 2);
  // in the list's order (the trace's starts) every wait is already met: no reproducer deadlocks by construction
  const started = [0, 0, 0, 0, 0, 0, 0, 0];
  r.forEach((x) => {
    for (let u = 0; u < 8; u++) if (u !== x.thread) assert.ok(started[u] >= x.starts[u], `${x.text} waits for ${x.starts[u]} starts of T${u}`);
    started[x.thread]++;
  });
  // and the schedule is really there: some operation waits for another thread's return
  assert.ok(r.some((x) => x.returns.some((n) => n > 0)), 'a wait for a return');
  assert.ok(r.some((x) => x.starts.some((n, u) => u !== x.thread && n > 0)), 'a wait for a start');
  assert.match(c.text, new RegExp(`#define NTHREADS_ ${c.threads}\n`));
  assert.is(c.threads, cx.testCase.threads.length);
  if (gcc) compile('k1', c.text);
});

test('every committed counterexample renders, or is refused in one line with the reason; the RDMA ones say how to link them', () => {
  const refused: string[] = [];
  for (const cls of readdirSync('corpus')) {
    for (const f of readdirSync(join('corpus', cls)).filter((x) => /^[0-9a-f]{16}\.json$/.test(x))) {
      const file = join('corpus', cls, f);
      try {
        const c = rendered(file);
        assert.ok(c.ops > 0 && c.text.includes(`#define CLASS_ "${cls}"`), file);
        if (c.needsRdma) assert.match(c.text, /-libverbs/);
      } catch (e) {
        assert.instance(e, CsourceError, file);
        refused.push(`${file}: ${(e as Error).message}`);
      }
    }
  }
  // a pNFS layout is no system call a program can make
  const why = ': layoutget has no line in the executor (conform does not run it either): no C reproducer for this counterexample';
  assert.equal(refused, ['corpus/blockmap-changed-under-lease/64d59b0d34810cd0.json', 'corpus/deadlock/70d3ebf43e82bb85.json', 'corpus/no-progress/d68a73099b1aa68f.json'].map((f) => f + why));
});

test('the command: the program on standard output or in a file; a refusal, a bad file and a bad option each one line, exit 2', () => {
  const r = daxcheck('csource', 'corpus/result-mismatch/da64cb3b24cb8c49.json');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^\/\*\n \* daxcheck reproducer/);
  const out = join(dir, 'k8.c');
  const w = daxcheck('csource', 'corpus/result-mismatch/da64cb3b24cb8c49.json', '-o', out);
  assert.is(w.code, 0, w.err);
  assert.is(readFileSync(out, 'utf8'), r.out);
  assert.match(w.err, /^wrote .*k8\.c: \d+ operations on 1 thread\(s\)\n$/);
  oneLineError(daxcheck('csource', 'corpus/blockmap-changed-under-lease/64d59b0d34810cd0.json'), 'layoutget');
  oneLineError(daxcheck('csource', 'package.json'), 'not a counterexample');
  oneLineError(daxcheck('csource', 'corpus'), 'a folder');
  oneLineError(daxcheck('csource'), 'no file');
  oneLineError(daxcheck('csource', 'corpus/result-mismatch/da64cb3b24cb8c49.json', '-o', ''), 'empty -o');
  // repro refuses before it boots anything
  oneLineError(daxcheck('repro', 'corpus/blockmap-changed-under-lease/64d59b0d34810cd0.json'), 'repro of a layoutget');
  oneLineError(daxcheck('repro', 'corpus/result-mismatch/da64cb3b24cb8c49.json', '--times', '0'), '--times 0');
  oneLineError(daxcheck('repro'), 'repro with no file');
});

test.run();
