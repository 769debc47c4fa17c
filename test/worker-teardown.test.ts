// A Worker that is the only user of the addon ends with waits still armed: the process must not
// crash (found by the handshake fuzzer: node unloaded the addon before the Worker's loop ran the
// close callbacks of its handles, and jumped into unmapped code — SIGSEGV).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const connection = JSON.stringify(path.resolve(__dirname, '../dist/entries/connection.js'));

const pending: Record<string, string> = {
  recvAsync: `const [a, b] = Pipe(); a.recvAsync().catch(() => {});`,
  pollAsync: `const [a, b] = Pipe(); a.pollAsync(60_000).catch(() => {});`,
  acceptAsync: `const listener = new Listener(); listener.acceptAsync().catch(() => {});`,
};

describe('a Worker ending with armed waits, the main thread never having loaded the addon', () => {
  for (const [wait, setup] of Object.entries(pending))
    for (const ending of ['process.exit', 'terminate'] as const)
      it(`${wait}, ended by ${ending}()`, async () => {
        // The main thread only starts the Worker; the Worker alone loads multiprocess.
        const script = `
          const { Worker } = require('node:worker_threads');
          const worker = new Worker(\`
            const { parentPort } = require('node:worker_threads');
            const { Pipe, Listener } = require(${JSON.stringify(connection).slice(1, -1)});
            ${setup}
            parentPort.postMessage('armed');
            ${ending === 'process.exit' ? "parentPort.once('message', () => process.exit(0));" : ''}
          \`, { eval: true });
          worker.once('message', () => ${ending === 'process.exit' ? "worker.postMessage('exit')" : 'worker.terminate()'});
          worker.once('exit', (code) => console.log('worker exited', code));`;
        const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
        const [code, signal] = await once(child, 'exit');
        expect({ code, signal }).toEqual({ code: 0, signal: null });
        expect(out).toMatch(/worker exited [01]/);
      });
});
