// docs/fidelity.md has a row for every function of models/impl/.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { FLAGS, VARIANTS } from '../models/variants/index.ts';

const ROOT = new URL('../', import.meta.url);

// The functions a file of models/impl/ defines: fn('name', ...) frames and
// function declarations.
export function modelFunctions(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\bfn<\w+>\('([\w]+)'/g)) names.add(m[1]);
  for (const m of text.matchAll(/^(?:export )?function (\w+)/gm)) names.add(m[1]);
  return [...names];
}

test('docs/fidelity.md names every function of models/impl/ in its "Every model function" section', () => {
  const doc = readFileSync(new URL('docs/fidelity.md', ROOT), 'utf8');
  const at = doc.indexOf('## Every model function');
  assert.ok(at >= 0, 'the section exists');
  const section = doc.slice(at);
  const missing: string[] = [];
  let all = 0;
  for (const file of readdirSync(new URL('models/impl/', ROOT)).filter((f) => f.endsWith('.ts'))) {
    for (const name of modelFunctions(readFileSync(new URL(`models/impl/${file}`, ROOT), 'utf8'))) {
      all++;
      if (!section.includes(`\`${name}\``)) missing.push(`${file}: ${name}`);
    }
  }
  assert.ok(all > 100, `read the model (${all} functions)`);
  assert.equal(missing, []);
});

test('the scan finds frames and declarations, and nothing in comments or calls', () => {
  const text = "export const f = fn<F>('sys_x', {\n  a(k) { return g(k); },\n});\nfunction helper_one(k) {}\nexport function two() {}\n// function not_this\n  function nested() {}\n";
  assert.equal(modelFunctions(text).sort(), ['helper_one', 'sys_x', 'two']);
});

// What a property or a generator must not read (DESIGN §11): a variant's
// flags or name, the implementation's function names, frames or queues.
// The search engine's coverage and state fingerprints read the
// implementation's steps on purpose, as kcov reads kernel code, and are
// not scanned.
const STATED_ON_THE_PROMISE = ['properties/checks.ts', 'properties/abstraction.ts', 'properties/lockdep.ts', 'properties/classes.ts', 'fuzz/arbitraries.ts', 'fuzz/mutate.ts', 'fuzz/scenarios.ts', 'fuzz/lockstep.ts'];

export function implementationReads(text: string): string[] {
  const code = text.replace(/\/\/.*$/gm, '');
  const found: string[] = [];
  for (const flag of Object.keys(FLAGS)) if (new RegExp(`\\b${flag}\\b`).test(code)) found.push(`flag ${flag}`);
  for (const v of VARIANTS) if (code.includes(`'${v.name}'`)) found.push(`variant ${v.name}`);
  for (const [what, re] of [['a frame', /\.stack\b|\.fn\.name\b/], ['a queue', /\.(dioQueue|nicIp|timers|work)\b/], ['flags', /\.flags\b/]] as const) if (re.test(code)) found.push(what);
  return found;
}

test('properties, checks and generators read no flag, variant name, implementation function name, frame or queue', () => {
  for (const file of STATED_ON_THE_PROMISE) assert.equal(implementationReads(readFileSync(new URL(file, ROOT), 'utf8')), [], file);
});

test('the scan sees each kind of read', () => {
  assert.equal(implementationReads("if (k.flags.truncateIgnoresPins) x();\nconst v = findVariant('K2');\nfor (const f of t.stack) if (f.fn.name === 'x') k.dioQueue.shift();"), ['flag truncateIgnoresPins', 'variant K2', 'a frame', 'a queue', 'flags']);
  assert.equal(implementationReads('// k.dioQueue in a comment\nconst pages = ref.files[0].page;'), []);
});

test.run();
