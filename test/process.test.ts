// Process under the fork start method: real children, exit codes, signals, joins, names, handles.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { activeChildren, currentProcess, getContext, getAllStartMethods, Event, Lock, NotImplementedError, parentProcess, Semaphore } from '../lib/index';

const { Process } = getContext('fork');

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe('fork', () => {
  it('exit codes: 0, 1 on a throw, process.exit(n), -signal', () => {
    const ok = new Process({ target: () => undefined });
    ok.start();
    ok.join();
    expect(ok.exitcode).toBe(0);
    const threw = new Process({ target: () => { throw new Error('boom'); } });
    threw.start();
    threw.join();
    expect(threw.exitcode).toBe(1);
    const exited = new Process({ target: () => process.exit(7) });
    exited.start();
    exited.join();
    expect(exited.exitcode).toBe(7);
    expect(String(exited)).toMatch(/^<Process name='Process-\d+' pid=\d+ parent=\d+ stopped exitcode=7>$/);
  });

  it('terminate, kill and join timeouts', async () => {
    const p = new Process({ target: () => busy(10_000) });
    p.start();
    p.join(50);
    expect(p.exitcode).toBeNull();
    expect(p.isAlive()).toBe(true);
    p.terminate();
    p.join();
    expect(p.exitcode).toBe(-15);
    const q = new Process({ target: () => busy(10_000) });
    q.start();
    await q.joinAsync(20);
    expect(q.exitcode).toBeNull();
    q.kill();
    await q.joinAsync();
    expect(q.exitcode).toBe(-9);
    expect(activeChildren()).not.toContain(q);
  });

  it('names, current and parent process, subclassing', () => {
    const lock = new Lock();
    const seen = new Event();
    class Mine extends Process {
      override run(): void {
        if (currentProcess().name !== this.name || parentProcess()?.pid !== process.ppid) process.exit(3);
        const inner = new Process({ target: () => process.exit(/^Process-\d+:1$/.test(currentProcess().name) ? 0 : 4) });
        inner.start();
        inner.join();
        if (!lock.acquire(false)) process.exit(5);
        seen.set();
        process.exit(inner.exitcode ?? 6);
      }
    }
    const p = new Mine();
    expect(p.name).toMatch(/^Mine-\d+$/);
    p.start();
    p.join();
    expect(p.exitcode).toBe(0);
    expect(seen.isSet()).toBe(true);
  });

  it('a Semaphore passed in args is the same kernel object', () => {
    const sem = new Semaphore(0);
    const p = new Process({ target: (s: Semaphore) => s.release(), args: [sem] });
    p.start();
    expect(sem.acquire(true, 5000)).toBe(true);
    p.join();
  });

  it('a GC-heavy child completes', () => {
    const p = new Process({
      target: () => {
        let keep: unknown[] = [];
        for (let i = 0; i < 2_000_000; i++) {
          keep.push({ i, s: `x${i}` });
          if (keep.length > 400_000) keep = [];
        }
      },
    });
    p.start();
    p.join(20_000);
    expect(p.exitcode).toBe(0);
  });

  it('is refused inside a worker_threads Worker', () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker("const mp = require('${path.resolve('dist/index.js')}'); try { new (mp.getContext('fork').Process)({ target() {} }).start(); console.log('forked'); } catch (e) { console.log('refused:', e.message); }", { eval: true });
      w.on('exit', () => {});`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.stdout).toMatch(/refused: fork is not possible from a worker_threads Worker/);
  });

  it('spawn and forkserver say they are not built yet', () => {
    expect(getAllStartMethods()).toEqual(['forkserver', 'spawn', 'fork']);
    expect(() => new (getContext('spawn').Process)({ target() {} }).start()).toThrow(NotImplementedError);
    expect(() => new (getContext('forkserver').Process)({ target() {} }).start()).toThrow(/getContext\('fork'\)/);
  });
});

describe('fork beside async lock waits', () => {
  it('counts the lock watcher thread as known, and the child still uses the lock', async () => {
    const lock = new Lock();
    lock.acquire();
    const waiting = lock.acquireAsync(50); // contended: starts this lock's watcher thread
    expect(await waiting).toBe(false);
    lock.release();
    const child = new Process({ target: () => process.exit(lock.acquire(true, 5000) ? 0 : 9) });
    child.start();
    child.join();
    expect(child.exitcode).toBe(0);
    // The child exited holding it: the parent takes it over, as from any dead holder.
    const silence = (): void => undefined;
    process.on('warning', silence);
    try {
      expect(lock.acquire(false)).toBe(true);
      expect(lock.ownerDied).toBe(true);
    } finally {
      process.off('warning', silence);
    }
  });
});
