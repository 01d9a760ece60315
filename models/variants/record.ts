// A variant as a counterexample file records it, declared with zod; kept
// apart from the catalog so that reading the catalog (daxcheck list) does
// not load the schema library.

import { z } from 'zod';
import { FLAG_NAMES, KERNEL_VERSIONS, NO_FLAGS, catalogVariant, type FlagName, type Flags, type Variant } from './index.ts';

// A variant as recorded in a counterexample file: its name, contract,
// kernel and flags (a flag left out is false), so the file replays even if the
// catalog changes.  Strict: a hand-edited file cannot smuggle in a flag
// the model does not know.
export const VariantRecordSchema = z.strictObject({
  name: z.string().min(1).max(100),
  contract: z.enum(['upstream', 'mapdirect']),
  kernel: z.enum(KERNEL_VERSIONS).optional(), // left out: linux-mainline (files from before the version-pinned variants)
  flags: z.strictObject(Object.fromEntries(FLAG_NAMES.map((f) => [f, z.boolean().optional()])) as Record<FlagName, z.ZodOptional<z.ZodBoolean>>),
});
export type VariantRecord = z.infer<typeof VariantRecordSchema>;

// The variant a validated record stands for; its expectation is the
// catalog's variant of that name, if any (none: judged as clean).
export function variantOf(r: VariantRecord): Variant {
  const flags: Flags = { ...NO_FLAGS };
  for (const f of FLAG_NAMES) flags[f] = r.flags[f] === true;
  const known = catalogVariant(r.name);
  return { name: r.name, contract: r.contract, kernel: r.kernel ?? 'linux-mainline', flags, expect: known?.expect ?? [], seed: known?.seed ?? '', summary: known?.summary ?? '' };
}

