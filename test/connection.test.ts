import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';

import { BufferTooShort, EOFError, Pipe } from '../lib/index';
import { Connection } from '../lib/connection';
import { native } from '../lib/native';
import { child } from './helpers/child';

// Processes use the BUILT package (dist/), as a user loads it.
const mp = createRequire(import.meta.url)(path.resolve(__dirname, '../dist/index.js')) as typeof import('../lib/index');
type Method = 'fork' | 'spawn' | 'forkserver';

const open: Connection[] = [];
function pipe(duplex = true): [Connection, Connection] {
  const pair = Pipe(duplex);
  open.push(...pair);
  return pair;
}
afterEach(() => {
  for (const connection of open.splice(0)) connection.close();
});

describe('Pipe and Connection bytes', () => {
  it('moves whole messages both ways, with offsets and sizes', () => {
    const [a, b] = pipe();
    a.sendBytes(Buffer.from('hello'));
    a.sendBytes(new Uint8Array([1, 2, 3, 4, 5]), 1, 3);
    a.sendBytes(new Float64Array([1.5]));
    a.sendBytes(Buffer.alloc(0));
    expect(b.poll()).toBe(true);
    expect(b.recvBytes().toString()).toBe('hello');
    expect([...b.recvBytes()]).toEqual([2, 3, 4]);
    expect(b.recvBytes().readDoubleLE(0)).toBe(1.5);
    expect(b.recvBytes().length).toBe(0);
    expect(b.poll()).toBe(false);
    expect(b.poll(20)).toBe(false);
    b.sendBytes(Buffer.from('back'));
    expect(a.recvBytes().toString()).toBe('back');
  });

  it('checks offsets, sizes and types like CPython', () => {
    const [a] = pipe();
    const bytes = Buffer.from('abc');
    expect(() => a.sendBytes(bytes, -1)).toThrow(/offset is negative/);
    expect(() => a.sendBytes(bytes, 4)).toThrow(/buffer length < offset/);
    expect(() => a.sendBytes(bytes, 1, -1)).toThrow(/size is negative/);
    expect(() => a.sendBytes(bytes, 1, 3)).toThrow(/buffer length < offset \+ size/);
    expect(() => a.sendBytes('abc' as unknown as Buffer)).toThrow(TypeError);
    expect(() => a.recvBytes(-1)).toThrow(/negative maxLength/);
    expect(() => new Connection(-1)).toThrow(TypeError);
  });

  it('recvBytesInto fills at an offset, and BufferTooShort carries the whole message', () => {
    const [a, b] = pipe();
    const target = Buffer.alloc(8, 0);
    a.sendBytes(Buffer.from('xyz'));
    expect(b.recvBytesInto(target, 2)).toBe(3);
    expect(target.toString('latin1', 2, 5)).toBe('xyz');
    a.sendBytes(Buffer.from('much too long'));
    let caught: unknown;
    try {
      b.recvBytesInto(target, 2);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BufferTooShort);
    expect(Buffer.from((caught as BufferTooShort).data).toString()).toBe('much too long');
    a.sendBytes(Buffer.from('next'));
    expect(b.recvBytes().toString()).toBe('next');
  });

  it('recvBytesIntoAsync waits on the event loop, fills at an offset, and BufferTooShort carries the whole message', async () => {
    const [a, b] = pipe();
    const target = Buffer.alloc(8, 0);
    const pending = b.recvBytesIntoAsync(target, 2);
    a.sendBytes(Buffer.from('xyz'));
    expect(await pending).toBe(3);
    expect(target.toString('latin1', 2, 5)).toBe('xyz');
    a.sendBytes(Buffer.from('much too long'));
    const caught = await b.recvBytesIntoAsync(target, 2).catch((error: unknown) => error);
    expect(caught).toBeInstanceOf(BufferTooShort);
    expect(Buffer.from((caught as BufferTooShort).data).toString()).toBe('much too long');
    await expect(b.recvBytesIntoAsync(target, 9)).rejects.toThrow(RangeError);
    const controller = new AbortController();
    const aborted = b.recvBytesIntoAsync(target, 0, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    a.close();
    await expect(b.recvBytesIntoAsync(target)).rejects.toBeInstanceOf(EOFError);
  });

  it('a message over maxLength closes the connection, as CPython does', () => {
    const [a, b] = pipe();
    a.sendBytes(Buffer.alloc(100));
    expect(() => b.recvBytes(10)).toThrow(/bad message length/);
    expect(b.closed).toBe(true);
    expect(() => b.recvBytes()).toThrow(/closed/);
  });

  it("a peer's header announcing a message too large to allocate fails the read; it never aborts the process", async () => {
    // A long header (-1, then a 64-bit length) of 2^50 bytes, written by hand as a hostile peer would.
    const header = Buffer.alloc(12);
    header.writeInt32BE(-1, 0);
    header.writeBigUInt64BE(1n << 50n, 4);
    const [a, b] = pipe();
    fs.writeSync(a.fileno(), header);
    const tooLarge = { code: 'ERR_MP_BAD_MESSAGE_LENGTH', message: expect.stringMatching(/^bad message length: 1125899906842624 bytes \(more than (a Buffer can hold|this process can allocate)/) };
    await expect(b.recvBytesAsync()).rejects.toMatchObject(tooLarge);
    const [c, d] = pipe();
    fs.writeSync(c.fileno(), header);
    expect(() => d.recvBytes()).toThrow(expect.objectContaining(tooLarge));
  });

  it('raises EOFError once the peer closed and nothing is left, blocking and async', async () => {
    const [a, b] = pipe();
    a.sendBytes(Buffer.from('last'));
    a.close();
    expect(b.poll()).toBe(true);
    expect(b.recvBytes().toString()).toBe('last');
    expect(() => b.recvBytes()).toThrow(EOFError);
    await expect(b.recvBytesAsync()).rejects.toBeInstanceOf(EOFError);
    expect(() => a.sendBytes(Buffer.from('x'))).toThrow(/closed/);
    expect(a.closed).toBe(true);
  });

  it('a simplex pipe reads at one end and writes at the other', () => {
    const [reader, writer] = pipe(false);
    expect(reader.readable && !reader.writable && writer.writable && !writer.readable).toBe(true);
    writer.sendBytes(Buffer.from('one way'));
    expect(reader.recvBytes().toString()).toBe('one way');
    expect(() => reader.sendBytes(Buffer.from('x'))).toThrow(/read-only/);
    expect(() => writer.recvBytes()).toThrow(/write-only/);
  });

  it('recvBytesAsync and pollAsync wait on the event loop; abort keeps the message for the next reader', async () => {
    const [a, b] = pipe();
    expect(await b.pollAsync()).toBe(false);
    expect(await b.pollAsync(20)).toBe(false);
    const polled = b.pollAsync(10_000);
    a.sendBytes(Buffer.from('ping'));
    expect(await polled).toBe(true);
    expect((await b.recvBytesAsync()).toString()).toBe('ping');
    const controller = new AbortController();
    const first = b.recvBytesAsync({ signal: controller.signal });
    const second = b.recvBytesAsync();
    controller.abort(new Error('gave up'));
    await expect(first).rejects.toThrow('gave up');
    a.sendBytes(Buffer.from('kept'));
    expect((await second).toString()).toBe('kept');
  }, 20_000);

  it('moves 16 MiB and 256 MiB messages between processes, blocking and async', async () => {
    const [mine, theirs] = pipe();
    const c = child({}, `
      const conn = new connection.Connection(4);
      const sizes = [16 << 20, 256 << 20];
      for (const size of sizes) {
        const bytes = Buffer.allocUnsafe(size);
        for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) & 255;
        conn.sendBytes(bytes);
      }
      const echoed = conn.recvBytes();
      return echoed.length;
    `, { fds: [theirs.fileno()] });
    theirs.close();
    const check = (frame: Buffer, size: number): void => {
      expect(frame.length).toBe(size);
      for (let i = 0; i < size; i += 1 << 20) expect(frame[i]).toBe((i / 4096) & 255);
    };
    check(mine.recvBytes(), 16 << 20);
    let turns = 0;
    const ticker = setInterval(() => turns++, 1);
    const big = await mine.recvBytesAsync();
    clearInterval(ticker);
    check(big, 256 << 20);
    expect(turns).toBeGreaterThan(0); // the loop kept turning during the transfer
    mine.sendBytes(big.subarray(0, 1 << 20));
    expect(await c.result()).toBe(1 << 20);
  }, 60_000);
});

describe('FdWatcher armed to repeat (the pool reads its sockets so)', () => {
  it('delivers every frame from one readFrame, also frames sent from its callback, then EOF once', async () => {
    const [ours, theirs] = native.socketPair();
    const got: Array<string | null> = [];
    const ended = new Promise<void>((resolve) => {
      const watcher = new native.FdWatcher(ours, (error, frame) => {
        expect(error).toBeNull();
        got.push(frame === null ? null : String(frame));
        if (frame === null) {
          watcher.close();
          return resolve();
        }
        if (got.length === 2) native.sendFrame(theirs, Buffer.from('from the callback'));
        if (got.length === 3) native.closeFd(theirs);
      });
      watcher.readFrame(-1, false, true);
    });
    native.sendFrame(theirs, Buffer.from('one'));
    native.sendFrame(theirs, Buffer.from('two'));
    await ended;
    native.closeFd(ours);
    expect(got).toEqual(['one', 'two', 'from the callback', null]);
  });

  it('waitReadable(true) tells again while data waits, until cancel()', async () => {
    const [ours, theirs] = native.socketPair();
    let calls = 0;
    await new Promise<void>((resolve) => {
      const watcher = new native.FdWatcher(ours, () => {
        // Nothing is read: a level-triggered watch tells again on the next turn of the loop.
        if (++calls < 3) return;
        expect(watcher.cancel()).toBe(true);
        watcher.close();
        resolve();
      });
      watcher.waitReadable(true);
      native.sendFrame(theirs, Buffer.from('x'));
    });
    expect(calls).toBe(3);
    native.closeFd(ours);
    native.closeFd(theirs);
  });
});

describe('Connection objects', () => {
  it('send/recv carry structured values, closures and handles; recvAsync too', async () => {
    const { Lock } = await import('../lib/index');
    const [a, b] = pipe();
    const base = 10;
    const lock = new Lock();
    a.send({ when: new Date(0), tags: new Set(['x']), add: (n: number) => n + base, lock });
    const got = b.recv() as { when: Date; tags: Set<string>; add(n: number): number; lock: InstanceType<typeof Lock> };
    expect(got.when.getTime()).toBe(0);
    expect([...got.tags]).toEqual(['x']);
    expect(got.add(5)).toBe(15);
    expect(got.lock.acquire(false)).toBe(true);
    expect(lock.acquire(false)).toBe(false); // the same kernel object
    got.lock.release();
    b.send([1, 2n, 'three']);
    expect(await a.recvAsync()).toEqual([1, 2n, 'three']);
  });

  it('an unserializable value fails at the sender with its path, and nothing is sent', () => {
    const [a, b] = pipe();
    expect(() => a.send({ inner: [new WeakMap()] })).toThrow(/value\.inner\[0\]/);
    expect(b.poll()).toBe(false);
    a.send('still usable');
    expect(b.recv()).toBe('still usable');
  });

  it('a child process receives objects over an inherited Connection', async () => {
    const [mine, theirs] = pipe();
    const c = child({}, `
      const conn = new connection.Connection(4);
      const { f, n } = conn.recv();
      conn.send(f(n));
      return 'ok';
    `, { fds: [theirs.fileno()] });
    theirs.close();
    const factor = 3;
    mine.send({ f: (x: number) => x * factor, n: 14 });
    expect(await mine.recvAsync()).toBe(42);
    expect(await c.result()).toBe('ok');
  });
});

// Every async twin settles when its wait cannot end well, as its blocking form throws.
describe('async twins on a closed connection', () => {
  it('pollAsync, recvAsync and recvBytesAsync waiting when close() is called reject, naming the call', async () => {
    const [a] = pipe();
    const polled = a.pollAsync(null);
    a.close();
    await expect(polled).rejects.toThrow('Connection.pollAsync(): the connection was closed while waiting');
    const [b] = pipe();
    const received = b.recvAsync();
    const receivedBytes = b.recvBytesAsync();
    b.close();
    await expect(received).rejects.toThrow('Connection.recvAsync(): the connection was closed while waiting');
    await expect(receivedBytes).rejects.toThrow('Connection.recvBytesAsync(): the connection was closed while waiting');
  });

  it('on a closed connection, every call says it is closed; the async ones reject rather than throw', async () => {
    const [a] = pipe();
    a.close();
    for (const call of [() => a.poll(), () => a.recv(), () => a.recvBytes(), () => a.send(1), () => a.sendBytes(Buffer.alloc(1)), () => a.fileno()])
      expect(call).toThrow(/the connection is closed/);
    for (const call of [() => a.pollAsync(10), () => a.recvAsync(), () => a.recvBytesAsync()]) {
      let pending: Promise<unknown> | undefined;
      expect(() => (pending = call())).not.toThrow();
      await expect(pending).rejects.toThrow(/the connection is closed/);
    }
  });
});

describe.each<Method>(['fork', 'spawn', 'forkserver'])('a peer that dies in the middle of a message, %s', (method) => {
  it('recv throws and recvAsync rejects, both saying so', async () => {
    const [blocking, blockingPeer] = mp.Pipe();
    const [asynchronous, asynchronousPeer] = mp.Pipe();
    open.push(blocking, blockingPeer, asynchronous, asynchronousPeer);
    const pending = asynchronous.recvAsync();
    // A header announcing 100 bytes, 3 of them, then the writer is killed.
    const p = new (mp.getContext(method).Process)({
      target: (...peers: Connection[]) => {
        for (const peer of peers) fs.writeSync(peer.fileno(), Buffer.from([0, 0, 0, 100, 1, 2, 3]));
        process.kill(process.pid, 'SIGKILL');
      },
      args: [blockingPeer, asynchronousPeer],
    });
    p.start();
    blockingPeer.close();
    asynchronousPeer.close();
    await expect(pending).rejects.toThrow('the peer closed the connection in the middle of a message');
    expect(() => blocking.recv()).toThrow('the peer closed the connection in the middle of a message');
    await p.joinAsync();
    expect(p.exitcode).toBe(-9);
  }, 30_000);

  it('a large message cut short: recvBytes throws and recvBytesAsync rejects, and the next large message arrives whole', async () => {
    const [blocking, blockingPeer] = mp.Pipe();
    const [asynchronous, asynchronousPeer] = mp.Pipe();
    open.push(blocking, blockingPeer, asynchronous, asynchronousPeer);
    const pending = asynchronous.recvBytesAsync();
    // A header announcing 64 MiB, 1 MiB of it, then the writer is killed.
    const p = new (mp.getContext(method).Process)({
      target: (...peers: Connection[]) => {
        const header = Buffer.from([4, 0, 0, 0]);
        for (const peer of peers) {
          fs.writeSync(peer.fileno(), header);
          fs.writeSync(peer.fileno(), Buffer.alloc(1 << 20, 9));
        }
        process.kill(process.pid, 'SIGKILL');
      },
      args: [blockingPeer, asynchronousPeer],
    });
    p.start();
    blockingPeer.close();
    asynchronousPeer.close();
    await expect(pending).rejects.toThrow('the peer closed the connection in the middle of a message');
    expect(() => blocking.recvBytes()).toThrow('the peer closed the connection in the middle of a message');
    await p.joinAsync();
    expect(p.exitcode).toBe(-9);
    const [a, b] = mp.Pipe();
    open.push(a, b);
    a.sendBytes(Buffer.alloc(3 << 20, 7));
    const whole = b.recvBytes();
    expect(whole.length).toBe(3 << 20);
    expect(whole.every((byte) => byte === 7)).toBe(true);
  }, 60_000);
});

// Large frames are read into mappings kept from collected ones (native MappingCache). A fork
// child does not inherit them: a list inherited without its pages had it read into unmapped memory.
describe.each<Method>(['fork', 'spawn', 'forkserver'])('large messages into kept memory, %s', (method) => {
  // Under a socket buffer (4 MiB), so that one process can both send and receive it.
  const size = 3 << 20;

  /**
   * Sends a frame of `fill` bytes and reads it with the event loop (the reads that use kept
   * memory; blocking reads use V8's), then drops it: collected and its finalizer run, its mapping is kept.
   */
  async function dropOne(mine: Connection, theirs: Connection, fill: number, length: number): Promise<void> {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    mine.sendBytes(Buffer.alloc(length, fill));
    expect((await theirs.recvBytesAsync()).every((byte) => byte === fill)).toBe(true);
    for (let i = 0; i < 3; i++) {
      gc();
      await turn();
    }
  }

  it('each message carries its own bytes only, in the parent and in a child started after memory was kept', async () => {
    const [mine, theirs] = mp.Pipe();
    open.push(mine, theirs);
    await dropOne(mine, theirs, 1, size);
    const p = new (mp.getContext(method).Process)({
      target: (conn: Connection, length: number) => {
        const first = conn.recvBytes();
        const second = conn.recvBytes();
        conn.send([first.length, first.every((byte) => byte === 2), second.length, second.every((byte) => byte === 3)]);
      },
      args: [theirs, size - 4096],
    });
    p.start();
    mine.sendBytes(Buffer.alloc(size - 4096, 2));
    mine.sendBytes(Buffer.alloc(size, 3));
    expect(mine.recv()).toEqual([size - 4096, true, size, true]);
    await p.joinAsync();
    expect(p.exitcode).toBe(0);
    // A smaller message into the kept mapping: its length is its own, and no byte of the last one shows.
    await dropOne(mine, theirs, 4, size);
    mine.sendBytes(Buffer.alloc(size - 8192, 5));
    const reused = await theirs.recvBytesAsync();
    expect(reused.length).toBe(size - 8192);
    expect(reused.every((byte) => byte === 5)).toBe(true);
  }, 60_000);

  it('a message the event loop read into kept memory is whole in a child started after it (kept memory stays out of fork children until reused)', async () => {
    const [mine, theirs] = mp.Pipe();
    open.push(mine, theirs);
    await dropOne(mine, theirs, 1, size);
    mine.sendBytes(Buffer.alloc(size - 4096, 6));
    const reused = await theirs.recvBytesAsync();
    const p = new (mp.getContext(method).Process)({
      target: (bytes: Buffer, length: number) => process.exit(bytes.length === length && bytes.every((byte) => byte === 6) ? 0 : 3),
      args: [reused, size - 4096],
    });
    p.start();
    await p.joinAsync();
    expect(p.exitcode).toBe(0);
  }, 60_000);
});

// A blocking receiver that never turns its event loop used to keep every large frame it dropped
// (their mappings were released by finalizers that run on the loop): 2.6 GB after forty of 64 MiB.
// On Node 24, V8 frees ArrayBuffer memory on its worker threads, which a fork child (and so a
// forkserver child) does not have: there it lags, as in any `node --single-threaded` (measured).
// Not in the sanitizer pass either: ASan holds freed memory in quarantine (and RSS counts its shadow).
const BUFFERS_FREED_LATE_IN_FORKS = Number(process.versions.node.split('.')[0]) >= 24;
describe.each<Method>(['fork', 'spawn', 'forkserver'])('a blocking receive loop, %s', (method) => {
  it.skipIf((BUFFERS_FREED_LATE_IN_FORKS && method !== 'spawn') || Boolean(process.env.MPJS_SANITIZER_RUN))('gives the memory of the large messages it dropped back without turning the event loop', async () => {
    const [mine, theirs] = mp.Pipe();
    open.push(mine, theirs);
    const count = 200;
    const size = 3 << 20;
    const p = new (mp.getContext(method).Process)({
      target: (conn: Connection, count: number) => {
        const before = process.memoryUsage.rss();
        let intact = true;
        for (let i = 0; i < count; i++) intact &&= conn.recvBytes()[i] === (i & 255);
        conn.send([intact, process.memoryUsage.rss() - before]);
      },
      args: [theirs, count],
    });
    p.start();
    const message = Buffer.alloc(size);
    for (let i = 0; i < count; i++) {
      message[i] = i & 255;
      mine.sendBytes(message);
    }
    const [intact, grown] = (await mine.recvAsync()) as [boolean, number];
    expect(intact).toBe(true);
    // 600 MiB went through; what stays is a few frames between two collections.
    expect(grown).toBeLessThan(256 << 20);
    await p.joinAsync();
  }, 60_000);
});

describe('the native descriptor watcher under every Connection', () => {
  it('hands an error its callback throws to uncaughtException, as any I/O callback does (it used to vanish)', () => {
    const script = `
      const { native } = require(${JSON.stringify(path.resolve(__dirname, '../dist/native.js'))});
      const [ours, theirs] = native.socketPair();
      process.on('uncaughtException', (error) => { process.stdout.write('uncaught: ' + error.message); process.exit(0); });
      const watcher = new native.FdWatcher(ours, () => { throw new Error('thrown by the callback'); });
      watcher.waitReadable();
      native.sendFrame(theirs, Buffer.from('ready'));
      // Nothing else keeps the loop alive once the callback ran: an error that vanished ends the script here.
    `;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(result.stdout).toBe('uncaught: thrown by the callback');
    expect(result.status).toBe(0);
  });
});
