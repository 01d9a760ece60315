// The commands that run the models or the kernel: check, replay, matrix,
// explore, fuzz, merge, report, bench, vm, conform.  Loaded by cli/main.ts
// only when one is asked for.

import { join } from 'node:path';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { VARIANTS, CLEAN_VARIANTS, findVariant, VariantError, type Variant } from '../models/variants/index.ts';
import { TestCaseError, formatOp } from '../models/testcase.ts';
import { checkVariant, checkVariantGuided, InternalError } from '../fuzz/check.ts';
import { runTestCase, type TraceStep } from '../fuzz/lockstep.ts';
import { CorpusError, makeCounterexample, readCounterexample, reproduction, writeCounterexample } from '../fuzz/corpus.ts';
import { EXPLORE_DEFAULTS, exploreScenario, loadScenario, scenarioNames, ScenarioError } from '../fuzz/explore.ts';
import { BenchOutputSchema, benchBugs, benchExplore, benchStartup, benchSteps, benchWorkers } from '../fuzz/bench.ts';
import { matrixIds, runMatrixRow, type MatrixOptions, type RowResult } from '../fuzz/matrix.ts';
import { runPool } from '../fuzz/pool.ts';
import { siblingModule } from '../fuzz/root.ts';
import { nameTable } from '../models/names.ts';
import { Campaign, CampaignError, counterexampleFiles, SUMMARY, SUMMARY_TEXT, duration as seconds, mergeCampaigns, summaryText, parseShard, readSummary, type CampaignEvent, type FoundEntry, type Summary } from '../fuzz/campaign.ts';
import { judge, verdictSummary, type Verdict } from '../fuzz/verdict.ts';
import { FileError, printableLines } from '../fuzz/files.ts';
import { LockError, lockHolder, writeNewFolder } from '../fuzz/lock.ts';
import { VmError, buildGuest, readVm, vmFile, writeVm } from '../vm/setup.ts';
import { boot } from '../vm/qemu.ts';
import { isConform, mergeConform, runConform, type ConformResult } from '../fuzz/conform.ts';
import { runThreaded } from '../fuzz/threads.ts';
import { cSource, CsourceError } from '../fuzz/csource.ts';
import { runRepro } from '../fuzz/repro.ts';
import { writeFileAtomic } from '../fuzz/corpus.ts';
import { PORTFOLIO, SLOT_RUNS, PCT_DEPTHS } from '../fuzz/slots.ts';
import { HORIZON } from '../fuzz/schedulers.ts';
import { report } from '../reports/index.ts';

import { UsageError, args, bold, dim, green, intOption, noPositionals, printable, progress, progressDone, red, workersOption } from './common.ts';

// ---- check ----

// The check's portfolio runs in slots of this many test cases: a segment
// of a variant (one slot of each engine) is 2000 runs, and a variant that
// met an expected class takes no further segment.
const CHECK_SLOT_RUNS = 250;
const CHECK_RUNS = 24_000;

async function cmdCheck(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    variant: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string' },
    corpus: { type: 'string' },
    json: { type: 'boolean' },
    guided: { type: 'boolean' },
    'fast-check': { type: 'boolean' },
  });
  noPositionals('check', positionals);
  if (values.all && values.variant) throw new UsageError('check: give --variant or --all, not both');
  if (values.guided && values['fast-check']) throw new UsageError('check: give --guided or --fast-check, not both');
  const variants: Variant[] = values.variant ? values.variant.map(findVariant) : VARIANTS;
  const seed = intOption('seed', values.seed, 1, 0);
  const json = values.json === true;
  if (values.guided || values['fast-check']) {
    if (values.out !== undefined || values.workers !== undefined) throw new UsageError(`check: --out and --workers are for the portfolio, not --${values.guided ? 'guided' : 'fast-check'}`);
    const runs = intOption('runs', values.runs, 3000, 1);
    const corpus = values.corpus ?? join('out', 'check');
    return values.guided ? checkGuided(variants, runs, seed, corpus, json) : checkFastCheck(variants, runs, seed, corpus, json);
  }
  const runs = intOption('runs', values.runs, CHECK_RUNS, 1);
  const workers = workersOption(values.workers);
  const dir = values.out ?? join('out', 'check');
  clearCheckFolder(dir);
  const plan = { seed, variants: variants.map((v) => v.name), engines: [...PORTFOLIO], slotRuns: Math.min(CHECK_SLOT_RUNS, runs), runsPerVariant: runs, untilExpected: true };
  const campaign = new Campaign({ dir, workers, budgetMs: null, command: 'check' }, { plan, shard: { index: 0, count: 1 } });
  if (!json) {
    console.log(`check: ${variants.length} variants, the campaign portfolio (${PORTFOLIO.join(', ')}), up to ${runs} runs a variant, seed ${seed}, ${workers} workers -> ${dir}/`);
    console.log(dim('a variant with known bugs stops at the end of the segment (one slot of each engine) that met one of its expected classes'));
  }
  const s = await runCampaign(campaign, json, false);
  const perVariant = runsPerVariant(s);
  const copied = new Map<string, string>();
  if (values.corpus !== undefined) for (const f of s.found) copied.set(f.file, copyCounterexample(join(dir, f.file), values.corpus));
  const where = (f: FoundEntry) => copied.get(f.file) ?? join(dir, f.file);
  const verdicts = variants.map((v) => judge(v, s.found.filter((f) => f.variant === v.name).map((f) => f.class), !s.interrupted));
  const results = variants.map((v, i) => {
    const found = s.found.filter((f) => f.variant === v.name);
    const classes = found.map((f) => ({ class: f.class, message: f.message, step: f.length - 1, length: f.length, file: where(f), run: f.run, slot: f.slot, engine: f.engine }));
    return { variant: v.name, runs: perVariant.get(v.name) ?? 0, expect: v.expect, asExpected: verdicts[i].asExpected, divergence: classes[0] ?? null, classes };
  });
  if (json) console.log(JSON.stringify({ engine: 'portfolio', engines: plan.engines, seed, runsPerVariant: runs, dir, interrupted: s.interrupted, asExpected: verdicts.every((v) => v.asExpected), results }, null, 2));
  else {
    const w = Math.max(16, ...results.map((r) => r.variant.length));
    console.log(bold(`${'variant'.padEnd(w)} ${'runs'.padStart(6)}  ${'verdict'.padEnd(11)}  met`));
    for (const [i, r] of results.entries()) {
      const v = verdicts[i];
      const mark = verdictMark(v, 11);
      const met = r.classes.length ? r.classes.map((c) => c.class).join(', ') : 'clean';
      const want = v.asExpected ? '' : ` (expected ${r.expect.length ? r.expect.join(' or ') : 'clean'})`;
      console.log(`${printable(r.variant).padEnd(w)} ${String(r.runs).padStart(6)}  ${mark}  ${met}${want}`);
      for (const c of r.classes) console.log(dim(`${' '.repeat(w + 23)}${c.class} in ${c.length} steps: ${c.file}`));
    }
    if (s.interrupted) console.log(red('interrupted: the results above are what was met before the signal'));
    for (const line of verdictSummary(verdicts)) console.log(line);
  }
  if (s.interrupted) return interruptedStatus();
  return verdicts.every((v) => v.asExpected) ? 0 : 1;
}

