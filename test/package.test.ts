// The package as a user gets it: `npm pack`, installed into an empty
// folder (its dependencies only, no tsx, no sources), runs every command.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { env } from './daxcheck.ts';

const tmp = mkdtempSync(join(tmpdir(), 'daxcheck-package-'));
const app = join(tmp, 'app');

function sh(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('npm pack, then npm install of the tarball into an empty folder', () => {
  // dist/ is built by npm test before the tests run
  const pack = sh('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], process.cwd());
  assert.is(pack.code, 0, pack.err);
  const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'))!;
  assert.ok(tarball);
  spawnSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), '{"name": "app", "version": "1.0.0", "private": true}\n');
  const install = sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', resolve(tmp, tarball)], app);
  assert.is(install.code, 0, install.err);
  assert.ok(existsSync(join(app, 'node_modules', 'daxcheck', 'dist', 'cli', 'main.js')));
  assert.not.ok(existsSync(join(app, 'node_modules', 'daxcheck', 'cli')), 'no sources in the package');
  assert.not.ok(existsSync(join(app, 'node_modules', 'tsx')), 'no TypeScript loader at run time');
});

test('the installed command runs every command', () => {
  const bin = join(app, 'node_modules', '.bin', 'daxcheck');
  const run = (...args: string[]) => sh(bin, args, app);
  const expect = (r: ReturnType<typeof run>, code: number, what: string) => assert.is(r.code, code, `${what}: ${r.out}${r.err}`);
  expect(run('--version'), 0, '--version');
  expect(run('help', 'check'), 0, 'help');
  expect(run('list', '--json'), 0, 'list');
  const check = run('check', '--variant', 'K7', '--variant', 'mainline-fixed', '--runs', '300', '--json');
  expect(check, 0, 'check');
  const file = JSON.parse(check.out).results[0].divergence.file;
  expect(run('replay', file), 0, 'replay');
  expect(run('replay', file, '--variant', 'mapdirect-fixed'), 0, 'replay --variant');
  expect(run('report', file, '--text'), 0, 'report --text');
  expect(run('report', file), 0, 'report');
  expect(run('explore', '--variant', 'K9', '--scenario', 'sys-map-direct-fd-reuse'), 0, 'explore');
  for (const i of ['0', '1']) expect(run('fuzz', '--variant', 'K7', '--runs', '200', '--slot-runs', '25', '--shard', `${i}/2`, '--out', `s${i}`), 0, `fuzz shard ${i}`);
  expect(run('merge', 's0', 's1', '--out', 'merged'), 0, 'merge');
  expect(run('matrix', '--runs', '20', '--workers', '1'), 1, 'matrix (20 runs miss the deep bugs)');
  expect(run('bench', '--startup'), 0, 'bench --startup');
});

test.run();
