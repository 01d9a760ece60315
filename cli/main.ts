// daxcheck: the command line.  Exit 0 = clean, 1 = divergence found,
// 2 = bad usage or input.  --json prints one JSON document on stdout.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { join } from 'node:path';
import { VARIANTS, CLEAN_VARIANTS, FLAGS, KNOWN_BUGS, findVariant, setFlags, VariantError, type Variant } from '../models/variants/index.ts';
import { CLASSES } from '../properties/classes.ts';
import { TestCaseError, formatOp } from '../models/testcase.ts';
import { checkVariant, checkVariantGuided, InternalError } from '../fuzz/check.ts';
import { runTestCase, type TraceStep } from '../fuzz/lockstep.ts';
import { CorpusError, makeCounterexample, readCounterexample, reproduction, writeCounterexample } from '../fuzz/corpus.ts';
import { EXPLORE_DEFAULTS, exploreScenario, loadScenario, scenarioNames, ScenarioError } from '../fuzz/explore.ts';
import { benchBugs, benchExplore, benchSteps, benchWorkers } from '../fuzz/bench.ts';
import { matrixIds, runMatrixRow, type MatrixOptions, type RowResult } from '../fuzz/matrix.ts';
import { runPool } from '../fuzz/pool.ts';
import { availableParallelism } from 'node:os';
import { Campaign, CampaignError, counterexampleFiles, SUMMARY, SUMMARY_TEXT, duration as seconds, mergeCampaigns, summaryText, parseShard, readSummary, type CampaignEvent, type Summary } from '../fuzz/campaign.ts';
import { PORTFOLIO, SLOT_RUNS, PCT_DEPTHS } from '../fuzz/slots.ts';
import { HORIZON } from '../fuzz/schedulers.ts';
import { report } from '../reports/index.ts';

class UsageError extends Error {}

const USAGE = `usage: daxcheck <command> [options]

commands:
  list    [--json]                       variants, their flags, and the divergence classes
  check   [--variant V | --all] [--runs N] [--seed S] [--corpus DIR] [--guided] [--json]
                                         property suite over generated test cases
  replay  <file|dir>... [--trace] [--json]
                                         re-run counterexample files, check they reproduce
  matrix  [--runs N] [--seed S] [--workers N] [--out DIR] [--json]
                                         every known bug and clean variant: found, class,
                                         time to find, shrunk length (exit 0 if all as expected)
  explore --variant V [--scenario S]... [--depth D] [--max-states N] [--max-memory MiB] [--out DIR] [--json]
                                         breadth-first over every interleaving of the shipped
                                         scenarios: complete or the shortest counterexample
  fuzz    [--variant V | --all] [--budget 30s|10m|8h] [--runs N] [--workers N] [--seed S]
          [--shard i/N] [--out DIR] [--slot-runs N] [--json]
          fuzz --resume DIR [--budget T] [--workers N] [--json]
                                         a campaign: every core, a portfolio of schedulers,
                                         one shrunk counterexample per variant and class
  merge   DIR... --out DIR [--json]      shards of one campaign into one folder
  report  <file|dir> [--html FILE] [--text]
                                         a counterexample as a page (beside it, or FILE) or
                                         as a 72-column text report; a folder as an index
                                         page linking a page per counterexample
  bench   [--json]                       speed of the models with every check on

exit status: 0 clean, 1 divergence found (or not reproduced), 2 bad usage or input`;

// ---- output helpers ----

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const red = paint(31);
const green = paint(32);
const bold = paint(1);
const dim = paint(2);

function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
}
function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

function args<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0].replace(/\. To specify a positional.*$/, ''));
  }
}

