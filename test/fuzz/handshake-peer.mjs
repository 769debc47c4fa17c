// The peer of the handshake fuzz target (fuzz.mjs): follows a script of steps on a raw socket,
// answering the side under test's challenges with the right key only when a step says so.
//   node handshake-peer.mjs connect <unix socket path> <steps JSON>   (for a blocking accept)
//   node handshake-peer.mjs serve <steps JSON>   (prints its TCP port; for a blocking Client)
// A step: { kind: 'raw' | 'header' | 'answer' | 'challenge' | 'welcome' | 'close', key?, digest?, bytes? (hex) }.
import { createHmac, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';

export const KEY = Buffer.from('the real key');
const WRONG = Buffer.from('a guessed key');
const NODE_DIGEST = { '': 'md5', md5: 'md5', sha256: 'sha256', sha384: 'sha384', sha3_256: 'sha3-256', sha3_384: 'sha3-384' };

function frame(bytes) {
  const header = Buffer.alloc(4);
  header.writeInt32BE(bytes.length);
  return Buffer.concat([header, bytes]);
}

/** What the peer sends for a step, given the last challenge it received (null: it stops). */
function message(step, challenge) {
  const digest = step.digest ?? 'sha256';
  switch (step.kind) {
    case 'raw':
      return frame(Buffer.from(step.bytes ?? '', 'hex'));
    case 'header':
      return Buffer.from(step.bytes ?? '', 'hex');
    case 'answer': {
      const body = challenge ? challenge.subarray('#CHALLENGE#'.length) : Buffer.alloc(0);
      const mac = createHmac(NODE_DIGEST[digest] ?? 'sha256', step.key ? KEY : WRONG).update(body).digest();
      return frame(digest === '' ? mac : Buffer.concat([Buffer.from(`{${digest}}`), mac]));
    }
    case 'challenge':
      return frame(Buffer.concat([Buffer.from('#CHALLENGE#'), Buffer.from(digest ? `{${digest}}` : ''), randomBytes(digest ? 40 : 20)]));
    case 'welcome':
      return frame(step.bytes === undefined ? Buffer.from('#WELCOME#') : Buffer.from(step.bytes, 'hex'));
    default:
      return null;
  }
}

/** Resolves once `socket` has buffered `bytes` bytes, ended or closed, or after 100 ms (both sides may wait). */
function enough(socket, have, bytes) {
  if (have() >= bytes || socket.readableEnded || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('data', check).off('end', done).off('close', done);
      resolve();
    };
    const check = () => have() >= bytes && done();
    const timer = setTimeout(done, 100);
    socket.on('data', check).once('end', done).once('close', done);
  });
}

/** Runs the steps; before an answer or a verdict, waits for a frame from the side under test. */
export async function drive(socket, steps) {
  let pending = Buffer.alloc(0);
  let challenge;
  socket.on('data', (chunk) => (pending = Buffer.concat([pending, chunk])));
  socket.on('error', () => {});
  const closed = new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', resolve)));
  for (const step of steps) {
    if (step.kind === 'answer' || step.kind === 'welcome') {
      await enough(socket, () => pending.length, 4);
      if (pending.length >= 4) {
        const length = Math.max(0, pending.readInt32BE(0));
        await enough(socket, () => pending.length, 4 + Math.min(length, 1024));
        challenge = pending.subarray(4, 4 + Math.min(length, pending.length - 4));
        pending = pending.subarray(4 + challenge.length);
      }
    }
    const bytes = message(step, challenge);
    if (bytes === null) break;
    if (!socket.destroyed) socket.write(bytes);
  }
  socket.end();
  return closed;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === 'connect') {
    const socket = net.connect(rest[0]);
    await drive(socket, JSON.parse(rest[1]));
  } else {
    const server = net.createServer(async (socket) => {
      await drive(socket, JSON.parse(rest[0]));
      server.close();
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port)));
  }
}
