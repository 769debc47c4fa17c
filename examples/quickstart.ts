// The README's quick start: a shared counter incremented by four forked processes under its lock,
// an async lock wait, a closure sent through a Pipe, a Queue, and the seed's Pool.map of a lambda.
import { pathToFileURL } from 'node:url';

import { getContext, Lock, Pipe, Queue, Value } from 'multiprocess';

export async function main(): Promise<{ count: number; added: number; greeting: unknown; mapped: number[] }> {
  const counter = new Value('i', 0);
  const { Process, Pool } = getContext('fork');

  const workers = [1, 2, 3, 4].map(
    () =>
      new Process({
        target: (v: typeof counter) => {
          for (let i = 0; i < 10_000; i++) {
            using _held = v.getLock().hold();
            v.value += 1;
          }
        },
        args: [counter],
      }),
  );
  workers.forEach((p) => p.start());
  workers.forEach((p) => p.join());

  const lock = new Lock();
  if (await lock.acquireAsync(100)) lock.release();

  const [a, b] = Pipe();
  const base = 10;
  a.send({ add: (n: number) => n + base });
  const added = (b.recv() as { add(n: number): number }).add(5);
  a.close();
  b.close();

  const q = new Queue();
  const greeter = new Process({ target: (out: typeof q) => out.put({ from: 'child' }), args: [q] });
  greeter.start();
  const greeting = await q.getAsync(10_000);
  greeter.join();
  q.close();

  using pool = new Pool(2); // leaving the scope terminates it, as CPython's `with Pool(2) as pool:`
  const mapped = pool.map((x: number) => ((y: number) => y ** 2)(x) + x, [...Array(10).keys()]);
  return { count: counter.value as number, added, greeting, mapped };
}

// Run as a program (npx tsx, or node's type stripping in an ES module project), not imported by the tests.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main().then((result) => console.log(JSON.stringify(result)));
