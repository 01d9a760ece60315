// `daxcheck list`: the catalog, read without loading the models.

import { ALIASES, KERNELS, VARIANTS, FLAGS, KNOWN_BUGS, setFlags } from '../models/variants/index.ts';
import { CLASSES } from '../properties/classes.ts';
import { scenarioAbout, scenarioNames } from '../fuzz/scenarios.ts';
import { args, bold, dim, noPositionals } from './common.ts';

export function cmdList(argv: string[]): number {
  const { values, positionals } = args(argv, { json: { type: 'boolean' } });
  noPositionals('list', positionals);
  const scenarios = scenarioNames().map((name) => ({ name, about: scenarioAbout(name) }));
  if (values.json) {
    const doc = {
      variants: VARIANTS.map((v) => ({
        name: v.name, contract: v.contract, kernel: v.kernel, source: { release: KERNELS[v.kernel].release, tree: KERNELS[v.kernel].tree },
        expect: v.expect, flags: v.flags, seed: v.seed, summary: v.summary,
      })),
      aliases: ALIASES,
      kernels: KERNELS,
      knownBugs: KNOWN_BUGS,
      flags: FLAGS,
      properties: CLASSES,
      scenarios,
    };
    console.log(JSON.stringify(doc, null, 2));
    return 0;
  }
  console.log(bold('variants'));
  for (const v of VARIANTS) {
    const flags = setFlags(v);
    const expect = v.expect.length ? v.expect.join(', ') : 'clean';
    console.log(`  ${v.name.padEnd(16)} ${v.contract.padEnd(10)} ${flags.length ? flags.join(', ') : dim('no flags set')}`);
    console.log(`  ${' '.repeat(16)} ${dim(v.summary)}`);
    console.log(`  ${' '.repeat(16)} ${dim(`on ${v.kernel}: ${KERNELS[v.kernel].release}, ${KERNELS[v.kernel].tree}`)}`);
    console.log(`  ${' '.repeat(16)} ${dim(`expect: ${expect}`)}`);
  }
  console.log(dim(`  (old names: ${Object.entries(ALIASES).map(([a, b]) => `${a} = ${b}`).join(', ')})`));
  console.log(bold('\nknown bugs (one flag flipped on a clean variant; the variant is named by the id)'));
  for (const b of KNOWN_BUGS) console.log(`  ${b.id.padEnd(4)} ${b.base.padEnd(16)} +${b.flag.padEnd(30)} ${b.title}`);
  console.log(bold('\nflags (false in a clean variant)'));
  for (const [f, d] of Object.entries(FLAGS)) console.log(`  ${f.padEnd(30)} ${d}`);
  console.log(bold('\nproperties (divergence classes)'));
  for (const [c, d] of Object.entries(CLASSES)) console.log(`  ${c.padEnd(30)} ${d}`);
  console.log(bold('\nscenarios (daxcheck explore --scenario NAME, or a file\'s path)'));
  for (const sc of scenarios) console.log(`  ${sc.name.padEnd(30)} ${sc.about}`);
  return 0;
}

