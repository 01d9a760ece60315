// A test case is plain data: an initial configuration, a program per
// process thread, a NIC program, a schedule and injected faults.  Every
// object an op names is an index taken modulo what exists when the op
// starts, so any shrink of any part stays a valid test case.

export const LIMITS = {
  files: 3,
  pagesPerFile: 4,
  procs: 3,
  fds: 6,
  mapsPerProc: 4,
  mapPages: 2,
  mrPages: 2,
  mrsPerProc: 2, // RLIMIT_MEMLOCK: live registrations per process
  maxProcs: 4, // RLIMIT_NPROC: fork fails beyond this many processes
  queueDepth: 2, // device tags: requests in flight at once
  iovaPages: 64,
  cachePages: 64,
  threads: 4,
  opsPerThread: 16,
  nicOps: 8,
  maxBlocks: 16,
  maxValue: 99,
  maxTime: 16, // latest virtual second a NIC op may be posted at
} as const;

// What page `pg` of file `file` holds initially, unless the file is sparse.
export function initialValue(file: number, pg: number): number {
  return 10 * (file + 1) + pg + 1;
}

export interface FileSpec {
  owner: number; // uid
  dax: boolean;
  reflink: boolean;
  size: number; // pages
  sparse: boolean; // pages below size start as holes
}

export interface ProcSpec {
  uid: number;
  capLease: boolean; // CAP_LEASE
  capImmutable?: boolean; // CAP_LINUX_IMMUTABLE (MAP_DIRECT v5)
}

export interface Config {
  files: FileSpec[];
  procs: ProcSpec[];
  blocks: number; // persistent-memory blocks in the filesystem
  leaseBreakTime: number; // /proc/sys/fs/lease-break-time, virtual seconds
}

export type MapType = 'shared' | 'private' | 'validate';

export type Op =
  | { op: 'open'; file: number; write: boolean }
  | { op: 'close'; fd: number }
  | { op: 'mmap'; fd: number; off: number; len: number; type: MapType; sync: boolean; direct: boolean; write: boolean }
  | { op: 'munmap'; map: number }
  | { op: 'fork' }
  | { op: 'load'; map: number; page: number }
  | { op: 'store'; map: number; page: number; val: number }
  | { op: 'write'; fd: number; off: number; val: number }
  | { op: 'dio_read'; fd: number; off: number; map: number; page: number; aio: boolean }
  | { op: 'dio_write'; fd: number; off: number; map: number; page: number; aio: boolean }
  | { op: 'truncate'; fd: number; size: number }
  | { op: 'fallocate'; fd: number; mode: 'punch' | 'alloc'; off: number; len: number }
  | { op: 'reg_mr'; map: number; page: number; npages: number; unaligned: boolean }
  | { op: 'dereg_mr'; mr: number }
  | { op: 'fcntl_map_direct'; fd: number } // F_MAP_DIRECT (MAP_DIRECT v5)
  | { op: 'tick' };

// A NIC op is a work request the application posts at virtual time `at`
// (0: at once); the NIC carries it out any time after that.
export type NicOp =
  | { op: 'rdma_write'; mr: number; page: number; val: number; at: number }
  | { op: 'rdma_read'; mr: number; page: number; at: number };

export interface ThreadSpec {
  proc: number;
  ops: Op[];
  loop: boolean; // restart the program when it ends (a stream of requests)
}

export type Fault =
  | { kind: 'signal'; thread: number; nth: number } // the nth interruptible sleep of the thread is hit by a signal
  | { kind: 'alloc'; thread: number; nth: number }; // the nth fallible allocation of the thread fails

export interface TestCase {
  config: Config;
  threads: ThreadSpec[];
  nic: NicOp[];
  schedule: number[];
  cycle: number[]; // repeated forever after `schedule` when not empty
  faults: Fault[];
  // When set (and inside the schedule), the schedule's entries from this
  // one on repeat forever instead of the tail: how a lasso the explorer
  // found is written down.
  repeatFrom?: number;
}

export type OpName = Op['op'];
export type NicOpName = NicOp['op'];