// A check's folder is its own: a previous check's is replaced, anything
// else is refused.
function clearCheckFolder(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UsageError(`--out: ${dir} is not a folder`);
  if (readdirSync(dir).length === 0) return;
  let ours = false;
  try {
    ours = readSummary(dir).plan.untilExpected === true;
  } catch {
    ours = false;
  }
  if (!ours) throw new UsageError(`--out: ${printable(dir)} holds something other than an earlier check; give an empty or new folder`);
  const holder = lockHolder(dir);
  if (holder) throw new UsageError(`--out: ${printable(dir)} is in use by another daxcheck (pid ${holder.pid}, ${printable(holder.command)}); wait for it to end`);
  rmSync(dir, { recursive: true, force: true });
}

function copyCounterexample(file: string, corpus: string): string {
  const { cx, variant } = readCounterexample(file);
  return writeCounterexample(corpus, cx, variant);
}

function runsPerVariant(s: Summary): Map<string, number> {
  const out = new Map<string, number>();
  for (const [slot, runs] of s.slots) {
    const v = s.plan.variants[slot % s.plan.variants.length];
    out.set(v, (out.get(v) ?? 0) + runs);
  }
  return out;
}

// A row's verdict, coloured, padded to `width`.
function verdictMark(v: Verdict, width = 0): string {
  return v.asExpected ? green('as expected'.padEnd(width)) : red((v.unexpected.length ? 'UNEXPECTED' : 'MISSED').padEnd(width));
}

function checkFastCheck(variants: Variant[], runs: number, seed: number, corpus: string, json: boolean): number {
  const results = [];
  const verdicts = [];
  for (const v of variants) {
    progress(`checking ${v.name} (fast-check, ${runs} runs)...`);
    const r = checkVariant(v, { runs, seed });
    progressDone();
    let file: string | null = null;
    if (r.counterexample) file = writeCounterexample(corpus, r.counterexample, v);
    const d = r.divergence;
    const verdict = judge(v, d ? [d.class] : []);
    verdicts.push(verdict);
    results.push({ variant: v.name, runs: r.runs, expect: v.expect, asExpected: verdict.asExpected, divergence: d ? { class: d.class, message: d.message, step: d.step, length: d.step + 1, file } : null });
    if (!json) {
      const mark = verdictMark(verdict);
      if (!d) console.log(`${v.name.padEnd(16)} clean       ${runs} runs  ${mark}`);
      else {
        const ops = r.testCase!.threads.reduce((n, t) => n + t.ops.length, 0) + r.testCase!.nic.length;
        console.log(`${v.name.padEnd(16)} ${bold(d.class)} at step ${d.step} after ${r.runs} runs (shrunk to ${ops} ops, ${d.step + 1} steps)  ${mark}`);
        console.log(`${' '.repeat(16)} ${d.message}`);
        console.log(`${' '.repeat(16)} ${dim(`-> ${file}   (daxcheck replay ${file} --trace)`)}`);
      }
    }
  }
  if (json) console.log(JSON.stringify({ engine: 'fast-check', results }, null, 2));
  else for (const line of verdictSummary(verdicts)) console.log(line);
  return verdicts.every((v) => v.asExpected) ? 0 : 1;
}

