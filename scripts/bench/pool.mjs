// Bench rows for Pool: map with CPython's default chunksize (of a closure too), one message per
// task, the single-task round trip, constructor → first result and 1 MiB payloads, beside CPython's
// multiprocessing.Pool and the Node pools (piscina, tinypool, workerpool, poolifier) in the same run.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cpython } from './cpython.mjs';
import { medianOf, timePerOp } from './measure.mjs';

const require = createRequire(import.meta.url);
const mp = require('../../dist/index.js');
const POOL = 2;
const TASK = fileURLToPath(new URL('./children/peer-task.mjs', import.meta.url));
const WORKERPOOL = fileURLToPath(new URL('./children/peer-workerpool.cjs', import.meta.url));
const POOLIFIER = fileURLToPath(new URL('./children/peer-poolifier.cjs', import.meta.url));
const MIB = 1024 * 1024;
const range = (n) => Array.from({ length: n }, (_, i) => i);

/** The Node peers behind one shape: run(task) → Promise, close(). */
async function startPeer(name) {
  if (name === 'piscina') {
    const { Piscina } = await import('piscina');
    const pool = new Piscina({ filename: TASK, minThreads: POOL, maxThreads: POOL });
    return { run: (task) => pool.run(task), close: () => pool.destroy() };
  }
  if (name === 'tinypool') {
    const { Tinypool } = await import('tinypool');
    const pool = new Tinypool({ filename: TASK, minThreads: POOL, maxThreads: POOL });
    return { run: (task) => pool.run(task), close: () => pool.destroy() };
  }
  if (name === 'workerpool') {
    const workerpool = require('workerpool');
    const pool = workerpool.pool(WORKERPOOL, { minWorkers: POOL, maxWorkers: POOL, workerType: 'thread' });
    return { run: (task) => pool.exec('task', [task]), close: () => pool.terminate() };
  }
  const { FixedThreadPool } = require('poolifier');
  const pool = new FixedThreadPool(POOL, POOLIFIER);
  return { run: (task) => pool.execute(task), close: () => pool.destroy() };
}
const PEERS = ['piscina', 'tinypool', 'workerpool', 'poolifier'];

async function peerRows() {
  const out = { many: {}, roundTrip: {}, startup: {}, payload: {} };
  const payload = Buffer.alloc(MIB, 7);
  for (const name of PEERS) {
    try {
      const t0 = performance.now();
      const peer = await startPeer(name);
      await peer.run({ op: 'square', x: 3 });
      out.startup[name] = performance.now() - t0;
      const n = 20_000;
      out.many[name] = await medianOf(async () => {
        const t = performance.now();
        await Promise.all(range(n).map((x) => peer.run({ op: 'square', x })));
        return n / ((performance.now() - t) / 1000);
      }, { samples: 3 });
      out.roundTrip[name] = (await timePerOp(() => peer.run({ op: 'id', x: 1 }), { batch: 200, samples: 7 })) * 1000;
      const tasks = 32;
      out.payload[name] = await medianOf(async () => {
        const t = performance.now();
        await Promise.all(range(tasks).map(() => peer.run({ op: 'len', x: payload })));
        return (tasks * MIB) / 1e9 / ((performance.now() - t) / 1000);
      }, { samples: 3 });
      await peer.close();
    } catch (error) {
      console.error(`pool bench: ${name} failed: ${error.message}`);
    }
  }
  return out;
}

