// The kernel oracle: the host side (expectations, the executor's input,
// reading its output, comparing) with no VM, and a conformance smoke on
// the real kernel in the guest when one can be built (required in CI:
// .ci/run installs Debian's packages and sets DAXCHECK_VM=required).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findVariant } from '../models/variants/index.ts';
import { CONFORM_OPS, MismatchSchema, batchText, compare, expectation, listedMismatches, parseOutput, programs, runConform } from '../fuzz/conform.ts';
import { readVm } from '../vm/setup.ts';
import { boot } from '../vm/qemu.ts';
import type { Variant } from '../models/variants/index.ts';
import { LIMITS, TestCaseSchema, type Op, type TestCase } from '../models/testcase.ts';
import { daxcheck } from './daxcheck.ts';
import { CLONE_PROGRAMS, COLLAPSE_REFUSED_PINNED, FALLOC_PROGRAMS, LEASE_PROGRAMS, STALE_AFTER_COW, URING_PROGRAMS, dax, mmap, open, pagecache, reg, staleLoads, tc } from './programs.ts';
import { checkSection, historyOf, parseSections, threadedBatchText, threadedExpectation, threadedPrograms, timeline } from '../fuzz/threads.ts';

const linux61 = findVariant('linux-6.1'); // the kernel the guest runs

test('programs are deterministic, single-threaded, and use every op conformance runs, AIO and NIC work among them', () => {
  const a = programs(1, 300);
  assert.equal(programs(1, 300), a);
  const used = new Set(a.flatMap((tc) => [...tc.threads[0].ops, ...tc.nic].map((o) => o.op)));
  for (const op of [...CONFORM_OPS, 'rdma_write', 'rdma_read']) assert.ok(used.has(op as never), op);
  const dio = a.flatMap((tc) => tc.threads[0].ops).filter((o) => o.op === 'dio_read' || o.op === 'dio_write');
  assert.ok(dio.some((o) => 'aio' in o && o.aio) && dio.some((o) => 'aio' in o && !o.aio));
  for (const tc of a) {
    assert.is(tc.threads.length, 1);
    TestCaseSchema.parse(tc); // a valid test case, as a mismatch file must hold
  }
});

test('the model gives every op an outcome in an order the executor can follow, and its input names each resolved op', () => {
  let nic = 0;
  for (const tc of programs(2, 200)) {
    const e = expectation(linux61, tc);
    assert.is(e.modelDivergence, null);
    const own = e.steps.filter((s) => !s.op.op.startsWith('rdma_'));
    assert.equal(own.map((s) => s.op), tc.threads[0].ops);
    let seen = 0;
    for (const s of e.steps) assert.is(s.ops, own.includes(s) ? ++seen : seen);
    nic += e.steps.length - own.length;
    assert.is(e.files.length, tc.config.files.length);
    const text = batchText([tc], [e]);
    assert.is(text.split('\n').filter((l) => /^[a-zA-Z]( |$)/.test(l) && !/^[PBFGE]( |$)/.test(l)).length, e.steps.length);
    // the recorded order replays: the same steps come out of the file's schedule
    assert.equal(expectation(linux61, { ...tc, schedule: e.schedule }).steps, e.steps);
  }
  assert.ok(nic > 0, 'some NIC work is carried out');
});

test('compare reports the first op whose kernel outcome differs, then the files; listed rows are marked', () => {
  const tc = programs(3, 1)[0];
  const e = expectation(linux61, tc);
  const same = e.steps.map((s) => (s.expected === 'ok' ? 'ok 140' : s.expected));
  assert.is(compare('k', linux61, tc, e, same, e.files, []), null);
  const changed = [...same];
  changed[0] = 'err EPERM';
  const m = compare('k', linux61, tc, e, changed, e.files, []);
  assert.ok(m);
  assert.equal([m!.op, m!.observed, m!.listed], [0, 'err EPERM', false]);
  assert.ok(compare('k', linux61, tc, e, changed, e.files, [{ op: tc.threads[0].ops[0].op, expected: '*', observed: 'err E*' }])!.listed);
  const files = [...e.files];
  files[0] = `${files[0]} 9`;
  assert.is(compare('k', linux61, tc, e, same, files, [])!.op, -1);
  // what the executor writes, read back
  const o = parseOutput(['R 0 0 ok 3', 'R 0 1 sig SIGBUS', 'S 0 0 4096 1 11', 'X 0 trouble', 'K WARNING: at fs/dax.c']);
  assert.equal(o.results.get(0), ['ok 3', 'sig SIGBUS']);
  assert.equal(o.files.get(0), ['4096 1 11']);
  assert.is(o.problems.length, 1);
  assert.is(o.kernelWarnings.length, 1);
});

