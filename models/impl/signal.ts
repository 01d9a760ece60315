// fs/fcntl.c kill_fasync, and the signals a process can wait for.
//
// SIGIO goes to the owner the fasync entry's file was given (f_setown).
// MAP_DIRECT's asks for si_fd (F_SETSIG), set to the fd the entry was
// registered with (fa_fd) on behalf of the struct file it was registered
// through (fa_file); an fcntl lease's is a plain SIGIO, which names no fd
// (recorded as -1).  Processes block SIGIO: it stays pending until
// sigtimedwait takes it, however many were sent (a standard signal).

import { EAGAIN } from '../errno.ts';
import type { Op } from '../testcase.ts';
import { fn, type Frame, type Kernel } from './kernel.ts';

export const SIGIO = 29;

export function kill_fasync(k: Kernel, proc: number, fd: number, filp: number, inode: number, siFd = true): void {
  k.procs[proc].sigio.push(siFd ? fd : -1);
  if (siFd) k.emit({ kind: 'sigio', proc, fd, filp, inode });
}

interface SigwaitFrame extends Frame {
  op: Extract<Op, { op: 'sigtimedwait' }>;
}

// rt_sigtimedwait for SIGIO with a zero timeout: dequeue_signal or EAGAIN.
export const sys_rt_sigtimedwait = fn<SigwaitFrame>('sys_rt_sigtimedwait', {
  dequeue_signal(k, t) {
    const pr = k.procs[t.proc];
    const got = pr.sigio.length > 0;
    pr.sigio.length = 0;
    k.ref.commit(t.id);
    return k.ret(t, got ? SIGIO : EAGAIN);
  },
});
