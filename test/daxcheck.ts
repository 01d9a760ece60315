// What the command-line tests share: running the CLI, a folder's contents
// as one string, and the "one line, exit 2" answer to bad input.

import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const env = { ...process.env, NO_COLOR: '1' };

export function daxcheck(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/daxcheck.js', ...args], { encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// Every file under `dir`, as paths relative to it, in order.
export function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile()).sort();
}

// A folder's names, sizes and modification times: a file written or
// touched changes it (cheaper than `snapshot` for a folder that grows).
export function stamp(dir: string): string {
  return files(dir).map((f) => {
    const st = statSync(join(dir, f));
    return `${f}:${st.size}:${st.mtimeMs}`;
  }).join('\n');
}

// A folder's names and contents: equal snapshots, equal folders.
export function snapshot(dir: string): string {
  return files(dir).map((f) => `${f}:${readFileSync(join(dir, f), 'utf8')}`).join('\n');
}

export function oneLineError(r: { code: number | null; err: string }, what = ''): void {
  assert.is(r.code, 2, what);
  const lines = r.err.trim().split('\n');
  assert.is(lines.length, 1, `${what} expected one line, got:\n${r.err}`);
  assert.match(lines[0], /^daxcheck: /);
  assert.not.match(r.err, /\n\s+at /);
}
