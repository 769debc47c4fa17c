// The seed's Basic Usage section line by line (its manager lines live with the manager examples):
// a Process putting on a Queue, a Condition's repr as its lock is taken, Pool.mapAsync, and a
// lambda with a nested lambda mapped over a pool.
import { pathToFileURL } from 'node:url';

import { Condition, Pool, Process, Queue } from 'multiprocess';

export async function main(options: { quiet?: boolean } = {}): Promise<{ hello: unknown; conditions: string[]; acquired: boolean; squares: number[]; lambdas: number[] }> {
  const log = options.quiet ? () => {} : console.log;

  // The Process class follows the API of threading.Thread.
  const f = (q: Queue): void => q.put('hello world');
  const q = new Queue();
  const p = new Process({ target: f, args: [q] });
  p.start();
  const hello = q.get();
  log(hello);
  p.join();
  q.close();

  // Synchronization primitives like locks, semaphores and conditions.
  const c = new Condition();
  const conditions = [String(c)];
  log(conditions[0]);
  const acquired = c.acquire();
  log(acquired);
  conditions.push(String(c));
  log(conditions[1]);
  c.release();

  // Tasks offloaded to a pool of worker processes (timeouts are in ms; the seed waits 1 s).
  using pool = new Pool(4);
  const square = (x: number): number => x * x;
  const result = pool.mapAsync(square, [...Array(10).keys()]);
  const squares = result.get(10_000);
  log(squares);

  // Lambdas and closures travel to the workers (what dill adds to CPython's pickle).
  const lambdas = pool.map((x: number) => ((y: number) => y ** 2)(x) + x, [...Array(10).keys()]);
  log(lambdas);
  return { hello, conditions, acquired, squares, lambdas };
}

// Run as a program (npx tsx examples/basic-usage.ts), not when the tests import it.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
