// The CPU-bound task of the compute bench: recursive fib(n). The module itself is piscina's worker
// (its export is the task); run as a child_process.fork child it is the plain-child baseline, which
// answers { n, count } with count fib(n) calls done.
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
module.exports = fib;
module.exports.fib = fib;

if (require.main === module && process.send) {
  process.on('message', ({ n, count }) => {
    let sum = 0;
    for (let i = 0; i < count; i++) sum += fib(n);
    process.send(sum);
  });
  process.send('ready');
}