function checkGuided(variants: Variant[], runs: number, seed: number, corpus: string, json: boolean): number {
  const results = [];
  const verdicts = [];
  for (const v of variants) {
    progress(`checking ${v.name} (guided, ${runs} runs)...`);
    const r = checkVariantGuided(v, { runs, seed });
    progressDone();
    const classes = r.classes.map((c) => {
      const file = writeCounterexample(corpus, c.counterexample, v);
      const d = c.divergence;
      return { class: c.class, run: c.atRun, message: d.message, step: d.step, length: d.step + 1, file };
    });
    const verdict = judge(v, classes.map((c) => c.class));
    verdicts.push(verdict);
    results.push({ variant: v.name, runs: r.runs, expect: v.expect, asExpected: verdict.asExpected, divergence: classes[0] ?? null, classes });
    if (!json) {
      const mark = verdictMark(verdict);
      if (!classes.length) console.log(`${v.name.padEnd(16)} clean       ${r.runs} runs (guided)  ${mark}`);
      for (const [i, c] of classes.entries()) {
        console.log(`${(i === 0 ? v.name : '').padEnd(16)} ${bold(c.class)} after ${c.run} runs (shrunk to ${c.length} steps)${i === 0 ? `  ${mark}` : ''}`);
        console.log(`${' '.repeat(16)} ${c.message}`);
        console.log(`${' '.repeat(16)} ${dim(`-> ${c.file}`)}`);
      }
    }
  }
  if (json) console.log(JSON.stringify({ engine: 'guided', results }, null, 2));
  else for (const line of verdictSummary(verdicts)) console.log(line);
  return verdicts.every((v) => v.asExpected) ? 0 : 1;
}

// ---- replay ----

export function formatTrace(trace: TraceStep[], upTo: number): string[] {
  return trace.slice(0, upTo + 1).map((s) => {
    const op = s.op ? `  ${formatOp(s.op)}` : '';
    const res = s.result !== undefined ? `  = ${s.result}` : '';
    return `${String(s.step).padStart(4)}  ${s.thread.padEnd(7)} ${s.fn}:${s.label}${op}${res}`;
  });
}

function cmdReplay(argv: string[]): number {
  const { values, positionals } = args(argv, { trace: { type: 'boolean' }, json: { type: 'boolean' }, variant: { type: 'string' } });
  if (positionals.length === 0) throw new UsageError('replay: give a counterexample file or directory');
  const other = values.variant !== undefined ? findVariant(values.variant) : null;
  const files = positionals.flatMap(counterexampleFiles);
  if (!files.length) throw new UsageError(`replay: no counterexample files in ${positionals.map(printable).join(' ')}`);
  const loaded = files.map((f) => ({ file: f, ...readCounterexample(f) })); // validate everything before running anything
  const results = [];
  let ok = true;
  for (const { file, cx, variant } of loaded) {
    const on = other ?? variant;
    const r = runTestCase(on, cx.testCase);
    const d = r.divergence;
    if (other) {
      // the program on another variant: is its outcome there what that variant is expected to show?
      const verdict = judge(other, d ? [d.class] : [], false);
      ok &&= verdict.asExpected;
      results.push({ file, variant: other.name, recorded: { variant: cx.variant.name, class: cx.divergence.class }, diverges: d !== null, class: d?.class ?? null, step: d?.step ?? null, message: d?.message ?? null, asExpected: verdict.asExpected });
      if (!values.json) {
        const what = d ? `${red('diverges')} on ${other.name}: ${bold(d.class)} at step ${d.step}: ${printable(d.message)}` : `${green('no longer diverges')} on ${other.name} (${r.steps} steps run)`;
        const mark = verdict.asExpected ? '' : red(`  (not as expected: ${other.name} is expected ${other.expect.length ? `to show ${other.expect.join(' or ')}` : 'clean'})`);
        console.log(`${printable(file)}: recorded on ${printable(cx.variant.name)} as ${cx.divergence.class}; ${what}${mark}`);
      }
    } else {
      const { reproduced, got } = reproduction(cx, r);
      ok &&= reproduced;
      results.push({ file, reproduced, class: cx.divergence.class });
      if (!values.json) {
        if (reproduced) console.log(`${green('reproduced')}  ${printable(file)}: ${printable(cx.variant.name)}: ${d!.class} at step ${d!.step}`);
        else console.log(`${red('NOT reproduced')}  ${printable(file)}: recorded ${cx.divergence.class} at step ${cx.divergence.step}, got ${got}`);
      }
    }
    if (values.trace && !values.json) {
      for (const line of formatTrace(r.trace, d ? d.step : r.trace.length - 1)) console.log(`    ${line}`);
      if (d) console.log(`    ${bold(d.class)}: ${printable(d.message)}`);
    }
  }
  if (values.json) console.log(JSON.stringify({ results }, null, 2));
  return ok ? 0 : 1;
}

// ---- matrix ----

