// A worker thread: loads TypeScript through tsx (the loader the main
// thread registered does not reach workers), then runs one exported
// function of one module per message, after its `init` function if any.
import { register } from 'tsx/esm/api';
import { parentPort, workerData } from 'node:worker_threads';

register();
const mod = await import(workerData.module);
if (workerData.init) mod[workerData.init](workerData.initArg);
parentPort.on('message', ({ id, args }) => {
  try {
    parentPort.postMessage({ id, result: mod[workerData.fn](...args) });
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
