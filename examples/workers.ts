// The seed's ex_workers: four processes take tasks (a function and its arguments) from one Queue and
// put their answers on another. Answers come back in the order they finish; Pool.map or Pool.imap
// keep the input's order with less code.
import { pathToFileURL } from 'node:url';

import { currentProcess, Process, Queue } from 'multiprocess';

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

type Task = [(a: number, b: number, maxDelayMs: number) => number, [number, number, number]];

function mul(a: number, b: number, maxDelayMs: number): number {
  sleep(maxDelayMs * Math.random());
  return a * b;
}

function plus(a: number, b: number, maxDelayMs: number): number {
  sleep(maxDelayMs * Math.random());
  return a + b;
}

function calculate([func, args]: Task): string {
  return `${currentProcess().name} says that ${func.name}(${args[0]}, ${args[1]}) = ${func(...args)}`;
}

/** Run by each worker process: tasks until 'STOP'. */
function worker(input: Queue, output: Queue): void {
  for (let task = input.get(); task !== 'STOP'; task = input.get()) output.put(calculate(task as Task));
}

export async function main(options: { quiet?: boolean; maxDelayMs?: number } = {}): Promise<{ results: string[]; exitcodes: (number | null)[] }> {
  const log = options.quiet ? () => {} : console.log;
  const maxDelayMs = options.maxDelayMs ?? 500;
  const NUMBER_OF_PROCESSES = 4;
  const tasks1 = Array.from({ length: 20 }, (_, i): Task => [mul, [i, 7, maxDelayMs]]);
  const tasks2 = Array.from({ length: 10 }, (_, i): Task => [plus, [i, 8, maxDelayMs]]);

  const taskQueue = new Queue();
  const doneQueue = new Queue();
  tasks1.forEach((task) => taskQueue.put(task));
  const workers = Array.from({ length: NUMBER_OF_PROCESSES }, () => new Process({ target: worker, args: [taskQueue, doneQueue] }));
  workers.forEach((p) => p.start());

  const results: string[] = [];
  const collect = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      results.push((await doneQueue.getAsync()) as string);
      log('\t', results.at(-1));
    }
  };
  log('Unordered results:');
  await collect(tasks1.length);
  // More tasks for the same workers, while they wait on the queue.
  tasks2.forEach((task) => taskQueue.put(task));
  await collect(tasks2.length);

  // Tell the workers to stop.
  for (let i = 0; i < NUMBER_OF_PROCESSES; i++) taskQueue.put('STOP');
  const exitcodes = await Promise.all(workers.map(async (p) => (await p.joinAsync(), p.exitcode)));
  taskQueue.close();
  doneQueue.close();
  return { results, exitcodes };
}

// Run as a program (npx tsx examples/workers.ts), not when the tests import it.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
