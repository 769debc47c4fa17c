// Bench rows for process start under each start method: start → first message (the child releases
// a semaphore the parent waits on) and start + join, beside CPython's same start method measured in
// the same run (warmed up first, so forkserver rows never include starting the server), and
// child_process.fork as the Node baseline.
import { execFileSync, fork as cpFork } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpython } from './cpython.mjs';
import { median } from './measure.mjs';

const require = createRequire(import.meta.url);
const mp = require('../../dist/index.js');

const RUNS = { fork: 40, forkserver: 40, spawn: 10 };

function measure(method, runs) {
  const { Process } = mp.getContext(method);
  const sem = new mp.Semaphore(0);
  const warm = new Process({ target: () => undefined });
  warm.start();
  warm.join();
  const first = [];
  const join = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    const p = new Process({ target: (s) => s.release(), args: [sem] });
    p.start();
    sem.acquire();
    first.push(performance.now() - t0);
    p.join();
    t0 = performance.now();
    const q = new Process({ target: () => undefined });
    q.start();
    q.join();
    join.push(performance.now() - t0);
  }
  return { first: median(first), join: median(join) };
}

async function childProcessFirstMessage(runs) {
  const script = `/tmp/mpjs-bench-child-${process.pid}.cjs`;
  fs.writeFileSync(script, 'process.send(1); process.disconnect();');
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const child = cpFork(script);
    await new Promise((resolve) => child.once('message', resolve));
    times.push(performance.now() - t0);
    await new Promise((resolve) => child.once('exit', resolve));
  }
  fs.rmSync(script, { force: true });
  return median(times);
}

const python = (method, runs) => cpython(`
  import multiprocessing as mp
  def f(s): s.release()
  def g(): pass
  if __name__ == '__main__':
      ctx = mp.get_context('${method}'); s = ctx.Semaphore(0); a = []; b = []
      w = ctx.Process(target=g); w.start(); w.join()
      for _ in range(${runs}):
          t = time.perf_counter(); p = ctx.Process(target=f, args=(s,)); p.start(); s.acquire()
          a.append((time.perf_counter() - t) * 1e3); p.join()
          t = time.perf_counter(); p = ctx.Process(target=g); p.start(); p.join(); b.append((time.perf_counter() - t) * 1e3)
      print(json.dumps({'first': statistics.median(a), 'join': statistics.median(b)}))`);

const FIRST_SAMPLES = 5;

/** A program's first forkserver Process, start → first message, each sample in a fresh process. */
function firstForkserver() {
  const script = fileURLToPath(new URL('./children/first-forkserver.cjs', import.meta.url));
  const samples = [];
  for (let i = 0; i < FIRST_SAMPLES; i++) samples.push(JSON.parse(execFileSync(process.execPath, [script], { encoding: 'utf8' })));
  return median(samples);
}

const pythonFirstForkserver = async () => {
  const samples = [];
  for (let i = 0; i < FIRST_SAMPLES; i++) {
    const sample = await cpython(`
      import multiprocessing as mp
      def f(s): s.release()
      if __name__ == '__main__':
          ctx = mp.get_context('forkserver'); s = ctx.Semaphore(0)
          t = time.perf_counter(); p = ctx.Process(target=f, args=(s,)); p.start(); s.acquire()
          ms = (time.perf_counter() - t) * 1e3; p.join()
          print(json.dumps(ms))`);
    if (sample === undefined) return undefined;
    samples.push(sample);
  }
  return median(samples);
};

const TARGETS = { fork: { first: 2, join: 2 }, forkserver: { first: 4 }, spawn: {} };

export async function run() {
  const rows = [];
  const cp = await childProcessFirstMessage(10);
  for (const method of ['fork', 'forkserver', 'spawn']) {
    const ours = measure(method, RUNS[method]);
    const py = await python(method, RUNS[method]);
    const target = TARGETS[method];
    rows.push(
      { name: `${method}: start → first message`, unit: 'ms', ours: ours.first, baselines: { 'child_process.fork': cp }, cpython: py?.first, better: 'lower', target: target.first },
      { name: `${method}: start + join`, unit: 'ms', ours: ours.join, baselines: {}, cpython: py?.join, better: 'lower', target: target.join },
    );
  }
  rows.push({
    name: "forkserver: a program's first Process, start → first message (the server's start included)",
    unit: 'ms',
    ours: firstForkserver(),
    baselines: {},
    cpython: await pythonFirstForkserver(),
    better: 'lower',
  });
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await run());
