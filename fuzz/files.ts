// Reading the files daxcheck is handed (counterexamples, scenarios,
// campaign summaries) as hostile input: bounded in size and nesting,
// UTF-8 or refused, validated by the file kind's schema, and every
// failure one line naming the file and the field.

import { readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';

export class FileError extends Error {}

export const MAX_FILE_BYTES = 4 * 2 ** 20; // the largest counterexample is about 20 KB
export const MAX_DEPTH = 32; // the deepest field of any format is 7 levels down

// A string from a file or a user, safe on a terminal and on one line:
// control characters (C0, DEL, C1) shown as \x1b, \x07, ...
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// The same, but a text of several lines keeps its line breaks (a report).
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

// How deeply the JSON text nests, scanning it once without parsing
// (JSON.parse and what walks its result afterwards recurse).
function depthOf(text: string): number {
  let depth = 0;
  let most = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) most = Math.max(most, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return most;
}

// The file's JSON value, or a FileError naming the file.
export function readJsonFile(path: string, what: string): unknown {
  let bytes: Buffer;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new FileError(`${printable(path)}: a folder, not a ${what}`);
    if (st.size > MAX_FILE_BYTES) throw new FileError(`${printable(path)}: ${st.size} bytes, more than a ${what} can be (${MAX_FILE_BYTES})`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof FileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileError(`${printable(path)}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? 'error'})`}`);
  }
  return parseJsonText(bytes, printable(path), what);
}

export function parseJsonText(bytes: Buffer | string, where: string, what: string): unknown {
  let text: string;
  if (typeof bytes === 'string') text = bytes;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new FileError(`${where}: not UTF-8 text, so not a ${what}`);
    }
  }
  // JSON text has no byte-order mark (RFC 8259 8.1): one is a sign of an editor's re-encoding
  if (text.charCodeAt(0) === 0xfeff) throw new FileError(`${where}: starts with a byte-order mark, which JSON does not have; save it as UTF-8 without one`);
  if (text.length > MAX_FILE_BYTES) throw new FileError(`${where}: more than a ${what} can be (${MAX_FILE_BYTES} characters)`);
  if (depthOf(text) > MAX_DEPTH) throw new FileError(`${where}: nested more than ${MAX_DEPTH} deep, more than a ${what} can be`);
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = /position (\d+)/.exec((e as Error).message);
    throw new FileError(`${where}: not valid JSON${at ? ` (at character ${at[1]})` : ''}, so not a ${what}`);
  }
}

// A field path as a reader writes it: testCase.threads[0].ops[1].op
export function fieldPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${printable(String(p))}`;
  return out;
}

// A value from a file, short and printable, for an error message.
function shown(x: unknown): string {
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  const text = typeof x === 'string' ? JSON.stringify(x) : String(x);
  return printable(text.length > 40 ? `${text.slice(0, 39)}…` : text);
}

// What an issue says, in the words of a file format.
function issueMessage(issue: z.core.$ZodIssue): string {
  if (!/^(Invalid|Too (big|small))/.test(issue.message)) return printable(issue.message); // the schema's own words
  const got = 'input' in issue ? `, got ${shown(issue.input)}` : '';
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected === 'int' ? 'an integer' : issue.expected}${got}`;
    case 'too_big':
      return issue.origin === 'array' ? `at most ${issue.maximum} entries${'input' in issue && Array.isArray(issue.input) ? `, got ${issue.input.length}` : ''}` : `expected at most ${issue.maximum}${got}`;
    case 'too_small':
      return issue.origin === 'array' ? `at least ${issue.minimum} entries` : issue.origin === 'string' ? 'expected a non-empty string' : `expected at least ${issue.minimum}${got}`;
    case 'invalid_value':
      return `expected ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => String(v)).join(', ')}`}${got}`;
    default:
      return printable(issue.message);
  }
}

// The first thing wrong, as one line.
export function issueText(error: z.ZodError, base: string): string {
  const issue = error.issues[0];
  const where = fieldPath(base, issue.path) || '(top level)';
  if (issue.code === 'unrecognized_keys') return `${where}: unknown field ${issue.keys.map((k) => JSON.stringify(printable(k))).join(', ')}`;
  return `${where}: ${issueMessage(issue)}`;
}

// `raw` through `schema`; a FileError naming the file and the first bad field.
export function parseWith<S extends z.ZodType>(schema: S, raw: unknown, where: string, base = ''): z.output<S> {
  const r = schema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new FileError(`${where}: ${issueText(r.error, base)}`);
  return r.data;
}
