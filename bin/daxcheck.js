#!/usr/bin/env node
// The daxcheck command: runs the compiled CLI in dist/ (built by
// `npm run build`, which `npm ci`, `npm test` and `npm pack` run).  In a
// source checkout whose build is missing or older than a source file, it
// runs the sources through tsx instead, so an edit is never run stale.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const built = new URL('dist/.built', root);

function stale() {
  if (!existsSync(new URL('cli/main.ts', root))) return false; // an installed package: dist/ is all there is
  if (!existsSync(built)) return true;
  const at = statSync(built).mtimeMs;
  for (const dir of ['cli', 'fuzz', 'models', 'properties', 'reports', 'vm']) {
    for (const e of readdirSync(new URL(`${dir}/`, root), { withFileTypes: true, recursive: true })) {
      if (e.isFile() && /\.(ts|js)$/.test(e.name) && statSync(`${e.parentPath}/${e.name}`).mtimeMs > at) return true;
    }
  }
  return false;
}

if (stale()) {
  (await import('tsx/esm/api')).register();
  await import('../cli/main.ts');
} else {
  await import('../dist/cli/main.js');
}
