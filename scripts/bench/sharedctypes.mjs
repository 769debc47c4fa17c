// Bench rows for sharedctypes and shared memory: ours beside CPython's (python3, same run) and a
// worker_threads baseline. `run()` returns the rows; running this file prints them.
import { execFileSync, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { median } from './measure.mjs';

const require = createRequire(import.meta.url);
const mp = require('../../dist/index.js');
const { SharedMemory } = require('../../dist/shared-memory.js');

const INCREMENTS = 200_000;
const PROCESSES = 2;
const REPEATS = 3;
const SHM_SIZE = 64 << 20;
const SHM_ROUNDS = 200;


const { dumps, loads } = require('../../dist/serializer/index.js');
// Handles travel through the serializer, as base64 over the IPC channel.
const toWire = (value) => dumps(value).toString('base64');
const fromWire = (text) => loads(Buffer.from(text, 'base64'));

// The child side: attach, say ready, wait for the shared start signal, count, say done.
if (process.env.MPJS_BENCH_CHILD === 'sharedctypes') {
  process.once('message', (message) => {
    const { v, go, raw } = fromWire(message);
    process.send('ready');
    go.wait();
    const lock = v.getLock();
    // raw: the same lock around the RawValue (getObj()), skipping the per-get/set re-entry.
    const target = raw ? v.getObj() : v;
    for (let i = 0; i < INCREMENTS; i++) {
      lock.acquire();
      try {
        target.value += 1;
      } finally {
        lock.release();
      }
    }
    process.send('done', () => process.disconnect());
  });
}

function once(child, what) {
  return new Promise((resolve, reject) => {
    child.once('message', (message) => (message === what ? resolve() : reject(new Error(`expected ${what}, got ${message}`))));
    child.once('exit', (code) => reject(new Error(`bench child exited with ${code} before ${what}`)));
  });
}

/** ms from the start signal until every child reported done (children are started and attached first). */
async function oursCounter(raw = false) {
  const v = new mp.Value('i', 0);
  const go = new mp.Event();
  const children = Array.from({ length: PROCESSES }, () =>
    fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, MPJS_BENCH_CHILD: 'sharedctypes' }, stdio: 'inherit' }),
  );
  await Promise.all(children.map((child) => {
    const ready = once(child, 'ready');
    child.send(toWire({ v, go, raw }));
    return ready;
  }));
  const done = Promise.all(children.map((child) => once(child, 'done')));
  const start = performance.now();
  go.set();
  await done;
  const ms = performance.now() - start;
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))));
  if (v.value !== PROCESSES * INCREMENTS) throw new Error(`lost updates under the lock: ${v.value}`);
  return ms;
}