test('the executor sets the RLIMIT_MEMLOCK of the model', () => {
  const src = readFileSync(new URL('../executor/ops.c', import.meta.url), 'utf8');
  assert.is(Number(/#define MEMLOCK_PAGES (\d+)/.exec(src)?.[1]), LIMITS.memlockPages);
});

test('docs/fidelity.md lists its mismatches in the table conform reads', () => {
  const rows = listedMismatches();
  assert.ok(rows.length >= 2, 'the table is found');
  for (const r of rows) assert.ok([...CONFORM_OPS, 'files', 'section'].includes(r.op as never), r.op);
});

test('a missing guest, or one built from another executor or init, is refused in one line with exit 2', () => {
  const cache = mkdtempSync(join(tmpdir(), 'daxcheck-cache-'));
  const run = () => spawnSync(process.execPath, ['bin/daxcheck.js', 'conform', '--runs', '1', '--out', join(cache, 'out')], { encoding: 'utf8', env: { ...process.env, DAXCHECK_CACHE: cache } });
  let r = run();
  assert.is(r.status, 2);
  assert.match(r.stderr, /no guest built yet .*run daxcheck vm setup/);
  // what an older daxcheck wrote: no record of what the guest was built from
  const vm = { kernel: 'linux-image-x', release: 'x', vmlinuz: '/nonexistent/vmlinuz', initrd: '/nonexistent/initrd', accel: 'tcg', bootSeconds: 9, built: '2026-11-30T00:00:00.000Z' };
  writeFileSync(join(cache, 'vm.json'), JSON.stringify(vm));
  r = run();
  assert.is(r.status, 2);
  assert.is(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /built from another executor or init than this daxcheck's: run daxcheck vm setup/);
  writeFileSync(join(cache, 'vm.json'), JSON.stringify({ ...vm, guest: 'ffffffffffffffff' }));
  assert.match(run().stderr, /built from another executor/);
  assert.not.ok(existsSync(join(cache, 'out')), 'nothing written');
});

// The real kernel: only where the guest's packages are (CI installs them).
const required = process.env.DAXCHECK_VM === 'required';
const tools = ['qemu-system-x86_64', 'busybox', 'mkfs.xfs', 'cpio', 'modinfo', 'gcc'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0) && existsSync('/usr/lib/x86_64-linux-gnu/librxe-rdmav34.a');

// A boot of a few hundred programs takes about 10 s under TCG; one has
// been seen to hang until its timeout, once, without a program to blame
// (the same programs ran through on the next boot). A hung boot gets one
// more try, with a timeout that keeps it to minutes: a program that hangs
// the guest hangs it twice.
async function bootWithRetry(vm: ReturnType<typeof readVm>, progs: string) {
  const r = await boot(vm, progs, vm.accel, 120_000);
  return r.finished ? r : boot(vm, progs, vm.accel, 120_000);
}

if (tools || required) {
  test('conformance smoke on the real kernel: 150 programs, every op run, no mismatch outside docs/fidelity.md', () => {
    const setup = daxcheck('vm', 'setup', '--json');
    assert.is(setup.code, 0, setup.err);
    const out = mkdtempSync(join(tmpdir(), 'daxcheck-conform-'));
    const r = daxcheck('conform', '--runs', '150', '--seed', '11', '--json', '--out', out); // a seed whose sample has every outcome asked for below
    const doc = JSON.parse(r.out);
    assert.equal(doc.problems, []);
    assert.is(doc.programs, 150);
    assert.equal(doc.mismatches.filter((m: { listed: boolean }) => !m.listed), []);
    assert.is(r.code, 0, r.err);
    // fallocate's outcomes are counted per mode
    const outcomes = (op: string) => Object.entries(doc.coverage as Record<string, Record<string, number>>).filter(([k]) => k === op || k.startsWith(`${op} (`)).flatMap(([, v]) => Object.keys(v));
    for (const op of [...CONFORM_OPS, 'rdma_write', 'rdma_read', 'dio_read (aio)', 'dio_write (aio)', 'fallocate (collapse)', 'fallocate (insert)', 'fallocate (zero)']) assert.ok(outcomes(op).length, `${op} ran on the kernel`);
    // success and an error each, for the ops that have both
    for (const op of ['mmap', 'munmap', 'truncate', 'fallocate', 'write', 'dio_read', 'dio_write', 'close', 'load', 'store', 'reg_mr', 'dereg_mr', 'fcntl_setlease', 'sigtimedwait', 'unlink', 'clone']) {
      const outs = outcomes(op);
      assert.ok(outs.includes('ok') && outs.length >= 2, `${op}: ${outs.join(', ')}`);
    }
    assert.ok(doc.mismatches.every((m: { file: string }) => existsSync(m.file)));
  });

  test('hand-written programs on the real 6.1 kernel: after fork the parent keeps a registered page (FOLL_PIN), as linux-6.1 says and linux-4.18 would not; MADV_DONTNEED drops a private copy, a registered one too, and the NIC writes the page nobody maps; fcntl leases, their stale downgrade included; unlink; the modes of fallocate; FICLONERANGE, and 6.1\'s mapping left on the old block after a copy-on-write', async () => {
    const md = (map = 0, page = 0, npages = 0): Op => ({ op: 'madvise_dontneed', map, page, npages });
    const nic = [{ op: 'rdma_write' as const, mr: 0, page: 0, val: 9, at: 1 }];
    const store = (val: number): Op => ({ op: 'store', map: 0, page: 0, val });
    const load: Op = { op: 'load', map: 0, page: 0 };
    const progs = [
      // a private page stored to, registered, fork, the parent stores, the NIC writes, the parent loads
      tc([pagecache(1), pagecache(1)], [[open(0), open(1), mmap(0, { type: 'private' }), store(5), reg(0), { op: 'fork' }, store(7), { op: 'tick' }, load]], { nic }),
      // a private copy dropped: the file's page again; then a range nothing maps
      tc([dax(2)], [[open(0), mmap(0, { type: 'private', len: 1 }), store(5), load, md(), load, { op: 'munmap', map: 0 }, md()]]),
      // a registered private copy dropped: the NIC's write goes to the page the registration kept
      tc([pagecache(1)], [[open(0), mmap(0, { type: 'private' }), store(5), reg(0), md(), { op: 'tick' }, load]], { nic }),
    ];
    const leases = LEASE_PROGRAMS.map((p) => tc([dax(2)], [p.ops], { config: { files: [dax(2)], procs: [{ uid: 0, capLease: false }], blocks: 16, leaseBreakTime: 1 } }));
    progs.push(...leases);
    // unlink: the name goes, the open file stays readable and writable through its fd and mapping
    const unlinked = tc([dax(1), pagecache(1)], [[open(0), { op: 'unlink', file: 0 }, { op: 'unlink', file: 0 }, open(0), { op: 'truncate_path', file: 0, size: 0 }, { op: 'write', fd: 0, off: 0, val: 7 }, open(1), mmap(0), load, { op: 'close', fd: 0 }]]);
    progs.push(unlinked);
    // fallocate's modes: collapse, insert, zero, the refused mixes
    const fallocs = progs.length;
    progs.push(...FALLOC_PROGRAMS.map((p) => tc(p.files, [p.ops])));
    // io_uring's fixed buffers: every buffer of a file mapping refused, a private copy made on the way kept
    const urings = progs.length;
    progs.push(...URING_PROGRAMS.map((p) => tc(p.files, [p.ops])));
    // FICLONERANGE: DAX and page-cache files shared and written, the refusals, ranges, unshare
    const clones = progs.length;
    progs.push(...CLONE_PROGRAMS.map((p) => tc(p.files, [p.ops])));
    // a refused collapse over a registered page-cache page: 6.1 flushes the range first
    const collapsed = progs.length;
    progs.push(COLLAPSE_REFUSED_PINNED.testCase);
    const exps = progs.map((t) => expectation(linux61, t));
    // 6.1's stale mapping after a copy-on-write: linux-6.1 diverges at the write, so the
    // guest runs the whole program as mainline's model has it, and the kernel is judged
    // against what linux-6.1's flag says, not mainline's result
    const stale = progs.length;
    progs.push(tc(STALE_AFTER_COW.files, [STALE_AFTER_COW.ops]));
    exps.push(expectation(findVariant('linux-mainline'), progs[stale]));
    assert.equal(exps.slice(0, 3).map((e) => e.steps.at(-1)!.expected), ['ok 9', 'err ENOMEM', 'ok 11']);
    // the stale downgrade: the model says what the kernel does, and its reference that no break asked for it
    assert.match(exps[fallocs - 2].modelDivergence ?? '', /^result-mismatch: kernel downgraded the write lease/);
    assert.is(exps[1].steps[5].expected, 'ok 11');
    const four18 = expectation(findVariant('linux-4.18'), progs[0]);
    assert.is(four18.steps.at(-1)!.expected, 'ok 7');
    const vm = readVm();
    const r = await bootWithRetry(vm, batchText(progs, exps));
    const seen = parseOutput(r.lines);
    progs.forEach((t, i) => i === stale || assert.is(compare(vm.kernel, linux61, t, exps[i], seen.results.get(i), seen.files.get(i), listedMismatches()), null, `program ${i}`));
    assert.is(seen.results.get(0)?.at(-1), 'ok 9');
    LEASE_PROGRAMS.forEach((p, i) => assert.equal(seen.results.get(3 + i), p.kernel.map((x) => (typeof x === 'number' ? `ok ${x}` : `err ${x}`)), p.name));
    assert.equal(seen.results.get(fallocs - 1), ['ok 0', 'ok 0', 'err ENOENT', 'err ENOENT', 'err ENOENT', 'ok 0', 'ok 1', 'ok 0', 'ok 7', 'ok 0']);
    assert.is(seen.files.get(fallocs - 1)?.[0], '-');
    FALLOC_PROGRAMS.forEach((p, i) => {
      assert.equal(seen.results.get(fallocs + i), p.kernel.map((x) => (typeof x === 'number' ? `ok ${x}` : `err ${x}`)), p.name);
      assert.is(seen.files.get(fallocs + i)?.[0], p.file, p.name);
    });
    URING_PROGRAMS.forEach((p, i) => {
      assert.equal(seen.results.get(urings + i), p.kernel.map((x) => (typeof x === 'number' ? `ok ${x}` : `err ${x}`)), p.name);
      assert.is(seen.files.get(urings + i)?.[0], p.file, p.name);
    });
    CLONE_PROGRAMS.forEach((p, i) => {
      assert.equal(seen.results.get(clones + i), p.kernel.map((x) => (typeof x === 'number' ? `ok ${x}` : `err ${x}`)), p.name);
      assert.equal(seen.files.get(clones + i), p.after, p.name);
    });
    assert.equal(seen.results.get(stale), STALE_AFTER_COW.linux61.map((x) => `ok ${x}`), 'a load through the writer\'s mapping reads the old block, then the other file\'s write');
    assert.equal(seen.files.get(stale), STALE_AFTER_COW.after);
    assert.equal(seen.files.get(collapsed), [COLLAPSE_REFUSED_PINNED.linux61]);
    assert.ok(compare(vm.kernel, findVariant('linux-4.18'), progs[0], four18, seen.results.get(0), seen.files.get(0), listedMismatches()), '4.18\'s model is not 6.1');
  });

  test('a mutated model is caught: refusing MAP_SHARED|MAP_SYNC of a DAX file, which 6.1 allows, gives shrunk kernel-mismatches', async () => {
    // the model's mmap made to refuse one combination the kernel accepts
    const mutated = (v: Variant, tc: TestCase) => {
      const e = expectation(v, tc);
      e.steps.forEach((s) => {
        if (s.op.op === 'mmap' && s.op.type === 'shared' && s.op.sync && s.expected === 'ok' && / 0 1 [01] [01]$/.test(s.line)) s.expected = 'err EOPNOTSUPP';
      });
      return e;
    };
    const vm = readVm();
    const out = mkdtempSync(join(tmpdir(), 'daxcheck-mutant-'));
    const r = await runConform({
      // no leases: their ticks sleep a real second in every shrink candidate
      variant: linux61, runs: 150, seed: 1, shard: { index: 0, count: 1 }, out, batch: 1000, vm, expect: mutated, kinds: CONFORM_OPS.filter((op) => op !== 'fcntl_setlease'),
      boot: (progs) => bootWithRetry(vm, progs),
    });
    const caught = r.mismatches.filter((m) => !m.listed);
    assert.ok(caught.length >= 1, 'the mutant is caught');
    for (const m of caught) {
      assert.equal([m.expected, m.observed], ['err EOPNOTSUPP', 'ok']);
      assert.match(m.op, /^m \d+ \d+ \d+ \d+ 0 1 /);
      const file = MismatchSchema.parse(JSON.parse(readFileSync(m.file, 'utf8')));
      assert.ok(file.testCase.threads[0].ops.length <= 3, `shrunk to an open or two and the mmap: ${file.testCase.threads[0].ops.length} ops`);
    }
  });

  test('conform --shard i/N, then merge: the same programs, operations, coverage and mismatches as one run; a shard twice is refused', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'daxcheck-conform-shards-'));
    const run = (...args: string[]) => daxcheck('conform', '--runs', '40', '--seed', '5', '--json', ...args);
    const whole = JSON.parse(run('--out', join(tmp, 'whole')).out);
    for (const i of ['0', '1']) assert.ok([0, 1].includes(run('--shard', `${i}/2`, '--out', join(tmp, `s${i}`)).code!));
    const m = daxcheck('merge', join(tmp, 's0'), join(tmp, 's1'), '--out', join(tmp, 'm'), '--json');
    assert.ok([0, 1].includes(m.code!), m.err);
    const merged = JSON.parse(m.out);
    assert.equal([merged.programs, merged.ops, merged.coverage, merged.mismatches.length], [whole.programs, whole.ops, whole.coverage, whole.mismatches.length]);
    assert.equal(merged.plan.shards, ['0/2', '1/2']);
    const twice = daxcheck('merge', join(tmp, 's0'), join(tmp, 's0'), '--out', join(tmp, 'm2'));
    assert.is(twice.code, 2);
    assert.match(twice.err, /shard 0\/2 given twice/);
    assert.not.ok(existsSync(join(tmp, 'm2')));
  });
  test('a section that does not return in its time is killed and reported: each operation\'s call and return, the hung one\'s "hang", whether SIGKILL ended it (the executor on the host)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'daxcheck-section-'));
    const bin = join(dir, 'executor');
    const cc = spawnSync('gcc', ['-static', '-O2', '-o', bin, 'executor/executor.c', '-Wl,--whole-archive', '-lrxe-rdmav34', '-Wl,--no-whole-archive', '-libverbs', '-lnl-route-3', '-lnl-3'], { encoding: 'utf8' });
    assert.is(cc.status, 0, cc.stderr.split('\n').filter((l) => l.includes('error')).join('\n'));
    // a tick sleeps 1.1 s: past a section bound of 1 s
    writeFileSync(join(dir, 'progs'), 'P 0\nF 0 0 1 0 11 0 0 0\nG\no 0 1 0\nC 1\n0 k 1\n1 w 0 0 7\nN\nE\n');
    const r = spawnSync(bin, [join(dir, 'progs'), dir], { encoding: 'utf8', timeout: 30_000 });
    const lines = r.stdout.split('\n');
    const s = parseSections(lines).get(0)!;
    assert.is(s.ops.length, 2, r.stdout);
    assert.equal([s.ops[0].thread, s.ops[0].ret, s.ops[0].got], [1, -1, 'hang']);
    assert.ok(s.ops[0].call >= 0);
    assert.equal([s.ops[1].thread, s.ops[1].got], [2, 'ok 0']);
    assert.ok(s.ops[1].ret >= s.ops[1].call);
    assert.ok(lines.includes('Y 0 SIGKILL ended it'), r.stdout);
    assert.ok(lines.some((l) => /^Y 0 task \d+$/.test(l)), 'every task of the section listed');
    assert.ok(lines.includes('S 0 0 4096 0 7'), 'the program goes on to its files');
    assert.is(lines.at(-2), 'D');
  });

  test('repro: linux-6.1\'s counterexample reproduces on the real 6.1 kernel (the AIO transfer lands in the block the truncate freed, and fs/dax.c:398 warns); the result rides beside the file and the text report ends with it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'daxcheck-repro-'));
    const file = join(dir, 'cx.json');
    copyFileSync('corpus/dma-into-reallocated-block/2ef7a4c955cadd6e.json', file);
    const r = daxcheck('repro', file, '--times', '2', '--json');
    assert.is(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.is(doc.runs, 2);
    assert.ok(doc.reproduced >= 1, doc.verdict);
    assert.match(doc.verdict, /^reproduced on 6\.1\.\S+ in [12]\/2 runs$/);
    assert.ok(doc.evidence.some((e: string) => /dio_read\(fd=1 off=0 map=0 page=0 aio=1\): its transfer wrote block 0x[0-9a-f]+ \(byte 11 -> 21\) after file 0 page 0 no longer owned it/.test(e)), doc.evidence.join('\n'));
    assert.ok(doc.kernelWarnings.some((k: string) => /WARNING: .* at fs\/dax\.c:398 dax_disassociate_entry/.test(k)));
    assert.equal(JSON.parse(readFileSync(join(dir, 'cx.repro.json'), 'utf8')).verdict, doc.verdict);
    const mail = daxcheck('report', file, '--text');
    assert.is(mail.code, 0, mail.err);
    assert.match(mail.out, /\nReal kernel: reproduced on 6\.1[^\n]*\n[\s\S]*daxcheck csource cx\.json -o repro\.c\n/);
    const text = daxcheck('report', file, '--text', '--full');
    assert.is(text.code, 0, text.err);
    assert.match(text.out, /On a real kernel:\n\n  reproduced on 6\.1[^\n]*\n[\s\S]*daxcheck csource \S+cx\.json -o repro\.c\n  gcc -static -pthread -O2 -o repro repro\.c\n  \.\/repro DAXDIR \[SLOWDIR\]\n  daxcheck repro \S+cx\.json\n$/);
  });

  test('conform --threads on the real kernel: histories of two threads, every one linearizable against linux-6.1; a reference that answers a load with a stale value makes some not', async () => {
    const vm = readVm();
    // a store then a load in one thread, beside a load or a truncate that keeps the page: real time orders the pair, and nothing else writes the page
    const st: Op = { op: 'store', map: 0, page: 0, val: 5 };
    const ld: Op = { op: 'load', map: 0, page: 0 };
    const hand = [[ld], [{ op: 'truncate', fd: 0, size: 1 } as Op]].map((other) => ({ ...tc([dax(1)], [[open(0), mmap(0)], [st, ld], other]), config: { files: [dax(1)], procs: [{ uid: 0, capLease: false }], blocks: 16, leaseBreakTime: 1 } }));
    const tcs = [...hand, ...threadedPrograms(7, 60, 2)];
    const exps = tcs.map((p) => threadedExpectation(linux61, p));
    const r = await bootWithRetry(vm, threadedBatchText(tcs, exps));
    const seen = parseOutput(r.lines);
    const sections = parseSections(r.lines);
    assert.equal(seen.problems, []);
    let stale = 0;
    tcs.forEach((p, i) => {
      assert.is(compare(vm.kernel, linux61, { ...p, threads: [p.threads[0]] }, { ...exps[i].prologue, files: [] }, seen.results.get(i), [], listedMismatches()), null, `prologue ${i}`);
      const s = sections.get(i)!;
      assert.is(s.ops.length, exps[i].section.length);
      const v = checkSection(linux61, p, exps[i], s, seen.files.get(i) ?? []);
      assert.is(v.kind, 'linearizable', `program ${i}:\n${timeline(historyOf(exps[i], s, v)).join('\n')}`);
      if (checkSection(linux61, p, exps[i], s, seen.files.get(i) ?? [], staleLoads).kind === 'not-linearizable') stale++;
    });
    assert.ok(stale >= hand.length, `the stale reference is caught: ${stale} histories`);
    // the command: its summary and exit status
    const out = mkdtempSync(join(tmpdir(), 'daxcheck-threads-'));
    const c = daxcheck('conform', '--threads', '2', '--runs', '20', '--seed', '7', '--json', '--out', out);
    assert.is(c.code, 0, c.err);
    const doc = JSON.parse(c.out);
    assert.equal(doc.threads, { threads: 2, histories: 20, linearizable: 20, notLinearizable: 0, unknown: 0, hangs: 0, specRuns: doc.threads.specRuns });
    assert.is(doc.plan.threads, 2);
  });
} else {
  test('conformance smoke on the real kernel (skipped: qemu-system-x86, busybox-static, xfsprogs, cpio, kmod, gcc or libibverbs-dev missing; CI installs them)', () => {});
}

test.run();
