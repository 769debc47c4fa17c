// The program scripts/tsan.sh runs with a ThreadSanitizer build of the addon: several JS threads
// of one process (thread Processes, from lib/dummy) and the native threads behind them — SemLock
// and ring watchers, the Condition watcher, a queue's readable eventfd, the bell of a busy Pool —
// on the same locks, queues and conditions, and spawn children across them. Every step checks
// its result, so a run without reports also did its work. Prints one line per step.
const assert = require('node:assert/strict');
const mp = require('../../dist/index.js');
const { wait } = require('../../dist/connection.js');
const dummy = require('../../dist/dummy/index.js');

const THREADS = 3;
const ROUNDS = 200;
const step = (name) => console.log(`tsan: ${name}`);

// In each thread: a lock taken blocking and async around a plain shared counter, queue puts
// consumed by another thread, and Barrier passes (Condition sleepers, blocking and async).
async function worker(lock, counter, queue, barrier, rounds) {
  for (let i = 0; i < rounds; i++) {
    if (i % 2) lock.acquire();
    else await lock.acquireAsync();
    counter.value += 1;
    lock.release();
    queue.put(i);
  }
  for (let pass = 0; pass < 5; pass++) {
    if (pass % 2) barrier.wait(60_000);
    else await barrier.waitAsync(60_000);
  }
}

async function threadsOnOneLock() {
  const lock = new mp.Lock();
  const counter = new mp.RawValue('i', 0);
  const queue = new mp.Queue();
  const barrier = new mp.Barrier(THREADS + 1);
  const threads = [];
  for (let t = 0; t < THREADS; t++) {
    threads.push(new dummy.Process({ target: worker, args: [lock, counter, queue, barrier, ROUNDS] }));
    threads.at(-1).start();
  }
  const got = [];
  const reader = queue._reader; // its eventfd thread follows the ring meanwhile
  for (let i = 0; i < THREADS * ROUNDS; i++) {
    if (i % 3 === 0) assert.deepEqual(wait([reader], 60_000), [reader]);
    got.push(i % 2 ? queue.get(true, 60_000) : await queue.getAsync(60_000));
  }
  for (let pass = 0; pass < 5; pass++) {
    if (pass % 2) barrier.wait(60_000);
    else await barrier.waitAsync(60_000);
  }
  for (const thread of threads) thread.join(60_000);
  for (const thread of threads) assert.equal(thread.exitcode, 0);
  assert.equal(counter.value, THREADS * ROUNDS);
  assert.equal(got.length, THREADS * ROUNDS);
  queue.close();
  step(`${THREADS} threads and the main one: Lock, Queue (blocking, async, wait() on its reader), Barrier`);
}

// A Condition notified from another thread while this one waits, blocking and async.
async function conditionAcrossThreads() {
  const cond = new mp.Condition();
  const turn = new mp.RawValue('i', 0);
  const thread = new dummy.Process({
    target: async (cond, turn) => {
      for (let i = 0; i < 50; i++) {
        cond.acquire();
        while (turn.value !== 1) cond.wait(60_000);
        turn.value = 0;
        cond.notifyAll();
        cond.release();
      }
    },
    args: [cond, turn],
  });
  thread.start();
  for (let i = 0; i < 50; i++) {
    await cond.acquireAsync();
    turn.value = 1;
    cond.notifyAll();
    while (turn.value !== 0) {
      if (i % 2) cond.wait(60_000);
      else await cond.waitAsync(60_000);
    }
    cond.release();
  }
  thread.join(60_000);
  assert.equal(thread.exitcode, 0);
  step('Condition handed back and forth between two threads');
}

// A blocking wait while a Pool owes results: the bell's thread rings the wait to serve the pool.
async function bellWhilePoolBusy() {
  const pool = new (mp.getContext('spawn').Pool)(2);
  const done = new mp.Event();
  let served = 0;
  const results = [];
  for (let i = 0; i < 6; i++)
    results.push(pool.applyAsync((x) => x * 3, [i], { callback: () => served++ }));
  const thread = new dummy.Process({
    target: (done) => done.set(),
    args: [done],
  });
  thread.start();
  assert.equal(done.wait(60_000), true);
  for (const [i, result] of results.entries()) assert.equal(result.get(60_000), i * 3);
  assert.equal(served, 6);
  thread.join(60_000);
  pool.close();
  pool.join();
  step('a blocking wait served a busy Pool (bell)');
}

// A spawn child on the same lock and queue, and a lock wait that times out (its watcher closes).
async function spawnChild() {
  const ctx = mp.getContext('spawn');
  const lock = new mp.Lock();
  const queue = new mp.Queue();
  const child = new ctx.Process({
    target: (lock, queue) => {
      lock.acquire();
      queue.put('holding');
      queue.get(true, 60_000);
      lock.release();
      for (let i = 0; i < 100; i++) queue.put(i);
    },
    args: [lock, queue],
  });
  child.start();
  assert.equal(await queue.getAsync(60_000), 'holding');
  assert.equal(await lock.acquireAsync(20), false);
  queue.put('go');
  // The child may read 'go' only after this thread has stopped looking: wait until it has.
  assert.equal(await lock.acquireAsync(60_000), true);
  lock.release();
  for (let i = 0; i < 100; i++) assert.equal(i % 2 ? queue.get(true, 60_000) : await queue.getAsync(60_000), i);
  child.join(60_000);
  assert.equal(child.exitcode, 0);
  queue.close();
  step('spawn child: Lock, Queue, a timed-out async acquire');
}

async function main() {
  await threadsOnOneLock();
  await conditionAcrossThreads();
  await bellWhilePoolBusy();
  await spawnChild();
  step('done');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
