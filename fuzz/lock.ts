// One writer per campaign folder: `fuzz`, `fuzz --resume`, `check` and
// `merge --out` hold DIR/.daxcheck.lock (created exclusively, holding the
// owner's pid) while they write.  A lock whose process is gone is stale
// and taken over.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { printable } from './files.ts';

export const LOCK_FILE = '.daxcheck.lock';

export class LockError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The live process holding `dir`'s lock, if any.
export function lockHolder(dir: string): { pid: number; command: string } | null {
  let owner: { pid?: unknown; command?: unknown };
  try {
    owner = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as typeof owner;
  } catch {
    return null; // none, or half-written by a process killed while taking it: stale either way
  }
  if (typeof owner.pid !== 'number' || !Number.isSafeInteger(owner.pid) || owner.pid <= 0) return null;
  if (owner.pid === process.pid || !alive(owner.pid)) return null;
  return { pid: owner.pid, command: typeof owner.command === 'string' ? owner.command : 'daxcheck' };
}

// Takes `dir`'s lock (creating the folder), or refuses with one line;
// returns its release.
export function acquireLock(dir: string, command: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify({ pid: process.pid, command, since: new Date().toISOString() })}\n`, { flag: 'wx' });
      let held = true;
      return () => {
        if (held) rmSync(path, { force: true });
        held = false;
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new LockError(`${printable(dir)}: cannot take the lock (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const holder = lockHolder(dir);
    if (holder) throw new LockError(`${printable(dir)} is in use by another daxcheck (pid ${holder.pid}, ${printable(holder.command)}); wait for it to end`);
    rmSync(path, { force: true }); // stale: its process is gone
  }
  throw new LockError(`${printable(dir)}: cannot take the lock`);
}

// Writes a new folder (or fills an empty one) holding its lock, and leaves
// nothing behind if `write` fails: what `merge --out` does.
export function writeNewFolder<T>(out: string, command: string, write: () => T): T {
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) throw new LockError(`--out: ${printable(out)} is not empty: merge into a new folder`);
  const created = !existsSync(out);
  const release = acquireLock(out, command);
  try {
    return write();
  } catch (e) {
    if (created) rmSync(out, { recursive: true, force: true });
    else for (const name of readdirSync(out)) if (name !== LOCK_FILE) rmSync(join(out, name), { recursive: true, force: true });
    throw e;
  } finally {
    release();
  }
}
