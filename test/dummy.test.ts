// multiprocess/dummy: ThreadPool with Pool's API on worker_threads, Process as a thread, and the
// package's locks shared between threads. The package is the BUILT one (dist/).
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const dummy = createRequire(import.meta.url)(path.join(root, 'dist/dummy/index.js')) as typeof import('../lib/dummy/index');
const { BrokenPoolError, getContext } = createRequire(import.meta.url)(path.join(root, 'dist/index.js')) as typeof import('../lib/index');
const { ThreadPool, Pool, Process, Lock, Event, Value, Queue, JoinableQueue, taskSignal } = dummy;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('ThreadPool', () => {
  const pool = new ThreadPool(2);

  it('is the dummy Pool, with map, starmap, apply, imap and closures', async () => {
    expect(Pool).toBe(ThreadPool);
    expect(pool.map((x: number) => ((y: number) => y ** 2)(x) + x, range(10))).toEqual([0, 2, 6, 12, 20, 30, 42, 56, 72, 90]);
    const k = 10;
    expect(await pool.mapAsync((x: number) => x * k, [1, 2])).toEqual([10, 20]);
    expect(pool.starmap((a: number, b: number) => a + b, [[1, 2], [3, 4]])).toEqual([3, 7]);
    expect(pool.apply((s: string) => s.repeat(2), ['ab'])).toBe('abab');
    expect([...pool.imap((x: number) => x + 1, range(5))]).toEqual([1, 2, 3, 4, 5]);
    const got: number[] = [];
    for await (const v of pool.imapUnordered((x: number) => x * 2, range(5))) got.push(v);
    expect(got.sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8]);
    // Typed arrays cross as bytes, a large one as a descriptor, in and out.
    const big = new Float64Array(2 * 1024 * 1024).fill(0.25);
    const [small, back] = pool.map((a: Int16Array | Float64Array) => a, [new Int16Array([-1, 2]), big], 1);
    expect(small).toEqual(new Int16Array([-1, 2]));
    expect(back).toBeInstanceOf(Float64Array);
    expect((back as Float64Array).length).toBe(big.length);
    expect((back as Float64Array)[big.length - 1]).toBe(0.25);
  });

  it('runs in threads of this process, awaits async functions, keeps error classes', async () => {
    expect(new Set(pool.map(() => process.pid, range(4), 1))).toEqual(new Set([process.pid]));
    const { isMainThread } = await import('node:worker_threads');
    expect(isMainThread).toBe(true);
    expect(pool.apply(() => require('node:worker_threads').isMainThread)).toBe(false);
    expect(await pool.applyAsync(async (x: number) => x + 1, [1])).toBe(2);
    expect(() => pool.apply(() => {
      throw new TypeError('thread bad');
    })).toThrow(TypeError);
  });

  it('a shared Value under a Lock is updated by every thread', () => {
    const lock = new Lock();
    const counter = new Value('i', 0, { lock: false });
    pool.map((args: [typeof lock, typeof counter]) => {
      const [l, c] = args;
      for (let i = 0; i < 100; i++) {
        l.acquire();
        c.value += 1;
        l.release();
      }
    }, range(8).map(() => [lock, counter] as [typeof lock, typeof counter]), 1);
    expect(counter.value).toBe(800);
  });

  it('a thread that exits fails its task with BrokenPoolError and is replaced', async () => {
    const died = pool.applyAsync(() => process.exit(4));
    await expect(died).rejects.toThrow(BrokenPoolError);
    expect(() => died.get()).toThrow(/thread.*exit code 4/);
    expect(pool.apply(() => 'next')).toBe('next');
  });

  it('abort of a running task: taskSignal(), then the thread is terminated and replaced', async () => {
    await using small = new ThreadPool({ processes: 1, cancelGraceMs: 30 });
    const controller = new AbortController();
    const [started, saw] = [new Event(), new Event()];
    const cooperative = small.applyAsync(async (s: InstanceType<typeof Event>, seen: InstanceType<typeof Event>) => {
      const signal = taskSignal();
      s.set();
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      seen.set();
    }, [started, saw], { signal: controller.signal });
    expect(await started.waitAsync(20_000)).toBe(true);
    controller.abort(new Error('enough'));
    await expect(cooperative).rejects.toThrow('enough');
    expect(await saw.waitAsync(20_000)).toBe(true);
    const stuck = small.applyAsync(() => {
      for (;;);
    }, [], { timeout: 50 });
    await expect(stuck).rejects.toThrow(/timeout/);
    expect(await small.applyAsync(() => 'replaced')).toBe('replaced');
  });

  it('close and join', () => {
    const result = pool.mapAsync((x: number) => x, range(3));
    pool.close();
    pool.join();
    expect(result.get()).toEqual([0, 1, 2]);
  });

  // As CPython's, join returns once the threads have exited: fork refuses while one is alive.
  it.each([
    ['close', 'join'],
    ['close', 'joinAsync'],
    ['terminate', 'join'],
    ['terminate', 'joinAsync'],
  ] as const)('%s, then %s: a fork Process started right after is never refused (20 times)', async (end, join) => {
    for (let i = 0; i < 20; i++) {
      const threads = new ThreadPool(2);
      expect(threads.map((x: number) => x * 2, [1, 2, 3])).toEqual([2, 4, 6]);
      threads[end]();
      if (join === 'join') threads.join();
      else await threads.joinAsync();
      const child = new (getContext('fork').Process)({ target: () => undefined });
      child.start();
      await child.joinAsync();
      expect(child.exitcode).toBe(0);
    }
  });
});

