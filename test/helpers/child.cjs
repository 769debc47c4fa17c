// A real child process for cross-process tests: attaches to the handles it is sent (through the
// built package in dist/), runs the given async function body, and reports over IPC.
const mp = require('../../dist/index.js');
const connection = require('../../dist/connection.js');
const sharedctypes = require('../../dist/sharedctypes.js');
// Loaded before any handle arrives so its reducers are registered.
const sharedMemory = require('../../dist/shared-memory.js');
const { dumps, loads } = require('../../dist/serializer/index.js');

// Values (handles included) cross the IPC channel as serializer bytes in base64.
const toWire = (value) => dumps(value).toString('base64');
const fromWire = (text) => loads(Buffer.from(text, 'base64'));

const AsyncFunction = (async () => {}).constructor;
const inbox = [];
let waiting = null;

process.on('message', async (message) => {
  if (message.body === undefined) {
    const data = fromWire(message.data);
    if (waiting) { const resolve = waiting; waiting = null; resolve(data); } else inbox.push(data);
    return;
  }
  const send = (data) => process.send({ data: toWire(data) });
  const receive = () => (inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((resolve) => { waiting = resolve; }));
  try {
    const run = new AsyncFunction('h', 'mp', 'send', 'receive', 'sharedctypes', 'sharedMemory', 'connection', message.body);
    const result = await run(fromWire(message.handles), mp, send, receive, sharedctypes, sharedMemory, connection);
    process.send({ done: toWire(result) }, () => process.disconnect());
  } catch (error) {
    process.send({ error: String(error && error.stack || error) }, () => process.disconnect());
  }
});