async function cmdMatrix(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    json: { type: 'boolean' }, runs: { type: 'string' }, seed: { type: 'string' }, workers: { type: 'string' }, out: { type: 'string' },
    row: { type: 'string', multiple: true },
  });
  noPositionals('matrix', positionals);
  const opts: MatrixOptions = { runs: intOption('runs', values.runs, 60_000, 1), seed: intOption('seed', values.seed, 1, 0) };
  const workers = workersOption(values.workers);
  const out = values.out ?? join('out', 'matrix');
  const all = matrixIds();
  for (const r of values.row ?? []) if (!all.includes(r)) throw new UsageError(`matrix: no row "${printable(r)}" (rows: ${all.join(', ')})`);
  const ids = values.row ? all.filter((id) => values.row!.includes(id)) : all;
  // the clean rows always use their whole budget: start them first
  const clean = new Set(CLEAN_VARIANTS.map((v) => v.name));
  const order = [...ids.keys()].sort((a, b) => Number(clean.has(ids[b])) - Number(clean.has(ids[a])) || a - b);
  let done = 0;
  progress(`matrix: 0/${ids.length} rows (${workers} workers, up to ${opts.runs} runs a row)`);
  const tell = () => progress(`matrix: ${++done}/${ids.length} rows (${workers} workers, up to ${opts.runs} runs a row)`);
  let results: RowResult[];
  if (workers === 1) {
    results = [];
    for (const i of order) {
      results[i] = runMatrixRow(ids[i], opts);
      tell();
    }
  } else {
    const got = await runPool<[string, MatrixOptions], RowResult>(siblingModule('matrix'), 'runMatrixRow', order.map((i) => [ids[i], opts]), workers, tell);
    results = [];
    order.forEach((i, j) => (results[i] = got[j]));
  }
  progressDone();
  const rows = results.map(({ row, counterexample }) => {
    const file = counterexample ? writeCounterexample(out, counterexample, findVariant(row.id)) : null;
    return { ...row, file };
  });
  if (values.json) console.log(JSON.stringify({ rows }, null, 2));
  else {
    console.log(bold(`${'row'.padEnd(16)} ${'expect'.padEnd(10)} ${'found'.padEnd(30)} ${'ms'.padStart(7)} ${'runs'.padStart(6)} ${'steps'.padStart(5)} ${'BFS'.padStart(4)}`));
    for (const r of rows) {
      const what = r.found ? r.class! : 'nothing';
      const mark = r.asExpected ? green('ok') : red(r.expect === 'clean' ? 'FALSE REPORT' : `MISSED (want ${r.expectedClasses.join(' or ')})`);
      console.log(`${r.id.padEnd(16)} ${r.expect.padEnd(10)} ${what.padEnd(30)} ${String(r.ms ?? '-').padStart(7)} ${String(r.runs).padStart(6)} ${String(r.shrunkLength ?? '-').padStart(5)} ${String(r.minimalLength ?? '-').padStart(4)}  ${mark}`);
    }
  }
  return rows.every((r) => r.asExpected) ? 0 : 1;
}

// ---- bench ----

async function cmdBench(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { json: { type: 'boolean' }, startup: { type: 'boolean' } });
  noPositionals('bench', positionals);
  progress('bench: start-up of daxcheck list against node -e 0...');
  const startup = benchStartup();
  const startupLine = `startup                 ${startup.ratio}x   (daxcheck list ${startup.listMs} ms, node -e 0 ${startup.nodeMs} ms: medians of ${startup.runs} runs each, alternated)`;
  if (values.startup) {
    progressDone();
    console.log(values.json ? JSON.stringify({ startup }, null, 2) : startupLine);
    return 0;
  }
  progress('bench: model steps with lockstep checking...');
  const r = benchSteps();
  progress('bench: exploring a scenario to completion...');
  const e = benchExplore();
  progress('bench: one fuzz campaign with one worker, then with two...');
  const w = await benchWorkers();
  const seeds = 9;
  const capMs = 20_000;
  const bugs = benchBugs(seeds, capMs, (id) => progress(`bench: fuzz until ${id} is found, ${seeds} seeds...`));
  progressDone();
  if (values.json) console.log(JSON.stringify(BenchOutputSchema.parse({ ...r, exploreStatesPerSecond: e.exploreStatesPerSecond, bytesPerState: e.bytesPerState, workerSpeedup: w.workerSpeedup, bugs, explore: e, workers: w, startup }), null, 2));
  else {
    console.log(startupLine);
    console.log(`stepsPerSecond          ${r.stepsPerSecond}   (${r.steps} steps, ${r.testCases} test cases, ${r.seconds} s, one core)`);
    console.log(`exploreStatesPerSecond  ${e.exploreStatesPerSecond}   (${e.distinct} distinct states of ${e.scenario} on ${e.variant}, ${e.seconds} s, one core)`);
    console.log(`bytesPerState           ${e.bytesPerState}   (visited set, nodes and edges)`);
    console.log(`workerSpeedup           ${w.workerSpeedup}   (${w.runsPerSecond[0]} runs/s with one worker, ${w.runsPerSecond[1]} with two: the same ${w.runs} runs on the clean variants, ${w.seconds[0]} s and ${w.seconds[1]} s)`);
    console.log(`bugs: fuzz on one core until the first divergence, seeds 1-${seeds} (${capMs / 1000} s cap); shrunk vs the explorer's shortest`);
    console.log(`  id   median ms  found  class                          shrunk  minimal   no scenarios: median ms  found`);
    for (const b of bugs) {
      const ms = (x: number | null) => (x === null ? `>${capMs}` : String(x));
      console.log(`  ${b.id.padEnd(4)} ${ms(b.fuzzMedianMs).padStart(9)}  ${`${b.found}/${seeds}`.padStart(5)}  ${(b.class ?? '-').padEnd(30)} ${String(b.shrunkLength ?? '-').padStart(6)}  ${String(b.minimalLength ?? '-').padStart(7)}   ${ms(b.noScenarios.fuzzMedianMs).padStart(23)}  ${`${b.noScenarios.found}/${seeds}`.padStart(5)}`);
    }
  }
  return 0;
}

