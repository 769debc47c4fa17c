// A user's script (argv[2]: start method): instances of classes that travel by reference — from a
// CommonJS module, an ES module and the package itself — sent to a Process child, and errors thrown
// by Pool tasks, are instances of those same classes on the other side. Prints one JSON line:
// per class, [instanceof in the child, via AsyncResult.get, via errorCallback, via await].
import { Empty, Full, getContext, Queue, SerializationError } from '../../../dist/esm/index.mjs';
import cjs from './classes.cjs';
import * as esm from './classes.mjs';

const classes = {
  'cjs Base': cjs.Base,
  'cjs Failure': cjs.Failure,
  'cjs RangeFailure': cjs.RangeFailure,
  'esm Base': esm.Base,
  'esm Failure': esm.Failure,
  'esm RangeFailure': esm.RangeFailure,
  Empty,
  Full,
  SerializationError,
};
const names = Object.keys(classes);

function checkInChild(queue, instances) {
  queue.put(names.map((name, i) => instances[i] instanceof classes[name]));
}

function fail(name) {
  throw new classes[name](`${name} from a task`);
}

// A task may throw anything: Base is no Error and keeps the text in `v`.
const sameClass = (name) => (thrown) => thrown instanceof classes[name] && (thrown.message ?? thrown.v) === `${name} from a task`;

const ctx = getContext(process.argv[2]);
const queue = new Queue();
const child = new ctx.Process({ target: checkInChild, args: [queue, names.map((name) => new classes[name]('sent'))] });
child.start();
const inChild = queue.get(true, 30_000);
child.join();

const pool = new ctx.Pool(1);
const viaGet = names.map((name) => {
  try {
    pool.applyAsync(fail, [name]).get(30_000);
    return 'no throw';
  } catch (error) {
    return sameClass(name)(error);
  }
});
const viaCallback = await Promise.all(names.map((name) => new Promise((resolve) => pool.applyAsync(fail, [name], { errorCallback: (error) => resolve(sameClass(name)(error)) }))));
const viaAwait = await Promise.all(names.map((name) => pool.applyAsync(fail, [name]).then(() => 'no throw', sameClass(name))));
pool.close();
pool.join();
queue.close();
console.log(JSON.stringify(Object.fromEntries(names.map((name, i) => [name, [inChild[i], viaGet[i], viaCallback[i], viaAwait[i]]]))));
