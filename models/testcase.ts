import { z } from 'zod';
import { issueText } from '../fuzz/files.ts';
import { nameTable } from './names.ts';

// A test case is plain data: an initial configuration, a program per
// process thread, a NIC program, a schedule and injected faults.  Every
// object an op names is an index taken modulo what exists when the op
// starts, so any shrink of any part stays a valid test case.

export const LIMITS = {
  files: 3,
  pagesPerFile: 4, // the pages an op can name, and RLIMIT_FSIZE
  blockMapPages: 8, // a file's block map: FALLOC_FL_INSERT_RANGE pushes preallocated blocks past EOF up to here
  procs: 3,
  fds: 6,
  mapsPerProc: 4,
  mapPages: 2,
  pmdPages: 2, // a PMD (2 MiB) scaled down to two pages, for test cases that say `pmd`
  mrPages: 2,
  memlockPages: 4, // RLIMIT_MEMLOCK: pages a process's registrations may pin (mm->pinned_vm)
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

// ---- the format, declared once: the schemas below are what a test case
// file must be, and the types the model uses are read off them ----

// The calls that hold their struct file from entry until they return
// (fdget): a close meanwhile leaves the file open until then.
export const FDGET_OPS: ReadonlySet<string> = new Set(['write', 'dio_read', 'dio_write', 'truncate', 'fallocate', 'uring_read_fixed', 'uring_write_fixed', 'clone']);
// ... and mmap(2), which holds it the same way (ksys_mmap_pgoff's fget)
// through the mapping's own reference: every call that holds its file.
export const HOLDS_FILE_OPS: ReadonlySet<string> = new Set([...FDGET_OPS, 'mmap']);

// fallocate(2)'s modes by name, as the FALLOC_FL_* bits they stand for
// (include/uapi/linux/falloc.h).  The last four are refused whatever the
// file: a punch without KEEP_SIZE, and three combinations of exclusive
// modes.
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;
export const FALLOC_MODES = {
  punch: FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
  alloc: 0,
  alloc_keep: FALLOC_FL_KEEP_SIZE,
  zero: FALLOC_FL_ZERO_RANGE,
  zero_keep: FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
  collapse: FALLOC_FL_COLLAPSE_RANGE,
  insert: FALLOC_FL_INSERT_RANGE,
  unshare: FALLOC_FL_UNSHARE_RANGE,
  unshare_keep: FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE,
  punch_nokeep: FALLOC_FL_PUNCH_HOLE,
  collapse_keep: FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE,
  zero_punch: FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
  unshare_zero: FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_ZERO_RANGE,
} as const;
export type FallocMode = keyof typeof FALLOC_MODES;
const FALLOC_MODE_NAMES = Object.keys(FALLOC_MODES) as [FallocMode, ...FallocMode[]];

// The pages [off, end) a fallocate names: at least one, cut at the span
// an op can name.
export function fallocRange(op: { off: number; len: number }): { off: number; end: number } {
  const off = op.off % LIMITS.pagesPerFile;
  return { off, end: Math.min(LIMITS.pagesPerFile, off + 1 + (op.len % LIMITS.pagesPerFile)) };
}

// The pages a clone names: offsets within the span an op can name, and
// a length in pages (0: to the source's EOF).
export function cloneRange(op: { soff: number; doff: number; len: number }): { soff: number; doff: number; len: number } {
  return { soff: op.soff % LIMITS.pagesPerFile, doff: op.doff % LIMITS.pagesPerFile, len: op.len % (LIMITS.pagesPerFile + 1) };
}

const index = z.number().int().min(0).max(255); // an object by index, modulo what exists
const flag = z.boolean();
const value = z.number().int().min(1).max(LIMITS.maxValue);
const time = z.number().int().min(0).max(LIMITS.maxTime).default(0); // older files leave it out
const small = (max: number) => z.number().int().min(0).max(max);

export const FileSpecSchema = z.strictObject({
  owner: small(7), // uid
  dax: flag,
  reflink: flag,
  size: small(LIMITS.pagesPerFile), // pages
  sparse: flag, // pages below size start as holes
});
export type FileSpec = z.infer<typeof FileSpecSchema>;

export const ProcSpecSchema = z.strictObject({
  uid: small(7),
  capLease: flag, // CAP_LEASE
  capImmutable: flag.optional(), // CAP_LINUX_IMMUTABLE (MAP_DIRECT v5)
});
export type ProcSpec = z.infer<typeof ProcSpecSchema>;

export const ConfigSchema = z
  .strictObject({
    files: z.array(FileSpecSchema).min(1).max(LIMITS.files),
    procs: z.array(ProcSpecSchema).min(1).max(LIMITS.procs),
    blocks: z.number().int().min(1).max(LIMITS.maxBlocks), // persistent-memory blocks in the filesystem
    leaseBreakTime: z.number().int().min(1).max(3600), // /proc/sys/fs/lease-break-time, virtual seconds
    // DAX faults may map a whole PMD (LIMITS.pmdPages pages); left out or
    // false, a PMD is larger than any file, as in the guest's 16 KiB files
    pmd: flag.optional(),
  })
  .check((ctx) => {
    const used = blocksNeeded(ctx.value);
    if (used > ctx.value.blocks) ctx.issues.push({ code: 'custom', path: ['blocks'], input: ctx.value.blocks, message: `the files need ${used} blocks to start with, only ${ctx.value.blocks} configured` });
  });
export type Config = z.infer<typeof ConfigSchema>;

export type MapType = 'shared' | 'private' | 'validate';

// One schema per op: its name and its arguments, nothing else.
const OPS = nameTable({
  open: { file: index, write: flag, nonblock: flag.optional() }, // O_RDWR or O_RDONLY, and O_NONBLOCK (older files leave it out)
  close: { fd: index },
  mmap: { fd: index, off: index, len: index, type: z.enum(['shared', 'private', 'validate']), sync: flag, direct: flag, write: flag },
  munmap: { map: index },
  madvise_dontneed: { map: index, page: index, npages: index }, // madvise(2) MADV_DONTNEED of pages of a mapping
  fork: {},
  exit: {}, // exit_group(2): the process ends, its other threads killed
  load: { map: index, page: index },
  store: { map: index, page: index, val: value },
  write: { fd: index, off: index, val: value },
  dio_read: { fd: index, off: index, map: index, page: index, aio: flag },
  dio_write: { fd: index, off: index, map: index, page: index, aio: flag },
  truncate: { fd: index, size: index }, // ftruncate(2)
  truncate_path: { file: index, size: index }, // truncate(2) of a file by its name
  unlink: { file: index }, // unlink(2) of a file by its name
  fallocate: { fd: index, mode: z.enum(FALLOC_MODE_NAMES), off: index, len: index }, // pages [off, off + 1 + len) cut at the file span
  // ioctl(fd, FICLONERANGE) from the open file `src`: `len` pages of it
  // from page `soff` onto page `doff` of `fd`'s file; len 0 clones to the
  // source's EOF (FICLONE, when both offsets are 0)
  clone: { fd: index, src: index, soff: index, doff: index, len: index },
  reg_mr: { map: index, page: index, npages: index, unaligned: flag },
  dereg_mr: { mr: index },
  // io_uring, on the process's own ring: IORING_REGISTER_BUFFERS of one
  // buffer (pages of a mapping), IORING_UNREGISTER_BUFFERS, and a
  // READ_FIXED or WRITE_FIXED of one file page into or out of page `page`
  // of the registered buffer
  uring_register: { map: index, page: index, npages: index },
  uring_unregister: {},
  uring_read_fixed: { fd: index, off: index, page: index },
  uring_write_fixed: { fd: index, off: index, page: index },
  fcntl_map_direct: { fd: index }, // F_MAP_DIRECT (MAP_DIRECT v5)
  fcntl_setlease: { fd: index, type: z.enum(['rd', 'wr', 'unlck']) }, // F_SETLEASE F_RDLCK, F_WRLCK or F_UNLCK
  fcntl_getlease: { fd: index }, // F_GETLEASE
  sigtimedwait: {}, // sigtimedwait(2) for SIGIO, not waiting
  layoutget: { fd: index }, // an NFS client's pNFS LAYOUTGET of the whole file (to nfsd)
  layoutreturn: { fd: index }, // and its LAYOUTRETURN
  tick: {},
} as const);

// A NIC op is a work request the application posts at virtual time `at`
// (0: at once); the NIC carries it out any time after that.
const NIC_OPS = nameTable({
  rdma_write: { mr: index, page: index, val: value, at: time },
  rdma_read: { mr: index, page: index, at: time },
} as const);

type OpTable = Record<string, Record<string, z.ZodType>>;
type OpOf<T extends OpTable> = { [K in keyof T]: z.ZodObject<{ op: z.ZodLiteral<K & string> } & T[K], z.core.$strict> }[keyof T];

// A union on `op` whose error for an unknown name lists the known ones.
function opUnion<T extends OpTable>(table: T, what: string) {
  const names = Object.keys(table);
  const members = names.map((name) => z.strictObject({ op: z.literal(name), ...table[name] })) as unknown as OpOf<T>[];
  return z.discriminatedUnion('op', members as [OpOf<T>, ...OpOf<T>[]], {
    error: (iss) => {
      const input = iss.input as { op?: unknown } | undefined;
      if (iss.code !== 'invalid_union' || typeof input !== 'object' || input === null) return `expected ${what} object with a string "op"`;
      return `unknown ${what} ${JSON.stringify(input.op)} (known: ${names.join(', ')})`;
    },
  });
}

export const OpSchema = opUnion(OPS, 'op');
export const NicOpSchema = opUnion(NIC_OPS, 'NIC op');
export type Op = z.infer<typeof OpSchema>;
export type NicOp = z.infer<typeof NicOpSchema>;
export type OpName = keyof typeof OPS;
export type NicOpName = keyof typeof NIC_OPS;
export const OP_NAMES = Object.keys(OPS) as OpName[];
export const NIC_OP_NAMES = Object.keys(NIC_OPS) as NicOpName[];

export const FaultSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('signal'), thread: small(LIMITS.threads - 1), nth: small(255) }), // the nth interruptible sleep of the thread is hit by a signal
  z.strictObject({ kind: z.literal('alloc'), thread: small(LIMITS.threads - 1), nth: small(255) }), // the nth fallible allocation of the thread fails
]);
export type Fault = z.infer<typeof FaultSchema>;

