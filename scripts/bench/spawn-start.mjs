// Bench rows for spawn start → first message (the child releases a semaphore the parent waits on)
// with NODE_EXTRA_CA_CERTS unset and set: Node 20 loads its CA store at startup when the variable is
// set, CPython never reads it. Ours and CPython's spawn alternate in rounds; medians and min–max of
// every sample. `npm run bench -- start`.
import { createRequire } from 'node:module';
import { cpython } from './cpython.mjs';
import { median } from './measure.mjs';

const require = createRequire(import.meta.url);
const mp = require('../../dist/index.js');

const ROUNDS = 4;
const SAMPLES = 5;


// Children inherit the environment as it is at their start: process.env writes through to it.
function withCaCerts(value, fn) {
  const saved = process.env.NODE_EXTRA_CA_CERTS;
  if (value === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
  else process.env.NODE_EXTRA_CA_CERTS = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = saved;
  }
}

function ours() {
  const { Process } = mp.getContext('spawn');
  const sem = new mp.Semaphore(0);
  const times = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    const p = new Process({ target: (s) => s.release(), args: [sem] });
    p.start();
    sem.acquire();
    times.push(performance.now() - t0);
    p.join();
  }
  return times;
}

const python = () =>
  cpython(`
  import multiprocessing as mp
  def f(s): s.release()
  def g(): pass
  if __name__ == '__main__':
      ctx = mp.get_context('spawn'); s = ctx.Semaphore(0); a = []
      w = ctx.Process(target=g); w.start(); w.join()
      for _ in range(${SAMPLES}):
          t = time.perf_counter(); p = ctx.Process(target=f, args=(s,)); p.start(); s.acquire()
          a.append((time.perf_counter() - t) * 1e3); p.join()
      print(json.dumps(a))`);

export async function run() {
  // The set case uses the machine's own file; without one there is nothing to compare.
  const cases = [['unset', undefined]];
  if (process.env.NODE_EXTRA_CA_CERTS) cases.push(['set', process.env.NODE_EXTRA_CA_CERTS]);
  const samples = Object.fromEntries(cases.map(([name]) => [name, { ours: [], cpython: [] }]));
  // Warm: the parent's first encode loads the parsers, which no later start pays.
  withCaCerts(undefined, () => {
    const warm = new (mp.getContext('spawn').Process)({ target: () => undefined });
    warm.start();
    warm.join();
  });
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, value] of cases) {
      samples[name].ours.push(...withCaCerts(value, ours));
      const py = await python();
      if (py) samples[name].cpython.push(...py);
    }
  }
  return cases.map(([name]) => {
    const { ours: o, cpython: c } = samples[name];
    return {
      name: `spawn: start → first message, NODE_EXTRA_CA_CERTS ${name}`,
      unit: 'ms',
      ours: median(o),
      range: [Math.min(...o), Math.max(...o)],
      baselines: {},
      cpython: c.length ? median(c) : undefined,
      cpythonRange: c.length ? [Math.min(...c), Math.max(...c)] : undefined,
      better: 'lower',
      // Issue "Performance": within 1.2× CPython's, where Node itself adds nothing for the variable.
      target: name === 'unset' && c.length ? Number((median(c) * 1.2).toFixed(1)) : undefined,
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await run());
