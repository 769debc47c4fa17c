// Managers under every start method: SyncManager types used from children, nested proxies, reprs,
// waits served while other clients go on, Async twins, registered classes, reference counting (also
// when a holder is SIGKILLed), a SIGKILLed server, and a remote manager over TCP with right and wrong
// keys from a separate program. The package is the BUILT one (dist/), as a user loads it.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { inspect, promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const load = createRequire(import.meta.url);
const mp = load(path.join(root, 'dist/index.js')) as typeof import('../lib/index');
const managers = load(path.join(root, 'dist/managers/index.js')) as typeof import('../lib/managers/index');
const serializer = load(path.join(root, 'dist/serializer/index.js')) as typeof import('../lib/serializer/index');
type Method = 'fork' | 'spawn' | 'forkserver';
type SyncManager = import('../lib/managers/index').SyncManager;

const open: SyncManager[] = [];
afterEach(() => {
  for (const manager of open.splice(0)) manager.shutdown();
});

describe.each(mp.getAllStartMethods() as Method[])('Manager under %s', (method) => {
  const ctx = mp.getContext(method);
  const start = (): SyncManager => {
    const manager = new ctx.Manager();
    open.push(manager);
    return manager;
  };

  it("runs the seed's example: a list reversed in the server, printed on one line", () => {
    const manager = start();
    const l = manager.list(Array.from({ length: 10 }, (_, i) => i));
    l.reverse();
    expect(String(l)).toBe('[ 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 ]');
    expect(inspect(l)).toMatch(/^<ListProxy object, typeid 'list' at 0x[0-9a-f]+>$/);
    expect([l.length, l[0], l[9], [...l].at(-1)]).toEqual([10, 9, 0, 0]);
    l[0] = 'nine';
    expect(l.pop(0)).toBe('nine');
    expect(() => l[50]).toThrow(RangeError);
  });

  it('list, dict, Namespace, Value and Array are shared with children, which change them', () => {
    const manager = start();
    const l = manager.list<number>();
    const d = manager.dict<string, number>();
    const ns = manager.Namespace({ greeting: 'hi' });
    const v = manager.Value('i', 1);
    const a = manager.Array('d', [0, 0]);
    const child = new ctx.Process({
      target: (l, d, ns, v, a) => {
        l.append(1);
        l.extend([2, 3]);
        d.set('x', 10);
        d.y = 20;
        ns.answer = `${ns.greeting} 42`;
        v.value = v.value + 1;
        a[1] = 0.5;
      },
      args: [l, d, ns, v, a] as const,
    });
    child.start();
    child.join();
    expect(child.exitcode).toBe(0);
    expect(l._getvalue()).toEqual([1, 2, 3]);
    expect([...d.items()]).toEqual([['x', 10], ['y', 20]]);
    expect([d.size, d.get('nope', -1), d.has('x'), d.y]).toEqual([2, -1, true, 20]);
    expect([ns.answer, String(ns)]).toEqual(['hi 42', "Namespace(greeting='hi', answer='hi 42')"]);
    expect([v.value, a._getvalue()]).toEqual([2, [0, 0.5]]);
  });

  it('nested proxies: a list stored in a dict is the same list, from any process', () => {
    const manager = start();
    const d = manager.dict();
    const inner = manager.list([1]);
    d.set('inner', inner);
    const again = d.get('inner') as typeof inner;
    again.append(2);
    const child = new ctx.Process({ target: (d) => (d.get('inner') as { append(x: number): void }).append(3), args: [d] });
    child.start();
    child.join();
    expect(inner._getvalue()).toEqual([1, 2, 3]);
  });

  it('a waiting call never stalls other clients; Lock, Event, Queue and Barrier work across processes', async () => {
    const manager = start();
    const lock = manager.Lock();
    const event = manager.Event();
    const q = manager.Queue();
    const barrier = manager.Barrier(2);
    lock.acquire();
    const child = new ctx.Process({
      target: (lock, event, q, barrier) => {
        q.put('waiting');
        // Blocks in the server until the parent releases: other clients are served meanwhile.
        lock.acquire();
        q.put('got the lock');
        lock.release();
        event.wait();
        q.put(barrier.wait(10_000));
      },
      args: [lock, event, q, barrier] as const,
    });
    child.start();
    expect(await q.getAsync(10_000)).toBe('waiting');
    expect(q.empty()).toBe(true);
    lock.release();
    expect(q.get(true, 10_000)).toBe('got the lock');
    event.set();
    const mine = await barrier.waitAsync(10_000);
    expect([mine, q.get(true, 10_000)].sort()).toEqual([0, 1]);
    await child.joinAsync();
    expect(child.exitcode).toBe(0);
  });

  it('a Lock may be released by another client; an RLock only by its owner, who may re-enter it', () => {
    const manager = start();
    const lock = manager.Lock();
    const rlock = manager.RLock();
    expect([rlock.acquire(), rlock.acquire()]).toEqual([true, true]);
    lock.acquire();
    const child = new ctx.Process({
      target: (lock, rlock) => {
        lock.release();
        try {
          rlock.release();
        } catch (error) {
          process.exitCode = (error as Error).name === 'InvalidStateError' ? 7 : 1;
          return;
        }
      },
      args: [lock, rlock] as const,
    });
    child.start();
    child.join();
    expect(child.exitcode).toBe(7);
    expect(lock.acquire(false)).toBe(true);
    rlock.release();
    rlock.release();
    expect(() => rlock.release()).toThrow(/not owned/);
  });

  it('Async twins: timeouts settle as the blocking forms; an aborted wait takes nothing', async () => {
    const manager = start();
    const q = manager.Queue();
    const event = manager.Event();
    const cond = manager.Condition();
    await expect(q.getAsync(20)).rejects.toBeInstanceOf(mp.Empty);
    expect(() => q.get(true, 20)).toThrow(mp.Empty);
    expect(await event.waitAsync(20)).toBe(false);
    const controller = new AbortController();
    const aborted = q.getAsync(null, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    q.put('kept');
    expect(q.qsize()).toBe(1);
    cond.acquire();
    expect(await cond.waitAsync(20)).toBe(false);
    cond.notifyAll();
    cond.release();
    const d = manager.dict({ k: 'v' });
    expect(await d.getAsync('k')).toBe('v');
    await d.setAsync('k', 'w');
    expect(await d.sizeAsync()).toBe(1);
    expect(d.k).toBe('w');
  });

  it('errors raised by the referent arrive as their class, with the server-side stack', () => {
    const manager = start();
    const l = manager.list();
    const error = (() => {
      try {
        l.pop();
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error).toBeInstanceOf(RangeError);
    expect(error?.message).toMatch(/pop from empty list/);
    expect(error?.stack).toMatch(/referents/);
  });

  it('reference counting: a referent lives while a proxy exists anywhere, also past a SIGKILLed holder', () => {
    const manager = start();
    const base = manager._numberOfObjects();
    const l = manager.list([1]);
    expect(manager._numberOfObjects()).toBe(base + 1);
    const ready = manager.Event();
    const child = new ctx.Process({
      target: (l, ready) => {
        l.append(2);
        ready.set();
        for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
      },
      args: [l, ready] as const,
    });
    child.start();
    expect(ready.wait(20_000)).toBe(true);
    l._release();
    ready._release();
    // The child still holds both.
    expect(manager._numberOfObjects()).toBe(base + 2);
    child.kill();
    child.join();
    const deadline = Date.now() + 20_000;
    while (manager._numberOfObjects() !== base && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    expect(manager._numberOfObjects()).toBe(base);
  });

  it('manager.Pool(): apply, map, starmap and their Async results, from here and from a child, while the server serves others', async () => {
    const manager = start();
    const pool = manager.Pool(2);
    expect(inspect(pool)).toMatch(/^<PoolProxy object, typeid 'Pool' at 0x/);
    expect(pool.apply((a: number, b: number) => a + b, [1, 2])).toBe(3);
    expect(pool.map((x: number) => x * x, [1, 2, 3])).toEqual([1, 4, 9]);
    expect(pool.starmap((a: number, b: number) => a * b, [[2, 3], [4, 5]])).toEqual([6, 20]);
    const squares = pool.mapAsync((x: number) => x * x, [4, 5]);
    expect(await squares).toEqual([16, 25]);
    expect([squares.ready(), squares.successful(), squares.get()]).toEqual([true, true, [16, 25]]);
    // A task that waits on an event: the server answers other requests meanwhile.
    const gate = manager.Event();
    const waiting = pool.applyAsync((gate: { wait(): boolean }) => gate.wait() && 'through', [gate]);
    expect(waiting.wait(0)).toBe(false);
    const d = manager.dict();
    await d.setAsync('k', 1);
    const child = new ctx.Process({ target: (pool, d) => d.set('fromChild', pool.apply((x: number) => x + 1, [41])), args: [pool, d] as const });
    child.start();
    child.join();
    expect(child.exitcode).toBe(0);
    expect(d.get('fromChild')).toBe(42);
    gate.set();
    expect(await waiting.getAsync()).toBe('through');
    expect(() => pool.apply(() => {
      throw new RangeError('from the task');
    })).toThrow(RangeError);
    const failed = pool.applyAsync(() => {
      throw new TypeError('async task');
    });
    await expect(failed.getAsync()).rejects.toThrow(TypeError);
    expect(failed.successful()).toBe(false);
    expect(() => pool.join()).toThrow(/close\(\)|running/);
    pool.close();
    await pool.joinAsync();
    expect(() => pool.apply(() => 1)).toThrow(/not running|closed/i);
  });

  it('manager.Pool(): a timed get that runs out throws TimeoutError; using terminates it', () => {
    const manager = start();
    const gate = manager.Event();
    {
      using pool = manager.Pool(1);
      const slow = pool.applyAsync((gate: { wait(): boolean }) => gate.wait(), [gate]);
      expect(() => slow.get(30)).toThrow(expect.objectContaining({ name: 'TimeoutError' }));
      expect(slow.wait(10)).toBe(false);
    }
    gate.set();
  });

  it('a proxy carries the authkey only to a child being started; one sent to a running child uses that child\'s own key', () => {
    const manager = start();
    const l = manager.list<number>([1]);
    expect(Buffer.from(serializer.dumps(l)).includes(manager.authkey)).toBe(false);
    const [mine, theirs] = mp.Pipe();
    const child = new ctx.Process({ target: (conn) => (conn.recv() as { append(x: number): void }).append(2), args: [theirs] as const });
    child.start();
    theirs.close();
    mine.send(l);
    child.join();
    mine.close();
    expect(child.exitcode).toBe(0);
    expect(l._getvalue()).toEqual([1, 2]);
  });

  it('a peer that connects and says nothing stalls no one: old and new clients are served meanwhile', async () => {
    const manager = start();
    const d = manager.dict();
    const silent = createConnection(manager.address as string);
    await once(silent, 'connect');
    // The server has sent it the challenge: it is in the handshake, and will stay there.
    await once(silent, 'data');
    const child = new ctx.Process({ target: (d) => d.set('fromChild', true), args: [d] });
    child.start();
    await child.joinAsync(20_000);
    if (child.exitcode === null) child.kill();
    expect(child.exitcode).toBe(0);
    await d.setAsync('here', 1);
    expect([d.get('fromChild'), d.get('here')]).toEqual([true, 1]);
    silent.destroy();
  });

  it('a SIGKILLed server makes pending and later calls fail at once, sync and async', async () => {
    const manager = start();
    const q = manager.Queue();
    const pending = q.getAsync();
    const serverPid = (manager as unknown as { _process: { pid: number } })._process.pid;
    process.kill(serverPid, 'SIGKILL');
    await expect(pending).rejects.toThrow(/manager server .* is gone/);
    expect(() => q.put(1)).toThrow(/is gone/);
    await expect(q.putAsync(1)).rejects.toThrow(/is gone/);
  });
});

describe('BaseManager with a registered class', () => {
  it("serves it with exposed methods and methodToTypeid (CPython's ex_newtype)", () => {
    class Counter {
      n = 0;
      add(k: number): number {
        return (this.n += k);
      }
      _hidden(): void {}
      async later(): Promise<number> {
        return this.n;
      }
      *range(): Generator<number> {
        for (let i = 0; i < this.n; i++) yield i;
      }
    }
    class MyManager extends managers.BaseManager {}
    MyManager.register('Counter', Counter, { methodToTypeid: { range: 'Generator' } });
    MyManager.register('Generator', null, { exposed: ['next'], createMethod: false });
    const manager = new MyManager();
    manager.start();
    open.push(manager as never);
    const counter = (manager as unknown as { Counter(): Record<string, (...args: unknown[]) => unknown> }).Counter();
    expect(inspect(counter)).toMatch(/^<AutoProxy\[Counter\] object, typeid 'Counter' at 0x[0-9a-f]+>$/);
    expect(counter.add!(3)).toBe(3);
    expect('_hidden' in counter).toBe(false);
    const generator = counter.range!() as { next(): IteratorResult<number> };
    expect([generator.next(), generator.next(), generator.next(), generator.next()].map((step) => step.value)).toEqual([0, 1, 2, undefined]);
    // The server's loop is synchronous: a method's Promise is refused, saying why, not lost.
    expect(() => counter.later!()).toThrow(new TypeError("Counter.later() returned a Promise: the manager's server cannot await it (it serves from a synchronous loop, as a fork-started server has no event loop to return to); make later return its value"));
  });
});

describe('a remote manager over TCP, used by a separate program', () => {
  it('serves the right key and refuses the wrong one with AuthenticationError', async () => {
    class QueueManager extends managers.BaseManager {}
    QueueManager.register('getQueue', () => (globalThis as { __q?: unknown }).__q ?? ((globalThis as { __q?: unknown }).__q = []));
    const authkey = Buffer.from('abracadabra');
    const manager = new QueueManager({ address: ['127.0.0.1', 0], authkey });
    manager.start();
    open.push(manager as never);
    const [host, port] = manager.address as [string, number];
    const program = `
      const { BaseManager } = require(${JSON.stringify(path.join(root, 'dist/managers/index.js'))});
      class QueueManager extends BaseManager {}
      QueueManager.register('getQueue');
      const m = new QueueManager({ address: [${JSON.stringify(host)}, ${port}], authkey: Buffer.from(process.argv[1]) });
      try {
        m.connect();
        const q = m.getQueue();
        q.push('from afar');
        console.log(JSON.stringify(q._getvalue()));
      } catch (error) {
        console.log(error.name);
      }
    `;
    const run = promisify(execFile);
    const right = await run(process.execPath, ['-e', program, 'abracadabra']);
    expect(right.stdout.trim()).toBe('["from afar"]');
    const wrong = await run(process.execPath, ['-e', program, 'hocus-pocus']);
    expect(wrong.stdout.trim()).toBe('AuthenticationError');
  });
});

// Two network namespaces joined by a veth pair: the server's program in one, its clients' in the
// other, reaching it only by its address on that link (needs root and `ip netns`).
const netnsSkip = ((): string | null => {
  if (process.getuid?.() !== 0) return 'needs root to make network namespaces';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'ip netns is not available here';
  }
})();

describe.skipIf(netnsSkip !== null)(`a remote manager across two network namespaces${netnsSkip ? ` (skipped: ${netnsSkip})` : ''}`, () => {
  const tag = `mpjs${process.pid % 100000}`;
  const [serverNs, clientNs] = [`${tag}-srv`, `${tag}-cli`];
  const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'pipe' });
  let server: ChildProcess | null = null;

  beforeAll(() => {
    ip('netns', 'add', serverNs);
    ip('netns', 'add', clientNs);
    ip('link', 'add', `${tag}a`, 'type', 'veth', 'peer', 'name', `${tag}b`);
    ip('link', 'set', `${tag}a`, 'netns', serverNs);
    ip('link', 'set', `${tag}b`, 'netns', clientNs);
    ip('-n', serverNs, 'addr', 'add', '10.231.0.1/24', 'dev', `${tag}a`);
    ip('-n', clientNs, 'addr', 'add', '10.231.0.2/24', 'dev', `${tag}b`);
    for (const [ns, dev] of [[serverNs, `${tag}a`], [clientNs, `${tag}b`]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  });

  afterAll(() => {
    server?.kill('SIGKILL');
    // Deleting a namespace deletes the veth end in it, and so the pair.
    for (const ns of [serverNs, clientNs]) execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  });

  it("serves CPython's shared-queue example to the other namespace; a wrong key gets AuthenticationError", async () => {
    const managersPath = JSON.stringify(path.join(root, 'dist/managers/index.js'));
    const serverProgram = `
      const { BaseManager } = require(${managersPath});
      const mailbox = [];
      class QueueManager extends BaseManager {}
      QueueManager.register('getQueue', () => ({ put: (x) => void mailbox.push(x), get: () => mailbox.shift(), size: () => mailbox.length }));
      const s = new QueueManager({ address: ['10.231.0.1', 0], authkey: Buffer.from('abracadabra') }).getServer();
      console.log(JSON.stringify(s.address));
      s.serveForever();
    `;
    server = spawn('ip', ['netns', 'exec', serverNs, process.execPath, '-e', serverProgram], { stdio: ['ignore', 'pipe', 'inherit'] });
    const address = JSON.parse(await new Promise<string>((resolve) => createInterface({ input: server!.stdout! }).once('line', resolve))) as [string, number];
    expect(address[0]).toBe('10.231.0.1');
    const clientProgram = `
      const { BaseManager } = require(${managersPath});
      class QueueManager extends BaseManager {}
      QueueManager.register('getQueue');
      const m = new QueueManager({ address: ${JSON.stringify(address)}, authkey: Buffer.from(process.argv[1]) });
      try {
        m.connect();
        const q = m.getQueue();
        if (process.argv[2]) q.put(process.argv[2]);
        else console.log(JSON.stringify([q.size(), q.get()]));
      } catch (error) {
        console.log(error.name);
      }
    `;
    const inClientNs = (...args: string[]) => promisify(execFile)('ip', ['netns', 'exec', clientNs, process.execPath, '-e', clientProgram, ...args]);
    await inClientNs('abracadabra', 'hello across namespaces');
    expect((await inClientNs('abracadabra')).stdout.trim()).toBe('[1,"hello across namespaces"]');
    expect((await inClientNs('hocus-pocus')).stdout.trim()).toBe('AuthenticationError');
  });
});
