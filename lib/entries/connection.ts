// The multiprocess/connection entry point: its module, and every handle's reducer (handles.ts), so that
// a program importing only this subpath decodes whatever the package sends it.

/**
 * Connections between processes: `Listener`, `Client`/`ClientAsync` over Unix sockets and TCP
 * with CPython's HMAC challenge, and `wait`/`waitAsync` (CPython's `multiprocessing.connection`).
 *
 * @module multiprocess/connection
 */
import '../handles';

export * from '../connection';
