// The multiprocess/dummy entry point: its module's exports, with the documentation of the subpath.

/**
 * The same API on `worker_threads` (CPython's `multiprocessing.dummy`): `ThreadPool`, and a
 * `Process` that runs on a thread.
 *
 * @module multiprocess/dummy
 */
export * from '../dummy/index';