const ThreadSchemaOf = <O extends z.ZodType>(op: O) =>
  z.strictObject({
    proc: small(LIMITS.procs - 1),
    ops: z.array(op).max(LIMITS.opsPerThread),
    loop: flag, // restart the program when it ends (a stream of requests)
  });
export const ThreadSpecSchema = ThreadSchemaOf(OpSchema);
export type ThreadSpec = z.infer<typeof ThreadSpecSchema>;

// Every thread's process must exist.
function threadsInProcs(ctx: { value: { config: Config; threads: { proc: number }[] }; issues: z.core.$ZodRawIssue[] }): void {
  ctx.value.threads.forEach((t, i) => {
    if (t.proc >= ctx.value.config.procs.length) ctx.issues.push({ code: 'custom', path: ['threads', i, 'proc'], input: t.proc, message: `process ${t.proc} does not exist (${ctx.value.config.procs.length} configured)` });
  });
}

const schedule = z.array(small(255)).max(4096);

export const TestCaseSchema = z
  .strictObject({
    config: ConfigSchema,
    threads: z.array(ThreadSpecSchema).max(LIMITS.threads),
    nic: z.array(NicOpSchema).max(LIMITS.nicOps),
    schedule,
    cycle: schedule, // repeated forever after `schedule` when not empty
    faults: z.array(FaultSchema).max(16),
    // When set (and inside the schedule), the schedule's entries from this
    // one on repeat forever instead of the tail: how a lasso the explorer
    // found is written down.
    repeatFrom: small(4095).optional(),
  })
  .check(threadsInProcs);
