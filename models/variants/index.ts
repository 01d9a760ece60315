// The variant catalog.  A variant is a contract (the API the reference
// model promises) plus mechanism flags (read only by the implementation
// model).  Every flag is false in a clean variant; a known bug is one
// flag flipped on a clean variant.

import { nameTable } from '../names.ts';
import { printable } from '../../fuzz/files.ts';
import type { DivergenceClass } from '../../properties/classes.ts';

export type Contract = 'upstream' | 'mapdirect';

// The real kernels the model stands for.  Each is a set of flags, named
// for what differs, on the model's base, which follows mainline; the
// reference reads the version where the promise itself differs (which
// registrations FOLL_LONGTERM refuses).  Lines: docs/fidelity.md.
export const KERNEL_VERSIONS = ['linux-4.18', 'linux-6.1', 'linux-mainline'] as const;
export type KernelVersion = (typeof KERNEL_VERSIONS)[number];

interface Kernel {
  release: string;
  tree: string; // the release tree read for it
  flags: Partial<Record<FlagName, boolean>>;
}

export const KERNELS: Record<KernelVersion, Kernel> = {
  'linux-4.18': {
    release: 'v4.18',
    tree: 'github:zzwd/linux-4.18-rt (4.18.0 with the RT patch, the nearest 4.18 release tree stored)',
    flags: { busyScanDropsCows: true, busyScanSkipsUnmapped: true, busyWaitRetriesOnlyAfterSleep: true, longtermChecksEveryVma: true, breakLayoutsLosesError: true, dioHoleReadFaultShort: true, longtermPinsWritableFileMappings: true, noFollPin: true, dioPinsWithFollGet: true, staleLeaseDowngrade: true, breakWaitsUnbroken: true, evictFreesPinnedBlocks: true, fallocateModeChain: true, noIoUring: true, reflinkRefusesDax: true, cloneEmptySourceSucceeds: true },
  },
  'linux-6.1': {
    release: 'v6.1.20',
    tree: 'github:c1336658570/linux-6.1.20 (Debian\'s linux-image-6.1.0-57 is the guest of daxcheck conform)',
    flags: { busyScanSkipsUnmapped: true, leasedBreakLosesBlockingError: true, longtermPinsWritableFileMappings: true, dioPinsWithFollGet: true, staleLeaseDowngrade: true, breakWaitsUnbroken: true, evictFreesPinnedBlocks: true, fallocateModeChain: true, ioUringRefusesFileMappings: true, ioUringFixedBufferCheckedFirst: true, daxCowWriteKeepsMappings: true, daxCowIgnoresPins: true, fallocateFlushesFirst: true },
  },
  'linux-mainline': {
    release: 'v6.18.2',
    tree: 'github:gfunkmonk/linux-6.18.2',
    flags: { leasedBreakLosesBlockingError: true, staleLeaseDowngrade: true, breakWaitsUnbroken: true, daxCowIgnoresPins: true },
  },
};

