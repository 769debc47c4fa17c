// Runs as another uid (test/security.test.ts): tries our segments, semaphore, SharedMemory and
// socket, and prints what each attempt met.
const fs = require('node:fs');
const path = require('node:path');
const dist = (entry) => require(path.resolve(__dirname, '../../dist', entry));
const { loads } = dist('entries/serializer.js');
const { Client } = dist('entries/connection.js');
const { SharedMemory } = dist('entries/shared-memory.js');

const request = JSON.parse(process.argv[2]);
const results = {};
function attempt(what, action) {
  try {
    action();
    results[what] = 'opened';
  } catch (error) {
    results[what] = `${error.code}: ${error.message}`;
  }
}
for (const entry of request.segments) attempt(`open /dev/shm/${entry}`, () => fs.closeSync(fs.openSync(`/dev/shm/${entry}`, 'r')));
attempt('join the Lock', () => loads(Buffer.from(request.lock, 'base64')));
attempt('attach the SharedMemory', () => new SharedMemory(request.shm));
attempt('connect to the socket', () => Client(request.socket));
attempt('open the socket file', () => fs.closeSync(fs.openSync(request.socket, 'r')));
process.stdout.write(JSON.stringify(results));
