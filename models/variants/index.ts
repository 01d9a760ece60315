// The variant catalog.  A variant is a contract (the API the reference
// model promises) plus mechanism flags (read only by the implementation
// model).  Every flag is false in a clean variant; a known bug is one
// flag flipped on a clean variant.

export type Contract = 'upstream' | 'mapdirect';

export const FLAGS = {
  truncateIgnoresPins: 'truncate and hole punch free blocks without scanning for pinned DAX pages (no dax_layout_busy_page)',
  gupFastNoRecheck: 'gup_fast keeps a ZONE_DEVICE page reference without re-reading the pte it came from',
  busyWaitDropsIolock: 'xfs_break_dax_layouts drops the IOLOCK as well as the MMAPLOCK while waiting for a busy page',
  leaseBreakFreesIova: 'revoking a lease_direct registration tears down its DMA mapping, freeing the IOVA for reuse',
  leaseDirectRevokesImmediately: 'lease_direct revokes a registration as soon as its lease is broken, not after lease-break-time',
  mapDirectFaultAllocates: 'an allocating write fault on a file under a layout lease allocates instead of failing with SIGBUS',
  mapPrivateDirectShared: 'MAP_PRIVATE|MAP_DIRECT silently becomes a shared mapping with a lease',
  breakLayoutsLosesError: 'xfs_break_leased_layouts assigns the comparison, not the error, and ignores the blocking break\'s error',
  sigioKeepsClosedFd: 'a MAP_DIRECT lease keeps signalling the fd it was set up with after that fd is closed',
  revokeUnmapsSgPages: 'revocation unmaps iommu_sg_num_pages() pages, fewer than the DMA API mapped for an unaligned buffer',
  validateIgnoresFile: 'MAP_SHARED_VALIDATE accepts MAP_SYNC and MAP_DIRECT on a file that cannot honour them (non-DAX)',
  longtermPinFsdax: 'FOLL_LONGTERM pins of fs-DAX pages are allowed (ibv_reg_mr on a DAX mapping succeeds without a lease)',
} as const;

export type FlagName = keyof typeof FLAGS;
export type Flags = Record<FlagName, boolean>;

export interface Variant {
  name: string;
  contract: Contract;
  flags: Flags;
  expect: 'clean' | 'divergence';
  seed: string; // seed file and passage the variant follows
  summary: string;
}

export const NO_FLAGS: Flags = Object.fromEntries(Object.keys(FLAGS).map((f) => [f, false])) as Flags;

function variant(v: Omit<Variant, 'flags'> & { flags?: Partial<Flags> }): Variant {
  return { ...v, flags: { ...NO_FLAGS, ...v.flags } };
}

export const VARIANTS: Variant[] = [
  variant({
    name: 'upstream',
    contract: 'upstream',
    expect: 'clean',
    seed: '001 (busy-page scan, gup_fast revalidation, iolock held across rescans); §2 (FOLL_LONGTERM refused for fs-DAX, MAP_DIRECT unknown to MAP_SHARED_VALIDATE)',
    summary: '6.x semantics: truncate waits for pinned DAX pages; long-term pins of fs-DAX refused; MAP_DIRECT rejected',
  }),
  variant({
    name: 'mapdirect-fixed',
    contract: 'mapdirect',
    expect: 'clean',
    seed: '004 (MAP_DIRECT v9 and its review), 000 (lease_direct, v8), 001 (busy-page scan)',
    summary: 'MAP_DIRECT v9 with every review comment addressed, lease_direct RDMA with delayed revocation through the IOMMU API',
  }),
  variant({
    name: 'v4.13',
    contract: 'upstream',
    expect: 'divergence',
    seed: '001 (Problem: "the filesystem is free to reallocate a block under active dma to another file")',
    summary: 'fs-DAX before the busy-page series: truncate frees pinned blocks, gup_fast does not revalidate, long-term pins allowed',
    flags: { truncateIgnoresPins: true, gupFastNoRecheck: true, longtermPinFsdax: true },
  }),
];

export class VariantError extends Error {}

export function findVariant(name: string): Variant {
  const v = VARIANTS.find((x) => x.name === name);
  if (!v) throw new VariantError(`unknown variant "${name}" (known: ${VARIANTS.map((x) => x.name).join(', ')})`);
  return v;
}

// A variant as recorded in a corpus file: validated, so a hand-edited
// file cannot smuggle in a flag the model does not know.
export function parseVariant(raw: unknown): Variant {
  if (typeof raw !== 'object' || raw === null) throw new VariantError('variant: expected an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.name !== 'string') throw new VariantError('variant.name: expected a string');
  if (r.contract !== 'upstream' && r.contract !== 'mapdirect') throw new VariantError(`variant.contract: unknown contract ${JSON.stringify(r.contract)}`);
  if (typeof r.flags !== 'object' || r.flags === null) throw new VariantError('variant.flags: expected an object');
  const flags: Flags = { ...NO_FLAGS };
  for (const [k, v] of Object.entries(r.flags as Record<string, unknown>)) {
    if (!(k in FLAGS)) throw new VariantError(`variant.flags: unknown flag "${k}"`);
    if (typeof v !== 'boolean') throw new VariantError(`variant.flags.${k}: expected true or false`);
    flags[k as FlagName] = v;
  }
  const known = VARIANTS.find((x) => x.name === r.name);
  return {
    name: r.name,
    contract: r.contract,
    flags,
    expect: known?.expect ?? 'divergence',
    seed: known?.seed ?? '',
    summary: known?.summary ?? '',
  };
}

export function setFlags(v: Variant): FlagName[] {
  return (Object.keys(v.flags) as FlagName[]).filter((f) => v.flags[f]);
}
