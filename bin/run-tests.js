#!/usr/bin/env node
// Runs every *.test.ts under properties/ and test/ with uvu, through
// tsx's loader, and ends with one line: "N passed, N failed".
//
// The files run in two lanes at once, one process each, as the machine
// has two cores (DAXCHECK_TEST_LANES=1: one after another); each lane's
// output is printed when it ends.  An argument keeps only the files whose
// names contain it.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const laneFiles = argv[0] === '--lane' ? argv[1].split(',') : null;
const only = laneFiles ? null : argv[0]; // optional substring filter on file names
const files =
  laneFiles ??
  ['properties', 'test']
    .flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f)))
    .filter((f) => !only || f.includes(only))
    .sort();

// Seconds each file took on the 2-core machine, two lanes running, to balance them;
// a file not listed counts as 5.
const COST = {
  'test/conform.test.ts': 295, 'test/cli.test.ts': 191, 'test/explore.test.ts': 128, 'test/browser.test.ts': 112,
  'test/inputs.test.ts': 71, 'test/campaign.test.ts': 50, 'test/package.test.ts': 30, 'test/versions.test.ts': 15,
  'test/extending.test.ts': 10, 'test/report.test.ts': 11, 'test/formats.test.ts': 7, 'test/shrink-corpus.test.ts': 7, 'test/csource.test.ts': 5,
  'properties/suite.test.ts': 4, 'properties/checks.test.ts': 4, 'test/reflink.test.ts': 4,
};
// Files that boot the guest: one lane, so that two guests never share the cores.
const GUEST = ['test/conform.test.ts'];

const lanes = Math.max(1, Math.min(Number(process.env.DAXCHECK_TEST_LANES) || 2, availableParallelism(), files.length));
if (!laneFiles && lanes > 1) await runLanes(lanes);
else await runHere();

async function runHere() {
  const { register } = await import('tsx/esm/api');
  register();
  // uvu's CLI protocol: defer, queue one entry per file, then exec.
  globalThis.UVU_DEFER = 1;
  globalThis.UVU_QUEUE = [];
  const uvu = await import('uvu');

  let total = 0;
  let passed = 0;
  // when each file's suite began: uvu prints the file's name first
  const began = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    const text = String(chunk);
    for (const f of files) if (text.includes(`${f}\n`) && !began.some((b) => b.file === f)) began.push({ file: f, at: Date.now() });
    const t = /Total:\s+(\d+)/.exec(text);
    const p = /Passed:\s+(\d+)/.exec(text);
    if (t) total = Number(t[1]);
    if (p) passed = Number(p[1]);
    return write(chunk, ...rest);
  };

  for (let i = 0; i < files.length; i++) {
    globalThis.UVU_INDEX = i;
    globalThis.UVU_QUEUE.push([files[i]]);
    await import(pathToFileURL(resolve(files[i])).href);
  }
  await uvu.exec(false);
  const end = Date.now();
  process.stdout.write = write;
  // the time each file took, slowest first (the budget: 10 minutes in all)
  const took = began.map((b, i) => ({ file: b.file, s: ((began[i + 1]?.at ?? end) - b.at) / 1000 })).sort((a, b) => b.s - a.s);
  console.log(`seconds per file: ${took.map((t) => `${t.file} ${t.s.toFixed(0)}`).join(', ')}`);
  console.log(`${passed} passed, ${total - passed} failed`);
  if (total - passed > 0) process.exitCode = 1;
}

// Deal the files out to the lanes, costliest first, each to the lane with
// the least so far; run the lanes; print each one's output as it ends,
// then the sum.
async function runLanes(n) {
  const cost = (f) => COST[f] ?? 5;
  const lane = Array.from({ length: n }, () => ({ files: [], cost: 0 }));
  for (const f of [...files].sort((a, b) => cost(b) - cost(a) || a.localeCompare(b))) {
    const guest = GUEST.includes(f) ? lane.find((l) => l.files.some((g) => GUEST.includes(g))) : undefined;
    const to = guest ?? lane.reduce((a, b) => (b.cost < a.cost ? b : a));
    to.files.push(f);
    to.cost += cost(f);
  }
  const self = fileURLToPath(import.meta.url);
  const t0 = Date.now();
  const results = await Promise.all(
    lane
      .filter((l) => l.files.length)
      .map(
        (l) =>
          new Promise((done) => {
            const child = spawn(process.execPath, [self, '--lane', l.files.sort().join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
            let out = '';
            child.stdout.on('data', (d) => (out += d));
            child.stderr.on('data', (d) => (out += d));
            child.on('close', (code) => {
              process.stdout.write(out);
              const m = /^(\d+) passed, (\d+) failed$/m.exec(out);
              done({ passed: m ? Number(m[1]) : 0, failed: m ? Number(m[2]) : 1, ok: code === 0 && !!m });
            });
          }),
      ),
  );
  const passed = results.reduce((a, r) => a + r.passed, 0);
  const failed = results.reduce((a, r) => a + r.failed, 0);
  console.log(`${results.length} lanes, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  if (failed > 0 || results.some((r) => !r.ok)) process.exitCode = 1;
}
