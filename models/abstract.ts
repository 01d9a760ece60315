// The abstract state: what a user of the kernel can observe.  The
// reference model is this state; the implementation model is mapped onto
// it by properties/abstraction.ts.  The two are compared after every step.

export const HOLE = 0;
export const UNWRITTEN = 1;
export const WRITTEN = 2;

export interface AFile {
  linked: boolean; // it still has its name (unlink(2) takes it away)
  size: number; // pages
  state: number[]; // per page below size: HOLE, UNWRITTEN or WRITTEN
  data: number[]; // per page below size: what a read returns
}

export interface AFd {
  fd: number;
  file: number;
  write: boolean;
}

export interface AMap {
  id: number;
  file: number;
  pgoff: number;
  npages: number;
  shared: boolean;
  direct: boolean; // holds a layout lease (MAP_DIRECT)
  sync: boolean;
  write: boolean;
  valid: boolean; // false once the kernel revoked the mapping
  cow: (number | null)[]; // private copies, per page
}

export interface AProc {
  alive: boolean;
  fds: AFd[];
  maps: AMap[];
  sigio: number[]; // si_fd of every SIGIO received, in order
}

export interface ALease {
  holder: string; // "map:<id>", "mr:<id>", "layout:<proc>", or "lease:<open>" for an fcntl lease
  file: number;
  breaking: boolean;
  since: number; // a layout lease: clock when the break started; an fcntl lease: its break deadline (0: none)
  mode: number; // an fcntl lease: F_RDLCK or F_WRLCK, +2 unlock pending, +4 downgrade pending; 0 otherwise
  downgrade: number; // an fcntl lease: its downgrade deadline (0: none); 0 otherwise
}

export interface AMr {
  id: number;
  proc: number;
  span: number;
  revoked: boolean;
}

export interface AbstractState {
  clock: number;
  files: AFile[];
  procs: AProc[];
  leases: ALease[];
  mrs: AMr[];
}

// Result of an operation: a number on success, or the name of the error
// (errno, SIGBUS, SIGSEGV, IOMMU_FAULT).  "ANY" is a reference answer that
// accepts whatever the implementation returns.
export type Result = number | string;
export const ANY = 'ANY';

// The abstract state written as a flat list of numbers, for the compare
// after every step without building objects: the clock; the files (count,
// then each: linked, size, then state and data per page); the processes (count,
// then each: alive, fds with their fd, file, write; maps with their
// fields, private copies and validity; SIGIO fds); the leases sorted by
// holder (count, then kind, holder id, file, breaking, since, mode,
// downgrade deadline); the live
// registrations (count, then id, proc, span, revoked).  Every list is
// preceded by its length, so equal lists mean equal states; both models
// write it (properties/abstraction.ts, Reference.encode) and a test holds
// it to the objects above on random runs.
const NO_COW = -1_000_000_000; // a page with no private copy
export const LEASE_MAP = 0;
export const LEASE_MR = 1;
export const LEASE_LAYOUT = 2;
export const LEASE_FILE = 3; // fcntl(F_SETLEASE)

// A reusable list of numbers: written from the start for each state,
// growing as needed, never shrinking (the compare runs after most steps).
export class Encoding {
  buf = new Float64Array(256);
  n = 0;

  put(x: number): void {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = x;
  }

  // A list whose length is not known before it is walked: begin() keeps
  // a place for the count, item() counts an entry into it.
  begin(): number {
    this.put(0);
    return this.n - 1;
  }

  item(at: number): void {
    this.buf[at]++;
  }

  // The records, in the order of AbstractState's fields.
  file(linked: boolean, size: number): void {
    this.put(+linked);
    this.put(size);
  }

  page(state: number, data: number): void {
    this.put(state);
    this.put(data);
  }

  fd(fd: number, file: number, write: boolean): void {
    this.put(fd);
    this.put(file);
    this.put(+write);
  }

  // followed by `cows` calls of cow()
  map(id: number, file: number, pgoff: number, npages: number, shared: boolean, direct: boolean, sync: boolean, write: boolean, valid: boolean, cows: number): void {
    this.put(id);
    this.put(file);
    this.put(pgoff);
    this.put(npages);
    this.put(+shared);
    this.put(+direct);
    this.put(+sync);
    this.put(+write);
    this.put(+valid);
    this.put(cows);
  }

  cow(v: number | null): void {
    this.put(v === null ? NO_COW : v);
  }

  lease(kind: number, holder: number, file: number, breaking: boolean, since: number, mode = 0, downgrade = 0): void {
    this.put(kind);
    this.put(holder);
    this.put(file);
    this.put(+breaking);
    this.put(breaking || kind === LEASE_FILE ? since : 0);
    this.put(mode);
    this.put(downgrade);
  }

  mr(id: number, proc: number, span: number, revoked: boolean): void {
    this.put(id);
    this.put(proc);
    this.put(span);
    this.put(+revoked);
  }

  // Sorts the records of `size` numbers after the count at `at`, field by
  // field (an insertion sort: the lists are a few entries long).
  sortRecords(at: number, size: number): void {
    const b = this.buf;
    for (let i = at + 1 + size; i < this.n; i += size) {
      for (let j = i; j > at + 1 && this.less(j, j - size, size); j -= size) {
        for (let f = 0; f < size; f++) {
          const t = b[j + f];
          b[j + f] = b[j - size + f];
          b[j - size + f] = t;
        }
      }
    }
  }

  private less(x: number, y: number, size: number): boolean {
    const b = this.buf;
    for (let f = 0; f < size; f++) if (b[x + f] !== b[y + f]) return b[x + f] < b[y + f];
    return false;
  }

  // A list of leases: written in any order, sorted by holder (kind, id).
  sortLeases(at: number): void {
    this.sortRecords(at, 7);
  }

  equals(o: Encoding): boolean {
    if (this.n !== o.n) return false;
    for (let i = 0; i < this.n; i++) if (this.buf[i] !== o.buf[i]) return false;
    return true;
  }
}

// Structural equality for abstract states (plain data: arrays, objects,
// numbers, strings, booleans, null).  Runs after most steps: keys are
// walked in place rather than listed.
export function sameState(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameState(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    if (!Object.hasOwn(y, k) || !sameState(x[k], y[k])) return false;
    n++;
  }
  for (const _ in y) n--;
  return n === 0;
}

// The path of the first difference between two abstract states, or null.
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (a === b) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return path || '.';
  if (Array.isArray(a) !== Array.isArray(b)) return path || '.';
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}.length`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return path || '.';
  for (const k of ka) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}
