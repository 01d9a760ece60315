// kernel/exit.c: exit_group(2) and do_exit.
//
// exit_group sends SIGKILL to the process's other threads
// (zap_other_threads): one between two calls starts no other, one asleep
// where a signal can end the sleep wakes, and the rest finish the call
// under way; each then runs do_exit.  The last thread out tears the
// process down: exit_mm (exit_aio waits for the AIO requests in flight,
// whose pages stay pinned until they land; then exit_mmap unmaps
// everything), then exit_files (the last fput of each file: its leases
// go, the uverbs file deregisters every registration, the io_uring file
// frees the ring's buffer).

import { ERESTARTSYS } from '../errno.ts';
import { BLOCKED, DONE, fn, type Frame, type Kernel, type Thread } from './kernel.ts';
import { filp_close } from './file.ts';
import { remove_vma } from './mm.ts';
import { ib_dereg_mr_user } from './umem.ts';
import { io_ring_ctx_free } from './io_uring.ts';
import { exit_aio_waiter } from './dio.ts';

export const sys_exit_group = fn<Frame>('sys_exit_group', {
  zap_other_threads(k, t) {
    for (const o of k.threads) {
      if (o === t || o.kind !== 'proc' || o.proc !== t.proc || o.status === DONE || o.killed) continue;
      o.killed = true;
      o.sigpending = true;
      k.ref.killed(o.id);
      if (o.stack.length === 0) {
        o.exited = true; // between two calls: it never enters another, nor holds anything
        o.status = DONE;
      } else if (o.status === BLOCKED && o.sleepInterruptible) {
        k.wakeThread(o);
        o.rv = ERESTARTSYS; // signal_wake_up: the wait sees the signal
      }
    }
    t.killed = true;
    return k.call(t, do_exit, {}, 'done');
  },
  done(k, t) {
    return k.ret(t, 0);
  },
});

// Whether another thread of the process still has to exit.
function other_threads_alive(k: Kernel, t: Thread): boolean {
  return k.threads.some((o) => o !== t && o.kind === 'proc' && o.proc === t.proc && !o.exited);
}

export const do_exit = fn<Frame>('do_exit', {
  // exit_mm: mmput; the last user of the mm goes on to __mmput
  exit_mm(k, t) {
    t.exited = true;
    return other_threads_alive(k, t) ? k.ret(t, 0) : 'exit_aio';
  },
  exit_aio(k, t) {
    const waiter = exit_aio_waiter(t.proc);
    if (k.dioQueue.some((r) => r.aio && k.threads[r.tid].proc === t.proc)) return k.sleep(t, 'dio', waiter, 'exit_aio', false);
    return 'exit_mmap';
  },
  exit_mmap(k, t) {
    const pr = k.procs[t.proc];
    for (const vma of pr.vmas.splice(0)) remove_vma(k, t, vma);
    k.ref.exitMm(t.proc);
    return 'exit_files';
  },
  // close_files, and what the last fput of each does on the way out
  // (exit_task_work)
  exit_files(k, t) {
    const pr = k.procs[t.proc];
    for (let fd = 0; fd < pr.fds.length; fd++) if (pr.fds[fd] >= 0) filp_close(k, t, t.proc, fd);
    for (const mr of k.liveMrs()) if (mr.proc === t.proc) ib_dereg_mr_user(k, mr);
    io_ring_ctx_free(k, t.proc);
    pr.dead = true;
    k.ref.exitFiles(t.proc);
    return k.ret(t, 0);
  },
});
