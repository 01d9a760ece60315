// The system-call table, and syscall entry and exit: where the lockstep
// reference is told that an operation starts, and what it returned.

import type { Op } from '../testcase.ts';
import { userResult } from '../errno.ts';
import { DONE, RUNNING, type Fn, type Frame, type Kernel, type Thread } from './kernel.ts';
import { FDGET_OPS } from '../testcase.ts';
import { fdget, fput, sys_close, sys_fcntl_getlease, sys_fcntl_map_direct, sys_fcntl_setlease, sys_open } from './file.ts';
import { sys_unlink } from './namei.ts';
import { evict } from './inode.ts';
import { do_exit, sys_exit_group } from './exit.ts';
import { sys_rt_sigtimedwait } from './signal.ts';
import { cpu_load, cpu_store, sys_fork, sys_madvise, sys_mmap, sys_munmap } from './mm.ts';
import { cloneFrame, sys_ioctl_ficlone } from './xfs_reflink.ts';
import { sys_fallocate, sys_ftruncate, sys_truncate, sys_write } from './xfs_file.ts';
import { dioFrame, xfs_file_dio_aio_rw, blk_mq_run_hw_queue } from './dio.ts';
import { ib_uverbs_dereg_mr, ib_uverbs_reg_mr, regFrame } from './umem.ts';
import { fixedFrame, io_read, io_uring_register, io_uring_unregister, io_write, registerFrame } from './io_uring.ts';
import { process_one_work, run_timer_softirq, sys_nanosleep } from './timer.ts';
import { nic_dma, nic_next_post } from './nic.ts';
import { layoutFrame, nfsd4_layoutget, nfsd4_layoutreturn } from './nfsd.ts';

function entry(op: Op): { fn: Fn<any>; locals: object } {
  switch (op.op) {
    case 'open': return { fn: sys_open, locals: { op, fd: -1, filp: -1 } };
    case 'close': return { fn: sys_close, locals: { op } };
    case 'mmap': return { fn: sys_mmap, locals: { op, fd: -1, filp: -1, result: 0, iolocked: false } };
    case 'munmap': return { fn: sys_munmap, locals: { op, vma: -1 } };
    case 'madvise_dontneed': return { fn: sys_madvise, locals: { op, vma: -1 } };
    case 'fork': return { fn: sys_fork, locals: { op } };
    case 'exit': return { fn: sys_exit_group, locals: { op } };
    case 'load': return { fn: cpu_load, locals: { op, vma: -1 } };
    case 'store': return { fn: cpu_store, locals: { op, vma: -1 } };
    case 'write': return { fn: sys_write, locals: { op, inode: -1, error: 0, buf: null } };
    case 'dio_read':
    case 'dio_write': return { fn: xfs_file_dio_aio_rw, locals: dioFrame(op) };
    case 'truncate': return { fn: sys_ftruncate, locals: { op, inode: -1, size: 0, error: 0, writeAccess: false } };
    case 'truncate_path': return { fn: sys_truncate, locals: { op, inode: -1, size: 0, error: 0, writeAccess: false } };
    case 'unlink': return { fn: sys_unlink, locals: { op, inode: -1 } };
    case 'fallocate': return { fn: sys_fallocate, locals: { op, inode: -1, error: 0 } };
    case 'clone': return { fn: sys_ioctl_ficlone, locals: cloneFrame(op) };
    case 'reg_mr': return { fn: ib_uverbs_reg_mr, locals: regFrame(op) };
    case 'dereg_mr': return { fn: ib_uverbs_dereg_mr, locals: { op } };
    case 'uring_register': return { fn: io_uring_register, locals: registerFrame(op) };
    case 'uring_unregister': return { fn: io_uring_unregister, locals: { op } };
    case 'uring_read_fixed': return { fn: io_read, locals: fixedFrame(op) };
    case 'uring_write_fixed': return { fn: io_write, locals: fixedFrame(op) };
    case 'fcntl_map_direct': return { fn: sys_fcntl_map_direct, locals: { op } };
    case 'fcntl_setlease': return { fn: sys_fcntl_setlease, locals: { op } };
    case 'fcntl_getlease': return { fn: sys_fcntl_getlease, locals: { op } };
    case 'sigtimedwait': return { fn: sys_rt_sigtimedwait, locals: { op } };
    case 'layoutget': return { fn: nfsd4_layoutget, locals: layoutFrame(op) };
    case 'layoutreturn': return { fn: nfsd4_layoutreturn, locals: layoutFrame(op) };
    case 'tick': return { fn: sys_nanosleep, locals: { op } };
  }
}