export type TestCase = z.infer<typeof TestCaseSchema>;

// A scenario: a test case with its schedule left open, what it is about,
// and ops that may be left open as {"oneOf": [op, ...]}.
export const OpenOpSchema = z.union([OpSchema, z.strictObject({ oneOf: z.array(OpSchema).min(1).max(16) })], {
  error: (iss) => {
    const input = iss.input as Record<string, unknown> | undefined;
    // say what is wrong with it as an op, not that it is neither of two things
    if (input && typeof input === 'object' && !Object.hasOwn(input, 'oneOf')) {
      const r = OpSchema.safeParse(input);
      if (!r.success) return `${r.error.issues[0].path.length ? `${r.error.issues[0].path.join('.')}: ` : ''}${r.error.issues[0].message}`;
    }
    return 'expected an op, or {"oneOf": [op, ...]}';
  },
});
export const ScenarioSchema = z
  .strictObject({
    about: z.string().max(2000),
    config: ConfigSchema,
    threads: z.array(ThreadSchemaOf(OpenOpSchema)).max(LIMITS.threads),
    nic: z.array(NicOpSchema).max(LIMITS.nicOps),
    faults: z.array(FaultSchema).max(16),
  })
  .check(threadsInProcs);
export type ScenarioFile = z.infer<typeof ScenarioSchema>;

