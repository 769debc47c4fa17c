// Bench rows for fault recovery: how long after a SIGKILL each component serves again (or, for a
// manager whose server died, fails the pending call), as medians with min–max over several kills.
// CPython's figure where it recovers at all: its locks never do, and its forkserver and tracker are
// relaunched like ours.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median } from './measure.mjs';

const mp = createRequire(import.meta.url)('../../dist/index.js');
export const KILLS = 7;
export const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The median and min–max of a row's samples. */
function summary(times) {
  return { ours: median(times), range: [Math.min(...times), Math.max(...times)] };
}

/** ms from a SIGKILL to recovery, over KILLS kills: `once()` returns one sample. */
async function samples(once) {
  const times = [];
  for (let i = 0; i < KILLS; i++) times.push(await once());
  return summary(times);
}

function row(name, measured) {
  return { name, unit: 'ms', ...measured, baselines: {}, better: 'lower' };
}

/** A child of ours named `named` (in its command line or its process name). */
export function childNamed(named) {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && (stat.includes(`(${named})`) || fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(named))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function holdUntilKilled(lock, held) {
  lock.acquire();
  held.set();
  for (;;) nap(1000);
}

/** A Lock whose holder is SIGKILLed: until a waiter in another process takes it over. */
async function lockHolder() {
  const ctx = mp.getContext('fork');
  return samples(() => {
    const lock = new ctx.Lock();
    const held = new ctx.Event();
    const holder = new ctx.Process({ target: holdUntilKilled, args: [lock, held] });
    holder.start();
    held.wait();
    const started = performance.now();
    holder.kill();
    lock.acquire();
    const ms = performance.now() - started;
    lock.release();
    holder.join();
    return ms;
  });
}

/** A pool worker SIGKILLed mid-task: until the pool answers the next task. */
async function poolWorker(method) {
  const pool = new (mp.getContext(method).Pool)(1);
  try {
    pool.apply(() => 0);
    return await samples(async () => {
      const [pid] = pool._workerPids;
      const doomed = pool.applyAsync(() => nap(60_000));
      nap(20); // the task reaches the worker
      const started = performance.now();
      process.kill(pid, 'SIGKILL');
      await doomed.catch(() => undefined);
      await pool.applyAsync(() => 1);
      return performance.now() - started;
    });
  } finally {
    pool.terminate();
    pool.join();
  }
}

/** The forkserver SIGKILLed: until the next forkserver child's first message. */
async function forkserver() {
  const ctx = mp.getContext('forkserver');
  const queue = new ctx.Queue();
  const run = () => {
    const child = new ctx.Process({ target: (q) => q.put(1), args: [queue] });
    child.start();
    queue.get();
    child.join();
  };
  run();
  return samples(() => {
    const server = childNamed('forkserver.js');
    const started = performance.now();
    process.kill(server, 'SIGKILL');
    run();
    return performance.now() - started;
  });
}

/**
 * The resource tracker SIGKILLed: until the next segment exists and is tracked again. Measured in
 * a process of its own: what a killed tracker held leaks by design, and here that would be every
 * segment the bench made before (the Lock row's locks and events among them).
 */
function tracker() {
  const program = fileURLToPath(new URL('./children/tracker-kill.mjs', import.meta.url));
  const output = execFileSync(process.execPath, [program], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return summary(JSON.parse(output.trim().split('\n').pop()));
}

function waitAtBarrier(barrier) {
  barrier.wait();
}

/** A Barrier party SIGKILLed in wait() after the round tripped: until the next round passes. */
async function barrierParty() {
  const ctx = mp.getContext('fork');
  return samples(() => {
    const barrier = new ctx.Barrier(2);
    const victim = new ctx.Process({ target: (b) => { b.wait(); for (;;) nap(1000); }, args: [barrier] });
    victim.start();
    barrier.wait(); // the round trips; the victim now sits in its wait's way out
    const started = performance.now();
    victim.kill();
    victim.join();
    const next = new ctx.Process({ target: waitAtBarrier, args: [barrier] });
    next.start();
    barrier.wait();
    const ms = performance.now() - started;
    next.join();
    return ms;
  });
}

/** A manager's server SIGKILLed during a blocking call of a proxy: until that call fails. */
async function managerServer() {
  return samples(async () => {
    const manager = new mp.Manager();
    const event = manager.Event();
    const pending = event.waitAsync();
    const started = performance.now();
    process.kill(manager._process.pid, 'SIGKILL');
    await pending.catch(() => undefined);
    const ms = performance.now() - started;
    await manager.shutdownAsync().catch(() => undefined);
    return ms;
  });
}

export async function run() {
  return [
    row('Lock holder SIGKILLed → a waiter has it', await lockHolder()),
    row('pool worker SIGKILLed mid-task → next result, fork', await poolWorker('fork')),
    row('pool worker SIGKILLed mid-task → next result, forkserver', await poolWorker('forkserver')),
    row('pool worker SIGKILLed mid-task → next result, spawn', await poolWorker('spawn')),
    row('forkserver SIGKILLed → next child’s first message', await forkserver()),
    row('resource tracker SIGKILLed → next segment tracked', tracker()),
    row('Barrier party SIGKILLed on its way out → next round', await barrierParty()),
    row('manager server SIGKILLed → pending call fails', await managerServer()),
  ];
}
