// Bench rows for Pipe/Connection bytes: ping-pong latency and 64 MiB throughput between two
// processes, beside CPython's Pipe measured in the same run.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cpython } from './cpython.mjs';
import { timePerOp } from './measure.mjs';
import { roundTrip, SMALL } from './peers.mjs';

const require = createRequire(import.meta.url);
const { Pipe } = require('../../dist/index.js');
const { loads } = require('../../dist/serializer/index.js');
const peer = fileURLToPath(new URL('./children/pipe-echo.cjs', import.meta.url));
const BYTES = Buffer.from('hello world 1234');
const BIG = 64 << 20;

/** A Pipe end whose other end an echo child (blocking, or `async`) holds, and the child's exit. */
function echoPeer(mode) {
  const [mine, theirs] = Pipe();
  const child = fork(peer, mode ? [mode] : [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc', theirs.fileno()] });
  theirs.close();
  return { mine, exited: once(child, 'exit') };
}

export async function run() {
  const { mine, exited } = echoPeer();
  const pingPongMs = await timePerOp(() => {
    mine.sendBytes(BYTES);
    mine.recvBytes();
  }, { batch: 2000 });
  // send/recv = serializer + frame; the echo peer returns the bytes, which we decode as recv would.
  const objectMs = await timePerOp(() => {
    mine.send(SMALL);
    loads(mine.recvBytes());
  }, { batch: 2000 });
  const big = Buffer.alloc(BIG, 7);
  const bigMs = await timePerOp(() => {
    mine.sendBytes(big);
    mine.recvBytes();
  }, { samples: 7 });
  // The same with the async twins: our recvBytesAsync, and a peer whose loop turns (its large
  // frames' memory comes back between messages).
  const pingPongAsyncMs = await timePerOp(async () => {
    mine.sendBytes(BYTES);
    await mine.recvBytesAsync();
  }, { batch: 2000 });
  mine.close();
  await exited;
  const asyncPeer = echoPeer('async');
  const bigAsyncMs = await timePerOp(() => {
    asyncPeer.mine.sendBytes(big);
    asyncPeer.mine.recvBytes();
  }, { samples: 7 });
  asyncPeer.mine.close();
  await asyncPeer.exited;
  const py = await cpython(`
    import multiprocessing as mp
    def echo(conn):
        while True:
            m = conn.recv_bytes()
            if not m:
                break
            conn.send_bytes(m[:1] if len(m) > 1024 else m)  # objects echo as their pickled bytes
    if __name__ == '__main__':
        ours, theirs = mp.Pipe()
        p = mp.Process(target=echo, args=(theirs,))
        p.start()
        obj = {'op': 'ping', 'n': 1}
        objects = median_ms(lambda: (ours.send(obj), ours.recv()), batch=2000) * 1000
        small = b'hello world 1234'
        ping = median_ms(lambda: (ours.send_bytes(small), ours.recv_bytes()), batch=2000) * 1000
        big = b'\\7' * (64 << 20)
        bulk = median_ms(lambda: (ours.send_bytes(big), ours.recv_bytes()), samples=7)
        ours.send_bytes(b'')  # the forked child holds a copy of our end too: EOF would never come
        p.join()
        print(json.dumps({'objects': objects, 'ping': ping, 'bulk': (64 / 1024) / (bulk / 1000)}))
  `);
  return [
    { name: 'Pipe ping-pong, small object (send/recv)', unit: 'µs', better: 'lower', target: 12,
      ours: objectMs * 1000, cpython: py?.objects,
      baselines: { 'child_process.fork IPC': await roundTrip('fork'), 'worker_threads postMessage': await roundTrip('worker') } },
    { name: 'Pipe ping-pong, sendBytes/recvBytes 16 B', unit: 'µs', better: 'lower', target: 12,
      ours: pingPongMs * 1000, baselines: {}, cpython: py?.ping },
    { name: 'Pipe ping-pong, 16 B, recvBytesAsync', unit: 'µs', better: 'lower', target: 12,
      ours: pingPongAsyncMs * 1000, baselines: {}, cpython: py?.ping },
    { name: 'Pipe sendBytes, 64 MiB messages', unit: 'GiB/s', better: 'higher', target: 2,
      ours: (64 / 1024) / (bigMs / 1000), baselines: {}, cpython: py?.bulk },
    { name: 'Pipe sendBytes, 64 MiB messages, recvBytesAsync peer', unit: 'GiB/s', better: 'higher', target: 2,
      ours: (64 / 1024) / (bigAsyncMs / 1000), baselines: {}, cpython: py?.bulk },
  ];
}
