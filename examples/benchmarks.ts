// The seed's benchmarks: objects through a Queue and a Pipe, indexing plain and shared arrays,
// lock round trips and Condition ping-pong, each doubled until it runs for `deltaMs`. Threads come
// from multiprocess/dummy (worker_threads) where the seed used threading. The manager rows are the
// manager examples' to add.
import { pathToFileURL } from 'node:url';

import { Condition, Lock, Pipe, Process, Queue, RLock, Array as SharedArray } from 'multiprocess';
import type { Connection } from 'multiprocess/connection';
import { Process as ThreadProcess } from 'multiprocess/dummy';

export interface Row {
  name: string;
  /** Operations timed (objects passed, reads, acquire/release pairs, waits). */
  iterations: number;
  seconds: number;
  perSecond: number;
}

type Starter = typeof Process | typeof ThreadProcess;

/** Doubles the work until one run takes at least deltaMs (the seed's loop). */
function measure(name: string, deltaMs: number, run: (iterations: number) => { ms: number; operations?: number }): Row {
  for (let iterations = 2; ; iterations *= 2) {
    const { ms, operations = iterations } = run(iterations);
    if (ms >= deltaMs) return { name, iterations: operations, seconds: ms / 1000, perSecond: operations / (ms / 1000) };
  }
}

function queueSpeed(Starter: Starter, q: Queue, c: Condition, iterations: number): { ms: number } {
  const producer = new Starter({
    target: (out: Queue, ready: Condition, n: number) => {
      const a = '0'.repeat(256);
      ready.acquire();
      ready.notify();
      ready.release();
      for (let i = 0; i < n; i++) out.put(a);
      out.put('STOP');
    },
    args: [q, c, iterations],
  });
  c.acquire();
  producer.start();
  c.wait();
  c.release();
  const start = performance.now();
  let received = 0;
  while (q.get() !== 'STOP') received++;
  const ms = performance.now() - start;
  producer.join();
  if (received !== iterations) throw new Error(`${received} of ${iterations} objects came through the queue`);
  return { ms };
}

function pipeSpeed(iterations: number): { ms: number } {
  const [c, d] = Pipe();
  const cond = new Condition();
  const sender = new Process({
    target: (out: Connection, ready: Condition, n: number) => {
      const a = '0'.repeat(256);
      ready.acquire();
      ready.notify();
      ready.release();
      for (let i = 0; i < n; i++) out.send(a);
      out.send('STOP');
    },
    args: [d, cond, iterations],
  });
  cond.acquire();
  sender.start();
  cond.wait();
  cond.release();
  const start = performance.now();
  let received = 0;
  while (c.recv() !== 'STOP') received++;
  const ms = performance.now() - start;
  sender.join();
  c.close();
  d.close();
  if (received !== iterations) throw new Error(`${received} of ${iterations} objects came through the pipe`);
  return { ms };
}

function seqSpeed(seq: ArrayLike<number>, iterations: number): { ms: number } {
  const start = performance.now();
  let sum = 0;
  for (let i = 0; i < iterations; i++) sum += seq[5]!;
  const ms = performance.now() - start;
  if (sum !== 5 * iterations) throw new Error(`seq[5] read ${sum / iterations} on average`);
  return { ms };
}

function lockSpeed(l: Lock | RLock, iterations: number): { ms: number } {
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    l.acquire();
    l.release();
  }
  return { ms: performance.now() - start };
}

function conditionSpeed(Starter: Starter, c: Condition, iterations: number): { ms: number; operations: number } {
  c.acquire();
  const partner = new Starter({
    target: (cond: Condition, n: number) => {
      cond.acquire();
      cond.notify();
      for (let i = 0; i < n; i++) {
        cond.wait();
        cond.notify();
      }
      cond.release();
    },
    args: [c, iterations],
  });
  partner.start();
  c.wait();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    c.notify();
    c.wait();
  }
  const ms = performance.now() - start;
  c.release();
  partner.join();
  return { ms, operations: iterations * 2 };
}

export async function main(options: { quiet?: boolean; deltaMs?: number } = {}): Promise<Row[]> {
  const deltaMs = options.deltaMs ?? 1000;
  const rows: Row[] = [];
  const run = (name: string, body: (iterations: number) => { ms: number; operations?: number }): void => {
    const row = measure(name, deltaMs, body);
    rows.push(row);
    if (!options.quiet) console.log(`${name}\n\t${row.iterations} in ${row.seconds.toFixed(3)} seconds\n\taverage number/sec: ${Math.round(row.perSecond)}\n`);
  };
  const queue = new Queue();
  run('Queue between threads (multiprocess/dummy)', (n) => queueSpeed(ThreadProcess, queue, new Condition(), n));
  run('Queue between processes', (n) => queueSpeed(Process, queue, new Condition(), n));
  queue.close();
  run('Pipe between processes', pipeSpeed);

  const plain = [...Array(10).keys()];
  run('plain array, seq[5]', (n) => seqSpeed(plain, n));
  run("Array('i', ..., { lock: false }), seq[5]", (n) => seqSpeed(new SharedArray('i', plain, { lock: false }), n));
  run("Array('i', ...) with its lock, seq[5]", (n) => seqSpeed(new SharedArray('i', plain), n));

  run('Lock acquire/release', (n) => lockSpeed(new Lock(), n));
  run('RLock acquire/release', (n) => lockSpeed(new RLock(), n));

  run('Condition waits between threads (multiprocess/dummy)', (n) => conditionSpeed(ThreadProcess, new Condition(), n));
  run('Condition waits between processes', (n) => conditionSpeed(Process, new Condition(), n));
  return rows;
}

// Run as a program (npx tsx examples/benchmarks.ts), not when the tests import it.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