export const FLAGS = nameTable({
  truncateIgnoresPins: 'truncate and hole punch free blocks without scanning for pinned DAX pages (no dax_layout_busy_page)',
  gupFastNoRecheck: 'gup_fast keeps a reference on a page of a huge devmap pmd (__gup_device_huge_pmd) without re-reading the pmd it came from',
  busyWaitDropsIolock: 'xfs_break_dax_layouts drops the IOLOCK as well as the MMAPLOCK while waiting for a busy page',
  leaseBreakFreesIova: 'revoking a lease_direct registration tears down its DMA mapping, freeing the IOVA for reuse',
  leaseDirectRevokesImmediately: 'lease_direct revokes a registration as soon as its lease is broken, not after lease-break-time',
  mapDirectFaultAllocates: 'an allocating write fault on a file under a layout lease allocates instead of failing with SIGBUS',
  mapPrivateDirectShared: 'MAP_PRIVATE|MAP_DIRECT silently becomes a shared mapping with a lease',
  breakLayoutsLosesError: 'xfs_break_leased_layouts assigns the comparison, not the error, and ignores the blocking break\'s error',
  sigioKeepsClosedFd: 'a MAP_DIRECT lease keeps signalling the fd it was set up with after that fd is closed',
  revokeUnmapsSgPages: 'revocation unmaps iommu_sg_num_pages() pages, fewer than the DMA API mapped for an unaligned buffer',
  validateIgnoresFile: 'MAP_SHARED_VALIDATE accepts MAP_SYNC and MAP_DIRECT on a file that cannot honour them (non-DAX)',
  mapDirectSeal: 'MAP_DIRECT seals the block map instead of taking a breakable lease: a lease breaker gets ETXTBSY, and no ownership is checked',
  longtermPinFsdax: 'FOLL_LONGTERM pins of fs-DAX pages are allowed (ibv_reg_mr on a DAX mapping succeeds without a lease)',
  busyScanDropsCows: 'dax_layout_busy_page unmaps with even_cows set, discarding every private copy-on-write page of the file',
  daxLayoutLock: 'gup_fast runs inside dax_layout_lock(), and the busy-page scan waits for those sections (synchronize_rcu) after unmapping',
  mapDirectNeedsWrite: 'MAP_DIRECT needs a PROT_WRITE mapping (EINVAL otherwise)',
  mapDirectNeedsCapImmutable: 'MAP_DIRECT needs CAP_LINUX_IMMUTABLE, or an fd marked with fcntl(F_MAP_DIRECT)',
  rdmaPinsWithoutLease: 'ibv_reg_mr of a DAX mapping pins the pages long-term without taking a lease (no lease_direct)',
  rdmaFsdaxRefused: 'ibv_reg_mr of any DAX mapping is refused with EOPNOTSUPP (lease_direct deferred)',
  mapDirectSetupUnlocked: 'MAP_DIRECT and lease_direct set their lease without holding the IOLOCK',
  invalidateWithoutMmaplock: 'map_direct_invalidate revokes the mapping without taking the MMAPLOCK',
  truncateSkipsDioWait: 'truncate and fallocate change the block map without inode_dio_wait: direct I/O still in flight is not waited for (the worked example of docs/extending.md)',
  busyScanSkipsUnmapped: 'dax_layout_busy_page returns at once when nothing maps the file (mapping_mapped), so a page still pinned after the last munmap is not waited for',
  longtermPinsWritableFileMappings: 'a FOLL_LONGTERM write pin of a shared, writable page-cache mapping is allowed (6.18 refuses it: writable_file_mapping_allowed)',
  dioHoleReadFaultShort: 'an O_DIRECT read of a hole or unwritten extent of a page-cache file into a buffer it cannot reach returns 0, a short read, not EFAULT (iomap_dio_actor returns what iov_iter_zero zeroed)',
  busyWaitRetriesOnlyAfterSleep: 'xfs_break_dax_layouts asks for a rescan only if its wait slept: a busy page already idle at the first check ends the scan, other busy pages unseen',
  longtermChecksEveryVma: 'FOLL_LONGTERM pins go through get_user_pages_longterm, which faults the whole range in and then refuses every fs-DAX vma, private copies included',
  leasedBreakLosesBlockingError: 'xfs_break_leased_layouts overwrites the blocking break_layout\'s error with the next non-blocking one and polls again',
  noFollPin: 'no FOLL_PIN: a registration\'s pins are plain page references (get_user_pages_longterm), so fork cannot tell a pinned private page (no page_maybe_dma_pinned) and shares it write-protected with the child',
  breakWaitsUnbroken: '__break_lease breaks the conflicting leases once: woken, it waits for a conflicting lease set since (a pNFS layout handed out while it slept) without breaking it, so nothing recalls that lease',
  fallocateModeChain: 'vfs_fallocate tests the mode one rule at a time, so COLLAPSE_RANGE or INSERT_RANGE with KEEP_SIZE, and UNSHARE_RANGE with ZERO_RANGE, are EINVAL: mainline switches over the exclusive modes and refuses them EOPNOTSUPP',
  evictFreesPinnedBlocks: 'evicting an unlinked DAX file frees its blocks with pages still pinned (dax_disassociate_entry only WARNs): mainline first waits for every pinned page to go idle (dax_break_layout_final)',
  staleLeaseDowngrade: 'lease_modify clears FL_DOWNGRADE_PENDING but not fl_downgrade_time: once that deadline passes, time_out_leases downgrades the lease again, a write lease its holder took since included',
  dioPinsWithFollGet: 'O_DIRECT takes plain references on its buffer (get_user_pages_fast, FOLL_GET), which fork does not see as pins: a private page under a read in flight is shared with the child (6.18 pins it with FOLL_PIN, pin_user_pages_fast)',
  reflinkRefusesDax: 'a clone with a DAX file on either side is refused (EINVAL, under both files\' locks); DAX files never share blocks',
  cloneEmptySourceSucceeds: 'a clone from an empty source returns 0 whatever the range (vfs_clone_file_prep_inodes), where later kernels refuse a range past EOF',
  daxCowWriteKeepsMappings: 'a DAX write(2) that copies a shared block on write leaves the file\'s own ptes and xarray entry on the old block (only IOMAP_F_NEW invalidates), so a mapping of the file still reaches the block the other file keeps',
  daxCowIgnoresPins: 'a DAX copy-on-write (write(2), an O_DIRECT write, a write fault, an unshare) moves the file page off its shared block without waiting for a pin on it: the pin\'s DMA then reaches the block the other file keeps',
  fallocateFlushesFirst: 'fallocate\'s PUNCH_HOLE, ZERO_RANGE and COLLAPSE_RANGE write the range back and drop it from the page cache and every mapping before the mode\'s own checks, so a collapse refused EINVAL has still let a pinned page-cache page go',
  noIoUring: 'no io_uring (it came in 5.1): io_uring_register and the fixed-buffer reads and writes are ENOSYS',
  ioUringRefusesFileMappings: 'io_uring pins a buffer with pin_user_pages under mmap_sem, then refuses it if it lies in any file mapping but shmem and hugetlbfs (EOPNOTSUPP, private copies made by then kept): mainline pins with pin_user_pages_fast and leaves the refusal to GUP',
  ioUringFixedBufferCheckedFirst: 'a READ_FIXED or WRITE_FIXED with no registered buffer is EFAULT at prep (io_prep_rw), before its file is looked up: mainline looks the file up first (io_assign_file, EBADF)',
} as const);

