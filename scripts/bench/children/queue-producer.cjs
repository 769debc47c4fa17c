// Producer for the Queue rows: told { kind, count, size } over IPC, it sends `count` messages to the
// parent as fast as it can through a Queue handle, a Pipe fd (4) under a Lock, or process.send.
const mp = require('../../../dist/index.js');
const { Connection } = require('../../../dist/connection.js');
const { dumps } = require('../../../dist/serializer/index.js');
const { reducerNamed } = require('../../../dist/serializer/registry.js');

process.on('message', ({ kind, count, size, segment, lock }) => {
  const message = size === 0 ? { i: 0, text: 'small message' } : Buffer.alloc(size, 7);
  if (kind === 'queue') {
    const queue = reducerNamed('multiprocess.Queue').reducer.restore({ segment });
    for (let i = 0; i < count; i++) queue.put(message);
  } else if (kind === 'pipe') {
    // CPython's data path without its feeder thread: one frame per message, under the writer lock.
    const writeLock = reducerNamed('multiprocess.SemLock').reducer.restore(lock);
    const connection = new Connection(4, { readable: false });
    for (let i = 0; i < count; i++) {
      const bytes = dumps(message);
      writeLock.acquire();
      connection.sendBytes(bytes);
      writeLock.release();
    }
  } else {
    for (let i = 0; i < count; i++) process.send(message);
  }
  process.send('done', () => process.disconnect());
});