// Argument schema of each op: the key, and its kind.  Used to validate
// corpus files and to print ops.
// 'time' is a clock value that may be left out (0) by older files.
type ArgKind = 'index' | 'bool' | 'value' | 'time' | { oneOf: readonly string[] };
const OP_ARGS: Record<OpName, Record<string, ArgKind>> = {
  open: { file: 'index', write: 'bool' },
  close: { fd: 'index' },
  mmap: { fd: 'index', off: 'index', len: 'index', type: { oneOf: ['shared', 'private', 'validate'] }, sync: 'bool', direct: 'bool', write: 'bool' },
  munmap: { map: 'index' },
  fork: {},
  load: { map: 'index', page: 'index' },
  store: { map: 'index', page: 'index', val: 'value' },
  write: { fd: 'index', off: 'index', val: 'value' },
  dio_read: { fd: 'index', off: 'index', map: 'index', page: 'index', aio: 'bool' },
  dio_write: { fd: 'index', off: 'index', map: 'index', page: 'index', aio: 'bool' },
  truncate: { fd: 'index', size: 'index' },
  fallocate: { fd: 'index', mode: { oneOf: ['punch', 'alloc'] }, off: 'index', len: 'index' },
  reg_mr: { map: 'index', page: 'index', npages: 'index', unaligned: 'bool' },
  dereg_mr: { mr: 'index' },
  fcntl_map_direct: { fd: 'index' },
  tick: {},
};
const NIC_ARGS: Record<NicOpName, Record<string, ArgKind>> = {
  rdma_write: { mr: 'index', page: 'index', val: 'value', at: 'time' },
  rdma_read: { mr: 'index', page: 'index', at: 'time' },
};

export const OP_NAMES = Object.keys(OP_ARGS) as OpName[];
export const NIC_OP_NAMES = Object.keys(NIC_ARGS) as NicOpName[];

export class TestCaseError extends Error {}

function fail(where: string, what: string): never {
  throw new TestCaseError(`${where}: ${what}`);
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function int(where: string, x: unknown, lo: number, hi: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) fail(where, `expected an integer in ${lo}..${hi}, got ${JSON.stringify(x)}`);
  return x;
}

function bool(where: string, x: unknown): boolean {
  if (typeof x !== 'boolean') fail(where, `expected true or false, got ${JSON.stringify(x)}`);
  return x;
}

function arr(where: string, x: unknown, max: number): unknown[] {
  if (!Array.isArray(x)) fail(where, 'expected an array');
  if (x.length > max) fail(where, `at most ${max} entries, got ${x.length}`);
  return x;
}

function checkArgs(where: string, raw: Record<string, unknown>, schema: Record<string, ArgKind>): Record<string, unknown> {
  const out: Record<string, unknown> = { op: raw.op };
  for (const key of Object.keys(raw)) {
    if (key !== 'op' && !(key in schema)) fail(where, `unknown argument "${key}" for op "${String(raw.op)}"`);
  }
  for (const [key, kind] of Object.entries(schema)) {
    const v = raw[key];
    const w = `${where}.${key}`;
    if (kind === 'index') out[key] = int(w, v, 0, 255);
    else if (kind === 'time') out[key] = v === undefined ? 0 : int(w, v, 0, LIMITS.maxTime);
    else if (kind === 'value') out[key] = int(w, v, 1, LIMITS.maxValue);
    else if (kind === 'bool') out[key] = bool(w, v);
    else {
      if (typeof v !== 'string' || !kind.oneOf.includes(v)) fail(w, `expected one of ${kind.oneOf.join(', ')}, got ${JSON.stringify(v)}`);
      out[key] = v;
    }
  }
  return out;
}

export function parseOp(where: string, raw: unknown): Op {
  if (!isObj(raw) || typeof raw.op !== 'string') fail(where, 'expected an op object with a string "op"');
  if (!(raw.op in OP_ARGS)) fail(where, `unknown op "${raw.op}" (known: ${OP_NAMES.join(', ')})`);
  return checkArgs(where, raw, OP_ARGS[raw.op as OpName]) as Op;
}

export function parseNicOp(where: string, raw: unknown): NicOp {
  if (!isObj(raw) || typeof raw.op !== 'string') fail(where, 'expected an op object with a string "op"');
  if (!(raw.op in NIC_ARGS)) fail(where, `unknown NIC op "${raw.op}" (known: ${NIC_OP_NAMES.join(', ')})`);
  return checkArgs(where, raw, NIC_ARGS[raw.op as NicOpName]) as NicOp;
}

