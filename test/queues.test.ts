// Queue, JoinableQueue and SimpleQueue across real processes: exactly-once delivery under many
// producers and consumers, huge messages, limits and timeouts, Async twins, and processes killed
// in the middle of a get or a put.
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';

import { Empty, Full, getContext, InvalidStateError, JoinableQueue, Queue, SimpleQueue } from '../lib/index';
import { startChild, type Child } from './helpers/child';

const children: Child[] = [];
function child(handles: Record<string, unknown>, body: string): Child {
  const started = startChild(handles, body);
  children.push(started);
  return started;
}

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    await c.exited;
  }
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in 20 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The ring's positions and message counts, read the way the queue reads them. */
function ringState(queue: Queue): { tail: number; tailCount: number; head: number; headCount: number } {
  const words = new BigInt64Array((queue as unknown as { _ring: { segment: { buffer: ArrayBuffer } } })._ring.segment.buffer, 0, 64);
  const tail = Atomics.load(words, 16);
  const head = Atomics.load(words, 24);
  return { tail: Number(tail & 0xffffffffn), tailCount: Number(tail >> 32n), head: Number(head & 0xffffffffn), headCount: Number(head >> 32n) };
}

// Runs first: after the in-process tests below, this test hangs (open bug, see the report of the queues branch).
describe('Queue handles', () => {
  it('travels as a handle, to a child and inside another queue, and with the fork start method', async () => {
    const q = new Queue<unknown>();
    const inner = new SimpleQueue<string>();
    const c = child({ q }, `
      const inner = h.q.get();
      inner.put('through the inner queue');
      inner.put(String(h.q.get() * 2));
      return String(h.q);
    `);
    q.put(inner);
    expect(await inner.getAsync()).toBe('through the inner queue');
    q.put(21);
    expect(await inner.getAsync()).toBe('42');
    expect(await c.result()).toBe('<Queue(maxsize=0) qsize=0>');

    const { Process } = getContext('fork');
    const p = new Process({ target: () => { for (let i = 0; i < 1000; i++) q.put(i); } });
    p.start();
    const got = Array.from({ length: 1000 }, () => q.get());
    p.join();
    expect(p.exitcode).toBe(0);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});

describe('Queue in one process', () => {
  it('keeps order; qsize, empty, full; Empty and Full after their timeouts', () => {
    const q = new Queue<unknown>(2);
    expect(q.empty()).toBe(true);
    q.put({ a: [1, 2] });
    q.putNowait('two');
    expect([q.qsize(), q.full(), q.empty()]).toEqual([2, true, false]);
    expect(() => q.putNowait(3)).toThrow(Full);
    const start = performance.now();
    expect(() => q.put(3, true, 50)).toThrow(Full);
    expect(performance.now() - start).toBeGreaterThanOrEqual(45);
    expect(q.get()).toEqual({ a: [1, 2] });
    expect(q.getNowait()).toBe('two');
    expect(() => q.getNowait()).toThrow(Empty);
    expect(() => q.get(false)).toThrow(/Queue.get\(\): the queue is empty/);
    const waited = performance.now();
    expect(() => q.get(true, 50)).toThrow(Empty);
    expect(performance.now() - waited).toBeGreaterThanOrEqual(45);
    expect(String(q)).toBe('<Queue(maxsize=2) qsize=0>');
  });

  it('carries typed arrays as raw bytes with their type, and everything else serialized', async () => {
    const q = new Queue<unknown>(0, { bufferBytes: 4096 });
    const values = [Buffer.from('bytes'), new Uint8Array([1, 2]), new Float64Array([1.5, -2]), new BigInt64Array([3n]), new Int16Array(3000).fill(-7), new Map([[1, 'x']]), null, 'text'];
    for (const value of values) {
      // Int16Array(3000) is larger than the 4 KiB ring: its put and get must overlap.
      const put = q.putAsync(value);
      const got = await q.getAsync();
      await put;
      expect(got).toEqual(value);
      expect((got as object | null)?.constructor).toBe((value as object | null)?.constructor);
    }
  });

  it('refuses use after close; joinThread needs close; bad arguments', () => {
    const q = new Queue();
    expect(() => q.joinThread()).toThrow(InvalidStateError);
    q.close();
    q.joinThread();
    q.cancelJoinThread();
    expect(() => q.put(1)).toThrow(/closed/);
    expect(() => q.get()).toThrow(/closed/);
    expect(() => new Queue(1.5)).toThrow(TypeError);
    expect(() => new Queue(0, { bufferBytes: 5000 })).toThrow(RangeError);
  });

  it('Async twins: getAsync waits, times out with Empty, and aborts without losing a message', async () => {
    const q = new Queue<number>(1);
    const waiting = q.getAsync();
    setTimeout(() => q.put(1), 20);
    expect(await waiting).toBe(1);
    await expect(q.getAsync(30)).rejects.toBeInstanceOf(Empty);
    const controller = new AbortController();
    const aborted = q.getAsync(null, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await expect(aborted).rejects.toThrow('stop');
    await q.putAsync(2);
    await expect(q.putAsync(3, 30)).rejects.toBeInstanceOf(Full);
    const putController = new AbortController();
    const put = q.putAsync(4, null, { signal: putController.signal });
    putController.abort(new Error('no room'));
    await expect(put).rejects.toThrow('no room');
    expect(await q.getAsync()).toBe(2);
    expect(q.empty()).toBe(true);
    q.put(5);
    expect(q.get()).toBe(5);
  });
});

describe('Queue across processes', () => {
  it('delivers 100k messages exactly once, in per-producer order, with 4 producers × 4 consumers', async () => {
    const q = new Queue<[number, number] | null>();
    const PRODUCERS = 4;
    const PER_PRODUCER = 25_000;
    const consumers = Array.from({ length: 4 }, () =>
      child({ q }, `
        const seen = [[], [], [], []];
        for (;;) {
          const m = h.q.get();
          if (m === null) return seen;
          seen[m[0]].push(m[1]);
        }
      `),
    );
    const producers = Array.from({ length: PRODUCERS }, (_, p) =>
      child({ q, p, n: PER_PRODUCER }, `for (let i = 0; i < h.n; i++) h.q.put([h.p, i]); return 'done';`),
    );
    for (const producer of producers) expect(await producer.result()).toBe('done');
    for (let i = 0; i < consumers.length; i++) q.put(null);
    const results = (await Promise.all(consumers.map((c) => c.result()))) as number[][][];
    for (let p = 0; p < PRODUCERS; p++) {
      const all: number[] = [];
      for (const seen of results) {
        const mine = seen[p];
        for (let i = 1; i < mine.length; i++) expect(mine[i]).toBeGreaterThan(mine[i - 1]);
        all.push(...mine);
      }
      all.sort((a, b) => a - b);
      expect(all.length).toBe(PER_PRODUCER);
      expect(all.every((value, i) => value === i)).toBe(true);
    }
    expect(q.qsize()).toBe(0);
  });

  it('moves 16 MiB and 256 MiB messages through a 4 MiB ring intact', async () => {
    const q = new Queue<Buffer | { label: string; data: Uint8Array }>();
    const c = child({ q }, `
      const pattern = (size) => { const b = Buffer.allocUnsafe(size); for (let i = 0; i < size; i += 4096) b.writeUInt32LE(i, i); return b; };
      h.q.put(pattern(16 << 20));
      h.q.put({ label: 'serialized', data: new Uint8Array(pattern(16 << 20)) });
      h.q.put(pattern(256 << 20));
      return 'sent';
    `);
    const check = (bytes: Uint8Array, size: number): void => {
      expect(bytes.byteLength).toBe(size);
      const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < size; i += 4096) if (view.readUInt32LE(i) !== i) throw new Error(`torn at ${i}`);
    };
    check(q.get() as Buffer, 16 << 20);
    const object = q.get() as { label: string; data: Uint8Array };
    expect(object.label).toBe('serialized');
    check(object.data, 16 << 20);
    check(q.get() as Buffer, 256 << 20);
    expect(await c.result()).toBe('sent');
  });

  it('a consumer SIGKILLed in the middle of a message: the others get every later message whole', async () => {
    const q = new Queue<unknown>(0, { bufferBytes: 64 << 10 });
    // A consumer killed while merely waiting loses nothing.
    const idle = child({ q }, `send('waiting'); return h.q.get();`);
    await idle.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    idle.process.kill('SIGKILL');
    await idle.exited;
    q.put('kept');
    expect(q.get(true, 5000)).toBe('kept');

    const first = child({ q }, `send('ready'); for (;;) h.q.get();`);
    await first.next();
    const producer = child({ q }, `
      send('putting');
      h.q.put(Buffer.alloc(256 << 20, 1));
      for (let i = 0; i < 100; i++) h.q.put('after-' + i);
      return 'done';
    `);
    const before = ringState(q);
    await producer.next();
    // Freeze the producer once the consumer has taken chunks of the message but not its last.
    await until(() => ringState(q).head - before.head >= 128 << 10);
    producer.process.kill('SIGSTOP');
    expect(ringState(q).headCount).toBe(before.headCount);
    first.process.kill('SIGKILL');
    await first.exited;
    producer.process.kill('SIGCONT');
    const second = child({ q }, `const got = []; for (let i = 0; i < 100; i++) got.push(h.q.get()); return got;`);
    expect(await second.result()).toEqual(Array.from({ length: 100 }, (_, i) => `after-${i}`));
    expect(await producer.result()).toBe('done');
    expect(q.qsize()).toBe(0);
  });

  it('a producer SIGKILLed in the middle of a put leaves the queue usable', async () => {
    const q = new Queue<unknown>(0, { bufferBytes: 64 << 10 });
    const producer = child({ q }, `send('putting'); h.q.put(Buffer.alloc(1 << 20, 2)); return 'unreachable';`);
    await producer.next();
    await until(() => ringState(q).tail >= 48 << 10);
    producer.process.kill('SIGKILL');
    await producer.exited;
    // The reader drains the dead writer's chunks, sees it died, and drops the partial message.
    await expect(q.getAsync(300)).rejects.toBeInstanceOf(Empty);
    await q.putAsync('next');
    expect(await q.getAsync(5000)).toBe('next');
    // And again with a reader already inside the partial message when the next writer starts.
    const second = child({ q }, `send('putting'); h.q.put(Buffer.alloc(1 << 20, 3)); return 'unreachable';`);
    await second.next();
    await until(() => ringState(q).tail - ringState(q).head >= 48 << 10);
    second.process.kill('SIGKILL');
    await second.exited;
    const got = q.getAsync(5000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    q.put({ after: true });
    expect(await got).toEqual({ after: true });
    expect(q.qsize()).toBe(0);
  });

  it('leaves nothing in /dev/shm once its processes are gone', async () => {
    const c = child({}, `
      const q = new mp.Queue(); const j = new mp.JoinableQueue(); const s = new mp.SimpleQueue();
      q.put(1); j.put(2); s.put(3);
      await q.getAsync(); 
      return [q, j, s].map((x) => x._segmentName());
    `);
    const names = (await c.result()) as string[];
    await c.exited;
    for (const name of names) expect(fs.existsSync(`/dev/shm${name}`)).toBe(false);
  });
});

describe('JoinableQueue and SimpleQueue', () => {
  it('join waits for every taskDone from another process; join(timeout) gives false', async () => {
    const q = new JoinableQueue<number>();
    for (let i = 0; i < 100; i++) q.put(i);
    expect(q.join(20)).toBe(false);
    expect(await q.joinAsync(20)).toBe(false);
    const c = child({ q }, `
      await receive();
      let sum = 0;
      for (let i = 0; i < 100; i++) { sum += h.q.get(); h.q.taskDone(); }
      return sum;
    `);
    const joined = q.joinAsync(20_000);
    c.post('go');
    expect(await joined).toBe(true);
    expect(q.join()).toBe(true);
    expect(await c.result()).toBe(4950);
    expect(() => q.taskDone()).toThrow(/called too many times/);
  });

  it('SimpleQueue: put, get, empty, close, across processes', async () => {
    const q = new SimpleQueue<string>();
    expect(q.empty()).toBe(true);
    const c = child({ q }, `h.q.put(h.q.get() + '!'); return 'ok';`);
    q.put('hello');
    expect(await c.result()).toBe('ok');
    expect(q.empty()).toBe(false);
    expect(q.get()).toBe('hello!');
    q.close();
    expect(() => q.put('x')).toThrow(/closed/);
  });
});
