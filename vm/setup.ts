// `daxcheck vm setup`: the guest the kernel oracle boots, built from
// Debian's packages only: the kernel package linux-image-amd64 names (or
// one given), busybox-static, xfsprogs' mkfs.xfs, and the executor
// (executor/executor.c) compiled static with gcc.  Everything goes into a
// cache folder; `vm.json` there says what was built.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ROOT } from '../fuzz/root.ts';
import { parseWith, printable, readJsonFile, FileError } from '../fuzz/files.ts';

export class VmError extends Error {}

// The Debian packages the guest is built from; `.ci/run` and the README's
// apt-get line install them.
export const PACKAGES = ['qemu-system-x86', 'busybox-static', 'xfsprogs', 'cpio', 'kmod', 'gcc', 'libc6-dev', 'libibverbs-dev', 'dmsetup'];

// The modules fs-DAX on legacy e820 pmem needs, soft-RoCE on a dummy
// netdev for the RDMA ops, and a ramdisk behind dm-delay, the slow device
// a reproducer's page-cache files live on (their dependencies are found
// with modinfo and loaded first).
const MODULES = ['nd_pmem', 'nd_e820', 'crc32c_generic', 'xfs', 'dummy', 'crc32_generic', 'rdma_rxe', 'ib_uverbs', 'brd', 'dm_delay'];

// The slow device's read delay: long enough that a transfer from it
// outlasts the operations a reproducer runs after starting it, under TCG.
export const SLOW_READ_MS = 1000;

// The executor links libibverbs and its rxe provider statically (from
// libibverbs-dev), with libnl, which libibverbs uses.
const EXECUTOR_LIBS = ['-Wl,--whole-archive', '-lrxe-rdmav34', '-Wl,--no-whole-archive', '-libverbs', '-lnl-route-3', '-lnl-3', '-lpthread'];

// The kernel command line: 512 MiB of RAM at 1 GiB as persistent memory
// (legacy e820 pmem, struct pages included), no printk on the console.
export const APPEND = 'console=ttyS0 memmap=512M!1G panic=-1 loglevel=1';

export const VmSchema = z.strictObject({
  kernel: z.string().max(200), // the package
  release: z.string().max(100), // uname -r
  vmlinuz: z.string().max(4096),
  initrd: z.string().max(4096),
  accel: z.enum(['kvm', 'tcg']),
  bootSeconds: z.number().min(0),
  built: z.string().max(40),
  guest: z.string().max(64).optional(), // what the guest was built from (guestHash); absent: an older daxcheck
});
export type Vm = z.infer<typeof VmSchema>;

export function cacheDir(): string {
  return process.env.DAXCHECK_CACHE ?? join(homedir(), '.cache', 'daxcheck');
}

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'buffer', maxBuffer: 1 << 30 });
  if (r.error) throw new VmError(`${cmd}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : r.error.message} (apt-get install ${PACKAGES.join(' ')})`);
  if (r.status !== 0) throw new VmError(`${cmd} ${args.slice(0, 3).join(' ')}: ${r.stderr.toString().trim().split('\n').pop() ?? `exit ${r.status}`}`);
  return r.stdout.toString();
}

function which(tool: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (!path) throw new VmError(`${tool} is not installed (apt-get install ${PACKAGES.join(' ')})`);
  return path;
}

// The kernel package linux-image-amd64 depends on.
export function defaultKernelPackage(): string {
  const out = run('apt-cache', ['depends', 'linux-image-amd64']);
  const m = /Depends: (linux-image-[0-9][^\s]*)/.exec(out);
  if (!m) throw new VmError('apt-cache: linux-image-amd64 names no kernel package (run apt-get update)');
  return m[1];
}

// A kernel package unpacked: vmlinuz and its modules.
function unpackKernel(pkg: string, dir: string): { release: string; root: string } {
  const root = join(dir, 'root');
  if (!existsSync(root)) {
    const dl = join(dir, 'download');
    mkdirSync(dl, { recursive: true });
    let deb = pkg;
    if (!pkg.endsWith('.deb')) {
      run('apt-get', ['download', pkg], { cwd: dl });
      deb = join(dl, readdirSync(dl).find((f) => f.endsWith('.deb'))!);
    }
    run('dpkg-deb', ['-x', deb, `${root}.tmp`]);
    rmSync(dl, { recursive: true, force: true });
    run('mv', [`${root}.tmp`, root]);
  }
  const releases = readdirSync(join(root, 'lib', 'modules'));
  if (releases.length !== 1) throw new VmError(`${pkg}: expected one kernel release, found ${releases.length}`);
  return { release: releases[0], root };
}