// ---- explore ----

function cmdExplore(argv: string[]): number {
  const { values, positionals } = args(argv, {
    variant: { type: 'string' }, scenario: { type: 'string', multiple: true }, depth: { type: 'string' }, 'max-states': { type: 'string' },
    'max-memory': { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' },
  });
  noPositionals('explore', positionals);
  if (!values.variant) throw new UsageError('explore: give --variant V');
  const variant = findVariant(values.variant);
  const scenarios = (values.scenario ?? scenarioNames()).map(loadScenario);
  const depth = intOption('depth', values.depth, EXPLORE_DEFAULTS.depth, 1);
  const maxStates = intOption('max-states', values['max-states'], EXPLORE_DEFAULTS.maxStates, 1);
  const maxBytes = intOption('max-memory', values['max-memory'], EXPLORE_DEFAULTS.maxMiB, 1) * 2 ** 20;
  const out = values.out ?? join('out', 'explore');
  const results = [];
  for (const sc of scenarios) {
    const t0 = Date.now();
    const r = exploreScenario(variant, sc, {
      depth, maxStates, maxBytes,
      onProgress: (s) => progress(`explore ${sc.name}: ${s.generated} generated, ${s.distinct} distinct, ${Math.round(s.distinct / Math.max(0.001, (Date.now() - t0) / 1000))}/s, depth ${s.depth}, queue ${s.queue}`),
    });
    progressDone();
    let file: string | null = null;
    if (r.divergence && r.testCase) {
      const run = runTestCase(variant, r.testCase);
      file = writeCounterexample(out, makeCounterexample(variant, r.testCase, run, { fastCheck: null, search: { engine: 'explore', scenario: sc.name, states: r.distinct } }), variant);
    }
    const { path, testCase, ...stats } = r;
    const d = r.divergence;
    results.push({ scenario: sc.name, ...stats, ms: Date.now() - t0, divergence: d ? { class: d.class, message: d.message, step: d.step, length: path!.length, file } : null });
    if (!values.json) {
      const shape = r.lasso ? `lasso: a stem of ${r.lasso.stem} steps, then a loop of ${r.lasso.loop} forever` : `at step ${d?.step} (shortest)`;
      const choice = r.choice ? `\n${' '.repeat(28)} with ${r.choice}` : '';
      const what = d ? `${red(d.class)} ${shape}` : r.complete ? green('complete, clean') : `${r.stoppedBy} bound reached, clean so far`;
      console.log(`${sc.name.padEnd(28)} ${what}   ${r.distinct} distinct / ${r.generated} generated states, depth ${r.depth}, ${Date.now() - t0} ms, collision probability ${r.collisionProbability.toExponential(1)}`);
      if (d) {
        console.log(`${' '.repeat(28)} ${d.message}${choice}`);
        console.log(`${' '.repeat(28)} ${dim(`-> ${file}   (daxcheck replay ${file} --trace)`)}`);
      }
    }
  }
  // an expected class can be missed only over the whole shipped set, each scenario searched to the end
  const whole = values.scenario === undefined && results.every((r) => r.complete || r.divergence);
  const verdict = judge(variant, results.flatMap((r) => (r.divergence ? [r.divergence.class] : [])), whole);
  if (values.json) console.log(JSON.stringify({ variant: variant.name, expect: variant.expect, asExpected: verdict.asExpected, results }, null, 2));
  else {
    if (results.some((r) => r.divergence)) console.log(dim(`counterexamples -> ${out}/`));
    for (const line of verdictSummary([verdict])) console.log(line);
  }
  return verdict.asExpected ? 0 : 1;
}

// ---- fuzz, merge ----

// "90s", "10m", "8h", "1h30m", or seconds.
export function parseBudget(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!/^\d+$/.test(text) && (!m || text === '')) throw new UsageError(`--budget: expected a time like 30s, 10m, 8h or 1h30m, got "${printable(text)}"`);
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : ((Number(m![1] ?? 0) * 60 + Number(m![2] ?? 0)) * 60 + Number(m![3] ?? 0)) * 1000;
  if (ms <= 0) throw new UsageError(`--budget: must be more than nothing, got "${printable(text)}"`);
  if (!Number.isSafeInteger(ms)) throw new UsageError(`--budget: too long, got "${printable(text)}"`);
  return ms;
}

const kilo = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(Math.round(n)));

function campaignJson(dir: string, s: Summary) {
  return { dir, ...s, found: s.found.map((f) => ({ ...f, file: join(dir, f.file) })) };
}

