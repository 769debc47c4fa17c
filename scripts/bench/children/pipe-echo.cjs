// Peer for the Pipe rows: a Connection on fd 4 (handed over by the parent) that echoes small
// messages (bytes as they are), answers each large one with one byte, and exits at EOF.
const { Connection } = require('../../../dist/connection.js');

const connection = new Connection(4);
for (;;) {
  let message;
  try {
    message = connection.recvBytes();
  } catch {
    break;
  }
  connection.sendBytes(message.length > 1024 ? message.subarray(0, 1) : message);
}
