// The seed's ex_pool: a tour of Pool — applyAsync, imap, imapUnordered and map over the same tasks,
// map against a plain loop, errors and timeouts as the caller sees them, callbacks, close,
// terminate, and a pool that ends with its scope (CPython ends one when it is garbage collected).
import { pathToFileURL } from 'node:url';

import { activeChildren, cpuCount, currentProcess, Pool, TimeoutError } from 'multiprocess';

// A task sleeps by blocking its worker, as CPython's time.sleep does.
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function mul(a: number, b: number, maxDelayMs: number): number {
  sleep(maxDelayMs * Math.random());
  return a * b;
}

function plus(a: number, b: number, maxDelayMs: number): number {
  sleep(maxDelayMs * Math.random());
  return a + b;
}

type Task = [(a: number, b: number, maxDelayMs: number) => number, [number, number, number]];

function calculate(func: Task[0], args: Task[1]): string {
  const result = func(...args);
  return `${currentProcess().name} says that ${func.name}(${args[0]}, ${args[1]}) = ${result}`;
}

const calculateStar = ([func, args]: Task): string => calculate(func, args);

const pow3 = (x: number): number => x ** 3;

// CPython's 1.0 / (x - 5.0) raises ZeroDivisionError at 5; a BigInt division by zero throws RangeError.
const inverse = (x: number): bigint => 1n / BigInt(x - 5);

export interface PoolTour {
  applyAsync: string[];
  imap: string[];
  imapUnordered: string[];
  map: string[];
  /** The three ways of computing pow3 and noop over a range gave the same lists. */
  benchmarksAgree: boolean;
  /** The calls that threw RangeError as expected. */
  errors: string[];
  /** Indices at which next() of an imap over `inverse` threw; the iteration went on after. */
  imapNextFailedAt: number[];
  /** A result awaited with 20 ms timeouts until it came. */
  afterTimeouts: string;
  /** Results of an imap read with next(20 ms) until done. */
  nextWithTimeout: string[];
  callbacks: number[];
  /** Child processes alive while the pool ran, and after close() and join(). */
  childrenWhileOpen: number;
  childrenAfterJoin: number;
  closeResult: unknown;
  /** Pending results of a terminated pool, and of one whose scope ended: each fails with this code. */
  terminated: string[];
  scopeEnded: string[];
}