export type FlagName = keyof typeof FLAGS;
export type Flags = Record<FlagName, boolean>;

export interface Variant {
  name: string;
  contract: Contract;
  kernel: KernelVersion; // the kernel the variant is, or is built on
  flags: Flags;
  // The divergence classes the variant is known to show; empty: clean.
  // A run is as expected when it meets one of them and nothing else (or,
  // for a clean variant, nothing at all).  Read only to judge a run's
  // outcome after the search, never by the search or the checks.
  expect: readonly DivergenceClass[];
  seed: string; // seed file and passage the variant follows
  summary: string;
}

export const NO_FLAGS: Flags = Object.fromEntries(Object.keys(FLAGS).map((f) => [f, false])) as Flags;

function variant(v: Omit<Variant, 'flags'> & { flags?: Partial<Flags> }): Variant {
  return { ...v, flags: { ...NO_FLAGS, ...KERNELS[v.kernel].flags, ...v.flags } };
}

function kernelSource(k: KernelVersion): string {
  return `${KERNELS[k].release}, read in ${KERNELS[k].tree}`;
}

// The real kernels, each as its source has it.  Only mainline keeps every
// promise the model states; what the other two report, and why, is in
// the README ("Variants").
const LINUX_418 = variant({
  name: 'linux-4.18',
  contract: 'upstream',
  kernel: 'linux-4.18',
  expect: ['result-mismatch', 'dma-into-reallocated-block', 'blockmap-changed-under-lease', 'deadlock', 'no-progress'],
  seed: `001 (dax busy page v11, merged in 4.18); ${kernelSource('linux-4.18')}`,
  summary: 'the busy-page series as merged: the scan unmaps with even_cows, skips an unmapped file, rescans only after a sleep; get_user_pages_longterm; xfs_break_leased_layouts loses a failed pNFS layout break (K8\'s code)',
});
const LINUX_61 = variant({
  name: 'linux-6.1',
  contract: 'upstream',
  kernel: 'linux-6.1',
  expect: ['dma-into-reallocated-block', 'result-mismatch', 'deadlock', 'no-progress', 'refcount', 'data-mismatch'],
  seed: `${kernelSource('linux-6.1')}`,
  summary: 'the kernel Debian 12 ships and conform boots: the busy-page scan still skips a file nothing maps; the two lease bugs of mainline; a DAX write that copies a reflinked block leaves the writer\'s mapping on the block the other file keeps, and a copy-on-write moves a pinned page',
});
const LINUX_MAINLINE = variant({
  name: 'linux-mainline',
  contract: 'upstream',
  kernel: 'linux-mainline',
  expect: ['result-mismatch', 'deadlock', 'no-progress', 'dma-into-reallocated-block'],
  seed: `${kernelSource('linux-mainline')}; 001 (busy-page scan, gup_fast revalidation, IOLOCK held across rescans); §2 (FOLL_LONGTERM refused for fs-DAX, MAP_DIRECT unknown to MAP_SHARED_VALIDATE)`,
  summary: 'today\'s kernel: truncate waits for every pinned DAX page; long-term pins of fs-DAX refused but for private copies, and long-term write pins of shared page-cache mappings; MAP_DIRECT rejected; two lease bugs: an answered downgrade\'s deadline later downgrades a write lease, and a layout break waits for a layout granted while it slept without recalling it; a DAX copy-on-write of a reflinked block moves a page a pin holds',
});
export const KERNEL_VARIANTS: Variant[] = [LINUX_418, LINUX_61, LINUX_MAINLINE];

