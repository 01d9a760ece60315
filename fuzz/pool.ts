// Runs independent tasks on worker threads, one per core by default.
// Each task is a call of one exported, synchronous function; results come
// back in task order whatever order they finish in, so the output does
// not depend on the number of workers.

import { Worker } from 'node:worker_threads';

export async function runPool<A extends unknown[], R>(
  module: URL,
  fn: string,
  tasks: A[],
  workers: number,
  onDone?: (index: number, result: R) => void,
): Promise<R[]> {
  const results: R[] = new Array(tasks.length);
  let next = 0;
  const entry = new URL('./worker-entry.js', import.meta.url);
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const w = new Worker(entry, { workerData: { module: module.href, fn } });
      const give = () => {
        if (next >= tasks.length) {
          void w.terminate().then(() => resolve());
          return;
        }
        const id = next++;
        w.postMessage({ id, args: tasks[id] });
      };
      w.on('message', (m: { id: number; result?: R; error?: string }) => {
        if (m.error !== undefined) {
          void w.terminate();
          reject(new Error(m.error));
          return;
        }
        results[m.id] = m.result as R;
        onDone?.(m.id, m.result as R);
        give();
      });
      w.on('error', reject);
      w.on('online', give);
    });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, tasks.length)) }, one));
  return results;
}
