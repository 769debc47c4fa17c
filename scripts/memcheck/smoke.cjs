// The native smoke program that scripts/memcheck.sh runs under valgrind: every native piece once
// (segments, SemLock waits and timeouts, Condition, Queue ring and watchers, SCM_RIGHTS, fork,
// forkserver, pools), each checked, so that a run that reports nothing also did something.
// argv[2..]: start methods (default all three). Prints one line per step.
const assert = require('node:assert/strict');
const path = require('node:path');
const mp = require('../../dist/index.js');
const { SharedMemory } = require('../../dist/shared-memory.js');

const methods = process.argv.length > 2 ? process.argv.slice(2) : ['fork', 'forkserver', 'spawn'];
const step = (name) => console.log(`memcheck smoke: ${name}`);

function segments() {
  const made = new SharedMemory({ create: true, size: 4096 });
  const attached = new SharedMemory({ name: made.name });
  made.buf[100] = 42;
  assert.equal(attached.buf[100], 42);
  attached.close();
  made.close();
  made.unlink();
  step('segment create/attach/unlink');
}

async function locks() {
  const lock = new mp.Lock();
  assert.equal(lock.acquire(), true);
  assert.equal(lock.acquire(true, 10), false); // a timed wait that times out: the futex path
  assert.equal(await lock.acquireAsync(10), false); // the Watcher thread times out too
  const later = lock.acquireAsync(30_000);
  lock.release();
  assert.equal(await later, true);
  lock.release();
  const rlock = new mp.RLock();
  rlock.acquire();
  rlock.acquire();
  rlock.release();
  rlock.release();
  const sem = new mp.Semaphore(2);
  sem.acquire();
  sem.acquire();
  assert.equal(sem.acquire(true, 5), false);
  sem.release(2);
  step('Lock/RLock/Semaphore, blocking and async, timeouts');
}

async function acrossChild(ctx, method) {
  const lock = new mp.Lock();
  const cond = new mp.Condition();
  const queue = new mp.Queue();
  const [ours, theirs] = mp.Pipe();
  const [spareA, spareB] = mp.Pipe();
  const child = new ctx.Process({
    target: (lock, cond, queue, conn) => {
      lock.acquire(); // held until the parent has seen its timeout
      queue.put('holding');
      const passed = conn.recv(); // a Connection: its descriptor crossed by SCM_RIGHTS
      lock.release();
      passed.send('through the passed descriptor');
      cond.acquire();
      queue.put('waiting');
      cond.wait(60_000);
      cond.release();
      for (let i = 0; i < 200; i++) queue.put({ i, text: 'x'.repeat(i) });
      queue.put(Buffer.alloc(1 << 20, 7)); // larger than a small message
    },
    args: [lock, cond, queue, theirs],
  });
  child.start();
  assert.equal(queue.get(true, 60_000), 'holding');
  assert.equal(lock.acquire(true, 20), false);
  assert.equal(await lock.acquireAsync(20), false);
  ours.send(spareB);
  assert.equal(spareA.recv(), 'through the passed descriptor');
  assert.equal(await lock.acquireAsync(60_000), true);
  lock.release();
  assert.equal(await queue.getAsync(60_000), 'waiting');
  cond.acquire();
  cond.notifyAll();
  cond.release();
  for (let i = 0; i < 200; i++) assert.deepEqual(i % 2 ? queue.get(true, 60_000) : await queue.getAsync(60_000), { i, text: 'x'.repeat(i) });
  assert.equal(queue.get(true, 60_000).length, 1 << 20);
  child.join(120_000);
  assert.equal(child.exitcode, 0);
  for (const conn of [ours, theirs, spareA, spareB]) conn.close();
  queue.close();
  queue.joinThread();
  step(`${method}: Lock timeouts, Condition, Queue and a passed Connection across a child`);
}

async function asyncCondition(ctx, method) {
  const cond = new mp.Condition();
  const ready = new mp.Event();
  const child = new ctx.Process({
    target: (cond, ready) => {
      ready.wait(60_000);
      cond.acquire();
      cond.notifyAll();
      cond.release();
    },
    args: [cond, ready],
  });
  child.start();
  await cond.acquireAsync();
  const woken = cond.waitAsync(60_000); // the CondWatcher thread takes the token
  ready.set();
  assert.equal(await woken, true);
  cond.release();
  child.join(120_000);
  assert.equal(child.exitcode, 0);
  step(`${method}: Condition.waitAsync woken by a child`);
}

async function pools(ctx, method) {
  const pool = new ctx.Pool(2);
  try {
    assert.deepEqual(pool.map((x) => x * x, [1, 2, 3, 4, 5, 6, 7, 8]), [1, 4, 9, 16, 25, 36, 49, 64]);
    assert.deepEqual(await pool.mapAsync((x) => x + 1, [1, 2, 3]), [2, 3, 4]);
    assert.equal(pool.apply((a) => new Float64Array(a).reduce((s, v) => s + v, 0), [[1.5, 2.5]]), 4);
  } finally {
    pool.close();
    pool.join();
  }
  step(`${method}: Pool map/mapAsync/apply`);
}

async function main() {
  segments();
  await locks();
  for (const method of methods) {
    const ctx = mp.getContext(method);
    await acrossChild(ctx, method);
    await asyncCondition(ctx, method);
    await pools(ctx, method);
  }
  step('done');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
