import { readFileSync } from 'node:fs';
import { Agent, get, type IncomingMessage } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { Barrier } from 'multiprocess';
import { describe, expect, it } from 'vitest';

import { main as basicUsage } from '../examples/basic-usage';
import { main as benchmarks } from '../examples/benchmarks';
import { main as backend, type AccessLogEntry, type Backend } from '../examples/backend';
import { main as poolTour } from '../examples/pool';
import { main as progress } from '../examples/progress';
import { main as quickstart } from '../examples/quickstart';
import { main as synchronizeTour } from '../examples/synchronize';
import { main as webServers } from '../examples/webserver';
import { main as workers } from '../examples/workers';

describe('examples', () => {
  it('quickstart: four forked processes count to 40,000 under the lock; a closure travels; a Queue; the seed\'s Pool.map', async () => {
    expect(await quickstart()).toEqual({ count: 40_000, added: 15, greeting: { from: 'child' }, mapped: [0, 2, 6, 12, 20, 30, 42, 56, 72, 90] });
  });

  it('progress: imapUnordered drives a cli-progress bar; every prime count arrives', async () => {
    const counts = await progress({ quiet: true });
    expect(counts).toHaveLength(40);
    expect(counts[0]).toBe(303); // primes below 2000
    expect(counts.at(-1)).toBe(2412); // primes below 21,500
  });
});

// The seed's examples (CPython's Doc/includes/mp_*.py as the multiprocess package ships them).
describe("the seed's ex_pool", () => {
  it('every way of running the same tasks gives the same lines, errors and timeouts reach the caller, close/terminate/scope end free the workers', async () => {
    const tour = await poolTour({ quiet: true, maxDelayMs: 20, size: 10_000 });
    const expected = [
      ...Array.from({ length: 10 }, (_, i) => `mul(${i}, 7) = ${i * 7}`),
      ...Array.from({ length: 10 }, (_, i) => `plus(${i}, 8) = ${i + 8}`),
    ];
    const lineOf = /^ForkServerPoolWorker-\d+ says that (.*)$/;
    const claims = (lines: string[]): string[] => lines.map((line) => lineOf.exec(line)?.[1] ?? `unexpected line: ${line}`);
    expect(claims(tour.applyAsync)).toEqual(expected);
    expect(claims(tour.imap)).toEqual(expected);
    expect(claims(tour.map)).toEqual(expected);
    expect(claims(tour.nextWithTimeout)).toEqual(expected);
    expect(claims(tour.imapUnordered).sort()).toEqual([...expected].sort());
    expect(claims([tour.afterTimeouts])).toEqual([expected[0]]);
    expect(tour.benchmarksAgree).toBe(true);
    expect(tour.errors).toEqual(['pool.apply()', 'pool.map()', '[...pool.imap()]', 'await pool.applyAsync()']);
    expect(tour.imapNextFailedAt).toEqual([5]);
    expect(tour.callbacks).toEqual([56, 0, 1, 8, 27, 64, 125, 216, 343, 512, 729]);
    expect(tour.childrenWhileOpen).toBe(4);
    expect(tour.childrenAfterJoin).toBe(0);
    expect(tour.closeResult).toBeUndefined(); // CPython's None: the task ran to its end after close()
    expect(tour.terminated).toEqual(Array(10).fill('ERR_MP_POOL_TERMINATED'));
    expect(tour.scopeEnded).toEqual(Array(10).fill('ERR_MP_POOL_TERMINATED'));
  });
});

describe("the seed's ex_synchronize", () => {
  it('a Value under a Lock, a Queue with timeouts, a Condition handed to a child, a Semaphore of 3, join with a timeout, an Event, shared values', async () => {
    const tour = await synchronizeTour({ quiet: true, unit: 0.02 });
    const ok = (n: number): number[] => Array(n).fill(0);

    expect(tour.value.final).toBe(0);
    expect(tour.value.seen.every((v, i) => v <= (tour.value.seen[i - 1] ?? 10) && v >= 0)).toBe(true);
    expect(tour.value.exitcodes).toEqual(ok(10));

    expect(tour.queue.received).toEqual([...Array.from({ length: 30 }, (_, i) => i * i), 'STOP']);

    // The child holds the lock while the parent waits (the wait released both of its levels).
    const child = /^<Condition\(<RLock\(Process-\d+, 1\)>, 1\)>$/;
    expect(tour.condition.slice(0, 3)).toEqual(['<Condition(<RLock(None, 0)>, 0)>', '<Condition(<RLock(MainProcess, 1)>, 0)>', '<Condition(<RLock(MainProcess, 2)>, 0)>']);
    expect(tour.condition[3]).toMatch(child);
    expect(tour.condition[4]).toMatch(child);
    expect(tour.condition.slice(5)).toEqual(['<Condition(<RLock(MainProcess, 2)>, 0)>', '<Condition(<RLock(MainProcess, 1)>, 0)>', '<Condition(<RLock(None, 0)>, 0)>']);

    expect(tour.semaphore.exitcodes).toEqual(ok(10));
    expect(tour.semaphore.maxRunning).toBeGreaterThanOrEqual(1);
    expect(tour.semaphore.maxRunning).toBeLessThanOrEqual(3);
    expect(tour.semaphore.final).toBe(0);

    expect(tour.joinTimeout.exitcode).toBe(0);
    expect(tour.event).toEqual({ wokenBeforeSet: 0, woken: 5, exitcodes: ok(5) });
    expect(tour.sharedValues.exitcode).toBe(0);
  });
});

