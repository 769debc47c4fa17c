// The multiprocess/dummy entry point: its module, and every handle's reducer (handles.ts), so that
// a program importing only this subpath decodes whatever the package sends it.

/**
 * The same API on `worker_threads` (CPython's `multiprocessing.dummy`): `ThreadPool`, and a
 * `Process` that runs on a thread.
 *
 * @module multiprocess/dummy
 */
import '../handles';

export * from '../dummy/index';
