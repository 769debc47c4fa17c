import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import { Lock, RLock } from '../lib/index';
import * as registry from '../lib/serializer/registry';

const dist = JSON.stringify(require.resolve('../dist/index.js'));
const distRegistry = JSON.stringify(require.resolve('../dist/serializer/registry.js'));

function workerFor(lock: Lock | RLock, body: string): Worker {
  const state = registry.reducerFor(lock)!.reducer.reduce(lock);
  return new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     require(${dist});
     const lock = require(${distRegistry}).reducerNamed('multiprocess.SemLock').reducer.restore(workerData);
     (async () => { ${body} })().then((r) => parentPort.postMessage(r), (e) => parentPort.postMessage('error: ' + e.message));`,
    { eval: true, workerData: state },
  );
}

function message(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

describe('locks between threads of one process', () => {
  it('an RLock held by the main thread is not re-entrant for a Worker', async () => {
    const lock = new RLock();
    lock.acquire();
    const worker = workerFor(lock, `
      const first = lock.acquire(false);
      parentPort.postMessage(String(lock));
      const second = await lock.acquireAsync(20000);
      lock.release();
      return { first, second };
    `);
    expect(await message(worker)).toBe('<RLock(SomeOtherThread, nonzero)>');
    lock.release();
    expect(await message(worker)).toEqual({ first: false, second: true });
    await worker.terminate();
  });

  it('terminating a Worker with a pending acquireAsync tears its watcher down cleanly, however the two race', async () => {
    // Repeated: a terminate() that lands while the watcher is being built once aborted the process.
    for (let round = 0; round < 40; round++) {
      const lock = new Lock();
      lock.acquire();
      const worker = workerFor(lock, `parentPort.postMessage('waiting'); await lock.acquireAsync(); return 'acquired';`);
      expect(await message(worker)).toBe('waiting');
      expect(await worker.terminate()).toBe(1);
      lock.release();
      expect(lock.acquire(false)).toBe(true);
      lock.release();
    }
  });
});