// Validates untrusted JSON (a corpus file) into a TestCase; throws
// TestCaseError naming the first bad field.
export function parseTestCase(raw: unknown, where = 'testCase'): TestCase {
  if (!isObj(raw)) fail(where, 'expected an object');
  const c = raw.config;
  if (!isObj(c)) fail(`${where}.config`, 'expected an object');
  const files = arr(`${where}.config.files`, c.files, LIMITS.files).map((f, i): FileSpec => {
    const w = `${where}.config.files[${i}]`;
    if (!isObj(f)) fail(w, 'expected an object');
    return {
      owner: int(`${w}.owner`, f.owner, 0, 7),
      dax: bool(`${w}.dax`, f.dax),
      reflink: bool(`${w}.reflink`, f.reflink),
      size: int(`${w}.size`, f.size, 0, LIMITS.pagesPerFile),
      sparse: bool(`${w}.sparse`, f.sparse),
    };
  });
  if (files.length === 0) fail(`${where}.config.files`, 'at least one file');
  const procs = arr(`${where}.config.procs`, c.procs, LIMITS.procs).map((p, i): ProcSpec => {
    const w = `${where}.config.procs[${i}]`;
    if (!isObj(p)) fail(w, 'expected an object');
    const spec: ProcSpec = { uid: int(`${w}.uid`, p.uid, 0, 7), capLease: bool(`${w}.capLease`, p.capLease) };
    if (p.capImmutable !== undefined) spec.capImmutable = bool(`${w}.capImmutable`, p.capImmutable);
    return spec;
  });
  if (procs.length === 0) fail(`${where}.config.procs`, 'at least one process');
  const config: Config = {
    files,
    procs,
    blocks: int(`${where}.config.blocks`, c.blocks, 1, LIMITS.maxBlocks),
    leaseBreakTime: int(`${where}.config.leaseBreakTime`, c.leaseBreakTime, 1, 3600),
  };
  const used = blocksNeeded(config);
  if (used > config.blocks) fail(`${where}.config.blocks`, `the files need ${used} blocks to start with, only ${config.blocks} configured`);
  const threads = arr(`${where}.threads`, raw.threads, LIMITS.threads).map((t, i): ThreadSpec => {
    const w = `${where}.threads[${i}]`;
    if (!isObj(t)) fail(w, 'expected an object');
    return {
      proc: int(`${w}.proc`, t.proc, 0, procs.length - 1),
      ops: arr(`${w}.ops`, t.ops, LIMITS.opsPerThread).map((o, j) => parseOp(`${w}.ops[${j}]`, o)),
      loop: bool(`${w}.loop`, t.loop),
    };
  });
  const nic = arr(`${where}.nic`, raw.nic, LIMITS.nicOps).map((o, j) => parseNicOp(`${where}.nic[${j}]`, o));
  const small = (name: string) => arr(`${where}.${name}`, raw[name], 4096).map((x, j) => int(`${where}.${name}[${j}]`, x, 0, 255));
  const faults = arr(`${where}.faults`, raw.faults, 16).map((f, i): Fault => {
    const w = `${where}.faults[${i}]`;
    if (!isObj(f) || (f.kind !== 'signal' && f.kind !== 'alloc')) fail(w, 'expected {kind: "signal"|"alloc", thread, nth}');
    return { kind: f.kind, thread: int(`${w}.thread`, f.thread, 0, LIMITS.threads - 1), nth: int(`${w}.nth`, f.nth, 0, 255) };
  });
  for (const key of Object.keys(raw)) {
    if (!['config', 'threads', 'nic', 'schedule', 'cycle', 'faults', 'repeatFrom'].includes(key)) fail(where, `unknown field "${key}"`);
  }
  const tc: TestCase = { config, threads, nic, schedule: small('schedule'), cycle: small('cycle'), faults };
  if (raw.repeatFrom !== undefined) tc.repeatFrom = int(`${where}.repeatFrom`, raw.repeatFrom, 0, 4095);
  return tc;
}

// Blocks the initial files occupy.
export function blocksNeeded(config: Config): number {
  return config.files.reduce((n, f) => n + (f.dax && !f.sparse ? f.size : 0), 0);
}

// The pages an ibv_reg_mr covers within its mapping: `npages` pages of
// data from page `page`, plus one more if the buffer is not page-aligned,
// cut short at the end of the mapping (an index modulo what exists).
export function mrSpan(op: { page: number; npages: number; unaligned: boolean }, mapPages: number): { first: number; span: number; unaligned: boolean } {
  const first = op.page % mapPages;
  const span = Math.min(1 + (op.npages % LIMITS.mrPages) + (op.unaligned ? 1 : 0), mapPages - first);
  return { first, span, unaligned: op.unaligned && span > 1 };
}

export function formatOp(o: Op | NicOp): string {
  const args = Object.entries(o)
    .filter(([k]) => k !== 'op')
    .map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 1 : 0) : v}`);
  return `${o.op}(${args.join(' ')})`;
}
