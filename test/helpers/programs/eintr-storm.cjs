// Blocks in every blocking call while the test interrupts this process's main thread with a signal
// every ~100 µs (tgkill). Each call must still give its own answer: a wait that a helper process ends
// returns what it brought, and a timed wait that nobody ends times out no earlier than asked.
// argv[2] is the start method of the helpers. Prints one JSON report.
const { getContext, Lock, RLock, Semaphore, Event, Condition, Barrier, Queue, JoinableQueue, SimpleQueue, Value, Pipe } = require('../../../dist/index.js');
const { Listener, Client, wait } = require('../../../dist/entries/connection.js');

const ctx = getContext(process.argv[2]);
const TIMEOUT_MS = 150;
let signals = 0;
process.on('SIGUSR2', () => signals++);

/** Runs `action` in a helper process after a nap, so that this process is blocked when it comes. */
function later(action, ...args) {
  const helper = new ctx.Process({
    target: (act, ...rest) => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      act(...rest);
    },
    args: [action, ...args],
  });
  helper.start();
  return helper;
}

/** A timed call nobody ends: its answer, and whether it waited its whole timeout. */
function timed(call) {
  const start = process.hrtime.bigint();
  const answer = call();
  return { answer, waitedFully: Number(process.hrtime.bigint() - start) / 1e6 >= TIMEOUT_MS - 1 };
}

function raises(call) {
  try {
    return { answer: call() };
  } catch (error) {
    return { raised: error.constructor.name };
  }
}

const cases = {
  'Lock.acquire': () => {
    const lock = new Lock();
    lock.acquire();
    const helper = later((l) => l.release(), lock);
    const answer = lock.acquire();
    helper.join();
    return { answer, ...{ timed: timed(() => lock.acquire(true, TIMEOUT_MS)) } };
  },
  'RLock.acquire': () => {
    const lock = new RLock();
    const holder = new Event();
    const done = new Event();
    const helper = later((l, h, d) => { l.acquire(); h.set(); d.wait(); l.release(); }, lock, holder, done);
    holder.wait();
    const t = timed(() => lock.acquire(true, TIMEOUT_MS));
    done.set();
    const answer = lock.acquire();
    helper.join();
    return { answer, timed: t };
  },
  'Semaphore.acquire': () => {
    const semaphore = new Semaphore(0);
    const helper = later((s) => s.release(), semaphore);
    const answer = semaphore.acquire();
    helper.join();
    return { answer, timed: timed(() => semaphore.acquire(true, TIMEOUT_MS)) };
  },
  'Event.wait': () => {
    const event = new Event();
    const t = timed(() => event.wait(TIMEOUT_MS));
    const helper = later((e) => e.set(), event);
    const answer = event.wait();
    helper.join();
    return { answer, timed: t };
  },
  'Condition.waitFor': () => {
    const condition = new Condition();
    const flag = new Value('i', 0);
    condition.acquire();
    const t = timed(() => condition.wait(TIMEOUT_MS));
    const helper = later((c, f) => { c.acquire(); f.value = 1; c.notifyAll(); c.release(); }, condition, flag);
    const answer = condition.waitFor(() => flag.value === 1);
    condition.release();
    helper.join();
    return { answer, timed: t };
  },
  'Barrier.wait': () => {
    const barrier = new Barrier(2);
    const helper = later((b) => b.wait(), barrier);
    const answer = barrier.wait();
    helper.join();
    const lonely = new Barrier(2);
    return { answer: answer === 0 || answer === 1, timed: timed(() => raises(() => lonely.wait(TIMEOUT_MS))) };
  },
  'Queue.get': () => {
    const queue = new Queue();
    const t = timed(() => raises(() => queue.get(true, TIMEOUT_MS)));
    const helper = later((q) => q.put({ from: 'helper' }), queue);
    const answer = queue.get();
    helper.join();
    return { answer, timed: t };
  },
  'Queue.put (full)': () => {
    const queue = new Queue(1);
    queue.put('first');
    const t = timed(() => raises(() => queue.put('second', true, TIMEOUT_MS)));
    const helper = later((q) => q.get(), queue);
    queue.put('third');
    helper.join();
    return { answer: queue.get(), timed: t };
  },
  'JoinableQueue.join': () => {
    const queue = new JoinableQueue();
    queue.put('job');
    const helper = later((q) => { q.get(); q.taskDone(); }, queue);
    queue.join();
    helper.join();
    return { answer: 'joined' };
  },
  'SimpleQueue.get': () => {
    const queue = new SimpleQueue();
    const helper = later((q) => q.put(42), queue);
    const answer = queue.get();
    helper.join();
    return { answer };
  },
  'Connection.recv': () => {
    const [ours, theirs] = Pipe();
    const t = timed(() => ours.poll(TIMEOUT_MS));
    const helper = later((c) => c.send('hello'), theirs);
    const answer = ours.recv();
    helper.join();
    return { answer, timed: t };
  },
  'wait()': () => {
    const [ours, theirs] = Pipe();
    const t = timed(() => wait([ours], TIMEOUT_MS).length);
    const helper = later((c) => c.send('x'), theirs);
    const answer = wait([ours]).length;
    helper.join();
    return { answer, timed: t };
  },
  'Listener.accept': () => {
    const listener = new Listener(null, 'AF_UNIX');
    const helper = later((address) => Client(address).send('knock'), listener.address);
    const connection = listener.accept();
    const answer = connection.recv();
    helper.join();
    listener.close();
    return { answer };
  },
  'Process.join': () => {
    const sleeper = new ctx.Process({ target: () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100) });
    sleeper.start();
    sleeper.join();
    const stuck = new ctx.Process({ target: (e) => e.wait(), args: [new Event()] });
    stuck.start();
    const t = timed(() => (stuck.join(TIMEOUT_MS), stuck.exitcode));
    stuck.kill();
    stuck.join();
    return { answer: sleeper.exitcode, timed: t };
  },
  'Pool.apply': () => {
    const pool = new ctx.Pool(1);
    const answer = pool.apply((n) => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); return n * 2; }, [21]);
    const t = timed(() => raises(() => pool.applyAsync(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000)).get(TIMEOUT_MS)));
    pool.terminate();
    pool.join();
    return { answer, timed: t };
  },
};

// The calls start once the storm has reached this process: python may start late on a loaded machine.
// A signal listener keeps no event loop alive: the timer does (a storm that never comes fails the test).
const firstSignal = new Promise((resolve) => {
  const giveUp = setTimeout(resolve, 30_000);
  process.once('SIGUSR2', () => resolve(clearTimeout(giveUp)));
});
process.stdin.once('data', async () => {
  await firstSignal;
  const report = {};
  for (const [name, run] of Object.entries(cases)) report[name] = run();
  await new Promise((resolve) => setTimeout(resolve, 20)); // let the loop count the signals that came
  report.signals = signals;
  process.stdout.write(JSON.stringify(report));
  process.exit(0);
});
process.stdout.write('ready\n');
