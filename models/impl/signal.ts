// fs/fcntl.c kill_fasync: SIGIO with si_fd set to the fd the fasync entry
// was registered with.

import type { Kernel } from './kernel.ts';

export function kill_fasync(k: Kernel, proc: number, fd: number, inode: number): void {
  k.procs[proc].sigio.push(fd);
  k.emit({ kind: 'sigio', proc, fd, inode });
}