// The names a variant had before the version-pinned ones.
export const ALIASES: Record<string, string> = { upstream: 'linux-mainline', 'v4.18': 'linux-4.18' };

// The fixes for the two fs/locks.c bugs daxcheck found in every version
// (README, "Findings"); a clean variant on a real kernel starts from them.
export const LEASE_FIXES: Partial<Flags> = { staleLeaseDowngrade: false, breakWaitsUnbroken: false };

// ... and for the DAX copy-on-write daxcheck found moving a pinned page:
// wait for the pin first, as a truncate does.
export const DAX_COW_FIX: Partial<Flags> = { daxCowIgnoresPins: false };

// Mainline with those fixed: the model's clean upstream base.
const MAINLINE_FIXED = variant({
  name: 'mainline-fixed',
  contract: 'upstream',
  kernel: 'linux-mainline',
  expect: [],
  seed: `${kernelSource('linux-mainline')}, with __break_lease breaking a lease set while it slept, lease_modify clearing an answered downgrade's deadline, and a DAX copy-on-write waiting for pins on the block it leaves`,
  summary: 'linux-mainline with its lease breaks fixed: a breaker breaks every conflicting lease it waits for, and a downgrade its holder answered leaves no deadline behind; and a DAX copy-on-write waits for a pin on the shared block, as a truncate does',
  flags: { ...LEASE_FIXES, ...DAX_COW_FIX },
});

const MAPDIRECT_FIXED = variant({
  name: 'mapdirect-fixed',
  contract: 'mapdirect',
  kernel: 'linux-mainline',
  expect: [],
  seed: '004 (MAP_DIRECT v9 and its review), 000 (lease_direct, v8), 001 (busy-page scan); on linux-mainline',
  summary: 'MAP_DIRECT v9 with every review comment addressed, lease_direct RDMA with delayed revocation through the IOMMU API, on today\'s kernel',
  flags: { ...LEASE_FIXES, ...DAX_COW_FIX, leasedBreakLosesBlockingError: false },
});

export const CLEAN_VARIANTS: Variant[] = [MAINLINE_FIXED, MAPDIRECT_FIXED];

// A known bug: one flag flipped on a clean variant.  `expect` lists the
// classes a reviewer would expect it to show as; the checks know nothing
// of it.
export interface KnownBug {
  id: string;
  base: 'mainline-fixed' | 'mapdirect-fixed';
  flag: FlagName;
  seed: string;
  title: string;
  expect: DivergenceClass[];
}

