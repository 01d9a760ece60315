// fallocate(2)'s modes (docs/fidelity.md, `sys_fallocate`): what each does
// to the block map and the size, the errors of each, and the blocks
// INSERT_RANGE pushes past the pages an op can name.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findVariant } from '../models/variants/index.ts';
import { expectation } from '../fuzz/conform.ts';
import { COLLAPSE_REFUSED_PINNED, FALLOC_PROGRAMS, dax, falloc, open, tc } from './programs.ts';
import type { Op } from '../models/testcase.ts';

const asKernel = (xs: (number | string)[]) => xs.map((x) => (typeof x === 'number' ? `ok ${x}` : `err ${x}`));
// the model's results, an mmap's (the kernel's address: only success compared) as the executor reports it
const results = (e: ReturnType<typeof expectation>) => e.steps.map((s) => (s.expected === 'ok' ? 'ok 0' : s.expected));

test('each mode on 4.18 and 6.1 gives what the real 6.1 kernel gave, results and file', () => {
  for (const name of ['linux-4.18', 'linux-6.1']) {
    for (const p of FALLOC_PROGRAMS) {
      const e = expectation(findVariant(name), tc(p.files, [p.ops]));
      assert.is(e.modelDivergence, null, `${name} ${p.name}`);
      assert.equal(results(e), asKernel(p.kernel), `${name} ${p.name}`);
      assert.is(e.files[0], p.file, `${name} ${p.name}`);
    }
  }
});

test('mainline refuses the combinations of exclusive modes EOPNOTSUPP where 6.1 says EINVAL', () => {
  const refused = FALLOC_PROGRAMS.find((p) => p.name === 'refused')!;
  const e = expectation(findVariant('linux-mainline'), tc(refused.files, [refused.ops]));
  assert.is(e.modelDivergence, null);
  assert.equal(results(e), asKernel([0, 'EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP', 0, 1, 'EBADF', 'EOPNOTSUPP']));
  for (const p of FALLOC_PROGRAMS.filter((x) => x !== refused)) {
    assert.equal(results(expectation(findVariant('linux-mainline'), tc(p.files, [p.ops]))), asKernel(p.kernel), p.name);
  }
});

test('a block INSERT_RANGE pushes past the pages an op names stays allocated until a truncate frees it', () => {
  // three blocks: the file's two and one preallocated past EOF at page 3,
  // which the insert moves to page 5; the collapse brings it back to page
  // 3, past the new EOF, where the collapse's truncate frees it
  const write = (off: number, val: number): Op => ({ op: 'write', fd: 0, off, val });
  const ops = [open(0), falloc('alloc_keep', 3), falloc('insert', 0, 1), write(0, 5), falloc('collapse', 0, 1), write(2, 5)];
  const t = tc([dax(2)], [ops], { config: { files: [dax(2)], procs: [{ uid: 0, capLease: false }], blocks: 3, leaseBreakTime: 1 } });
  for (const name of ['linux-6.1', 'mainline-fixed']) {
    const e = expectation(findVariant(name), t);
    assert.is(e.modelDivergence, null, name);
    assert.equal(results(e), asKernel([0, 0, 0, 'ENOSPC', 0, 0]), name);
    assert.is(e.files[0], '12288 1 11 12 5', name);
  }
});

test('an allocation that fails after ZERO_RANGE has punched leaves the hole and returns ENOSPC', () => {
  const ops = [open(0), falloc('zero', 0)];
  let failed = 0;
  for (let nth = 0; nth < 4; nth++) {
    const e = expectation(findVariant('linux-6.1'), tc([dax(2)], [ops], { faults: [{ kind: 'alloc', thread: 0, nth }] }));
    assert.is(e.modelDivergence, null, `nth ${nth}`);
    if (e.steps[1].expected !== 'err ENOSPC') continue;
    failed++;
    assert.is(e.files[0], '8192 1 0 12');
  }
  assert.is(failed, 1);
});

test('6.1 drops a refused collapse\'s range from the page cache first: the registered page leaves the file, as the real 6.1 kernel shows; 4.18 keeps it', () => {
  const { testCase, linux61, unflushed } = COLLAPSE_REFUSED_PINNED;
  const six1 = expectation(findVariant('linux-6.1'), testCase);
  assert.is(six1.modelDivergence, null);
  assert.is(six1.steps[3].expected, 'err EINVAL');
  assert.equal(six1.files, [linux61]);
  const four18 = expectation(findVariant('linux-4.18'), testCase);
  assert.is(four18.modelDivergence, null);
  assert.equal(four18.files, [unflushed]);
});

test.run();
