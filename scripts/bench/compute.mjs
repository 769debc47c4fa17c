// Bench rows for CPU-bound tasks: 80 fib(28) tasks on 2 workers per start method and on a
// ThreadPool, beside piscina and beside two plain `node` children taking the same tasks one by one
// over IPC (the compute speed a pool worker should match). Contenders run interleaved, round after round,
// so load on the machine hits them alike; each figure is a median with its min–max.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { median } from './measure.mjs';

const require = createRequire(import.meta.url);
const mp = require('../../dist/index.js');
const { ThreadPool } = require('../../dist/dummy/index.js');
const FIB = fileURLToPath(new URL('./children/fib.cjs', import.meta.url));
const { fib } = require(FIB);
const WORKERS = 2;
const TASKS = 80;
const N = 28;
const ROUNDS = 7;

/** A contender: start(), then round() → tasks/s of one batch, then close(). */
function pool(make) {
  let p;
  const items = new Array(TASKS).fill(N);
  return {
    start: async () => {
      p = make();
      await p.mapAsync(fib, items.slice(0, WORKERS * 4), 1);
    },
    round: () => p.mapAsync(fib, items, 1),
    close: async () => {
      p.close();
      await p.joinAsync();
    },
  };
}

const contenders = {
  'fork Pool': pool(() => new (mp.getContext('fork').Pool)(WORKERS)),
  'spawn Pool': pool(() => new (mp.getContext('spawn').Pool)(WORKERS)),
  'forkserver Pool': pool(() => new (mp.getContext('forkserver').Pool)(WORKERS)),
  ThreadPool: pool(() => new ThreadPool(WORKERS)),
  piscina: (() => {
    let p;
    return {
      start: async () => {
        const { Piscina } = await import('piscina');
        p = new Piscina({ filename: FIB, minThreads: WORKERS, maxThreads: WORKERS });
        await Promise.all(new Array(WORKERS * 4).fill(N).map((n) => p.run(n)));
      },
      round: () => Promise.all(new Array(TASKS).fill(N).map((n) => p.run(n))),
      close: () => p.destroy(),
    };
  })(),
  'plain node children': (() => {
    const children = [];
    // Each child takes the next task when it finishes one, as a pool's workers do.
    const batch = async (tasks) => {
      let left = tasks;
      await Promise.all(children.map(async (child) => {
        while (left > 0) {
          left--;
          const done = once(child, 'message');
          child.send({ n: N, count: 1 });
          await done;
        }
      }));
    };
    return {
      start: async () => {
        for (let i = 0; i < WORKERS; i++) {
          const child = fork(FIB, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          await once(child, 'message');
          children.push(child);
        }
        await batch(WORKERS * 4);
      },
      round: () => batch(TASKS),
      close: () => Promise.all(children.map(async (child) => { child.disconnect(); await once(child, 'exit'); })),
    };
  })(),
};

/** Median and min–max tasks/s of each contender, over ROUNDS interleaved rounds. */
export async function measure() {
  // The fork pool first: fork refuses while a worker_threads Worker (ThreadPool, piscina) is alive.
  for (const contender of Object.values(contenders)) await contender.start();
  const rates = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, contender] of Object.entries(contenders)) {
      const t = performance.now();
      await contender.round();
      rates[name].push(TASKS / ((performance.now() - t) / 1000));
    }
  }
  for (const contender of Object.values(contenders)) await contender.close();
  return Object.fromEntries(Object.entries(rates).map(([name, r]) => [name, { median: median(r), min: Math.min(...r), max: Math.max(...r) }]));
}

export async function run() {
  const m = await measure();
  const plain = m['plain node children'];
  const spread = (name) => [m[name].min, m[name].max];
  const row = (method, name) => ({
    name: `80 × fib(28) on 2 workers, ${method}`,
    unit: 'tasks/s',
    ours: m[name].median,
    baselines: { piscina: m.piscina.median, 'plain children': plain.median },
    range: spread(name),
    baselineRanges: { piscina: spread('piscina'), 'plain children': spread('plain node children') },
    better: 'higher',
    // Within 5% of two plain children's compute speed (issue "Performance").
    target: Math.round(plain.median * 0.95),
  });
  return [row('fork', 'fork Pool'), row('spawn', 'spawn Pool'), row('forkserver', 'forkserver Pool'), row('ThreadPool', 'ThreadPool')];
}
