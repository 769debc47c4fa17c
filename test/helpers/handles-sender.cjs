// A program that loads the package by its root, as most do, and whose child sends a SharedMemory,
// a Lock and a Queue to a receiver that imported only one subpath (subpath-receiver.cjs).
// argv: start method, then the receiver's Listener address, or nothing to write the message to
// stdout instead (base64 dumps, one line). The child's last stdout line reports what it saw.
const mp = require('multiprocess');
const { Client } = require('multiprocess/connection');
const { dumps } = require('multiprocess/serializer');
const { SharedMemory } = require('multiprocess/shared-memory');

const [method, address] = process.argv.slice(2);
const mem = new SharedMemory({ create: true, size: 1 });
const child = new (mp.getContext(method).Process)({
  target: (mem, lock, queue) => {
    lock.acquire(); // the receiver's acquire returns once we release, after its put arrived
    let conn = null;
    if (address) (conn = Client(address)).send([mem, lock, queue]);
    else process.stdout.write(`${dumps([mem, lock, queue]).toString('base64')}\n`);
    const got = queue.get(true, 20_000);
    const seen = mem.buf[0];
    lock.release();
    conn?.close();
    process.stdout.write(`${JSON.stringify({ got, seen })}\n`);
  },
  args: [mem, new mp.Lock(), new mp.Queue()],
});
child.start();
child.join();
mem.close();
mem.unlink();
process.exitCode = child.exitcode;
