// A worker thread: runs one exported function of one module per message,
// after its `init` function if any.  A TypeScript module (the sources run
// through tsx) needs tsx's loader registered here too: the one the main
// thread registered does not reach workers.  Compiled modules (dist/) do not.
import { parentPort, workerData } from 'node:worker_threads';

if (workerData.module.endsWith('.ts')) (await import('tsx/esm/api')).register();
const mod = await import(workerData.module);
if (workerData.init) mod[workerData.init](workerData.initArg);
parentPort.on('message', ({ id, args }) => {
  try {
    parentPort.postMessage({ id, result: mod[workerData.fn](...args) });
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