export async function main(options: { quiet?: boolean; maxDelayMs?: number; size?: number } = {}): Promise<PoolTour> {
  const log = options.quiet ? () => {} : console.log;
  const maxDelayMs = options.maxDelayMs ?? 500;
  const N = options.size ?? 100_000;
  log(`cpuCount() = ${cpuCount()}\n`);

  const PROCESSES = 4;
  log(`Creating pool with ${PROCESSES} processes\n`);
  const pool = new Pool(PROCESSES);
  const tasks: Task[] = [
    ...Array.from({ length: 10 }, (_, i): Task => [mul, [i, 7, maxDelayMs]]),
    ...Array.from({ length: 10 }, (_, i): Task => [plus, [i, 8, maxDelayMs]]),
  ];

  const results = tasks.map(([func, args]) => pool.applyAsync(calculate, [func, args]));
  const imapIt = pool.imap(calculateStar, tasks);
  const imapUnorderedIt = pool.imapUnordered(calculateStar, tasks);
  const tour = {} as PoolTour;

  log('Ordered results using pool.applyAsync():');
  tour.applyAsync = results.map((r) => r.get());
  tour.applyAsync.forEach((line) => log('\t', line));
  log('\nOrdered results using pool.imap():');
  tour.imap = [...imapIt];
  tour.imap.forEach((line) => log('\t', line));
  log('\nUnordered results using pool.imapUnordered():');
  tour.imapUnordered = [];
  for await (const line of imapUnorderedIt) {
    tour.imapUnordered.push(line);
    log('\t', line);
  }
  log('\nOrdered results using pool.map() --- will block till complete:');
  tour.map = pool.map(calculateStar, tasks);
  tour.map.forEach((line) => log('\t', line));

  // Simple benchmarks: a loop on this thread against the pool (the figures vary; the lists agree).
  const timed = <T>(label: string, run: () => T): T => {
    const start = performance.now();
    const value = run();
    log(`\t${label}:\n\t\t${((performance.now() - start) / 1000).toFixed(3)} seconds`);
    return value;
  };
  const range = Array.from({ length: N }, (_, i) => i);
  log('\nconst pow3 = (x: number) => x ** 3;');
  const a = timed(`range.map(pow3) of ${N}`, () => range.map(pow3));
  const b = timed(`pool.map(pow3, range) of ${N}`, () => pool.map(pow3, range));
  const c = timed(`[...pool.imap(pow3, range, ${N >> 3})]`, () => [...pool.imap(pow3, range, N >> 3)]);
  const nulls: null[] = Array.from({ length: N * 10 }, () => null);
  const noop = (_x: null): void => {};
  log('\nconst noop = (x: null) => {};');
  const d = timed(`nulls.map(noop) of ${nulls.length}`, () => nulls.map(noop));
  const e = timed('pool.map(noop, nulls)', () => pool.map(noop, nulls));
  const f = timed(`[...pool.imap(noop, nulls, ${nulls.length >> 3})]`, () => [...pool.imap(noop, nulls, nulls.length >> 3)]);
  const same = (x: unknown[], y: unknown[]): boolean => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
  tour.benchmarksAgree = same(a, b) && same(a, c) && same(d, e) && same(d, f);

  log('\nTesting error handling:');
  tour.errors = [];
  const expectRangeError = async (call: string, run: () => unknown): Promise<void> => {
    try {
      await run();
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      tour.errors.push(call);
      log(`\tGot RangeError as expected from ${call}`);
      return;
    }
    throw new Error(`expected RangeError from ${call}`);
  };
  await expectRangeError('pool.apply()', () => pool.apply(inverse, [5]));
  await expectRangeError('pool.map()', () => pool.map(inverse, range.slice(0, 10)));
  await expectRangeError('[...pool.imap()]', () => {
    const failing = pool.imap(inverse, range.slice(0, 10));
    try {
      return [...failing];
    } finally {
      failing.return?.(); // an imap left half read keeps the pool's join() waiting: end it
    }
  });
  await expectRangeError('await pool.applyAsync()', () => pool.applyAsync(inverse, [5]));
  // Unlike a generator, an imap iterator goes on after a task failed: next() throws once, for that task.
  tour.imapNextFailedAt = [];
  const it = pool.imap(inverse, range.slice(0, 10));
  for (let i = 0; ; i++) {
    try {
      if (it.next().done) break;
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      tour.imapNextFailedAt.push(i);
    }
  }
  log('\tGot RangeError as expected from IMapIterator.next()\n');

  // Timeouts are in milliseconds: get(20) waits at most 20 ms, then throws TimeoutError.
  let dots = '';
  const waitWithTimeouts = <T>(attempt: () => T): T => {
    for (;;) {
      try {
        return attempt();
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
        dots += '.';
      }
    }
  };
  const res = pool.applyAsync(calculate, tasks[0]!);
  tour.afterTimeouts = waitWithTimeouts(() => res.get(20));
  log(`Testing AsyncResult.get() with timeout:${dots}\n\t${tour.afterTimeouts}\n`);
  dots = '';
  tour.nextWithTimeout = [];
  const timedIt = pool.imap(calculateStar, tasks);
  for (let step = waitWithTimeouts(() => timedIt.next(20)); !step.done; step = waitWithTimeouts(() => timedIt.next(20))) tour.nextWithTimeout.push(step.value);
  log(`Testing IMapIterator.next() with timeout:${dots}\n\t${tour.nextWithTimeout.join('\n\t')}\n`);

  log('Testing callback:');
  tour.callbacks = [];
  pool.applyAsync(mul, [7, 8, 0], { callback: (value) => tour.callbacks.push(value) }).wait();
  pool.mapAsync(pow3, range.slice(0, 10), null, { callback: (values) => tour.callbacks.push(...values) }).wait();
  log(`\t${tour.callbacks.join(',') === '56,0,1,8,27,64,125,216,343,512,729' ? 'callbacks succeeded' : `*** callbacks failed: ${tour.callbacks}`}\n`);

  log('Testing close():');
  tour.childrenWhileOpen = activeChildren().length;
  const result = pool.applyAsync(sleep, [maxDelayMs]);
  pool.close();
  await pool.joinAsync();
  tour.closeResult = result.get();
  tour.childrenAfterJoin = activeChildren().length;
  log(`\tclose() succeeded: ${tour.childrenWhileOpen} workers before, ${tour.childrenAfterJoin} after\n`);

  const failures = (pending: PromiseLike<unknown>[]): Promise<string[]> =>
    Promise.all(pending.map((r) => Promise.resolve(r).then(() => 'fulfilled', (error: { code?: string }) => String(error.code))));

  log('Testing terminate():');
  const doomed = new Pool(2);
  doomed.apply(pow3, [2]);
  const sleepers = Array.from({ length: 10 }, () => doomed.applyAsync(sleep, [10_000]));
  doomed.terminate();
  await doomed.joinAsync();
  tour.terminated = await failures(sleepers);
  log(`\tterminate() succeeded: ${tour.terminated[0]}\n`);

  log('Testing the end of a scope:');
  let abandoned: PromiseLike<unknown>[];
  {
    await using scoped = new Pool(2);
    scoped.apply(pow3, [2]);
    abandoned = Array.from({ length: 10 }, () => scoped.applyAsync(sleep, [10_000]));
  }
  tour.scopeEnded = await failures(abandoned);
  log(`\tleaving the scope terminated the pool: ${tour.scopeEnded[0]}, ${activeChildren().length} workers left\n`);
  return tour;
}

// Run as a program (npx tsx examples/pool.ts), not when the tests import it.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
