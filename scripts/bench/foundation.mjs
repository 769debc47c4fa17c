// Bench rows for the foundation: shm segment create/attach beside SharedArrayBuffer and CPython's
// SharedMemory, and the Node process-start baselines that the Process rows are measured against.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { cpython } from './cpython.mjs';
import { medianOf, timePerOp } from './measure.mjs';
import { startPeer } from './peers.mjs';

const { native } = createRequire(import.meta.url)('../../dist/native.js');
const SIZE = 64 << 20;

let serial = 0;
const segmentName = () => `/mpjs-bench-${process.pid}-${serial++}`;

async function segments() {
  const opts = { batch: 20 };
  const create = await timePerOp(() => new native.Segment(segmentName(), SIZE, true, true).close(), opts);
  const holder = new native.Segment(segmentName(), SIZE, true, true);
  const attach = await timePerOp(() => new native.Segment(holder.name, 0, false, true).close(), opts);
  holder.close();
  const sab = await timePerOp(() => new SharedArrayBuffer(SIZE), opts);
  const py = await cpython(`
    from multiprocessing import shared_memory
    SIZE = 64 << 20
    def create():
        s = shared_memory.SharedMemory(create=True, size=SIZE)
        s.close()
        s.unlink()
    holder = shared_memory.SharedMemory(create=True, size=SIZE)
    def attach():
        shared_memory.SharedMemory(holder.name).close()
    result = {'create': median_ms(create, batch=20), 'attach': median_ms(attach, batch=20)}
    holder.close()
    holder.unlink()
    print(json.dumps(result))
  `);
  return [
    { name: 'shm segment create+close, 64 MiB', unit: 'ms', ours: create, baselines: { 'new SharedArrayBuffer': sab },
      cpython: py?.create, better: 'lower', target: 0.2 },
    { name: 'shm segment attach+close, 64 MiB', unit: 'ms', ours: attach, baselines: {},
      cpython: py?.attach, better: 'lower', target: 0.05 },
  ];
}

async function startToFirstMessage(kind) {
  return medianOf(async () => {
    const start = performance.now();
    const peer = await startPeer(kind);
    const ms = performance.now() - start;
    await peer.stop();
    return ms;
  });
}

async function spawnStart() {
  const py = await cpython(`
    import multiprocessing as mp
    def hello(conn):
        conn.send('ready')
    def sample():
        ctx = mp.get_context('spawn')
        r, w = ctx.Pipe(False)
        start = time.perf_counter()
        p = ctx.Process(target=hello, args=(w,))
        p.start()
        r.recv()
        ms = (time.perf_counter() - start) * 1000
        p.join()
        return ms
    if __name__ == '__main__':
        print(median_of(sample))
  `);
  return [
    { name: 'process start → first message, spawn', unit: 'ms', ours: null,
      baselines: { 'child_process.fork': await startToFirstMessage('fork'), 'worker_threads': await startToFirstMessage('worker') },
      cpython: py, better: 'lower', target: 60 },
  ];
}

export async function run() {
  return [...(await segments()), ...(await spawnStart())];
}