// K3 (busyWaitDropsIolock, 001's "hold the iolock over repeated
// invocations of dax_layout_busy_page()") is retired: O_DIRECT on a DAX
// file is a copy under the IOLOCK that pins nothing, and a stream of
// direct I/O from another file pins the mapping whether or not the
// truncate keeps the IOLOCK, so no faithful program tells the two apart
// (README, "K3, retired").
export const KNOWN_BUGS: KnownBug[] = [
  { id: 'K1', base: 'mainline-fixed', flag: 'truncateIgnoresPins', seed: '001 (Problem)', title: 'truncate/punch frees blocks of pages still pinned for DMA', expect: ['dma-into-reallocated-block'] },
  { id: 'K2', base: 'mainline-fixed', flag: 'gupFastNoRecheck', seed: '001 ("Fix get_user_pages_fast() for ZONE_DEVICE pages to revalidate the pte, pmd, pud"; "mm: fix __gup_device_huge vs unmap")', title: 'gup-fast takes references on the pages of a huge DAX pmd without re-checking the pmd', expect: ['dma-into-reallocated-block', 'iova-reuse', 'data-mismatch'] },
  { id: 'K4', base: 'mapdirect-fixed', flag: 'leaseBreakFreesIova', seed: '000 ("Fix IOVA reuse race by leaving the dma scatterlist mapped until unregistration time")', title: 'the DMA mapping is torn down at lease break, so the IOVA is reused while the NIC still uses it', expect: ['iova-reuse'] },
  { id: 'K5', base: 'mapdirect-fixed', flag: 'leaseDirectRevokesImmediately', seed: '000 ("Arrange for lease_direct leases to also wait the lease-break-time period")', title: 'lease_direct revokes immediately instead of waiting lease-break-time', expect: ['result-mismatch'] },
  { id: 'K6', base: 'mapdirect-fixed', flag: 'mapDirectFaultAllocates', seed: '000 ("iomap_can_allocate()"), 004 (v9 5/6, break_layout_nowait)', title: 'an allocating write fault under MAP_DIRECT allocates blocks instead of SIGBUS', expect: ['blockmap-changed-under-lease', 'result-mismatch', 'data-mismatch'] },
  { id: 'K7', base: 'mapdirect-fixed', flag: 'mapPrivateDirectShared', seed: '002 ("MAP_PRIVATE|MAP_DIRECT would silently fallback to MAP_SHARED" (Kirill))', title: 'MAP_PRIVATE|MAP_DIRECT silently becomes a shared mapping', expect: ['result-mismatch'] },
  { id: 'K8', base: 'mapdirect-fixed', flag: 'breakLayoutsLosesError', seed: '004 (v9 4/6, xfs_break_layouts)', title: 'xfs_break_layouts assigns the comparison, not the error: an interrupted wait or failed allocation is lost', expect: ['result-mismatch', 'blockmap-changed-under-lease', 'deadlock'] },
  { id: 'K9', base: 'mapdirect-fixed', flag: 'sigioKeepsClosedFd', seed: '004 (v9 2/6, Al Viro: "You are not even guaranteed that descriptor will remain be still open")', title: 'lease-break SIGIO carries an fd number that was closed and reused', expect: ['stale-notification'] },
  { id: 'K10', base: 'mapdirect-fixed', flag: 'revokeUnmapsSgPages', seed: '004 (Joerg Roedel on v8 13/14: "no guarantee that an iommu-backed dma-api implementation will map exactly iommu_sg_num_pages() pages")', title: 'revocation unmaps iommu_sg_num_pages() pages while the DMA API mapped more', expect: ['dma-into-reallocated-block', 'iova-reuse'] },
  { id: 'K11', base: 'mapdirect-fixed', flag: 'validateIgnoresFile', seed: '004 (v8/v9 1/6, MAP_SHARED_VALIDATE against a per-file_operations mask)', title: 'MAP_SHARED_VALIDATE does not reject a flag the file does not support', expect: ['result-mismatch'] },
  { id: 'K12', base: 'mapdirect-fixed', flag: 'mapDirectSeal', seed: '002, 003 (S_IOMAP_SEALED; Kirill: "denial of service for unmanaged + unprivileged MAP_DIRECT")', title: 'a MAP_DIRECT seal is never broken: any process that can map the file makes truncate fail with ETXTBSY', expect: ['result-mismatch'] },
];

