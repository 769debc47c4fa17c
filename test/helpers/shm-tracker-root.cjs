// The root of a process tree for the SharedMemory tracking test: children started with the method
// in argv[2] create blocks (one is then SIGKILLed holding a tracked block), this root prints their
// names and SIGKILLs itself, so that only the resource tracker is left to clean up.
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const mp = require(path.join(root, 'dist/index.js'));
const { SharedMemory } = require(path.join(root, 'dist/shared-memory.js'));

const ctx = mp.getContext(process.argv[2]);
const never = new mp.Event();

/** Starts target(conn, never) in a child and returns it with the block name it sends. */
function run(target) {
  const [mine, theirs] = mp.Pipe();
  const child = new ctx.Process({ target, args: [theirs, never] });
  child.start();
  return { child, name: mine.recv() };
}

// Unlinked by its creator, then made anew by someone who does not track it: the tracker must leave it.
const recreated = run((conn) => {
  const shm = new SharedMemory({ create: true, size: 64 });
  shm.unlink();
  shm.close();
  conn.send(shm.name);
});
recreated.child.join();
new SharedMemory({ name: recreated.name, create: true, size: 64, track: false }).close();

// Untracked: its lifetime is the user's, whatever happens to its creator.
const untracked = run((conn, ev) => {
  conn.send(new SharedMemory({ create: true, size: 64, track: false }).name);
  ev.wait();
});
// Tracked, and its creator SIGKILLed: unlinked once the tree is gone.
const killed = run((conn, ev) => {
  conn.send(new SharedMemory({ create: true, size: 64 }).name);
  ev.wait();
});
for (const { child } of [untracked, killed]) {
  child.kill();
  child.join();
}
process.stdout.write(`${JSON.stringify({ recreated: recreated.name, untracked: untracked.name, killed: killed.name })}\n`);
process.kill(process.pid, 'SIGKILL');