// The modules to load, dependencies first.
function moduleOrder(moddir: string): string[] {
  const paths = new Map<string, string>();
  for (const e of readdirSync(moddir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.ko')) paths.set(e.name.slice(0, -3).replace(/-/g, '_'), join(e.parentPath, e.name));
  }
  const order: string[] = [];
  const visit = (name: string) => {
    const key = name.replace(/-/g, '_');
    const path = paths.get(key);
    if (!path) throw new VmError(`module ${name} not in the kernel package`);
    if (order.includes(path)) return;
    for (const dep of run('modinfo', ['-F', 'depends', path]).trim().split(',').filter(Boolean)) visit(dep);
    order.push(path);
  };
  MODULES.forEach(visit);
  return order;
}

const INIT = `#!/bin/sh
# daxcheck guest: load fs-DAX, make and mount XFS on /dev/pmem0 with
# dax=inode without readahead, give soft-RoCE a netdev with an address,
# run the executor on /progs, report, power off.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do
  case $m in
  brd.ko) insmod /lib/modules/$m rd_nr=1 rd_size=409600 || echo "X -1 insmod $m failed" ;;
  *) insmod /lib/modules/$m || echo "X -1 insmod $m failed" ;;
  esac
done
i=0
while [ ! -e /dev/pmem0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
LD_LIBRARY_PATH=/lib /sbin/mkfs.xfs -q -f -m reflink=1 /dev/pmem0 > /dev/null 2>&1 || echo "X -1 mkfs.xfs failed"
mkdir -p /mnt
mount -t xfs -o dax=inode /dev/pmem0 /mnt || echo "X -1 mount failed"
# no readahead: a fault reads one page into an order-0 folio, as the
# model's page cache holds single pages (docs/fidelity.md)
echo 0 > /sys/block/pmem0/queue/read_ahead_kb
echo 1 > /proc/sys/fs/lease-break-time
ip link set lo up
ip addr add 10.9.0.1/24 dev dummy0 && ip link set dummy0 up || echo "X -1 no dummy0"
echo "B $(cat /proc/uptime) $(uname -r)"
if [ -x /repro ]; then
  # a reproducer: its page-cache files on XFS on a ramdisk whose reads
  # dm-delay holds back (set after mkfs and mount, which read)
  t="0 819200 delay /dev/ram0 0"
  mkdir -p /slow
  LD_LIBRARY_PATH=/lib /sbin/dmsetup create slow --noudevsync --table "$t 0 /dev/ram0 0 0" > /dev/null || echo "X -1 dmsetup create failed"
  LD_LIBRARY_PATH=/lib /sbin/mkfs.xfs -q -f /dev/dm-0 > /dev/null 2>&1 || echo "X -1 mkfs.xfs on the slow device failed"
  mount -t xfs /dev/dm-0 /slow || echo "X -1 mount of the slow device failed"
  LD_LIBRARY_PATH=/lib /sbin/dmsetup suspend --nolockfs --noudevsync slow && LD_LIBRARY_PATH=/lib /sbin/dmsetup load slow --table "$t ${SLOW_READ_MS} /dev/ram0 0 0" && LD_LIBRARY_PATH=/lib /sbin/dmsetup resume --noudevsync slow || echo "X -1 dmsetup could not set the read delay"
  /repro /mnt /slow $(cat /repro.args)
else
  /bin/executor /progs
fi
dmesg | grep -E "WARNING|BUG|Oops" | sed 's/^/K /'
sync
poweroff -f
`;

// The shared libraries a dynamic binary needs, from ldd.
function libsOf(bin: string): string[] {
  return run('ldd', [bin]).split('\n').map((l) => /(\/\S+) \(0x/.exec(l)?.[1] ?? /^\s*(\/\S+)/.exec(l)?.[1]).filter((x): x is string => !!x);
}

function buildInitramfs(dir: string, modules: string[]): string {
  const tree = join(dir, 'initramfs');
  rmSync(tree, { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'lib', 'lib64', 'proc', 'sys', 'dev', 'mnt', 'tmp', 'lib/modules']) mkdirSync(join(tree, d), { recursive: true });
  copyFileSync(which('busybox'), join(tree, 'bin', 'busybox'));
  for (const applet of ['sh', 'mount', 'insmod', 'mkdir', 'poweroff', 'sleep', 'cat', 'echo', 'dmesg', 'grep', 'sed', 'sync', 'uname', 'ip']) symlinkSync('busybox', join(tree, 'bin', applet));
  for (const tool of ['mkfs.xfs', 'dmsetup']) {
    const bin = which(tool);
    copyFileSync(bin, join(tree, 'sbin', tool));
    for (const lib of libsOf(bin)) {
      const to = lib.startsWith('/lib64/') ? join(tree, lib) : join(tree, 'lib', basename(lib));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(lib, to);
    }
  }
  const names = modules.map((m) => basename(m));
  modules.forEach((m) => copyFileSync(m, join(tree, 'lib', 'modules', basename(m))));
  writeFileSync(join(tree, 'modules.order'), names.join('\n') + '\n');
  const src = fileURLToPath(new URL('executor/executor.c', ROOT));
  for (const lib of ['librxe-rdmav34.a', 'libibverbs.a', 'libnl-3.a']) {
    if (!existsSync(run('gcc', [`-print-file-name=${lib}`]).trim())) throw new VmError(`${lib} is not installed (apt-get install ${PACKAGES.join(' ')})`);
  }
  run('gcc', ['-static', '-O2', '-o', join(tree, 'bin', 'executor'), src, ...EXECUTOR_LIBS]);
  writeFileSync(join(tree, 'init'), INIT);
  chmodSync(join(tree, 'init'), 0o755);
  const out = join(dir, 'initramfs.cpio.gz');
  const list = run('sh', ['-c', 'find . | sort'], { cwd: tree });
  const cpio = spawnSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: tree, input: list, maxBuffer: 1 << 30 });
  if (cpio.status !== 0) throw new VmError(`cpio: ${cpio.stderr.toString().trim()}`);
  const gz = spawnSync('gzip', ['-1', '-n'], { input: cpio.stdout, maxBuffer: 1 << 30 });
  writeFileSync(out, gz.stdout);
  rmSync(tree, { recursive: true, force: true });
  return out;
}

