// A program that imported only one subpath of the package: run as `node subpath-receiver.cjs
// <specifier> <method>` it loads it with require; subpath-receiver.mjs loads it with import. It
// starts handles-sender.cjs (which loads the root), whose child sends a SharedMemory, a Lock and a
// Queue, over a Connection to our Listener, or as dumps bytes for loads; uses all three and prints
// what both sides saw.
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

async function receive(api, method) {
  const listener = api.Listener ? new api.Listener() : null;
  const sender = spawn(process.execPath, [path.join(__dirname, 'handles-sender.cjs'), method, ...(listener ? [listener.address] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => sender.on('exit', resolve));
  const lines = readline.createInterface({ input: sender.stdout })[Symbol.asyncIterator]();
  try {
    const conn = listener?.accept();
    const message = conn ? conn.recv() : api.loads(Buffer.from((await lines.next()).value, 'base64'));
    const [mem, lock, queue] = message;
    mem.buf[0] = 42;
    queue.put('from the receiver');
    const acquired = lock.acquire(true, 20_000);
    lock.release();
    const report = JSON.parse((await lines.next()).value);
    mem.close();
    conn?.close();
    listener?.close();
    return { received: message.map((handle) => handle.constructor.name), acquired, sender: report, exitcode: await exited };
  } catch (error) {
    sender.kill();
    throw error;
  }
}

module.exports.receive = receive;

if (require.main === module) {
  const [specifier, method] = process.argv.slice(2);
  receive(require(specifier), method).then((result) => process.stdout.write(JSON.stringify(result)));
}
