// fs/fcntl.c kill_fasync: SIGIO with si_fd set to the fd the fasync entry
// was registered with (fa_fd), on behalf of the struct file it was
// registered through (fa_file).

import type { Kernel } from './kernel.ts';

export function kill_fasync(k: Kernel, proc: number, fd: number, filp: number, inode: number): void {
  k.procs[proc].sigio.push(fd);
  k.emit({ kind: 'sigio', proc, fd, filp, inode });
}