// Whether a thread has a step to take.
export function runnable(k: Kernel, t: Thread): boolean {
  if (t.status !== RUNNING) return false;
  if (t.kind === 'proc' || t.stack.length > 0) return true;
  switch (t.kind) {
    case 'device': return k.dioQueue.length > 0;
    case 'nic': return k.nicIp < k.nic.length && k.nic[k.nicIp].at <= k.clock && k.mrs.some((m) => m.live);
    case 'timer': return k.timers.length > 0 || nic_next_post(k) > k.clock;
    case 'kworker': return k.work.length > 0;
  }
  return false;
}

export interface StepInfo {
  tid: number;
  fn: string;
  label: string;
  fnRef: Fn<any>;
  pc: number;
  op: Op | null; // the process thread's operation, if any
  result?: number | string; // set when the operation returned in this step
}

// Runs one atomic step of thread `tid`.
export function step(k: Kernel, tid: number): StepInfo {
  const t = k.threads[tid];
  if (t.stack.length === 0) begin(k, t);
  const f = t.stack[t.stack.length - 1];
  const info: StepInfo = { tid, fn: f.fn.name, label: f.fn.labels[f.pc], fnRef: f.fn, pc: f.pc, op: t.kind === 'proc' ? t.prog[t.ip] : null };
  const next = f.fn.steps[f.pc](k, t, f);
  if (typeof next === 'string') {
    const i = f.fn.index.get(next);
    if (i === undefined) throw new Error(`${f.fn.name}: no label "${next}"`);
    f.pc = i;
  }
  if (t.stack.length === 0 && t.kind === 'proc') {
    // a killed thread back from do_exit: the task work of its last fputs, then gone
    if (t.killed && t.exited && t.exiting) {
      const inode = t.taskWork.shift();
      if (inode !== undefined) t.stack.push({ fn: evict, pc: 0, inode, page: -1 } as Frame);
      else t.status = DONE;
      return info;
    }
    if (!t.exiting) {
      t.exiting = true;
      t.exitRv = t.rv;
      if (t.fdget >= 0) {
        fput(k, t, t.fdget);
        if (t.fdgetSrc >= 0) fput(k, t, t.fdgetSrc);
        k.ref.fdput(t.id);
      }
      t.fdget = -1;
      t.fdgetSrc = -1;
    }
    // task_work_run on the way back to user space: __fput's iput of an
    // unlinked inode's last reference
    const inode = t.taskWork.shift();
    if (inode !== undefined) {
      t.stack.push({ fn: evict, pc: 0, inode, page: -1 } as Frame);
      return info;
    }
    t.exiting = false;
    info.result = userResult(t.exitRv);
    k.ref.complete(t.id, info.result);
    // SIGKILL, delivered on the way back: the thread exits
    if (t.killed) {
      if (t.exited) t.status = DONE;
      else {
        t.exiting = true;
        t.stack.push({ fn: do_exit, pc: 0 } as Frame);
      }
      return info;
    }
    t.sigpending = false; // delivered on the way back to user space
    t.ip++;
    if (t.ip >= t.prog.length) {
      if (t.loop) t.ip = 0;
      else t.status = DONE;
    }
  }
  return info;
}

function begin(k: Kernel, t: Thread): void {
  let e: { fn: Fn<any>; locals: object };
  switch (t.kind) {
    case 'proc': {
      const op = t.prog[t.ip];
      k.ref.invoke(t.id, t.proc, op);
      e = entry(op);
      // fdget: a call that can sleep holds its struct file until it
      // returns, so a close by another thread leaves the file open
      if (FDGET_OPS.has(op.op) && 'fd' in op) {
        const filp = fdget(k, t.proc, op.fd);
        if (filp) {
          filp.refs++;
          t.fdget = filp.id;
        }
      }
      break;
    }
    case 'device': e = { fn: blk_mq_run_hw_queue, locals: {} }; break;
    case 'nic': e = { fn: nic_dma, locals: {} }; break;
    case 'timer': e = { fn: run_timer_softirq, locals: {} }; break;
    case 'kworker': e = { fn: process_one_work, locals: {} }; break;
  }
  t.stack.push({ fn: e.fn, pc: 0, ...e.locals });
}
