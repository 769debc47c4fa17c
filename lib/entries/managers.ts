// The multiprocess/managers entry point: its module's exports, with the documentation of the subpath.

/**
 * Managers: objects in a server process, reached through proxies (CPython's
 * `multiprocessing.managers`).
 *
 * @module multiprocess/managers
 */
export * from '../managers/index';