export class TestCaseError extends Error {}

// Validates untrusted JSON into a TestCase; throws TestCaseError naming
// the first bad field.
export function parseTestCase(raw: unknown, where = 'testCase'): TestCase {
  const r = TestCaseSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new TestCaseError(issueText(r.error, where));
  return r.data;
}

// Blocks the initial files occupy.
export function blocksNeeded(config: Config): number {
  return config.files.reduce((n, f) => n + (f.dax && !f.sparse ? f.size : 0), 0);
}

// The pages an ibv_reg_mr covers within its mapping: `npages` pages of
// data from page `page`, plus one more if the buffer is not page-aligned,
// cut short at the end of the mapping (an index modulo what exists).
// With no mapping, the buffer is one unmapped page.
export function mrSpan(op: { page: number; npages: number; unaligned: boolean }, mapPages: number | null): { first: number; span: number; unaligned: boolean } {
  if (mapPages === null) return { first: 0, span: 1, unaligned: false };
  const first = op.page % mapPages;
  const span = Math.min(1 + (op.npages % LIMITS.mrPages) + (op.unaligned ? 1 : 0), mapPages - first);
  return { first, span, unaligned: op.unaligned && span > 1 };
}

// The pages an io_uring buffer registration covers: `npages` from page
// `page`, at most a registration's, cut at the end of the mapping; with
// no mapping, one unmapped page.
export function uringSpan(op: { page: number; npages: number }, mapPages: number | null): { first: number; span: number } {
  if (mapPages === null) return { first: 0, span: 1 };
  const first = op.page % mapPages;
  return { first, span: Math.min(1 + (op.npages % LIMITS.mrPages), mapPages - first) };
}

// The pages [first, first + span) of a mapping of `mapPages` pages that
// madvise_dontneed names; with no mapping, one page.
export function madviseSpan(op: { page: number; npages: number }, mapPages: number | null): { first: number; span: number } {
  if (mapPages === null) return { first: 0, span: 1 };
  const first = op.page % mapPages;
  return { first, span: 1 + (op.npages % (mapPages - first)) };
}

export function formatOp(o: Op | NicOp): string {
  const args = Object.entries(o)
    .filter(([k]) => k !== 'op')
    .map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 1 : 0) : v}`);
  return `${o.op}(${args.join(' ')})`;
}