function intOption(name: string, value: string | undefined, dflt: number, min: number): number {
  if (value === undefined) return dflt;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name}: expected an integer >= ${min}, got "${value}"`);
  return Number(value);
}

// ---- list ----

function cmdList(argv: string[]): number {
  const { values } = args(argv, { json: { type: 'boolean' } });
  if (values.json) {
    const doc = {
      variants: VARIANTS.map((v) => ({ name: v.name, contract: v.contract, expect: v.expect, flags: v.flags, seed: v.seed, summary: v.summary })),
      knownBugs: KNOWN_BUGS,
      flags: FLAGS,
      properties: CLASSES,
    };
    console.log(JSON.stringify(doc, null, 2));
    return 0;
  }
  console.log(bold('variants'));
  for (const v of VARIANTS) {
    const flags = setFlags(v);
    console.log(`  ${v.name.padEnd(16)} ${v.contract.padEnd(10)} expect ${v.expect.padEnd(10)} ${flags.length ? flags.join(', ') : dim('no flags set')}`);
    console.log(`  ${' '.repeat(16)} ${dim(v.summary)}`);
  }
  console.log(bold('\nknown bugs (one flag flipped on a clean variant; the variant is named by the id)'));
  for (const b of KNOWN_BUGS) console.log(`  ${b.id.padEnd(4)} ${b.base.padEnd(16)} +${b.flag.padEnd(30)} ${b.title}`);
  console.log(bold('\nflags (false in a clean variant)'));
  for (const [f, d] of Object.entries(FLAGS)) console.log(`  ${f.padEnd(30)} ${d}`);
  console.log(bold('\nproperties (divergence classes)'));
  for (const [c, d] of Object.entries(CLASSES)) console.log(`  ${c.padEnd(30)} ${d}`);
  return 0;
}

// ---- check ----

function cmdCheck(argv: string[]): number {
  const { values, positionals } = args(argv, {
    variant: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    corpus: { type: 'string' },
    json: { type: 'boolean' },
    guided: { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError(`check: unexpected argument "${positionals[0]}"`);
  if (values.all && values.variant) throw new UsageError('check: give --variant or --all, not both');
  const variants: Variant[] = values.variant ? values.variant.map(findVariant) : VARIANTS;
  const runs = intOption('runs', values.runs, 3000, 1);
  const seed = intOption('seed', values.seed, 1, 0);
  const corpus = values.corpus ?? 'corpus';
  if (values.guided) return checkGuided(variants, runs, seed, corpus, values.json === true);
  const results = [];
  let diverged = false;
  for (const v of variants) {
    progress(`checking ${v.name} (${runs} runs)...`);
    const r = checkVariant(v, { runs, seed });
    progressDone();
    let file: string | null = null;
    if (r.counterexample) {
      file = writeCounterexample(corpus, r.counterexample, v);
      diverged = true;
    }
    const d = r.divergence;
    results.push({
      variant: v.name,
      runs: r.runs,
      divergence: d ? { class: d.class, message: d.message, step: d.step, length: d.step + 1, file } : null,
    });
    if (!values.json) {
      if (!d) console.log(`${v.name.padEnd(16)} ${green('clean')}       ${runs} runs`);
      else {
        const ops = r.testCase!.threads.reduce((n, t) => n + t.ops.length, 0) + r.testCase!.nic.length;
        console.log(`${v.name.padEnd(16)} ${red('divergence')}  ${bold(d.class)} at step ${d.step} after ${r.runs} runs (shrunk to ${ops} ops, ${d.step + 1} steps)`);
        console.log(`${' '.repeat(16)} ${d.message}`);
        console.log(`${' '.repeat(16)} ${dim(`-> ${file}   (daxcheck replay ${file} --trace)`)}`);
      }
    }
  }
  if (values.json) console.log(JSON.stringify({ results }, null, 2));
  return diverged ? 1 : 0;
}

function checkGuided(variants: Variant[], runs: number, seed: number, corpus: string, json: boolean): number {
  const results = [];
  let diverged = false;
  for (const v of variants) {
    progress(`checking ${v.name} (guided, ${runs} runs)...`);
    const r = checkVariantGuided(v, { runs, seed });
    progressDone();
    const classes = r.classes.map((c) => {
      const file = writeCounterexample(corpus, c.counterexample, v);
      const d = c.divergence;
      return { class: c.class, run: c.atRun, message: d.message, step: d.step, length: d.step + 1, file };
    });
    diverged ||= classes.length > 0;
    results.push({ variant: v.name, runs: r.runs, divergence: classes[0] ?? null, classes });
    if (!json) {
      if (!classes.length) console.log(`${v.name.padEnd(16)} ${green('clean')}       ${r.runs} runs (guided)`);
      for (const [i, c] of classes.entries()) {
        console.log(`${(i === 0 ? v.name : '').padEnd(16)} ${i === 0 ? red('divergence') : '          '}  ${bold(c.class)} after ${c.run} runs (shrunk to ${c.length} steps)`);
        console.log(`${' '.repeat(16)} ${c.message}`);
        console.log(`${' '.repeat(16)} ${dim(`-> ${c.file}`)}`);
      }
    }
  }
  if (json) console.log(JSON.stringify({ results }, null, 2));
  return diverged ? 1 : 0;
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
  const { values, positionals } = args(argv, { trace: { type: 'boolean' }, json: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('replay: give a counterexample file or directory');
  const files = positionals.flatMap(counterexampleFiles);
  const loaded = files.map((f) => ({ file: f, ...readCounterexample(f) })); // validate everything before running anything
  const results = [];
  let ok = true;
  for (const { file, cx, variant } of loaded) {
    const r = runTestCase(variant, cx.testCase);
    const d = r.divergence;
    const { reproduced, got } = reproduction(cx, r);
    ok &&= reproduced;
    results.push({ file, reproduced, class: cx.divergence.class });
    if (values.json) continue;
    const where = file;
    if (reproduced) console.log(`${green('reproduced')}  ${where}: ${cx.variant.name}: ${d!.class} at step ${d!.step}`);
    else {
      console.log(`${red('NOT reproduced')}  ${where}: recorded ${cx.divergence.class} at step ${cx.divergence.step}, got ${got}`);
    }
    if (values.trace) {
      for (const line of formatTrace(r.trace, d ? d.step : r.trace.length - 1)) console.log(`    ${line}`);
      if (d) console.log(`    ${bold(d.class)}: ${d.message}`);
    }
  }
  if (values.json) console.log(JSON.stringify({ results }, null, 2));
  else if (!files.length) console.log(dim(`no counterexample files in ${positionals.join(' ')}`));
  return ok ? 0 : 1;
}

// ---- matrix ----

async function cmdMatrix(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    json: { type: 'boolean' }, runs: { type: 'string' }, seed: { type: 'string' }, workers: { type: 'string' }, out: { type: 'string' },
  });
  if (positionals.length) throw new UsageError(`matrix: unexpected argument "${positionals[0]}"`);
  const opts: MatrixOptions = { runs: intOption('runs', values.runs, 60_000, 1), seed: intOption('seed', values.seed, 1, 0) };
  const workers = intOption('workers', values.workers, availableParallelism(), 1);
  const out = values.out ?? 'corpus';
  const ids = matrixIds();
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
    const got = await runPool<[string, MatrixOptions], RowResult>(new URL('../fuzz/matrix.ts', import.meta.url), 'runMatrixRow', order.map((i) => [ids[i], opts]), workers, tell);
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
  const { values, positionals } = args(argv, { json: { type: 'boolean' } });
  if (positionals.length) throw new UsageError(`bench: unexpected argument "${positionals[0]}"`);
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
  if (values.json) console.log(JSON.stringify({ ...r, exploreStatesPerSecond: e.exploreStatesPerSecond, bytesPerState: e.bytesPerState, workerSpeedup: w.workerSpeedup, bugs, explore: e, workers: w }, null, 2));
  else {
    console.log(`stepsPerSecond          ${r.stepsPerSecond}   (${r.steps} steps, ${r.testCases} test cases, ${r.seconds} s, one core)`);
    console.log(`exploreStatesPerSecond  ${e.exploreStatesPerSecond}   (${e.distinct} distinct states of ${e.scenario} on ${e.variant}, ${e.seconds} s, one core)`);
    console.log(`bytesPerState           ${e.bytesPerState}   (visited set, nodes and edges)`);
    console.log(`workerSpeedup           ${w.workerSpeedup}   (${w.runsPerSecond[0]} runs/s with one worker, ${w.runsPerSecond[1]} with two: the same ${w.runs} runs on the clean variants, ${w.seconds[0]} s and ${w.seconds[1]} s)`);
    console.log(`bugs: fuzz on one core until the first divergence, seeds 1-${seeds} (${capMs / 1000} s cap); shrunk vs the explorer's shortest`);
    console.log(`  id   median ms  found  class                          shrunk  minimal`);
    for (const b of bugs) {
      const ms = b.fuzzMedianMs === null ? `>${capMs}` : String(b.fuzzMedianMs);
      console.log(`  ${b.id.padEnd(4)} ${ms.padStart(9)}  ${`${b.found}/${seeds}`.padStart(5)}  ${(b.class ?? '-').padEnd(30)} ${String(b.shrunkLength ?? '-').padStart(6)}  ${String(b.minimalLength ?? '-').padStart(7)}`);
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
  if (positionals.length) throw new UsageError(`explore: unexpected argument "${positionals[0]}"`);
  if (!values.variant) throw new UsageError('explore: give --variant V');
  const variant = findVariant(values.variant);
  const scenarios = (values.scenario ?? scenarioNames()).map(loadScenario);
  const depth = intOption('depth', values.depth, EXPLORE_DEFAULTS.depth, 1);
  const maxStates = intOption('max-states', values['max-states'], EXPLORE_DEFAULTS.maxStates, 1);
  const maxBytes = intOption('max-memory', values['max-memory'], EXPLORE_DEFAULTS.maxMiB, 1) * 2 ** 20;
  const out = values.out ?? 'corpus';
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
  if (values.json) console.log(JSON.stringify({ variant: variant.name, results }, null, 2));
  return results.some((r) => r.divergence) ? 1 : 0;
}