// The revisions of the series in the seeds, each on linux-4.18: dax-v8
// was posted against 4.17-rc2 and merged (as v11) in 4.18; the MAP_DIRECT
// revisions were posted against 4.13/4.14-rc1, before the busy-page scan
// their lease code calls, and 4.18 is the nearest kernel pinned here that
// has it.  So each also shows what 4.18 itself shows (README).  v4.13
// stands for the older O_DIRECT hazard.
const with418 = (own: DivergenceClass[]): DivergenceClass[] => [...new Set([...own, ...LINUX_418.expect])];

const HISTORICAL: Variant[] = [
  variant({
    name: 'v4.13',
    contract: 'upstream',
    kernel: 'linux-4.18',
    expect: with418(['dma-into-reallocated-block', 'iova-reuse', 'result-mismatch']),
    seed: '001 (Problem: "the filesystem is free to reallocate a block under active dma to another file")',
    summary: 'fs-DAX before the busy-page series: truncate frees pinned blocks, gup_fast does not revalidate, long-term pins allowed',
    flags: { truncateIgnoresPins: true, gupFastNoRecheck: true, longtermPinFsdax: true },
  }),
  variant({
    name: 'dax-v8',
    contract: 'upstream',
    kernel: 'linux-4.18',
    expect: with418(['result-mismatch', 'dma-into-reallocated-block', 'iova-reuse']),
    seed: '001 (changes since v8: gup_fast revalidation, dax_layout_lock killed, iolock held across rescans); even_cows fixed only in 2019',
    summary: 'dax busy-page series v8: iolock dropped between rescans, gup_fast synchronised by dax_layout_lock but not revalidated',
    flags: { busyWaitDropsIolock: true, gupFastNoRecheck: true, daxLayoutLock: true, busyScanDropsCows: true },
  }),
  variant({
    name: 'mapdirect-v4',
    contract: 'mapdirect',
    kernel: 'linux-4.18',
    expect: with418(['result-mismatch', 'blockmap-changed-under-lease', 'deadlock']), // 4.18's xfs_break_leased_layouts is K8's
    seed: '003 (v4: MAP_DIRECT seals the block map, "do require a PROT_WRITE mapping", no CAP_IMMUTABLE); 002 (v5 fixed MAP_PRIVATE|MAP_DIRECT)',
    summary: 'a seal rather than a lease: anyone with PROT_WRITE can pin the block map; MAP_PRIVATE|MAP_DIRECT becomes shared; RDMA pins without a lease',
    flags: { mapDirectSeal: true, mapPrivateDirectShared: true, mapDirectNeedsWrite: true, rdmaPinsWithoutLease: true },
  }),
  variant({
    name: 'mapdirect-v5',
    contract: 'mapdirect',
    kernel: 'linux-4.18',
    expect: with418(['result-mismatch', 'blockmap-changed-under-lease', 'deadlock']), // 4.18's xfs_break_leased_layouts is K8's
    seed: '002 (v5: new syscall fixes MAP_PRIVATE, CAP_LINUX_IMMUTABLE, F_MAP_DIRECT, SIGBUS on faults; still a seal)',
    summary: 'still a seal, now behind CAP_LINUX_IMMUTABLE or an fd marked F_MAP_DIRECT; RDMA pins without a lease',
    flags: { mapDirectSeal: true, mapDirectNeedsCapImmutable: true, rdmaPinsWithoutLease: true },
  }),
  variant({
    name: 'mapdirect-v7',
    contract: 'mapdirect',
    kernel: 'linux-4.18',
    expect: with418(['result-mismatch', 'data-mismatch', 'blockmap-changed-under-lease', 'stale-notification', 'iova-reuse', 'dma-into-reallocated-block', 'deadlock', 'no-progress']),
    seed: '000 (changes since v7: IOVA kept until unregistration, lease_direct waits lease-break-time, iomap_can_allocate()); 004 (review of the lease code)',
    summary: 'breakable leases and lease_direct, but revocation tears down the DMA mapping at once, allocating faults are not stopped',
    flags: {
      leaseBreakFreesIova: true, leaseDirectRevokesImmediately: true, mapDirectFaultAllocates: true, breakLayoutsLosesError: true,
      sigioKeepsClosedFd: true, validateIgnoresFile: true, mapDirectSetupUnlocked: true, invalidateWithoutMmaplock: true,
    },
  }),
  variant({
    name: 'mapdirect-v8',
    contract: 'mapdirect',
    kernel: 'linux-4.18',
    expect: with418(['result-mismatch', 'data-mismatch', 'blockmap-changed-under-lease', 'stale-notification', 'iova-reuse', 'dma-into-reallocated-block', 'deadlock', 'no-progress']),
    seed: '000 (v8 cover letter); 004 (Joerg Roedel on v8 13/14: iommu_sg_num_pages)',
    summary: 'delayed revocation through iommu_unmap(iommu_sg_num_pages()), which may unmap less than the DMA API mapped',
    flags: {
      revokeUnmapsSgPages: true, breakLayoutsLosesError: true, sigioKeepsClosedFd: true, validateIgnoresFile: true,
      mapDirectSetupUnlocked: true, invalidateWithoutMmaplock: true,
    },
  }),
  variant({
    name: 'mapdirect-v9',
    contract: 'mapdirect',
    kernel: 'linux-4.18',
    expect: with418(['result-mismatch', 'data-mismatch', 'blockmap-changed-under-lease', 'stale-notification', 'deadlock', 'no-progress']),
    seed: '004 (v9: break_layout_nowait in iomap_begin; lease_direct and RDMA deferred; review by Al Viro, Jan Kara)',
    summary: 'MAP_DIRECT without RDMA; the lease code as posted',
    flags: { rdmaFsdaxRefused: true, breakLayoutsLosesError: true, sigioKeepsClosedFd: true, validateIgnoresFile: true, mapDirectSetupUnlocked: true, invalidateWithoutMmaplock: true },
  }),
];

