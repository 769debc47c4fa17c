// A user's script (argv[2]: start method): exports of an ES module, sent with the synchronous path
// that Process and Pool use, run in the worker's own instance of their module. Prints one JSON line.
import { getContext } from '../../../dist/esm/index.mjs';
import { ThreadPool } from '../../../dist/esm/dummy.mjs';
import { recall, remember, whoAmI } from './module-state.mjs';

const pool = new (getContext(process.argv[2]).Pool)({ processes: 1, initializer: remember, initargs: ['set by the initializer'] });
const stateOfTask = pool.apply(recall);
pool.close();
pool.join();

// After the fork: a worker thread may outlive ThreadPool.join() by a moment, and fork refuses threads.
const threads = new ThreadPool(1);
const threadOfTask = threads.apply(whoAmI);
threads.close();
threads.join();
console.log(JSON.stringify({ mainThread: whoAmI(), threadOfTask, stateOfTask }));
