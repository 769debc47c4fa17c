// Contexts carry the whole API (API.md §1), and a child knows how it was started: for every start
// method, a context's queues, locks, events, values and pipes work with its children; a Process
// child and a Pool worker report the method from getStartMethod(true). The package is the built one (dist/).
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const mp = createRequire(import.meta.url)(path.join(root, 'dist/index.js')) as typeof import('../lib/index');
type Connection = ReturnType<typeof mp.Pipe>[0];

describe.each(['fork', 'spawn', 'forkserver'] as const)('%s context', (method) => {
  const ctx = mp.getContext(method);

  it("makes queues, locks, events, values and pipes that its children share", () => {
    const queue = new ctx.Queue();
    const lock = new ctx.Lock();
    const done = new ctx.Event();
    const counter = new ctx.Value('i', 0);
    const [ours, theirs] = ctx.Pipe();
    const child = new ctx.Process({
      target: (q: typeof queue, l: typeof lock, ev: typeof done, v: typeof counter, conn: Connection) => {
        l.acquire();
        v.value += 41;
        l.release();
        q.put('queued');
        conn.send(v.value);
        ev.set();
      },
      args: [queue, lock, done, counter, theirs],
    });
    counter.value = 1;
    child.start();
    expect(queue.get(true, 20_000)).toBe('queued');
    expect(ours.recv()).toBe(42);
    expect(done.wait(20_000)).toBe(true);
    child.join(20_000);
    expect(child.exitcode).toBe(0);
    expect(queue).toBeInstanceOf(mp.Queue);
    expect(lock).toBeInstanceOf(mp.Lock);
    expect(ctx.cpuCount()).toBe(mp.cpuCount());
    queue.close();
    ours.close();
    theirs.close();
  });

  it("is CPython's concrete context: getContext() is itself, its start method is fixed", () => {
    expect(ctx.getContext()).toBe(ctx);
    expect(ctx.getContext(null)).toBe(ctx);
    expect(ctx.getContext('spawn')).toBe(mp.getContext('spawn'));
    expect(ctx.getStartMethod()).toBe(method);
    expect(ctx.getStartMethod(true)).toBe(method);
    expect(() => ctx.setStartMethod('spawn')).toThrow(mp.ProcessError);
    expect(() => ctx.setStartMethod(method, true)).toThrow(/cannot set start method of concrete context/);
    expect(() => ctx.getContext('nope' as 'spawn')).toThrow(RangeError);
    expect(() => new ctx.Manager()).toThrow(mp.NotImplementedError);
  });

  it('a Process child reports the start method it was started with', () => {
    const [ours, theirs] = mp.Pipe();
    const child = new ctx.Process({ target: (conn: Connection) => conn.send([mp.getStartMethod(true), mp.getStartMethod()]), args: [theirs] });
    child.start();
    expect(ours.poll(20_000)).toBe(true);
    expect(ours.recv()).toEqual([method, method]);
    child.join(20_000);
    expect(child.exitcode).toBe(0);
    ours.close();
    theirs.close();
  });

  it('a Pool worker reports the start method it was started with', async () => {
    const pool = new ctx.Pool(1);
    try {
      expect(await pool.applyAsync(() => mp.getStartMethod(true))).toBe(method);
      expect(await pool.applyAsync(() => mp.getContext().getStartMethod(true))).toBe(method);
    } finally {
      pool.terminate();
      await pool.joinAsync();
    }
  });
});

describe('the default context', () => {
  const ctx = mp.getContext();

  it('follows the package start method and sets it through setStartMethod', () => {
    expect(ctx.getContext()).toBe(ctx);
    expect(ctx.getStartMethod()).toBe(mp.getStartMethod());
    expect(ctx.getContext('fork')).toBe(mp.getContext('fork'));
    expect(ctx.Process).toBe(mp.Process);
    expect(() => ctx.setStartMethod('spawn')).toThrow(/already been set/);
  });

  it('a child of the root Process reports the default start method', () => {
    const [ours, theirs] = mp.Pipe();
    const child = new mp.Process({ target: (conn: Connection) => conn.send(mp.getStartMethod(true)), args: [theirs] });
    child.start();
    expect(ours.poll(20_000)).toBe(true);
    expect(ours.recv()).toBe(mp.getStartMethod());
    child.join(20_000);
    ours.close();
    theirs.close();
  });
});