describe("the seed's ex_workers", () => {
  it('four processes answer all 30 tasks from one Queue, then stop on STOP', async () => {
    const { results, exitcodes } = await workers({ quiet: true, maxDelayMs: 20 });
    const claims = results.map((line) => /^Process-\d+ says that (.*)$/.exec(line)?.[1] ?? `unexpected line: ${line}`);
    // The first 20 answers are the first batch (the second is queued only after them), in any order.
    expect(claims.slice(0, 20).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `mul(${i}, 7) = ${i * 7}`).sort());
    expect(claims.slice(20).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `plus(${i}, 8) = ${i + 8}`).sort());
    expect(exitcodes).toEqual([0, 0, 0, 0]);
  });
});

describe.each(['spawn', 'forkserver'] as const)("the seed's ex_webserver (%s)", (method) => {
  it('four processes serve files from one listening socket; each says who served, and all stop on an Event', async () => {
    const servers = await webServers({ quiet: true, port: 0, method });
    const expected = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    try {
      // New connections each time, so that the kernel may hand them to any of the processes.
      const replies = await Promise.all(Array.from({ length: 24 }, () => new Promise<{ by: string; body: string }>((resolve, reject) => {
        get(`${servers.url}/package.json`, { agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ by: String(res.headers['x-served-by']), body }));
        }).on('error', reject);
      })));
      for (const reply of replies) {
        expect(reply.body).toBe(expected);
        expect(servers.names).toContain(reply.by);
      }
      const missing = await new Promise<number>((resolve) => get(`${servers.url}/no-such-file`, (res) => resolve(res.resume().statusCode ?? 0)));
      expect(missing).toBe(404);
    } finally {
      expect(await servers.close()).toEqual([0, 0, 0]);
    }
  });
});

describe("the seed's Basic Usage", () => {
  it('each line prints what the seed shows (with CPython 3.13\'s Condition repr)', async () => {
    expect(await basicUsage({ quiet: true })).toEqual({
      hello: 'hello world',
      conditions: ['<Condition(<RLock(None, 0)>, 0)>', '<Condition(<RLock(MainProcess, 1)>, 0)>'],
      acquired: true,
      squares: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81],
      lambdas: [0, 2, 6, 12, 20, 30, 42, 56, 72, 90],
    });
  });
});

describe("the seed's benchmarks", () => {
  it('every row ran (each checks its own results: all objects through, the right element read)', async () => {
    const rows = await benchmarks({ quiet: true, deltaMs: 20 });
    expect(rows.map((row) => row.name)).toEqual([
      'Queue between threads (multiprocess/dummy)',
      'Queue between processes',
      'Pipe between processes',
      'plain array, seq[5]',
      "Array('i', ..., { lock: false }), seq[5]",
      "Array('i', ...) with its lock, seq[5]",
      'Lock acquire/release',
      'RLock acquire/release',
      'Condition waits between threads (multiprocess/dummy)',
      'Condition waits between processes',
    ]);
    for (const row of rows) {
      expect(row.iterations).toBeGreaterThanOrEqual(2);
      expect(row.perSecond).toBeGreaterThan(0);
    }
  });
});

