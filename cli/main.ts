// daxcheck: the command line.  Exit 0 = every result as expected, 1 =
// something was not (a clean variant diverged, an expected bug was missed,
// a counterexample no longer reproduces), 2 = bad usage or input, 130/143
// = a campaign stopped by SIGINT/SIGTERM after writing what it had.
// --json prints one JSON document on stdout.
//
// This module stays light: help, --version and list load nothing of the
// models; every other command loads cli/commands.ts when it is asked for.

import { readFileSync } from 'node:fs';
import { ROOT } from '../fuzz/root.ts';
import { UsageError, printable } from './common.ts';
import { cmdList } from './list.ts';
import { nameTable } from '../models/names.ts';

const EXIT = `exit status: 0 every result as expected, 1 something not as expected,
2 bad usage or input`;

const HELP = nameTable({
  list: `usage: daxcheck list [--json]

The catalog: every variant with its flags and what it is expected to show
(clean, or the divergence classes of its known bugs), the known bugs K1-K12,
the flags, the properties (divergence classes) and the shipped scenarios.

  --json    one JSON document: variants, knownBugs, flags, properties, scenarios`,

  check: `usage: daxcheck check [--variant V]... [--all] [--runs N] [--seed S] [--workers N]
                      [--out DIR] [--corpus DIR] [--json]
       daxcheck check --guided | --fast-check [--variant V]... [--runs N] [--seed S] [--corpus DIR] [--json]

The property suite over the catalog (default: every variant).  It runs the
campaign portfolio (scenario x4, guided, pct, random-walk, fast-check) with
a run budget per variant, in segments of one 250-run slot of each engine; a
variant with known bugs stops after the segment that met one of its expected
classes, a clean variant runs its whole budget.  Each variant is then judged
against its expectation (daxcheck list).

  --variant V     a variant of the catalog (repeatable); default every one
  --runs N        at most N test cases a variant (default 24000)
  --seed S        the campaign seed (default 1); the same seed, the same result
  --workers N     worker threads (default and most: one per core)
  --out DIR       the check's folder (default out/check, replaced each run):
                  summary.json and one counterexample per variant and class
  --corpus DIR    also copy the counterexamples into DIR/<class>/<hash>.json
                  (--corpus corpus adds them to the repository's corpus)
  --guided        the matrix's coverage-guided search alone, one variant after
                  another, meeting every class it can (default 3000 runs)
  --fast-check    plain fast-check, stopping at the first divergence
                  (default 3000 runs); counterexamples to --corpus (default out/check)
  --json          {"engine","results":[{"variant","runs","expect","asExpected",
                  "divergence","classes"}],...}

${EXIT}; 130 (143) when stopped by SIGINT (SIGTERM).`,

  replay: `usage: daxcheck replay <file|dir>... [--trace] [--variant V] [--json]

Re-run counterexample files (a folder: every .json under it).

  --trace         the numbered steps up to the divergence
  --variant V     run each file's program on the catalog variant V instead of
                  the one it was recorded on: how to check a fix.  Says whether
                  the program still diverges there.
  --json          {"results":[{"file","reproduced","class"}]}; with --variant
                  {"results":[{"file","variant","diverges","class","asExpected",...}]}

exit status: 0 every file reproduces its recorded divergence; with --variant,
0 when the program's outcome on V is what V is expected to show (for a clean
variant such as upstream: no divergence), 1 otherwise; 2 bad usage or input,
or no counterexample files.  In CI: \`daxcheck replay FILE --variant upstream\`
fails while the fix does not hold.`,

  matrix: `usage: daxcheck matrix [--runs N] [--seed S] [--workers N] [--row ID]... [--out DIR] [--json]

Every known bug and both clean variants under the same coverage-guided
search: found or not, class, time to find, shrunk length, and the
explorer's shortest trace of the class over the shipped scenarios.

  --runs N        at most N test cases a row (default 60000)
  --seed S        (default 1)
  --workers N     (default and most: one per core)
  --row ID        only this row, a known bug's id or a clean variant (repeatable)
  --out DIR       counterexamples (default out/matrix)
  --json          {"rows":[{"id","variant","expect","found","class","ms",
                  "shrunkLength","minimalLength","asExpected",...}]}

${EXIT}.`,

  explore: `usage: daxcheck explore --variant V [--scenario NAME|PATH]... [--depth D]
                        [--max-states N] [--max-memory MiB] [--out DIR] [--json]

Breadth-first search over every interleaving of bounded scenarios (default:
every shipped one, daxcheck list), then a search for fair no-progress
cycles: "complete, clean", or the shortest counterexample.

  --variant V     the variant (required)
  --scenario S    a shipped scenario's name, or a scenario file's path (repeatable)
  --depth D       (default 400)   --max-states N (default 2000000)
  --max-memory M  MiB for the visited set, nodes and edges (default 4096)
  --out DIR       counterexamples (default out/explore)
  --json          {"variant","expect","asExpected","results":[{"scenario",
                  "generated","distinct","depth","complete","stoppedBy","lasso",
                  "divergence",...}]}

${EXIT}.  A variant's expected class counts as missed only when every
shipped scenario was searched to the end.`,

  fuzz: `usage: daxcheck fuzz [--variant V]... [--all] [--budget 30s|10m|8h] [--runs N]
                     [--workers N] [--seed S] [--shard i/N] [--out DIR] [--slot-runs N] [--json]
       daxcheck fuzz --resume DIR [--budget T] [--workers N] [--json]

A campaign (docs/campaigns.md): a portfolio of search engines over the
variants, one shrunk counterexample per variant and class in DIR/corpus/,
DIR/summary.json.  SIGINT/SIGTERM stop cleanly; a second signal at once.

  --budget T      time: 30s, 10m, 8h, 1h30m (default 10m without --runs)
  --runs N        a run budget: N test cases a variant, the same findings every time
  --workers N     (default and most: one per core)
  --seed S        (default 1)      --shard i/N   one shard of N
  --out DIR       the campaign folder (default out/campaign; must be new)
  --slot-runs N   test cases a slot (default 1000)
  --resume DIR    go on with the campaign in DIR
  --json          the campaign summary

${EXIT}.  A variant's expected class counts as missed only by a whole,
unsharded run budget.  130 (143) when stopped by SIGINT (SIGTERM).`,

  merge: `usage: daxcheck merge DIR... --out DIR [--json]

Shards of one campaign into one folder, deduplicated as one campaign would
be; or shards of one conformance run (conform --shard i/N), their counts
and coverage summed and their mismatch files gathered.

${EXIT}, judged as fuzz judges a campaign.`,

  report: `usage: daxcheck report <file|dir> [--html FILE] [--text [--full]]

A counterexample as a self-contained HTML page (beside the file, or FILE),
or with --text as a plain-text report for a mailing list on stdout: at
most 40 lines of 72 columns (title, kernel, config, the causal chain, the
state difference, how to reproduce, the counterexample as a heredoc when
it fits); --full adds the whole trace and always embeds it.  A folder (a
campaign, or a corpus) gives an index page (DIR/report.html, or FILE)
listing each divergence once by its title and linking a page beside each
counterexample.

exit status: 0 written, 2 bad usage or input.`,

  bench: `usage: daxcheck bench [--startup] [--json]

The DESIGN section 8 figures: start-up of daxcheck list against node -e 0,
lockstep steps a second, explorer states a second and bytes a state, two
workers against one, and the time the campaign takes to find each known
bug.  About three minutes.

  --startup   only the start-up figure (a few seconds)

exit status: 0, 2 bad usage.`,

  vm: `usage: daxcheck vm setup [--kernel PACKAGE|FILE.deb] [--json]

Builds the guest the kernel oracle boots, from Debian's packages only:
the kernel package linux-image-amd64 depends on (or --kernel), fetched
with apt-get download; busybox-static; mkfs.xfs and its libraries; the
fs-DAX modules; and the executor (executor/executor.c, gcc -static).
Cached in ~/.cache/daxcheck/ (DAXCHECK_CACHE overrides); vm.json there
says what was built.  Uses KVM when a short probe boots, TCG otherwise.
Needs: apt-get install qemu-system-x86 busybox-static xfsprogs cpio kmod gcc libc6-dev

exit status: 0 built and booted, 2 a tool or package missing.`,

  conform: `usage: daxcheck conform [--runs N] [--seed S] [--variant V] [--threads K] [--shard i/N] [--out DIR] [--batch N] [--json]

Runs generated programs on the real kernel (the guest of vm setup, with
XFS on emulated pmem mounted dax=inode) and on the model of --variant
(default linux-6.1, the guest's version), one operation at a time, and compares every result
and the files at the end.  A difference is a kernel-mismatch, written to
DIR/kernel-mismatch/ (default out/conform); docs/fidelity.md lists the
deliberate ones.

  --runs N     programs (default 200)      --seed S   (default 1)
  --batch N    programs a boot (default 1000)
  --threads K  concurrent programs: after a prologue run one op at a time,
               K threads (2 or 3) run loads, stores, writes, O_DIRECT,
               truncates, fallocate, MADV_DONTNEED and clones at once; each
               history must be linearizable against the reference (some
               order consistent with real time explains every outcome and
               the files), and every op must return within 20 s (a hang is
               reported with every task's kernel stack)
  --json       {"kernel","variant","programs","ops","mismatches":[{"file","op",
               "expected","observed","listed"}],"bootSeconds","programsPerSecond","coverage",...}

exit status: 0 no mismatch outside docs/fidelity.md, 1 one or more, 2 bad usage
or no guest (run daxcheck vm setup).`,

  csource: `usage: daxcheck csource FILE [-o OUT.c]

A counterexample as a standalone C program for a real kernel: its files,
one thread per program thread (a process per program process), each
operation started when the operations the trace ran before it have started
or returned, the attempt repeated; then the checks of what a kernel can
show (an outcome the reference does not allow, a transfer landing in a DAX
block its page no longer owns, a shared mapping that reads other than
read(2), an operation that does not return) and the kernel's WARNINGs.
Its header says how to build and run it on any kernel with a DAX filesystem.

  -o OUT.c    write the program there (default: standard output)

exit status: 0 written, 2 bad usage or a counterexample it cannot render.`,

  repro: `usage: daxcheck repro FILE [--times N] [--kernel PKG] [--json]

Builds the counterexample's C reproducer (daxcheck csource) and runs it in
the guest of vm setup: DAX files on XFS on pmem (dax=inode), page-cache
files on XFS on a ramdisk behind dm-delay, so that transfers outlast what
follows them.  Says "reproduced on <kernel> in k/N runs" with the evidence,
or "not reproduced in N runs", and keeps the result beside the file
(FILE.repro.json), where report pages show it.

  --times N     attempts (default 10)
  --kernel PKG  another Debian kernel package (built like vm setup's)
  --json        the result as JSON

exit status: 0 ran (reproduced or not), 2 bad usage, no guest, or a build failure.`,

  help: `usage: daxcheck help [COMMAND]

The usage of daxcheck, or of one command (the same as daxcheck COMMAND --help).`,
} as const);

