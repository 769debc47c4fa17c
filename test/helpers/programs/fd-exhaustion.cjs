// Run under a low RLIMIT_NOFILE: holds Pipes until the limit, then tries each kind of object.
// What needs a descriptor fails with EMFILE naming the call; what holds none (locks, queues, values:
// a descriptor only while they map their segment) keeps working with two free; once the descriptors
// are back, everything works again. argv[2] is the start method. Prints one JSON report.
const { getContext, Pipe, Lock, Queue, Value } = require('../../../dist/index.js');
const { dumps } = require('../../../dist/entries/serializer.js');

// A program has sent a function before it runs out: Node caches a failed require for good (its
// package.json reader), so the serializer's parser, loaded on first use, could not load later.
dumps(() => 'warm');
// And it has made a shared object: the resource tracker (a pipe and a process) starts with the first.
const first = new Value('i', 0);

const ctx = getContext(process.argv[2]);
const attempt = (call) => {
  try {
    return { answer: call() };
  } catch (error) {
    return { code: error.code, message: error.message };
  }
};
const usesAll = () => {
  const pool = new ctx.Pool(1);
  try {
    const queue = new Queue();
    const child = new ctx.Process({ target: (q) => q.put('from child'), args: [queue] });
    child.start();
    child.join();
    return [pool.apply((x) => x * 2, [21]), queue.get(), child.exitcode];
  } finally {
    pool.terminate();
    pool.join();
  }
};

const held = [];
for (;;) {
  try {
    held.push(Pipe());
  } catch (error) {
    if (error.code !== 'EMFILE') throw error;
    break;
  }
}
const report = {
  pipe: attempt(() => Pipe()),
  process: attempt(() => new ctx.Process({ target: () => {} }).start()),
  pool: attempt(() => new ctx.Pool(1)),
};
const [a, b] = held.pop();
a.close();
b.close();
report.noDescriptorsHeld = attempt(() => {
  const made = [];
  for (let i = 0; i < 100; i++) made.push([new Lock(), new Queue(), new Value('i', i)]);
  const [lock, queue, value] = made[99];
  lock.acquire();
  queue.put(value.value + 1);
  lock.release();
  return queue.get();
});
for (const [a, b] of held) {
  a.close();
  b.close();
}
report.afterwards = attempt(usesAll);
process.stdout.write(JSON.stringify(report));
