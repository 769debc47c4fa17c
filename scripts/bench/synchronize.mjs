// Bench rows for process-shared locks: uncontended acquire+release, ours beside an Atomics mutex
// (threads only) and CPython's multiprocessing locks measured in the same run.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const { Lock, RLock, Semaphore } = require('../../dist/index.js');

function nsPerOp(iterations, body) {
  for (let i = 0; i < 100_000; i++) body();
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) body();
  return Number(process.hrtime.bigint() - started) / iterations;
}

function median(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function lockPair(lock) {
  return median([1, 2, 3, 4, 5].map(() => nsPerOp(2_000_000, () => { lock.acquire(); lock.release(); })));
}

function atomicsMutexPair() {
  const word = new Int32Array(new SharedArrayBuffer(4));
  return median([1, 2, 3].map(() => nsPerOp(2_000_000, () => {
    while (Atomics.compareExchange(word, 0, 0, 1) !== 0);
    Atomics.store(word, 0, 0);
  })));
}

/** CPython's ns per acquire+release of multiprocessing.<kind>(), or undefined without python3. */
function cpythonPair(kind) {
  const script = `
import multiprocessing as mp, time
lock = mp.${kind}()
def run(n):
    a, r = lock.acquire, lock.release
    t = time.perf_counter()
    for _ in range(n):
        a(); r()
    return (time.perf_counter() - t) / n * 1e9
run(100000)
print(sorted(run(500000) for _ in range(5))[2])
`;
  try {
    return Number(execFileSync('python3', ['-c', script], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

async function asyncPair(lock) {
  const iterations = 200_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    await lock.acquireAsync();
    lock.release();
  }
  return Number(process.hrtime.bigint() - started) / iterations;
}

export async function run() {
  const atomics = atomicsMutexPair();
  return [
    {
      name: 'Lock acquire+release, uncontended',
      unit: 'ns',
      better: 'lower',
      target: 40,
      ours: lockPair(new Lock()),
      baselines: { 'Atomics mutex (threads only)': atomics },
      cpython: cpythonPair('Lock'),
    },
    {
      name: 'RLock acquire+release, uncontended',
      unit: 'ns',
      better: 'lower',
      ours: lockPair(new RLock()),
      baselines: { 'Atomics mutex (threads only)': atomics },
      cpython: cpythonPair('RLock'),
    },
    {
      name: 'Semaphore acquire+release, uncontended',
      unit: 'ns',
      better: 'lower',
      ours: lockPair(new Semaphore(4)),
      baselines: { 'Atomics mutex (threads only)': atomics },
      cpython: cpythonPair('Semaphore'),
    },
    {
      name: 'Lock acquireAsync+release, uncontended',
      unit: 'ns',
      better: 'lower',
      ours: await asyncPair(new Lock()),
      baselines: {},
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await run()) console.log(row);
}
