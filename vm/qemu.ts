// Booting the guest under QEMU with a batch of programs, and reading back
// what the executor wrote on the serial console.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APPEND, VmError, type Vm } from './setup.ts';

export interface Boot {
  lines: string[]; // the executor's lines (R, S, X, K, B, D, and a section's H and Y), in order
  console: string; // the whole serial log
  wallMs: number;
  guestBootSeconds: number | null; // uptime when the executor started
  finished: boolean; // the executor said it was done
}

// A file a boot adds to the guest's root: a reproducer (/repro, run by
// init instead of the executor) and its arguments (/repro.args).
export interface GuestFile {
  name: string;
  data: string | Buffer;
  executable?: boolean;
}

// /progs (and any extra files) as a cpio archive appended to the base
// initramfs (the kernel unpacks concatenated archives in turn).
function initrdWith(base: string, progs: string, dir: string, extra: GuestFile[]): string {
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  writeFileSync(join(tree, 'progs'), progs);
  for (const f of extra) {
    writeFileSync(join(tree, f.name), f.data);
    if (f.executable) chmodSync(join(tree, f.name), 0o755);
  }
  const names = ['progs', ...extra.map((f) => f.name)].join('\n') + '\n';
  const cpio = spawnSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: tree, input: names, maxBuffer: 1 << 30 });
  if (cpio.status !== 0) throw new VmError(`cpio: ${cpio.stderr.toString().trim()}`);
  const gz = spawnSync('gzip', ['-1', '-n'], { input: cpio.stdout, maxBuffer: 1 << 30 });
  const out = join(dir, 'initrd');
  writeFileSync(out, Buffer.concat([readFileSync(base), gz.stdout]));
  return out;
}

export function qemuArgs(vm: Pick<Vm, 'vmlinuz'>, initrd: string, log: string, accel: 'kvm' | 'tcg'): string[] {
  return [
    '-m', '2G', '-smp', '2', '-display', 'none', '-no-reboot', '-nodefaults',
    '-serial', `file:${log}`,
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg']),
    '-kernel', vm.vmlinuz, '-initrd', initrd, '-append', APPEND,
  ];
}

export async function boot(vm: Pick<Vm, 'vmlinuz' | 'initrd'>, progs: string, accel: 'kvm' | 'tcg', timeoutMs: number, extra: GuestFile[] = []): Promise<Boot> {
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-vm-'));
  try {
    const initrd = initrdWith(vm.initrd, progs, dir, extra);
    const log = join(dir, 'console');
    const t0 = Date.now();
    const child = spawn('qemu-system-x86_64', qemuArgs(vm, initrd, log, accel), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', (e) => reject(new VmError(`qemu-system-x86_64: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : e.message}`)));
      child.on('exit', (c) => resolve(c));
    });
    clearTimeout(timer);
    const wallMs = Date.now() - t0;
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      throw new VmError(`qemu wrote no console log (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`);
    }
    const lines = text.split(/\r?\n/).filter((l) => /^[RSXKBDHY]( |$)/.test(l));
    const b = lines.find((l) => l.startsWith('B '));
    return { lines, console: text, wallMs, guestBootSeconds: b ? Number(b.split(' ')[1]) : null, finished: lines.includes('D') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
