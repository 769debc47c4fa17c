// Bench rows for process-shared locks: uncontended acquire+release (and a Condition's
// acquire+notify+release with no waiter), ours beside an Atomics mutex (threads only) and CPython's
// multiprocessing primitives measured in the same run.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cpython } from './cpython.mjs';
import { median } from './measure.mjs';

const { Condition, Lock, RLock, Semaphore } = createRequire(import.meta.url)('../../dist/index.js');
const here = fileURLToPath(import.meta.url);
const pairOf = (lock) => () => {
  lock.acquire();
  lock.release();
};
/** The loop body of each kind. */
const KINDS = {
  Lock: () => pairOf(new Lock()),
  RLock: () => pairOf(new RLock()),
  Semaphore: () => pairOf(new Semaphore(4)),
  Condition: () => {
    const cond = new Condition();
    return () => {
      cond.acquire();
      cond.notify();
      cond.release();
    };
  },
};

/** ns per call of `body`, median of 5 tight loops (a per-call closure would dominate at ~30 ns). */
function loopNs(body, iterations = 2_000_000) {
  for (let i = 0; i < 100_000; i++) body();
  return median([1, 2, 3, 4, 5].map(() => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) body();
    return Number(process.hrtime.bigint() - started) / iterations;
  }));
}

/**
 * Each kind is timed in a fresh node, as in an application whose hot loop uses one kind: in one
 * process the shared acquire/release code would turn polymorphic and measure V8, not the lock.
 */
function pair(kind) {
  return Number(execFileSync(process.execPath, [here, kind], { encoding: 'utf8' }));
}

function atomicsMutexPair() {
  const word = new Int32Array(new SharedArrayBuffer(4));
  return loopNs(() => {
    while (Atomics.compareExchange(word, 0, 0, 1) !== 0);
    Atomics.store(word, 0, 0);
  });
}

async function asyncPairNs(lock) {
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
  const py = await cpython(`
    import multiprocessing as mp
    def pair_ns(lock, n=500000):
        a, r = lock.acquire, lock.release
        def loop():
            for _ in range(n):
                a(); r()
        return median_ms(loop, samples=5, warmup=1) / n * 1e6
    def notify_ns(cond, n=500000):
        a, no, r = cond.acquire, cond.notify, cond.release
        def loop():
            for _ in range(n):
                a(); no(); r()
        return median_ms(loop, samples=5, warmup=1) / n * 1e6
    figures = {kind: pair_ns(getattr(mp, kind)()) for kind in ('Lock', 'RLock', 'Semaphore')}
    figures['Condition'] = notify_ns(mp.Condition())
    print(json.dumps(figures))
  `);
  const row = (name, ours, cpythonNs, target) => ({
    name, unit: 'ns', better: 'lower', ours, cpython: cpythonNs, target,
    baselines: { 'Atomics mutex (threads only)': atomics },
  });
  return [
    row('Lock acquire+release, uncontended', pair('Lock'), py?.Lock, 40),
    row('RLock acquire+release, uncontended', pair('RLock'), py?.RLock),
    row('Semaphore acquire+release, uncontended', pair('Semaphore'), py?.Semaphore),
    row('Condition acquire+notify+release, no waiter', pair('Condition'), py?.Condition),
    { name: 'Lock acquireAsync+release, uncontended', unit: 'ns', better: 'lower', ours: await asyncPairNs(new Lock()), baselines: {} },
  ];
}

if (process.argv[1] === here && KINDS[process.argv[2]]) {
  process.stdout.write(String(loopNs(KINDS[process.argv[2]]())));
}
