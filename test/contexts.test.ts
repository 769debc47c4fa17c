// Contexts carry the whole API (API.md §1), and a child knows how it was started: for every start
// method, a context's queues, locks, events, values and pipes work with its children; a Process
// child and a Pool worker report the method from getStartMethod(true); currentProcess() is the live
// Process object, in the main process and in every child. The package is the built one (dist/).
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
    const manager = new ctx.Manager();
    expect(manager.list([method])._getvalue()).toEqual([method]);
    manager.shutdown();
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

  it("currentProcess() in a child is the child's own, live Process", () => {
    const [ours, theirs] = mp.Pipe();
    class Probe extends ctx.Process<[Connection]> {
      override run(): void {
        const me = mp.currentProcess();
        const [conn] = this._args;
        conn.send({
          same: me === this,
          name: me.name,
          pid: me.pid,
          ident: me.ident,
          ownPid: process.pid,
          alive: me.isAlive(),
          exitcode: me.exitcode,
          daemon: me.daemon,
          authkey: me.authkey.toString('hex'),
          repr: String(me),
        });
      }
    }
    const child = new Probe({ args: [theirs], name: 'probe', daemon: true });
    child.start();
    expect(ours.poll(20_000)).toBe(true);
    const seen = ours.recv() as Record<string, unknown>;
    child.join(20_000);
    expect(child.exitcode).toBe(0);
    expect(seen).toEqual({
      same: true,
      name: 'probe',
      pid: child.pid,
      ident: child.pid,
      ownPid: child.pid,
      alive: true,
      exitcode: null,
      daemon: true,
      authkey: child.authkey.toString('hex'),
      repr: `<Probe name='probe' parent=${process.pid} started daemon>`,
    });
    ours.close();
    theirs.close();
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

describe('currentProcess() in the main process', () => {
  it("is CPython's live _MainProcess", () => {
    const me = mp.currentProcess();
    expect(mp.currentProcess()).toBe(me);
    expect(me.name).toBe('MainProcess');
    expect(me.isAlive()).toBe(true);
    expect(me.ident).toBe(process.pid);
    expect(me.pid).toBe(process.pid);
    expect(me.exitcode).toBeNull();
    expect(me.daemon).toBe(false);
    expect(me.authkey).toHaveLength(32);
    expect(String(me)).toBe("<_MainProcess name='MainProcess' parent=None started>");
    expect(mp.parentProcess()).toBeNull();
    expect(() => me.start()).toThrow(mp.ProcessError);
    expect(() => me.join()).toThrow(mp.ProcessError);
  });

  it('gives its authkey to the Processes it makes', () => {
    expect(new mp.Process().authkey.equals(mp.currentProcess().authkey)).toBe(true);
  });
});
