// Kernel return codes.  Negative numbers, as in the kernel; the three
// pseudo-codes at the end stand for how a memory access can end.

export const EPERM = -1;
export const ENOENT = -2;
export const EINTR = -4;
export const ENXIO = -6;
export const EBADF = -9;
export const EWOULDBLOCK = -11;
export const EAGAIN = -11; // same number as EWOULDBLOCK
export const ENOMEM = -12;
export const EACCES = -13;
export const EFAULT = -14;
export const EBUSY = -16;
export const EINVAL = -22;
export const EMFILE = -24;
export const ETXTBSY = -26;
export const EFBIG = -27;
export const ENOSPC = -28;
export const ENOSYS = -38;
export const EOPNOTSUPP = -95;
export const ERESTARTSYS = -512;

export const VM_FAULT_SIGBUS = -1001;
export const VM_FAULT_SIGSEGV = -1002;
export const IOMMU_FAULT = -1003;
export const VM_FAULT_FALLBACK = -1004; // a huge fault's answer: let the pte fault do it

// What an NFS client's pNFS operation can get back from nfsd instead of
// an errno (include/linux/nfs4.h).
export const NFS4ERR_DELAY = -10008;
export const NFS4ERR_BAD_STATEID = -10025;
export const NFS4ERR_LAYOUTUNAVAILABLE = -10049;
export const NFS4ERR_RECALLCONFLICT = -10061;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [EINTR]: 'EINTR',
  [ENXIO]: 'ENXIO',
  [EBADF]: 'EBADF',
  [EWOULDBLOCK]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM',
  [EACCES]: 'EACCES',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EINVAL]: 'EINVAL',
  [EMFILE]: 'EMFILE',
  [ETXTBSY]: 'ETXTBSY',
  [EFBIG]: 'EFBIG',
  [ENOSPC]: 'ENOSPC',
  [ENOSYS]: 'ENOSYS',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
  [ERESTARTSYS]: 'ERESTARTSYS',
  [VM_FAULT_SIGBUS]: 'SIGBUS',
  [VM_FAULT_SIGSEGV]: 'SIGSEGV',
  [IOMMU_FAULT]: 'IOMMU_FAULT',
  [VM_FAULT_FALLBACK]: 'VM_FAULT_FALLBACK',
  [NFS4ERR_DELAY]: 'NFS4ERR_DELAY',
  [NFS4ERR_BAD_STATEID]: 'NFS4ERR_BAD_STATEID',
  [NFS4ERR_LAYOUTUNAVAILABLE]: 'NFS4ERR_LAYOUTUNAVAILABLE',
  [NFS4ERR_RECALLCONFLICT]: 'NFS4ERR_RECALLCONFLICT',
};

// What user space sees: a value, or the name of the error.  A signal
// interrupting a syscall without SA_RESTART surfaces as EINTR.
export function userResult(ret: number): number | string {
  if (ret >= 0) return ret;
  if (ret === ERESTARTSYS) return 'EINTR';
  return NAMES[ret] ?? `E${-ret}`;
}

export function errName(ret: number): string {
  return NAMES[ret] ?? String(ret);
}
