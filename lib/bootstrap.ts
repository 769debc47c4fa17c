// The entry of a spawn child (dist/bootstrap.js, run by a fresh node): reads the process object
// from fd 3 (with the descriptors of Connections in its args), joins the parent's resource tracker
// (fd 4), runs it, and leaves the exit to the event loop, like any Node script. The parent's
// main module is never imported: what the target needs travelled with it (API.md §3).
import './index'; // every handle's reducer registers on import
import { native } from './native';
import { decodeProcess } from './popen/payload';

const DATA_FD = 3;
const TRACKER_FD = 4;

function main(): void {
  native.adoptTracker(TRACKER_FD);
  let bytes: Buffer | null;
  const fds: number[] = [];
  try {
    bytes = native.recvFrame(DATA_FD, -1, fds);
  } finally {
    native.closeFd(DATA_FD);
  }
  // The parent died before it sent the process object: nothing to run.
  if (bytes === null) process.exit(255);
  void decodeProcess(bytes, fds)._bootstrapAsync();
}

main();
