// The multiprocess/managers entry point: its module, and every handle's reducer (handles.ts), so that
// a program importing only this subpath decodes whatever the package sends it.

/**
 * Managers: objects in a server process, reached through proxies (CPython's
 * `multiprocessing.managers`).
 *
 * @module multiprocess/managers
 */
import '../handles';

export * from '../managers/index';
