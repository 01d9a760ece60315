// docs/fidelity.md has a row for every function of models/impl/.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';

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

test.run();