async function cmdFuzz(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    variant: { type: 'string', multiple: true }, all: { type: 'boolean' }, budget: { type: 'string' }, runs: { type: 'string' },
    workers: { type: 'string' }, seed: { type: 'string' }, shard: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' },
    resume: { type: 'string' }, 'slot-runs': { type: 'string' },
  });
  noPositionals('fuzz', positionals);
  if (values.all && values.variant) throw new UsageError('fuzz: give --variant or --all, not both');
  const workers = workersOption(values.workers);
  let campaign: Campaign;
  let dir: string;
  if (values.resume !== undefined) {
    const fixed = (['variant', 'all', 'runs', 'seed', 'shard', 'out', 'slot-runs'] as const).filter((k) => values[k] !== undefined);
    if (fixed.length) throw new UsageError(`fuzz --resume: the campaign keeps its own ${fixed.map((k) => `--${k}`).join(', ')}; give only --budget, --workers, --json`);
    dir = values.resume;
    const plan = readSummary(dir).plan;
    const budgetMs = values.budget !== undefined ? parseBudget(values.budget) : plan.runsPerVariant === null ? 10 * 60_000 : null;
    campaign = new Campaign({ dir, workers, budgetMs }, null);
  } else {
    const variants = (values.variant ?? VARIANTS.map((v) => v.name)).map((n) => findVariant(n).name);
    const runs = values.runs !== undefined ? intOption('runs', values.runs, 0, 1) : null;
    const budgetMs = values.budget !== undefined ? parseBudget(values.budget) : runs === null ? 10 * 60_000 : null;
    const shard = values.shard !== undefined ? parseShard(values.shard) : { index: 0, count: 1 };
    dir = values.out ?? join('out', 'campaign');
    const plan = { seed: intOption('seed', values.seed, 1, 0), variants, engines: [...PORTFOLIO], slotRuns: intOption('slot-runs', values['slot-runs'], SLOT_RUNS, 1), runsPerVariant: runs };
    campaign = new Campaign({ dir, workers, budgetMs }, { plan, shard });
  }
  const s0 = campaign.summary;
  const budget = campaign.budgetMs;
  if (!values.json) {
    const limit = [budget !== null ? `${seconds(budget)}` : null, s0.plan.runsPerVariant !== null ? `${s0.plan.runsPerVariant} runs a variant` : null].filter(Boolean).join(' or ');
    console.log(`fuzz: ${s0.plan.variants.length} variants x ${s0.plan.engines.join(', ')}; seed ${s0.plan.seed}, shard ${s0.shards[0]}, ${workers} workers, until ${limit} -> ${dir}/`);
    console.log(dim(`pct: depth ${PCT_DEPTHS.join(' or ')}, k = the parent run's scheduling points (steps, of its first ${HORIZON}, where more than one thread could run); a run meets a depth-d bug with probability >= 1/(n k^(d-1))`));
  }
  const s = await runCampaign(campaign, values.json === true);
  const { verdicts, whole } = campaignVerdicts(s);
  if (values.json) console.log(JSON.stringify({ ...campaignJson(dir, s), asExpected: verdicts.every((v) => v.asExpected), unexpected: verdicts.filter((v) => !v.asExpected) }, null, 2));
  else {
    for (const line of summaryText(s, (f) => join(dir, f)).slice(1)) console.log(line);
    console.log(dim(`summary: ${join(dir, SUMMARY)}, ${join(dir, SUMMARY_TEXT)}   (daxcheck replay ${dir})`));
    if (!whole) console.log(dim('a time budget, a stop or a partial set of shards: a variant whose expected classes were not met is not counted as missed'));
    for (const line of verdictSummary(verdicts)) console.log(line);
  }
  if (s.interrupted) return interruptedStatus();
  return verdicts.every((v) => v.asExpected) ? 0 : 1;
}

// Each variant of a campaign against its expectation.  An expected class
// can be missed only by a whole run budget over every shard.
function campaignVerdicts(s: Summary) {
  const count = Number(s.shards[0]?.split('/')[1]);
  const whole = s.exhausted && !s.interrupted && s.shards.length === count && s.shards.every((x) => x.split('/')[1] === String(count));
  const verdicts = s.plan.variants.map((name) => judge(findVariant(name), s.found.filter((f) => f.variant === name).map((f) => f.class), whole));
  return { verdicts, whole };
}

// Runs a campaign with a progress line on a terminal, stopping cleanly on
// the first SIGINT or SIGTERM and at once on the second.
let caught: NodeJS.Signals | null = null;

