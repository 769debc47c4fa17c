// workerpool's worker script for the pool bench: the same task as peer-task.mjs.
const workerpool = require('workerpool');
workerpool.worker({
  task: ({ op, x }) => (op === 'square' ? x * x : op === 'len' ? x.byteLength : x),
});
