// `daxcheck repro`: a counterexample's C reproducer (csource.ts), built
// static on the host and run in the kernel oracle's guest, with XFS on
// pmem mounted dax=inode for the DAX files and XFS on a dm-delay ramdisk
// for the page-cache ones.  What it saw is kept beside the counterexample
// (<file>.repro.json), where reports find it.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { Variant } from '../models/variants/index.ts';
import type { Counterexample } from './corpus.ts';
import { writeFileAtomic } from './corpus.ts';
import { cSource, CsourceError } from './csource.ts';
import { parseWith, printable, readJsonFile } from './files.ts';
import type { Boot, GuestFile } from '../vm/qemu.ts';

export const ReproResultSchema = z.strictObject({
  kind: z.literal('daxcheck-repro'),
  counterexample: z.string().max(4096),
  class: z.string().max(60),
  variant: z.string().max(100),
  kernel: z.string().max(200), // the guest's kernel package
  release: z.string().max(100),
  runs: z.number().int().min(0),
  reproduced: z.number().int().min(0), // runs that showed the class's consequence
  verdict: z.string().max(300), // "reproduced on ... in k/N runs" or "not reproduced in N runs"
  evidence: z.array(z.string().max(2000)).max(400), // the reproducer's lines and the kernel's warnings
  kernelWarnings: z.array(z.string().max(2000)).max(400),
  command: z.string().max(4096), // how to run it again
  wallSeconds: z.number().min(0),
  date: z.string().max(40),
});
export type ReproResult = z.infer<typeof ReproResultSchema>;

export const reproFile = (counterexample: string) => `${counterexample.replace(/\.json$/, '')}.repro.json`;

export function readRepro(counterexample: string): ReproResult | null {
  const file = reproFile(counterexample);
  if (!existsSync(file)) return null;
  return parseWith(ReproResultSchema, readJsonFile(file, 'reproducer result'), printable(file));
}

// The reproducer as a static binary.
export function buildReproducer(cx: Counterexample, variant: Variant, file: string): { binary: Buffer; source: string } {
  const src = cSource(cx, variant, file);
  const dir = mkdtempSync(join(tmpdir(), 'daxcheck-repro-'));
  try {
    writeFileSync(join(dir, 'repro.c'), src.text);
    const libs = src.needsRdma ? ['-Wl,--whole-archive', '-lrxe-rdmav34', '-Wl,--no-whole-archive', '-libverbs', '-lnl-route-3', '-lnl-3'] : [];
    const r = spawnSync('gcc', ['-static', '-pthread', '-O2', '-o', join(dir, 'repro'), join(dir, 'repro.c'), ...libs], { encoding: 'utf8' });
    if (r.error) throw new CsourceError(`gcc: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed (apt-get install gcc libc6-dev)' : r.error.message}`);
    if (r.status !== 0) throw new CsourceError(`gcc could not build the reproducer: ${r.stderr.split('\n').find((l) => l.includes('error')) ?? r.stderr.trim().split('\n').pop()}`);
    return { binary: readFileSync(join(dir, 'repro')), source: src.text };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ReproOptions {
  file: string;
  cx: Counterexample;
  variant: Variant;
  times: number;
  vm: { kernel: string; release: string };
  boot: (progs: string, extra: GuestFile[]) => Promise<Boot>;
}

export async function runRepro(o: ReproOptions): Promise<ReproResult> {
  const t0 = Date.now();
  const { binary } = buildReproducer(o.cx, o.variant, o.file);
  const r = await o.boot('', [{ name: 'repro', data: binary, executable: true }, { name: 'repro.args', data: `-n ${o.times}\n` }]);
  const lines = r.console.split(/\r?\n/);
  const kernelWarnings = lines.filter((l) => l.startsWith('K ')).map((l) => l.slice(2));
  // the reproducer's own copy of the kernel's warnings goes when the guest's dmesg has them
  const evidence = lines.filter((l) => l.startsWith('repro: ') || l.startsWith('X ')).map((l) => l.replace(/^repro: /, '')).filter((l) => !(kernelWarnings.length && l.startsWith('kernel: ')));
  const last = [...evidence].reverse().find((l) => /^(reproduced in \d+\/\d+ runs|not reproduced in \d+ runs)$/.test(l));
  if (!last) throw new CsourceError(`the reproducer did not finish in the guest${r.finished ? '' : ' (timed out or crashed)'}: ${printable(evidence.slice(-1)[0] ?? lines.filter(Boolean).slice(-1)[0] ?? '')}`);
  const m = /^reproduced in (\d+)\/(\d+) runs$/.exec(last);
  const runs = m ? Number(m[2]) : Number(/(\d+) runs$/.exec(last)![1]);
  const seen = m ? Number(m[1]) : 0;
  const hung = evidence.map((l) => /^(\d+) of \d+ attempts hung$/.exec(l)).find(Boolean);
  const hangs = hung ? `; ${hung[1]} of ${runs} attempts hung` : '';
  const result: ReproResult = {
    kind: 'daxcheck-repro', counterexample: o.file, class: o.cx.divergence.class, variant: o.cx.variant.name, kernel: o.vm.kernel, release: o.vm.release,
    runs, reproduced: seen, verdict: (seen ? `reproduced on ${o.vm.release} in ${seen}/${runs} runs` : `not reproduced in ${runs} runs on ${o.vm.release}`) + hangs,
    evidence: evidence.slice(0, 400), kernelWarnings: kernelWarnings.slice(0, 400), command: `daxcheck repro ${o.file} --times ${o.times}`,
    wallSeconds: Math.round((Date.now() - t0) / 100) / 10, date: new Date().toISOString(),
  };
  writeFileAtomic(reproFile(o.file), JSON.stringify(ReproResultSchema.parse(result), null, 2) + '\n');
  return result;
}
