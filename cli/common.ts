// What every command shares: argument parsing, option checks, colour and
// the progress line.  Light: `daxcheck list` and `help` load only this.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { availableParallelism } from 'node:os';

// Bad usage or input: one line on stderr, exit 2.
export class UsageError extends Error {}


export const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const red = paint(31);
export const green = paint(32);
export const bold = paint(1);
export const dim = paint(2);

export function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
}
export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

export function args<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0].replace(/\. To specify a positional.*$/, ''));
  }
}

// An integer option: digits only, within [min, max] and exactly
// representable (a seed past 2^53 would be silently rounded).
export function intOption(name: string, value: string | undefined, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name}: expected an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? '2^53-1' : max}, got "${printable(value)}"`);
  }
  return n;
}

// Workers: one per core helps; more only slow each other down.
export function workersOption(value: string | undefined): number {
  return Math.min(intOption('workers', value, availableParallelism(), 1), availableParallelism());
}

export function noPositionals(cmd: string, positionals: string[]): void {
  if (positionals.length) throw new UsageError(`${cmd}: unexpected argument "${printable(positionals[0])}"`);
}

import { printable } from '../fuzz/files.ts';
export { printable };