export interface SetupOptions {
  kernel?: string; // a package name or a .deb
  log?: (line: string) => void;
}

// What a guest is built from, as a hash: the executor's source, the init
// script, the modules and the kernel command line.  A guest built from
// anything else (an older daxcheck's) runs programs differently.
export function guestHash(): string {
  const src = ['executor.c', 'ops.c'].map((f) => readFileSync(fileURLToPath(new URL(`executor/${f}`, ROOT))));
  return createHash('sha256').update(src[0]).update(src[1]).update(INIT).update(MODULES.join(' ')).update(EXECUTOR_LIBS.join(' ')).update(APPEND).digest('hex').slice(0, 16);
}

// Builds (or rebuilds) the guest; returns what vm.json records, without the boot figures.
export function buildGuest(opts: SetupOptions): Omit<Vm, 'accel' | 'bootSeconds'> {
  for (const tool of ['qemu-system-x86_64', 'busybox', 'mkfs.xfs', 'dmsetup', 'cpio', 'modinfo', 'gcc', 'dpkg-deb']) which(tool);
  const pkg = opts.kernel ?? defaultKernelPackage();
  const dir = join(cacheDir(), basename(pkg).replace(/\.deb$/, ''));
  mkdirSync(dir, { recursive: true });
  opts.log?.(`kernel package ${pkg} -> ${dir}`);
  const { release, root } = unpackKernel(pkg, dir);
  const vmlinuz = join(root, 'boot', `vmlinuz-${release}`);
  if (!existsSync(vmlinuz)) throw new VmError(`${pkg}: no boot/vmlinuz-${release}`);
  const config = readFileSync(join(root, 'boot', `config-${release}`), 'utf8');
  for (const opt of ['CONFIG_FS_DAX=y', 'CONFIG_ZONE_DEVICE=y']) if (!config.includes(`${opt}\n`)) throw new VmError(`${pkg}: the kernel lacks ${opt}`);
  const modules = moduleOrder(join(root, 'lib', 'modules', release));
  opts.log?.(`modules: ${modules.map((m) => basename(m, '.ko')).join(' ')}`);
  const initrd = buildInitramfs(dir, modules);
  opts.log?.(`initramfs ${initrd}`);
  return { kernel: basename(pkg), release, vmlinuz, initrd, built: new Date().toISOString(), guest: guestHash() };
}

export function vmFile(): string {
  return join(cacheDir(), 'vm.json');
}

export function readVm(): Vm {
  const file = vmFile();
  if (!existsSync(file)) throw new VmError(`no guest built yet (${printable(file)}): run daxcheck vm setup`);
  let vm: Vm;
  try {
    vm = parseWith(VmSchema, readJsonFile(file, 'guest description'), printable(file));
  } catch (e) {
    throw e instanceof FileError ? new VmError(e.message) : e;
  }
  if (vm.guest !== guestHash()) throw new VmError(`the guest in ${printable(cacheDir())} was built from another executor or init than this daxcheck's: run daxcheck vm setup`);
  return vm;
}

export function writeVm(vm: Vm): void {
  mkdirSync(cacheDir(), { recursive: true });
  writeFileSync(vmFile(), JSON.stringify(vm, null, 2) + '\n');
}