// ---- fuzz, merge ----

// "90s", "10m", "8h", "1h30m", or seconds.
export function parseBudget(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!m || text === '') throw new UsageError(`--budget: expected a time like 30s, 10m, 8h or 1h30m, got "${text}"`);
  const ms = ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
  if (ms <= 0) throw new UsageError(`--budget: must be more than nothing, got "${text}"`);
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
  if (positionals.length) throw new UsageError(`fuzz: unexpected argument "${positionals[0]}"`);
  if (values.all && values.variant) throw new UsageError('fuzz: give --variant or --all, not both');
  const workers = intOption('workers', values.workers, availableParallelism(), 1);
  let campaign: Campaign;
  let dir: string;
  const onEvent = values.json ? undefined : fuzzEvents();
  if (values.resume !== undefined) {
    const fixed = (['variant', 'all', 'runs', 'seed', 'shard', 'out', 'slot-runs'] as const).filter((k) => values[k] !== undefined);
    if (fixed.length) throw new UsageError(`fuzz --resume: the campaign keeps its own ${fixed.map((k) => `--${k}`).join(', ')}; give only --budget, --workers, --json`);
    dir = values.resume;
    const plan = readSummary(dir).plan;
    const budgetMs = values.budget !== undefined ? parseBudget(values.budget) : plan.runsPerVariant === null ? 10 * 60_000 : null;
    campaign = new Campaign({ dir, workers, budgetMs, onEvent }, null);
  } else {
    const variants = (values.variant ?? VARIANTS.map((v) => v.name)).map((n) => findVariant(n).name);
    const runs = values.runs !== undefined ? intOption('runs', values.runs, 0, 1) : null;
    const budgetMs = values.budget !== undefined ? parseBudget(values.budget) : runs === null ? 10 * 60_000 : null;
    const shard = values.shard !== undefined ? parseShard(values.shard) : { index: 0, count: 1 };
    dir = values.out ?? 'campaign';
    const plan = { seed: intOption('seed', values.seed, 1, 0), variants, engines: [...PORTFOLIO], slotRuns: intOption('slot-runs', values['slot-runs'], SLOT_RUNS, 1), runsPerVariant: runs };
    campaign = new Campaign({ dir, workers, budgetMs, onEvent }, { plan, shard });
  }
  const s0 = campaign.summary;
  const budget = campaign.budgetMs;
  if (!values.json) {
    const limit = [budget !== null ? `${seconds(budget)}` : null, s0.plan.runsPerVariant !== null ? `${s0.plan.runsPerVariant} runs a variant` : null].filter(Boolean).join(' or ');
    console.log(`fuzz: ${s0.plan.variants.length} variants x ${s0.plan.engines.join(', ')}; seed ${s0.plan.seed}, shard ${s0.shards[0]}, ${workers} workers, until ${limit} -> ${dir}/`);
    console.log(dim(`pct: depth ${PCT_DEPTHS.join(' or ')}, k = the parent run's scheduling points (steps, of its first ${HORIZON}, where more than one thread could run); a run meets a depth-d bug with probability >= 1/(n k^(d-1))`));
  }
  const tick = process.stderr.isTTY
    ? setInterval(() => {
        const p = campaign.progress();
        const left = p.leftMs !== null ? `, ${seconds(p.leftMs)} left` : '';
        progress(`fuzz: ${kilo(p.runs)} runs, ${kilo(p.steps / Math.max(0.001, p.elapsedMs / 1000))} steps/s, ${p.found} found${left}`);
      }, 250)
    : null;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signals++ === 0 && sig !== 'SIGKILL') campaign.stop();
    else campaign.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let s: Summary;
  try {
    s = await campaign.run();
  } finally {
    if (tick) clearInterval(tick);
    progressDone();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (values.json) console.log(JSON.stringify(campaignJson(dir, s), null, 2));
  else {
    for (const line of summaryText(s, (f) => join(dir, f)).slice(1)) console.log(line);
    console.log(dim(`summary: ${join(dir, SUMMARY)}, ${join(dir, SUMMARY_TEXT)}   (daxcheck replay ${dir})`));
  }
  return s.found.length ? 1 : 0;
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
  const s = mergeCampaigns(positionals, values.out);
  if (values.json) console.log(JSON.stringify(campaignJson(values.out, s), null, 2));
  else {
    console.log(`merged ${positionals.length} folders -> ${values.out}/`);
    for (const line of summaryText(s, (f) => join(values.out!, f))) console.log(line);
  }
  return s.found.length ? 1 : 0;
}

