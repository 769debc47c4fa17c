// Peer for the Pipe rows: a Connection on fd 4 (handed over by the parent) that echoes small
// messages (bytes as they are), answers each large one with one byte, and exits at EOF; with the
// argument `async`, it receives with recvBytesAsync (its event loop turns between messages).
const { Connection } = require('../../../dist/connection.js');

const connection = new Connection(4);
const answer = (message) => connection.sendBytes(message.length > 1024 ? message.subarray(0, 1) : message);

if (process.argv[2] === 'async') {
  (async () => {
    for (;;) answer(await connection.recvBytesAsync());
  })().catch(() => connection.close());
} else {
  for (;;) {
    let message;
    try {
      message = connection.recvBytes();
    } catch {
      break;
    }
    answer(message);
  }
}
