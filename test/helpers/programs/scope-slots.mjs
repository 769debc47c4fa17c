// A user's script (argv[2] is the start method): module-level functions sharing the module scope,
// defined here (the main module's functions travel by value) and in an imported module, run as a
// Process target and as a Pool task. Prints one JSON line per function.
import { basename } from 'node:path';
import { getContext, Queue } from '../../../dist/esm/index.mjs';
import * as imported from './scope-slots-module.mjs';

export function helper(p) {
  return 'helper:' + basename(p);
}

export function main(p) {
  return helper(p);
}

function report(queue, fn, p) {
  queue.put(fn(p));
}

const ctx = getContext(process.argv[2]);
const queue = new Queue();
for (const [label, fn] of [['main script', main], ['imported module', imported.main]]) {
  const child = new ctx.Process({ target: report, args: [queue, fn, '/a/b.txt'] });
  child.start();
  const fromProcess = queue.get(true, 30_000);
  child.join();
  const pool = new ctx.Pool(1);
  const fromPool = pool.apply(fn, ['/a/b.txt']);
  pool.close();
  pool.join();
  console.log(JSON.stringify({ label, fromProcess, fromPool }));
}
queue.close();
