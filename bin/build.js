#!/usr/bin/env node
// `npm run build`: compiles the sources to dist/ (tsc, tsconfig.build.json),
// copies the worker entry beside them, and stamps the build, so that
// bin/daxcheck.js can tell a build older than the sources.
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync('dist', { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
} catch {
  process.exit(1);
}
copyFileSync('fuzz/worker-entry.js', 'dist/fuzz/worker-entry.js');
writeFileSync('dist/.built', `${new Date().toISOString()}\n`);
