#!/usr/bin/env node
// Runs every *.test.ts under properties/ and test/ with uvu, through
// tsx's loader, and ends with one line: "N passed, N failed".
import { register } from 'tsx/esm/api';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

register();

const only = process.argv[2]; // optional substring filter on file names
const files = ['properties', 'test']
  .flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f)))
  .filter((f) => !only || f.includes(only))
  .sort();

// uvu's CLI protocol: defer, queue one entry per file, then exec.
globalThis.UVU_DEFER = 1;
globalThis.UVU_QUEUE = [];
const uvu = await import('uvu');

let total = 0;
let passed = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const text = String(chunk);
  const t = /Total:\s+(\d+)/.exec(text);
  const p = /Passed:\s+(\d+)/.exec(text);
  if (t) total = Number(t[1]);
  if (p) passed = Number(p[1]);
  return write(chunk, ...rest);
};

for (let i = 0; i < files.length; i++) {
  globalThis.UVU_INDEX = i;
  globalThis.UVU_QUEUE.push([files[i]]);
  await import(pathToFileURL(resolve(files[i])).href);
}
await uvu.exec(false);
process.stdout.write = write;
console.log(`${passed} passed, ${total - passed} failed`);