describe('dummy Process and the rest of the module', () => {
  it('Process runs its target in a thread; join and joinAsync', async () => {
    const lock = new Lock();
    const seen = new Value('i', 0);
    const p = new Process({ target: (v: typeof seen, l: typeof lock) => {
      l.acquire();
      v.value = 42;
      l.release();
    }, args: [seen, lock] });
    expect(p.exitcode).toBeNull();
    p.start();
    p.join();
    expect(seen.value).toBe(42);
    expect(p.isAlive()).toBe(false);
    expect(p.exitcode).toBe(0);
    const q = new Process({ target: async () => new Promise((resolve) => setTimeout(resolve, 5)) });
    q.start();
    await expect(q.joinAsync(null, { signal: AbortSignal.abort('no wait') })).rejects.toBe('no wait');
    await q.joinAsync();
    expect(String(q)).toMatch(/^<DummyProcess\(Thread-\d+, stopped\)>$/);
  });

  // CPython's dummy Process is a thread, and join joins it: fork refuses while a thread is alive.
  it.each(['join', 'joinAsync'] as const)('start, then %s: a fork Process started right after is never refused (20 times)', async (join) => {
    for (let i = 0; i < 20; i++) {
      const thread = new Process({ target: async (n: number) => n * 2, args: [i] });
      thread.start();
      if (join === 'join') thread.join();
      else await thread.joinAsync();
      expect(thread.isAlive()).toBe(false);
      const child = new (getContext('fork').Process)({ target: () => undefined });
      child.start();
      await child.joinAsync();
      expect(child.exitcode).toBe(0);
    }
  });

  it('the thread ends when its target returns, even if the target left a timer behind', async () => {
    const thread = new Process({ target: () => void setInterval(() => undefined, 1000) });
    thread.start();
    thread.join();
    expect(thread.isAlive()).toBe(false);
    const child = new (getContext('fork').Process)({ target: () => undefined });
    child.start();
    await child.joinAsync();
    expect(child.exitcode).toBe(0);
  });

  it('a target that calls process.exit ends its thread, and a blocking join sees it', () => {
    const thread = new Process({ target: () => process.exit(3) });
    thread.start();
    thread.join(30_000);
    expect(thread.isAlive()).toBe(false);
    expect(thread.exitcode).toBe(0);
  });

  it.each(['join', 'joinAsync'] as const)('%s(timeout) on a running target returns after the timeout, the thread still alive', async (join) => {
    const release = new Event();
    const thread = new Process({ target: (e: typeof release) => void e.wait(), args: [release] });
    thread.start();
    if (join === 'join') thread.join(50);
    else await thread.joinAsync(50);
    expect(thread.isAlive()).toBe(true);
    expect(thread.exitcode).toBeNull();
    release.set();
    if (join === 'join') thread.join();
    else await thread.joinAsync();
    expect(thread.isAlive()).toBe(false);
    expect(thread.exitcode).toBe(0);
  });

  it('Queue carries items between threads in per-producer order, exactly once; JoinableQueue joins', async () => {
    const q = new Queue();
    const producers = [0, 1].map((id) => new Process({ target: (out: typeof q, n: number) => {
      for (let i = 0; i < 500; i++) out.put([n, i]);
    }, args: [q, id] }));
    for (const p of producers) p.start();
    const seen: number[][] = [[], []];
    for (let i = 0; i < 1000; i++) {
      const [n, k] = (await q.getAsync(10_000)) as [number, number];
      seen[n]!.push(k);
    }
    for (const p of producers) await p.joinAsync();
    expect(seen).toEqual([[...Array(500).keys()], [...Array(500).keys()]]);
    expect(q.empty()).toBe(true);

    const tasks = new JoinableQueue();
    for (let i = 0; i < 3; i++) tasks.put(i);
    const worker = new Process({ target: (input: typeof tasks) => {
      for (let i = 0; i < 3; i++) {
        input.get();
        input.taskDone();
      }
    }, args: [tasks] });
    worker.start();
    expect(await tasks.joinAsync(10_000)).toBe(true);
    await worker.joinAsync();
    q.close();
    tasks.close();
  });
});
