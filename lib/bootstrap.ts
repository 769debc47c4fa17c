// The entry of a spawn child (dist/bootstrap.js, run by a fresh node): reads the process object
// from fd 3 (with the descriptors of Connections in its args), joins the parent's resource tracker
// (fd 4), runs it, and leaves the exit to the event loop, like any Node script. The parent's
// main module is never imported: what the target needs travelled with it (API.md §3).
import * as nodeModule from 'node:module';

// Node >= 22.1 keeps the compiled code of our modules on disk: later children skip compiling them.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// Required once the cache is on, and only what running a process object takes: the handles its
// args hold load their modules as the decoder meets them (serializer/registry.ts). The context
// defines the Process classes the payload names by reference, and the start method a child adopts.
const { native } = require('./native') as typeof import('./native');
require('./context');
const { receiveProcess } = require('./popen/receive') as typeof import('./popen/receive');

const DATA_FD = 3;
const TRACKER_FD = 4;

native.adoptTracker(TRACKER_FD);
receiveProcess(DATA_FD);
