// The entry of a spawn child (dist/bootstrap.js, run by a fresh node): reads the process object
// from fd 3, runs it, and leaves the exit to the event loop, like any Node script. The parent's
// main module is never imported: what the target needs travelled with it (API.md §3).
import './index'; // every handle's reducer registers on import
import { native } from './native';
import { runProcess } from './popen/payload';

const DATA_FD = 3;

let bytes: Buffer | null;
try {
  bytes = native.recvFrame(DATA_FD, -1);
} finally {
  native.closeFd(DATA_FD);
}
runProcess(bytes);
