// One sample of "a program's first forkserver Process": start → first message in a fresh process,
// so the server's start is included (the bench's other forkserver rows start on a warm server).
const mp = require('../../../dist/index.js');

const sem = new mp.Semaphore(0);
const t0 = performance.now();
const child = new (mp.getContext('forkserver').Process)({ target: (s) => s.release(), args: [sem] });
child.start();
sem.acquire();
const ms = performance.now() - t0;
child.join();
process.stdout.write(`${JSON.stringify(ms)}\n`);
