// The start-method stress gate (issue 3): many children per method, half of them GC-heavy
// (~100 MB allocated, several major GCs), started from a busy parent (allocation churn, file
// reads, TCP ping-pong, a 1 ms timer). A child that does not exit in time is a hang; one that
// exits other than 0 is a crash. Exits 1 if any method had either, or could not run.
// usage: node scripts/stress.mjs [--children 2000] [--methods fork,spawn,forkserver] [--concurrency 2] [--timeout 30000]
//        [--seconds N]  (per method: start no child after N s, and report the count that ran)
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const mp = require('../dist/index.js');

const { values: options } = parseArgs({
  options: {
    children: { type: 'string', default: '2000' },
    methods: { type: 'string', default: mp.getAllStartMethods().join(',') },
    concurrency: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '30000' },
    seconds: { type: 'string', default: 'Infinity' },
  },
});
const children = Number(options.children);
const concurrency = Number(options.concurrency);
const timeoutMs = Number(options.timeout);
const budgetMs = Number(options.seconds) * 1000;

function light() {
  return 0;
}

function gcHeavy() {
  // ~100 MB in short-lived chunks: the young generation churns and old space fills, forcing major GCs.
  let keep = [];
  let sum = 0;
  for (let round = 0; round < 25; round++) {
    const chunk = Array.from({ length: 100_000 }, (_, i) => ({ i, s: `item-${i}` }));
    sum += chunk.length;
    keep.push(chunk);
    if (keep.length > 4) keep = [];
  }
  if (sum !== 2_500_000) process.exit(3);
}

/** Parent-side load that keeps V8's platform threads, the threadpool and the loop busy. */
function busyParent() {
  const timers = [setInterval(() => {}, 1), setInterval(() => Array.from({ length: 20_000 }, (_, i) => ({ i })), 5)];
  let reading = true;
  const reads = (async () => {
    while (reading) await Promise.all([readFile(new URL(import.meta.url)), readFile(new URL(import.meta.url))]);
  })();
  const server = net.createServer((socket) => socket.on('data', (data) => socket.write(data)).on('error', () => {}));
  let client;
  server.listen(0, '127.0.0.1', () => {
    client = net.connect(server.address().port, '127.0.0.1', () => client.write('ping'));
    client.on('data', (data) => client.write(data));
    client.on('error', () => {});
  });
  return async () => {
    timers.forEach(clearInterval);
    reading = false;
    await reads;
    client?.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
}

async function runMethod(method) {
  const { Process } = mp.getContext(method);
  const result = { method, children: 0, hangs: 0, crashes: 0, ms: 0 };
  const started = performance.now();
  let next = 0;
  async function lane() {
    while (next < children && performance.now() - started < budgetMs) {
      const index = next++;
      result.children++;
      const p = new Process({ target: index % 2 ? gcHeavy : light });
      p.start();
      await p.joinAsync(timeoutMs);
      if (p.exitcode === null) {
        result.hangs++;
        p.kill();
        await p.joinAsync();
      } else if (p.exitcode !== 0) {
        result.crashes++;
        console.error(`${method}: child ${index} exited ${p.exitcode}`);
      }
      p.close();
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  result.ms = Math.round(performance.now() - started);
  return result;
}

const stop = busyParent();
const results = [];
for (const method of options.methods.split(',')) {
  try {
    results.push(await runMethod(method));
  } catch (error) {
    results.push({ method, children, error: error.message.split('\n')[0] });
  }
  // A line per method as it ends, a failed one too (test/stress.test.ts reads these).
  console.error(`stress: ${JSON.stringify(results.at(-1))}`);
}
await stop();
console.table(results);
process.exitCode = results.some((r) => r.hangs || r.crashes || r.error) ? 1 : 0;
