// Bench rows for process start: fork start → first message and start + join, beside
// child_process.fork and CPython's fork method measured in the same run.
import { fork as cpFork, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';

const require = createRequire(import.meta.url);
const mp = require('../../dist/index.js');
const { Process } = mp.getContext('fork');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function forkFirstMessage(runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const [r, w] = pipe();
    const t0 = performance.now();
    const p = new Process({ target: () => fs.writeSync(w, 'x') });
    p.start();
    fs.readSync(r, Buffer.alloc(1));
    times.push(performance.now() - t0);
    p.join();
    fs.closeSync(r);
    fs.closeSync(w);
  }
  return median(times);
}

function forkJoin(runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const p = new Process({ target: () => undefined });
    p.start();
    p.join();
    times.push(performance.now() - t0);
  }
  return median(times);
}

// Node's fs has no pipe(): a FIFO, reopened blocking through /proc so readSync waits for the child.
function pipe() {
  const name = `/tmp/mpjs-bench-${process.pid}-${Math.random().toString(36).slice(2)}`;
  spawnSync('mkfifo', [name]);
  const r = fs.openSync(name, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(name, 'w');
  fs.unlinkSync(name);
  const rb = fs.openSync(`/proc/self/fd/${r}`, 'r');
  fs.closeSync(r);
  return [rb, w];
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

function cpython(runs) {
  const code = `
import multiprocessing as mp, time, statistics, os
def f(w): os.write(w, b'x')
def g(): pass
if __name__ == '__main__':
    ctx = mp.get_context('fork'); a = []; b = []
    for _ in range(${runs}):
        r, w = os.pipe(); t = time.perf_counter(); p = ctx.Process(target=f, args=(w,)); p.start(); os.read(r, 1)
        a.append((time.perf_counter() - t) * 1e3); p.join(); os.close(r); os.close(w)
        t = time.perf_counter(); p = ctx.Process(target=g); p.start(); p.join(); b.append((time.perf_counter() - t) * 1e3)
    print(statistics.median(a), statistics.median(b))`;
  const out = spawnSync('python3', ['-c', code], { encoding: 'utf8' });
  const [first, join] = out.stdout.trim().split(/\s+/).map(Number);
  return { first, join };
}

export async function run() {
  const runs = 50;
  const first = forkFirstMessage(runs);
  const join = forkJoin(runs);
  const cp = await childProcessFirstMessage(10);
  const py = cpython(runs);
  return [
    { name: 'fork: start → first message', unit: 'ms', ours: first, baselines: { 'child_process.fork': cp }, cpython: py.first, better: 'lower', target: 2 },
    { name: 'fork: start + join', unit: 'ms', ours: join, baselines: {}, cpython: py.join, better: 'lower', target: 2 },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await run());
