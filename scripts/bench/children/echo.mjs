// Echo peer for the IPC baselines: says 'ready' once started, then sends every message straight back.
// Runs as a child_process.fork child or as a worker_threads Worker.
import { parentPort } from 'node:worker_threads';

if (parentPort) {
  parentPort.on('message', (message) => parentPort.postMessage(message));
  parentPort.postMessage('ready');
} else {
  process.on('message', (message) => process.send(message));
  process.send('ready');
}