type Command = keyof typeof HELP;

const USAGE = `usage: daxcheck <command> [options]

commands:
  list      the variants, what each is expected to show, flags, properties, scenarios
  check     the property suite over the catalog (the README's main job)
  replay    re-run counterexample files; --variant V checks a fix
  matrix    every known bug and clean variant: found, class, time, lengths
  explore   every interleaving of bounded scenarios (shipped, or a file)
  fuzz      a campaign: a time or run budget, every core, shards, resume
  merge     shards of a campaign into one folder
  report    a counterexample as a page or a mailing-list text report
  bench     the speed figures
  vm        vm setup: build the guest for the kernel oracle
  conform   the model against the real kernel, program by program
  csource   a counterexample as a standalone C reproducer
  repro     run a counterexample's reproducer on the real kernel (the guest)
  help      daxcheck help COMMAND, or COMMAND --help

  --version   the package version

${EXIT}.`;

function version(): string {
  return (JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version: string }).version;
}

const isCommand = (c: string): c is Command => c in HELP; // HELP has no prototype

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    console.error(USAGE);
    return 2;
  }
  if (cmd === '--help' || cmd === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (cmd === '--version' || cmd === '-V') {
    if (rest.length) throw new UsageError(`--version: unexpected argument "${printable(rest[0])}"`);
    console.log(version());
    return 0;
  }
  if (cmd === 'help') {
    if (rest.length > 1) throw new UsageError(`help: unexpected argument "${printable(rest[1])}"`);
    if (rest.length === 0) console.log(USAGE);
    else if (rest[0] === '--help' || rest[0] === '-h') console.log(HELP.help);
    else if (isCommand(rest[0])) console.log(HELP[rest[0]]);
    else throw new UsageError(`help: unknown command "${printable(rest[0])}" (try daxcheck --help)`);
    return 0;
  }
  if (!isCommand(cmd)) throw new UsageError(`unknown command "${printable(cmd)}" (try daxcheck --help)`);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(HELP[cmd]);
    return 0;
  }
  if (cmd === 'list') return cmdList(rest);
  const { COMMANDS } = await import('./commands.ts');
  return COMMANDS[cmd as keyof typeof COMMANDS](rest);
}

async function run(): Promise<void> {
  // a reader that goes away (| head) is not an error
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (e) {
    let user = e instanceof UsageError;
    if (!user) {
      const { isUserError } = await import('./commands.ts');
      user = isUserError(e);
    }
    const message = printable((e as Error).message.split('\n')[0]);
    if (user) console.error(`daxcheck: ${message}`);
    else console.error(`daxcheck: internal error: ${message}${process.env.DAXCHECK_DEBUG ? `\n${(e as Error).stack}` : ' (set DAXCHECK_DEBUG=1 for a stack trace)'}`);
    process.exitCode = 2;
  }
}

await run();