function ours(method) {
  const Pool = mp.getContext(method).Pool;
  const pool = new Pool(POOL);
  pool.apply((x) => x, [1]);
  const square = (x) => x * x;
  const xs = range(100_000);
  const run = (f, items, chunksize, reps = 7) => {
    const rates = [];
    for (let i = -1; i < reps; i++) {
      const t = performance.now();
      pool.map(f, items, chunksize);
      if (i >= 0) rates.push(items.length / ((performance.now() - t) / 1000));
    }
    return rates.sort((a, b) => a - b)[rates.length >> 1];
  };
  const map = run(square, xs);
  const k = 3;
  const closure = run((x) => x * k + 1, xs);
  const one = run(square, range(20_000), 1, 3);
  const id = (x) => x;
  const times = [];
  for (let s = 0; s < 9; s++) {
    const t = performance.now();
    for (let i = 0; i < 500; i++) pool.applyAsync(id, [i]).get();
    times.push(((performance.now() - t) / 500) * 1000);
  }
  const roundTrip = times.sort((a, b) => a - b)[4];
  const len = (b) => b.length;
  const buffers = range(32).map(() => Buffer.alloc(MIB, 7));
  const payload = run(len, buffers, 1, 5) * MIB / 1e9;
  pool.terminate();
  pool.join();
  return { map, closure, one, roundTrip, payload };
}

// Startup is measured on a warm server (the forkserver row never includes starting the server).
function startups(method) {
  const times = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const pool = new (mp.getContext(method).Pool)(POOL);
    pool.apply((x) => x, [1]);
    times.push(performance.now() - t0);
    pool.terminate();
    pool.join();
  }
  return times.sort((a, b) => a - b)[3];
}

const python = () => cpython(`
  import multiprocessing as mp, time
  def square(x): return x * x
  def ident(x): return x
  def length(b): return len(b)
  def rate(pool, f, items, chunksize=None, reps=5):
      return median_of(lambda: len(items) / timed(lambda: pool.map(f, items, chunksize)), samples=reps)
  def timed(fn):
      t = time.perf_counter(); fn(); return time.perf_counter() - t
  def startup(method):
      def once():
          t = time.perf_counter()
          with mp.get_context(method).Pool(2) as p: p.apply(ident, (1,)); ms = (time.perf_counter() - t) * 1000
          return ms
      return median_of(once, samples=5)
  if __name__ == '__main__':
      out = {}
      with mp.get_context('fork').Pool(2) as pool:
          out['map'] = rate(pool, square, list(range(100000)))
          out['one'] = rate(pool, square, list(range(20000)), 1, reps=3)
          out['roundTrip'] = median_ms(lambda: pool.apply_async(ident, (1,)).get(), batch=200, samples=7) * 1000
          buffers = [bytes(1 << 20) for _ in range(32)]
          out['payload'] = rate(pool, length, buffers, 1, reps=3) * (1 << 20) / 1e9
      out['startFork'] = startup('fork')
      out['startForkserver'] = startup('forkserver')
      print(json.dumps(out))
`);

export async function run() {
  const py = await python();
  const mine = ours('forkserver');
  const startFork = startups('fork');
  const startForkserver = startups('forkserver');
  const peers = await peerRows();
  return [
    { name: 'Pool(2).map 100k × (x*x), default chunksize', unit: 'tasks/s', ours: mine.map, baselines: {}, cpython: py?.map, better: 'higher', target: 5e6 },
    { name: 'Pool(2).map of a closure, default chunksize', unit: 'tasks/s', ours: mine.closure, baselines: {}, cpython: undefined, better: 'higher', target: 4e6 },
    { name: 'one message per task (chunksize 1; peers: 20k submits)', unit: 'tasks/s', ours: mine.one, baselines: peers.many, cpython: py?.one, better: 'higher', target: 60e3 },
    { name: 'single task round trip (applyAsync().get())', unit: 'µs', ours: mine.roundTrip, baselines: peers.roundTrip, cpython: py?.roundTrip, better: 'lower', target: 15 },
    { name: 'Pool(2) constructor → first result, fork', unit: 'ms', ours: startFork, baselines: {}, cpython: py?.startFork, better: 'lower', target: 10 },
    { name: 'Pool(2) constructor → first result, forkserver', unit: 'ms', ours: startForkserver, baselines: peers.startup, cpython: py?.startForkserver, better: 'lower', target: 10 },
    { name: '1 MiB payload per task', unit: 'GB/s', ours: mine.payload, baselines: peers.payload, cpython: py?.payload, better: 'higher', target: 2 },
  ];
}
