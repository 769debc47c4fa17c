// Node IPC peers for baseline rows: a child_process.fork child or a worker_threads Worker running
// children/echo.mjs, behind one send/stop shape, and the round trip of a small message through one.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { timePerOp } from './measure.mjs';

const echo = fileURLToPath(new URL('./children/echo.mjs', import.meta.url));
export const SMALL = { op: 'ping', n: 1 };

/** A started fork child or Worker running children/echo.mjs, behind one send/stop shape. */
export async function startPeer(kind) {
  if (kind === 'fork') {
    const child = fork(echo, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await once(child, 'message');
    return { child, send: (m) => child.send(m), stop: async () => { child.disconnect(); await once(child, 'exit'); } };
  }
  const child = new Worker(echo);
  await once(child, 'message');
  return { child, send: (m) => child.postMessage(m), stop: () => child.terminate() };
}

export async function roundTrip(kind) {
  const peer = await startPeer(kind);
  const ms = await timePerOp(() => {
    const reply = once(peer.child, 'message');
    peer.send(SMALL);
    return reply;
  }, { batch: 200 });
  await peer.stop();
  return ms * 1000;
}

