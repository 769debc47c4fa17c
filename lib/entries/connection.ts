// The multiprocess/connection entry point: its module's exports, with the documentation of the subpath.

/**
 * Connections between processes: `Listener`, `Client`/`ClientAsync` over Unix sockets and TCP
 * with CPython's HMAC challenge, and `wait`/`waitAsync` (CPython's `multiprocessing.connection`).
 *
 * @module multiprocess/connection
 */
export * from '../connection';
