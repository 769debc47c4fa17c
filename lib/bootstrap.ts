// The entry of a spawn child (dist/bootstrap.js, run by a fresh node): reads the process object
// from fd 3 (with the descriptors of Connections in its args), joins the parent's resource tracker
// (fd 4), runs it, and leaves the exit to the event loop, like any Node script. The parent's
// main module is never imported: what the target needs travelled with it (API.md §3).
import * as nodeModule from 'node:module';

// Node >= 22.1 keeps the compiled code of our modules on disk: later children skip compiling them.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// Required once the cache is on. The root registers every handle's reducer (handles.ts).
require('./index');
const { native } = require('./native') as typeof import('./native');
const { receiveProcess } = require('./popen/payload') as typeof import('./popen/payload');

const DATA_FD = 3;
const TRACKER_FD = 4;

native.adoptTracker(TRACKER_FD);
receiveProcess(DATA_FD);