async function runCampaign(campaign: Campaign, json: boolean, events = true): Promise<Summary> {
  const onEvent = json || !events ? undefined : fuzzEvents();
  campaign.onEvent = onEvent;
  const budget = campaign.budgetMs;
  const tick = process.stderr.isTTY
    ? setInterval(() => {
        const p = campaign.progress();
        const left = p.leftMs !== null ? `, ${seconds(p.leftMs)} left` : '';
        const total = campaign.summary.plan.runsPerVariant !== null ? ` of at most ${kilo(campaign.summary.plan.runsPerVariant * campaign.summary.plan.variants.length)}` : '';
        progress(`${kilo(p.runs)} runs${total}, ${kilo(p.steps / Math.max(0.001, p.elapsedMs / 1000))} steps/s, ${p.found} found${budget !== null ? left : ''}`);
      }, 250)
    : null;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    caught ??= sig;
    if (signals++ === 0) campaign.stop();
    else campaign.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await campaign.run();
  } finally {
    if (tick) clearInterval(tick);
    progressDone();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// A campaign stopped by a signal wrote everything it had, and exits as a
// shell reports that signal: 130 for SIGINT, 143 for SIGTERM.
function interruptedStatus(): number {
  return caught === 'SIGTERM' ? 143 : 130;
}

// Lines for a reader that is not watching a progress bar: what was found,
// when, and a note on stopping.
function fuzzEvents() {
  return (e: CampaignEvent) => {
    if (e.kind === 'stopping') {
      progressDone();
      console.log(dim('stopping: the slots in hand end now and keep what they found (again to stop at once)'));
    } else if (e.kind === 'found' && !e.replaced) {
      progressDone();
      console.log(`${seconds(e.entry.firstAtMs).padStart(6)}  ${red('found')} ${e.entry.variant}: ${bold(e.entry.class)} (slot ${e.entry.slot} ${e.entry.engine}, run ${e.entry.run}, ${e.entry.length} steps)`);
    }
  };
}

function cmdMerge(argv: string[]): number {
  const { values, positionals } = args(argv, { out: { type: 'string' }, json: { type: 'boolean' } });
  if (!positionals.length) throw new UsageError('merge: give the campaign folders to merge');
  if (!values.out) throw new UsageError('merge: give --out DIR');
  const conform = positionals.filter(isConform);
  if (conform.length) {
    if (conform.length !== positionals.length) throw new UsageError('merge: give campaign folders or conformance folders, not both');
    const out = values.out;
    const r = writeNewFolder(out, 'merge', () => mergeConform(positionals, out));
    const unlisted = r.mismatches.filter((m) => !m.listed);
    if (values.json) console.log(JSON.stringify(r, null, 2));
    else {
      console.log(`merged ${positionals.length} conformance shards (${r.plan.shards.join(', ')}) -> ${values.out}/: ${r.programs} programs, ${r.ops} operations on ${r.kernel}`);
      console.log(unlisted.length ? `${unlisted.length} mismatches not listed in docs/fidelity.md` : 'no mismatch outside docs/fidelity.md');
    }
    return unlisted.length || r.problems.length ? 1 : 0;
  }
  const s = mergeCampaigns(positionals, values.out);
  const { verdicts } = campaignVerdicts(s);
  if (values.json) console.log(JSON.stringify({ ...campaignJson(values.out, s), asExpected: verdicts.every((v) => v.asExpected), unexpected: verdicts.filter((v) => !v.asExpected) }, null, 2));
  else {
    console.log(`merged ${positionals.length} folders -> ${values.out}/`);
    for (const line of summaryText(s, (f) => join(values.out!, f))) console.log(line);
    for (const line of verdictSummary(verdicts)) console.log(line);
  }
  return verdicts.every((v) => v.asExpected) ? 0 : 1;
}

// ---- report ----

function cmdReport(argv: string[]): number {
  const { values, positionals } = args(argv, { html: { type: 'string' }, text: { type: 'boolean' }, full: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('report: give one counterexample file or folder');
  if (values.full && !values.text) throw new UsageError('--full: only with --text');
  if (values.html === '') throw new UsageError('--html: expected a file name');
  const out = report(positionals[0], { html: values.html, text: !!values.text, full: !!values.full });
  if (out.text !== null) process.stdout.write(printableLines(out.text)); // a file's strings reach the terminal as text
  const pages = out.written.length - (out.index ? 1 : 0);
  if (out.index) console.error(`wrote ${out.index}${pages ? ` and ${pages} counterexample page${pages === 1 ? '' : 's'} beside their files` : ''}`);
  else if (pages) console.error(`wrote ${out.written[0]}`);
  return 0;
}



// ---- the real kernel: vm setup, conform ----

async function cmdVm(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'setup') throw new UsageError(sub === undefined ? 'vm: give a subcommand (setup)' : `vm: unknown subcommand "${printable(sub)}" (setup)`);
  const { values, positionals } = args(rest, { kernel: { type: 'string' }, json: { type: 'boolean' } });
  noPositionals('vm setup', positionals);
  const log = values.json ? undefined : (l: string) => console.log(l);
  const built = buildGuest({ kernel: values.kernel, log });
  // KVM when a short probe boots, TCG otherwise
  let accel: 'kvm' | 'tcg' = 'tcg';
  let probe = null;
  if (existsSync('/dev/kvm')) {
    log?.('probing KVM (20 s at most)...');
    try {
      const r = await boot(built, 'P 0\nE\n', 'kvm', 20_000);
      if (r.finished) {
        accel = 'kvm';
        probe = r;
      }
    } catch {
      // not usable
    }
  }
  if (!probe) {
    log?.('booting under TCG...');
    probe = await boot(built, 'P 0\nE\n', 'tcg', 180_000);
    if (!probe.finished) throw new VmError(`the guest did not boot to the executor: ${printable(probe.console.split('\n').slice(-3).join(' / '))}`);
  }
  const vm = { ...built, accel, bootSeconds: Math.round((probe.wallMs / 1000) * 10) / 10 };
  writeVm(vm);
  if (values.json) console.log(JSON.stringify(vm, null, 2));
  else console.log(`guest ready: ${vm.kernel} (${vm.release}), ${accel}, boots and runs the executor in ${vm.bootSeconds} s -> ${vmFile()}`);
  return 0;
}

async function cmdConform(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    runs: { type: 'string' }, seed: { type: 'string' }, variant: { type: 'string' }, json: { type: 'boolean' }, shard: { type: 'string' },
    out: { type: 'string' }, batch: { type: 'string' }, threads: { type: 'string' },
  });
  noPositionals('conform', positionals);
  const threads = values.threads === undefined ? 0 : intOption('threads', values.threads, 2, 2, 3);
  const variant = findVariant(values.variant ?? 'linux-6.1'); // the version of the guest's kernel
  const runs = intOption('runs', values.runs, 200, 1, 1_000_000);
  const seed = intOption('seed', values.seed, 1, 0);
  const batch = intOption('batch', values.batch, 1000, 1, 100_000);
  const shard = values.shard !== undefined ? parseShard(values.shard) : { index: 0, count: 1 };
  const out = values.out ?? join('out', 'conform');
  const vm = readVm();
  const opts = {
    variant, runs, seed, shard, out, batch, vm,
    boot: (progs: string) => boot(vm, progs, vm.accel, 600_000),
    onProgress: (done: number, total: number) => progress(`conform: ${done}/${total} programs on ${vm.kernel}`),
  };
  const r: ConformResult = threads ? await runThreaded(opts, threads) : await runConform(opts);
  progressDone();
  const unlisted = r.mismatches.filter((m) => !m.listed);
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(`conform: ${r.programs} programs, ${r.ops} operations on ${r.kernel} (${vm.accel}) against ${r.variant}, ${r.boots} boot(s), boot ${r.bootSeconds} s, ${r.programsPerSecond} programs/s once booted, ${r.wallSeconds} s in all`);
    if (r.threads) {
      const t = r.threads;
      console.log(`histories of ${t.threads} threads: ${t.histories}, linearizable ${t.linearizable}, not linearizable ${t.notLinearizable}, search capped ${t.unknown}, hangs ${t.hangs} (the longest search: ${t.specRuns} model runs)`);
    }
    for (const m of r.mismatches) console.log(`${m.listed ? dim('listed  ') : red('MISMATCH')} ${m.op}: model ${m.expected}, kernel ${m.observed}  ${dim(m.file)}`);
    console.log(bold('coverage (outcomes the kernel gave, per op)'));
    for (const [op, outs] of Object.entries(r.coverage)) console.log(`  ${op.padEnd(18)} ${Object.entries(outs).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    for (const p of r.problems) console.log(red(`problem: ${printable(p)}`));
    for (const k of r.kernelWarnings) console.log(red(`kernel: ${printable(k)}`));
    console.log(unlisted.length ? `${unlisted.length} mismatches not listed in docs/fidelity.md` : 'no mismatch outside docs/fidelity.md');
  }
  return unlisted.length || r.problems.length ? 1 : 0;
}

// ---- reproducers: csource, repro ----

function oneCounterexample(cmd: string, positionals: string[]) {
  if (positionals.length !== 1) throw new UsageError(`${cmd}: give one counterexample file`);
  const file = positionals[0];
  if (!existsSync(file) || statSync(file).isDirectory()) throw new UsageError(`${cmd}: ${printable(file)} is not a counterexample file`);
  return { file, ...readCounterexample(file) };
}

function cmdCsource(argv: string[]): number {
  const { values, positionals } = args(argv, { output: { type: 'string', short: 'o' } });
  const { file, cx, variant } = oneCounterexample('csource', positionals);
  if (values.output === '') throw new UsageError('-o: expected a file name');
  const src = cSource(cx, variant, file);
  if (values.output === undefined) process.stdout.write(src.text);
  else {
    writeFileAtomic(values.output, src.text);
    console.error(`wrote ${values.output}: ${src.ops} operations on ${src.threads} thread(s)${src.consequence ? '' : `; a ${cx.divergence.class} has no consequence a real kernel shows: it reports the outcomes only`}`);
  }
  return 0;
}

async function cmdRepro(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { times: { type: 'string' }, kernel: { type: 'string' }, json: { type: 'boolean' } });
  const { file, cx, variant } = oneCounterexample('repro', positionals);
  const times = intOption('times', values.times, 10, 1, 10_000);
  let vm = readVm();
  if (values.kernel !== undefined && values.kernel !== vm.kernel) vm = { ...vm, ...buildGuest({ kernel: values.kernel }) };
  const r = await runRepro({
    file, cx, variant, times, vm,
    boot: (progs, extra) => boot(vm, progs, vm.accel, 1_800_000, extra),
  });
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(`${r.reproduced ? red(r.verdict) : green(r.verdict)}  ${printable(file)} (${r.class} on ${r.variant}), ${r.wallSeconds} s`);
    for (const e of r.evidence) console.log(`  ${printable(e)}`);
    for (const k of r.kernelWarnings) console.log(`  kernel: ${printable(k)}`);
  }
  return 0;
}

// What a user can cause: one line, exit 2.
export function isUserError(e: unknown): boolean {
  return e instanceof UsageError || e instanceof VariantError || e instanceof TestCaseError || e instanceof CorpusError || e instanceof ScenarioError || e instanceof CampaignError || e instanceof InternalError || e instanceof FileError || e instanceof LockError || e instanceof VmError || e instanceof CsourceError;
}

export const COMMANDS = nameTable({
  check: cmdCheck, replay: cmdReplay, matrix: cmdMatrix, explore: cmdExplore, bench: cmdBench, fuzz: cmdFuzz, merge: cmdMerge, report: cmdReport, vm: cmdVm, conform: cmdConform, csource: cmdCsource, repro: cmdRepro,
} satisfies Record<string, (argv: string[]) => number | Promise<number>>);
