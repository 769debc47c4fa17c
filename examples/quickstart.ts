// The README's quick start: a shared counter incremented by four forked processes under its lock,
// an async lock wait, and a closure sent through a Pipe.
import { getContext, Lock, Pipe, Value } from '../lib/index';

export async function main(): Promise<{ count: number; added: number }> {
  const counter = new Value('i', 0);
  const { Process } = getContext('fork');

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
  return { count: counter.value as number, added };
}

if (require.main === module) main().then((result) => console.log(result));
