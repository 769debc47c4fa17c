// poolifier's worker for the pool bench: the same task as peer-task.mjs.
const { ThreadWorker } = require('poolifier');
module.exports = new ThreadWorker(({ op, x }) => (op === 'square' ? x * x : op === 'len' ? x.byteLength : x));