const THREAD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const a = new Int32Array(workerData.sab);
// Drepper's futex mutex: 0 free, 1 locked, 2 locked with waiters.
function lock() {
  let c = Atomics.compareExchange(a, 0, 0, 1);
  if (c === 0) return;
  if (c !== 2) c = Atomics.exchange(a, 0, 2);
  while (c !== 0) { Atomics.wait(a, 0, 2); c = Atomics.exchange(a, 0, 2); }
}
function unlock() {
  if (Atomics.sub(a, 0, 1) !== 1) { Atomics.store(a, 0, 0); Atomics.notify(a, 0, 1); }
}
parentPort.postMessage('ready');
Atomics.wait(a, 2, 0);
for (let i = 0; i < workerData.n; i++) { lock(); a[1] += 1; unlock(); }
parentPort.postMessage('done');
`;

/** The same counter on worker_threads with an Atomics mutex over a SharedArrayBuffer. */
async function threadsCounter() {
  const sab = new SharedArrayBuffer(12);
  const a = new Int32Array(sab);
  const workers = Array.from({ length: PROCESSES }, () => new Worker(THREAD_WORKER, { eval: true, workerData: { sab, n: INCREMENTS } }));
  const next = (w) => new Promise((resolve) => w.once('message', resolve));
  await Promise.all(workers.map(next));
  const done = Promise.all(workers.map(next));
  const start = performance.now();
  Atomics.store(a, 2, 1);
  Atomics.notify(a, 2);
  await done;
  const ms = performance.now() - start;
  await Promise.all(workers.map((w) => w.terminate()));
  if (a[1] !== PROCESSES * INCREMENTS) throw new Error(`threads baseline lost updates: ${a[1]}`);
  return ms;
}

function shmTimes() {
  const create = [];
  for (let i = 0; i < SHM_ROUNDS; i++) {
    const start = performance.now();
    const shm = new SharedMemory({ create: true, size: SHM_SIZE });
    shm.close();
    shm.unlink();
    create.push(performance.now() - start);
  }
  const owner = new SharedMemory({ create: true, size: SHM_SIZE });
  const attach = [];
  try {
    for (let i = 0; i < SHM_ROUNDS; i++) {
      const start = performance.now();
      const shm = new SharedMemory({ name: owner.name });
      attach.push(performance.now() - start);
      shm.close();
    }
  } finally {
    owner.close();
    owner.unlink();
  }
  const sab = [];
  for (let i = 0; i < SHM_ROUNDS; i++) {
    const start = performance.now();
    new Uint8Array(new SharedArrayBuffer(SHM_SIZE))[0] = 1;
    sab.push(performance.now() - start);
  }
  return { create: median(create), attach: median(attach), sab: median(sab) };
}

// CPython's same operations, timed inside python3 (fork start method, time from start to join).
const CPYTHON = `
import multiprocessing as mp, statistics, sys, time
from multiprocessing import shared_memory as sm, resource_tracker as rt
N, P, REPEATS, SIZE, ROUNDS = ${INCREMENTS}, ${PROCESSES}, ${REPEATS}, ${SHM_SIZE}, ${SHM_ROUNDS}
def work(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1
if __name__ == '__main__':
    ctx = mp.get_context('fork')
    counter = []
    for _ in range(REPEATS):
        v = ctx.Value('i', 0)
        start = time.perf_counter()
        ps = [ctx.Process(target=work, args=(v, N)) for _ in range(P)]
        for p in ps: p.start()
        for p in ps: p.join()
        counter.append((time.perf_counter() - start) * 1000)
        assert v.value == N * P
    create = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        s = sm.SharedMemory(create=True, size=SIZE); s.close(); s.unlink()
        create.append((time.perf_counter() - start) * 1000)
    owner = sm.SharedMemory(create=True, size=SIZE)
    attach = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        s = sm.SharedMemory(owner.name)
        attach.append((time.perf_counter() - start) * 1000)
        s.close()
    owner.close(); owner.unlink()
    print(statistics.median(counter), statistics.median(create), statistics.median(attach))
`;

function cpython() {
  try {
    const out = execFileSync('python3', ['-c', CPYTHON], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const [counter, create, attach] = out.trim().split(/\s+/).map(Number);
    return { counter, create, attach };
  } catch {
    return undefined; // no python3: rows go without CPython's figure
  }
}

export async function run() {
  const ours = [];
  const oursRaw = [];
  const threads = [];
  for (let i = 0; i < REPEATS; i++) {
    ours.push(await oursCounter());
    oursRaw.push(await oursCounter(true));
    threads.push(await threadsCounter());
  }
  const shm = shmTimes();
  const py = cpython();
  return [
    {
      name: `${PROCESSES} processes × ${INCREMENTS / 1000}k increments of a Value under its lock`,
      unit: 'ms',
      ours: median(ours),
      baselines: { 'worker_threads + Atomics mutex': median(threads), 'ours, getObj() under the lock': median(oursRaw) },
      cpython: py?.counter,
      better: 'lower',
      target: 60,
    },
    {
      name: 'SharedMemory 64 MiB create+close+unlink',
      unit: 'ms',
      ours: shm.create,
      baselines: { 'new SharedArrayBuffer(64 MiB) (threads only)': shm.sab },
      cpython: py?.create,
      better: 'lower',
      target: 0.2,
    },
    {
      name: 'SharedMemory 64 MiB attach',
      unit: 'ms',
      ours: shm.attach,
      baselines: {},
      cpython: py?.attach,
      better: 'lower',
      target: 0.05,
    },
  ];
}

if (process.env.MPJS_BENCH_CHILD === undefined && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const fmt = (x) => (x === undefined ? '—' : x < 1 ? x.toFixed(4) : x.toFixed(1));
  for (const row of await run()) {
    const baselines = Object.entries(row.baselines).map(([label, x]) => `${label} ${fmt(x)}`).join(', ');
    const ratio = row.cpython ? ` (${(row.ours / row.cpython).toFixed(2)}× CPython)` : '';
    console.log(`${row.name}: ours ${fmt(row.ours)} ${row.unit}${ratio}; CPython ${fmt(row.cpython)}; ${baselines || 'no baseline'}; target ≤ ${row.target}`);
  }
}