// The backend example under load: the figures are printed, never asserted (the machine is shared).
describe('the backend example', () => {
  // Prime counts (pi(x)) from the tables, not from the example's own code.
  const PRIMES_BELOW: Record<number, number> = { 50_000: 5133, 100_000: 9592, 200_000: 17_984, 400_000: 33_860 };
  const NEVER_ENDS = 1e12;

  interface Reply {
    status: number;
    body: string;
    ms: number;
  }

  function request(url: string, agent?: Agent): Promise<Reply> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      get(url, { agent }, (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
      }).on('error', reject);
    });
  }

  /** `concurrency` clients send the requests one after another, all at once; also pings /health. */
  async function drive(server: Backend, limits: number[], concurrency: number): Promise<{ heavy: Reply[]; health: Reply[]; loopDelay: ReturnType<typeof monitorEventLoopDelay> }> {
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency + 1 });
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const queue = [...limits];
    const heavy: Reply[] = [];
    const health: Reply[] = [];
    let done = false;
    const client = async (): Promise<void> => {
      for (let below = queue.shift(); below !== undefined; below = queue.shift()) {
        const reply = await request(`${server.url}/primes?below=${below}`, agent);
        expect(reply.status).toBe(200);
        expect(JSON.parse(reply.body)).toMatchObject({ below, primes: PRIMES_BELOW[below] });
        heavy.push(reply);
      }
    };
    const pinger = async (): Promise<void> => {
      while (!done) health.push(await request(`${server.url}/health`, agent));
    };
    const pinging = pinger();
    await Promise.all(Array.from({ length: concurrency }, client));
    done = true;
    await pinging;
    loopDelay.disable();
    agent.destroy();
    return { heavy, health, loopDelay };
  }

  const percentile = (values: number[], p: number): number => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  };

  it('every response is right under bounded concurrent load, pooled and inline (figures printed)', async () => {
    const limits = Array.from({ length: 16 }, (_, i) => Number(Object.keys(PRIMES_BELOW)[i % 4]));
    const rows: string[] = [];
    // Interleaved rounds, so that both modes meet the same machine load.
    for (const mode of ['pool', 'inline', 'pool', 'inline'] as const) {
      const server = await backend({ mode, port: 0 });
      try {
        await request(`${server.url}/primes?below=50000`); // the workers are up
        const { heavy, health, loopDelay } = await drive(server, limits, 4);
        expect(heavy).toHaveLength(limits.length);
        const ms = (ns: number): string => (ns / 1e6).toFixed(1);
        const latency = heavy.map((r) => r.ms);
        const pings = health.map((r) => r.ms);
        rows.push(
          `${mode.padEnd(6)} | ${percentile(latency, 50).toFixed(1)} / ${percentile(latency, 99).toFixed(1)} | ${percentile(pings, 50).toFixed(1)} / ${percentile(pings, 99).toFixed(1)} (${pings.length}) | ${ms(loopDelay.mean)} / ${ms(loopDelay.percentile(99))} / ${ms(loopDelay.max)}`,
        );
      } finally {
        await server.close();
      }
    }
    console.log(
      [`backend example: ${limits.length} CPU-heavy requests by 4 clients, pool of 2, one /health pinger; ms`, 'mode   | primes p50 / p99 | /health p50 / p99 (pings) | loop delay mean / p99 / max', ...rows].join('\n'),
    );
  });

  it('a request past its deadline gets 504, a client that leaves aborts its task, and both free their workers', async () => {
    const log: AccessLogEntry[] = [];
    let onLog: (entry: AccessLogEntry) => void = () => {};
    const server = await backend({ port: 0, processes: 2, deadlineMs: 300, log: (entry) => (log.push(entry), onLog(entry)) });
    try {
      // Both workers get a task that would never end: the deadline answers for them.
      const late = await Promise.all([request(`${server.url}/primes?below=${NEVER_ENDS}`), request(`${server.url}/primes?below=${NEVER_ENDS}`)]);
      expect(late.map((r) => r.status)).toEqual([504, 504]);

      // A client that leaves once its request is in: the server sees it go and aborts the task.
      const gone = new Promise<AccessLogEntry>((resolve) => (onLog = (entry) => entry.outcome === 'client-gone' && resolve(entry)));
      server.server.once('request', () => setImmediate(() => leaving.destroy()));
      const leaving = get(`${server.url}/primes?below=${NEVER_ENDS}`).on('error', () => {});
      expect(await gone).toMatchObject({ status: null, outcome: 'client-gone' });

      // Every worker is free again: two tasks that can only finish together (a Barrier of 2) do.
      const barrier = new Barrier(2, undefined, 20_000);
      const together = server.pool!.mapAsync(() => barrier.wait(), [0, 1], 1, { signal: AbortSignal.timeout(20_000) });
      expect((await together).sort()).toEqual([0, 1]);
      const after = await request(`${server.url}/primes?below=100000`);
      expect(after.status).toBe(200);
      expect(JSON.parse(after.body)).toMatchObject({ below: 100_000, primes: 9592 });
      expect(log.map((entry) => entry.outcome)).toEqual(['deadline', 'deadline', 'client-gone', 'ok']);
    } finally {
      await server.close();
    }
  });
});

describe('manager examples', () => {
  it("manager: the seed's list reversed in the server, printed here, appended to by a child", async () => {
    const { main } = await import('../examples/manager');
    const { printed, repr, afterChild } = await main({ quiet: true });
    expect(printed).toBe('[ 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 ]');
    expect(repr).toMatch(/^<ListProxy object, typeid 'list' at 0x[0-9a-f]+>$/);
    expect(afterChild).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10]);
  });

  it("newtype: CPython's ex_newtype — AutoProxy, exposed, a generator proxied from the server", async () => {
    const { main } = await import('../examples/newtype');
    expect(await main({ quiet: true })).toEqual([
      '--------------------', 'you called Foo.f()', 'you called Foo.g()', 'false',
      '--------------------', 'you called Foo.g()', 'you called Foo._h()', 'false',
      '--------------------', '[0,1,4,9,16,25,36,49,64,81]',
    ]);
  });
});
