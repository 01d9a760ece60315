// `daxcheck list` and `help` start fast because they load nothing heavy:
// the static imports reachable from cli/main.ts (not the command modules
// it loads on demand) must not reach a library or the models' engine.
// Speed itself is measured by `daxcheck bench --startup`, not here.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

// Static, value-level imports of a source file (type-only imports and
// dynamic import() are left out: they load nothing at start).
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\b)(?:[^'";]*?\s+from\s+)?'([^']+)';/gm)) out.push(m[1]);
  for (const m of text.matchAll(/^export\s+(?!type\b)[^'";]*?\s+from\s+'([^']+)';/gm)) out.push(m[1]);
  return out;
}

function reachable(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of imports(file)) {
      if (spec.startsWith('.')) visit(normalize(join(dirname(file), spec)));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

test('list and help load no library and none of the search or the models beyond the catalog', () => {
  const { files, packages } = reachable('cli/main.ts');
  assert.equal([...packages], [], 'packages loaded at start');
  for (const f of files) assert.not.match(f, /^(fuzz\/(lockstep|check|campaign|explore|guided|corpus|conform)|models\/(impl|reference)|reports|vm)\b/, f);
  assert.ok(files.has('cli/list.ts') && files.has('models/variants/index.ts'));
});

test('the guard sees what a command module loads', () => {
  const { packages } = reachable('cli/commands.ts');
  for (const p of ['fast-check', 'zod']) assert.ok(packages.has(p), p);
});

test.run();