// The worked example of docs/extending.md: how a developer models a
// patch of their own.  Kept here, and checked by test/extending.test.ts,
// so the document stays true.
const EXAMPLES: Variant[] = [
  variant({
    name: 'example-no-dio-wait',
    contract: 'upstream',
    kernel: 'linux-mainline',
    expect: ['dma-into-reallocated-block', 'result-mismatch', 'data-mismatch'],
    seed: 'docs/extending.md (a patch that drops inode_dio_wait from xfs_break_layouts_unmap)',
    summary: 'mainline with its lease bugs fixed, but truncate and fallocate do not wait for direct I/O in flight before freeing blocks',
    flags: { ...LEASE_FIXES, truncateSkipsDioWait: true },
  }),
];

const BUGGY: Variant[] = KNOWN_BUGS.map((b) => {
  const base = CLEAN_VARIANTS.find((v) => v.name === b.base)!;
  return { ...base, name: b.id, expect: b.expect, seed: b.seed, summary: b.title, flags: { ...base.flags, [b.flag]: true } };
});

export const VARIANTS: Variant[] = [...KERNEL_VARIANTS, MAINLINE_FIXED, MAPDIRECT_FIXED, ...HISTORICAL, ...BUGGY, ...EXAMPLES];

export class VariantError extends Error {}

// The catalog's variant of a name, old names included; undefined if none.
export function catalogVariant(name: string): Variant | undefined {
  return VARIANTS.find((x) => x.name === (ALIASES[name] ?? name));
}

export function findVariant(name: string): Variant {
  const v = catalogVariant(name);
  if (!v) throw new VariantError(`unknown variant "${printable(name)}" (known: ${VARIANTS.map((x) => x.name).join(', ')})`);
  return v;
}

export const FLAG_NAMES = Object.keys(FLAGS) as FlagName[];

export function setFlags(v: Variant): FlagName[] {
  return (Object.keys(v.flags) as FlagName[]).filter((f) => v.flags[f]);
}
