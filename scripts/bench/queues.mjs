// Bench rows for Queue: 100k small messages and 1 MiB messages from a child to the parent, beside
// child_process IPC, a Pipe under reader/writer Locks (CPython's data path, the design we measured
// the ring against) and CPython's multiprocessing.Queue, all in the same run.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cpython } from './cpython.mjs';
import { median } from './measure.mjs';

const require = createRequire(import.meta.url);
const mp = require('../../dist/index.js');
const { loads } = require('../../dist/serializer/index.js');
const producer = fileURLToPath(new URL('./children/queue-producer.cjs', import.meta.url));

const SMALL = 100_000;
const BIG = 1 << 20;
const BIG_COUNT = 500;
// Node's JSON IPC moves 1 MiB at ~10 MB/s: fewer messages keep its row to seconds.
const IPC_BIG_COUNT = 20;
const RUNS = 5;

/** Milliseconds per message, from the first message's arrival to the last's (process start excluded). */
async function transfer(kind, count, size) {
  const queue = new mp.Queue();
  const [reader, writer] = mp.Pipe(false);
  const readLock = new mp.Lock();
  const writeLock = new mp.Lock();
  const child = fork(producer, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc', writer.fileno()] });
  writer.close();
  let received = 0;
  let start = 0;
  const ipcDone = new Promise((resolve) => child.on('message', (m) => (m === 'done' ? resolve() : received++ === 0 && (start = performance.now()))));
  child.send({ kind, count, size, segment: queue._segmentName(), lock: { cls: 'Lock', segment: writeLock._placement().segment.name, offset: 0 } });
  if (kind === 'queue') {
    queue.get();
    start = performance.now();
    for (let i = 1; i < count; i++) queue.get();
  } else if (kind === 'pipe') {
    for (let i = 0; i < count; i++) {
      if (i === 1) start = performance.now();
      readLock.acquire();
      const bytes = reader.recvBytes();
      readLock.release();
      loads(bytes);
    }
  } else {
    await ipcDone;
    if (received !== count) throw new Error(`IPC delivered ${received} of ${count}`);
  }
  const ms = (performance.now() - start) / (count - 1);
  await once(child, 'exit');
  reader.close();
  queue.close();
  return ms;
}

async function rate(kind, count, size) {
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(await transfer(kind, count, size));
  return median(times);
}

export async function run() {
  const smallPerSecond = async (kind) => 1000 / (await rate(kind, SMALL, 0));
  const bigGBs = async (kind) => BIG / 1e6 / (await rate(kind, kind === 'ipc' ? IPC_BIG_COUNT : BIG_COUNT, BIG));
  const small = { ours: await smallPerSecond('queue'), pipe: await smallPerSecond('pipe'), ipc: await smallPerSecond('ipc') };
  const big = { ours: await bigGBs('queue'), pipe: await bigGBs('pipe'), ipc: await bigGBs('ipc') };
  const py = await cpython(`
    import multiprocessing as mp
    def produce(q, count, size):
        message = {'i': 0, 'text': 'small message'} if size == 0 else b'\\7' * size
        for _ in range(count):
            q.put(message)
    def transfer(count, size):
        q = mp.Queue()
        p = mp.Process(target=produce, args=(q, count, size))
        p.start()
        q.get()
        start = time.perf_counter()
        for _ in range(count - 1):
            q.get()
        elapsed = time.perf_counter() - start
        p.join()
        return elapsed / (count - 1)
    if __name__ == '__main__':
        mp.set_start_method('fork')
        small = statistics.median([transfer(${SMALL}, 0) for _ in range(${RUNS})])
        big = statistics.median([transfer(${BIG_COUNT}, ${BIG}) for _ in range(${RUNS})])
        print(json.dumps({'small': 1 / small, 'big': ${BIG} / 1e9 / big}))
  `);
  return [
    { name: 'Queue, 100k small messages child → parent', unit: 'msg/s', better: 'higher', target: 300_000,
      ours: small.ours, baselines: { 'Pipe + Locks': small.pipe, 'child_process IPC': small.ipc }, cpython: py?.small },
    { name: 'Queue, 1 MiB messages child → parent', unit: 'GB/s', better: 'higher', target: 2,
      ours: big.ours, baselines: { 'Pipe + Locks': big.pipe, 'child_process IPC': big.ipc }, cpython: py?.big },
  ];
}
