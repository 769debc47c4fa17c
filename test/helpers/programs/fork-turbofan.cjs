// Run with --allow-natives-syntax: asks TurboFan for a concurrent compile in a fork child (a fork
// Process, a fork Pool's worker, or a fork Process inside a fork Process) and prints whether the
// optimized code arrived (JSON), polling up to a generous deadline. A fork child without platform
// threads of its own never gets it: the compile job waits for threads that stayed in the parent.
const path = require('node:path');
const { getContext, Pipe } = require(path.join(__dirname, '../../../dist/index.js'));

const { concurrentCompileArrives } = require('./fork-turbofan-probe.cjs');

function inForkChild(target) {
  const [reader, writer] = Pipe(false);
  const child = new (getContext('fork').Process)({ target: () => writer.send(target()) });
  child.start();
  const result = reader.recv();
  child.join();
  return result;
}

const mode = process.argv[2];
let result;
if (mode === 'process') result = inForkChild(concurrentCompileArrives);
else if (mode === 'nested') result = inForkChild(() => inForkChild(concurrentCompileArrives));
else if (mode === 'pool') {
  const pool = new (getContext('fork').Pool)(1);
  result = pool.apply(concurrentCompileArrives, []);
  pool.close();
  pool.join();
} else throw new Error(`fork-turbofan.cjs: unknown mode ${mode}`);
process.stdout.write(JSON.stringify(result));