// ---- report ----

function cmdReport(argv: string[]): number {
  const { values, positionals } = args(argv, { html: { type: 'string' }, text: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('report: give one counterexample file or folder');
  if (values.html === '') throw new UsageError('--html: expected a file name');
  const out = report(positionals[0], { html: values.html, text: !!values.text });
  if (out.text !== null) process.stdout.write(out.text);
  const pages = out.written.length - (out.index ? 1 : 0);
  if (out.index) console.error(`wrote ${out.index}${pages ? ` and ${pages} counterexample page${pages === 1 ? '' : 's'} beside their files` : ''}`);
  else if (pages) console.error(`wrote ${out.written[0]}`);
  return 0;
}

// ---- main ----

export function main(argv: string[]): number | Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'list': return cmdList(rest);
    case 'check': return cmdCheck(rest);
    case 'replay': return cmdReplay(rest);
    case 'matrix': return cmdMatrix(rest);
    case 'explore': return cmdExplore(rest);
    case 'bench': return cmdBench(rest);
    case 'fuzz': return cmdFuzz(rest);
    case 'merge': return cmdMerge(rest);
    case 'report': return cmdReport(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${cmd}" (try daxcheck --help)`);
  }
}

async function run(): Promise<void> {
  // a reader that goes away (| head) is not an error
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError || e instanceof VariantError || e instanceof TestCaseError || e instanceof CorpusError || e instanceof ScenarioError || e instanceof CampaignError) {
      console.error(`daxcheck: ${e.message}`);
    } else if (e instanceof InternalError) {
      console.error(`daxcheck: ${e.message}`);
    } else {
      console.error(`daxcheck: internal error: ${(e as Error).message}${process.env.DAXCHECK_DEBUG ? `\n${(e as Error).stack}` : ' (set DAXCHECK_DEBUG=1 for a stack trace)'}`);
    }
    process.exitCode = 2;
  }
}

await run();
