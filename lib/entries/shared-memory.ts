// The multiprocess/shared-memory entry point: its module, and every handle's reducer (handles.ts), so that
// a program importing only this subpath decodes whatever the package sends it.

/**
 * Named shared memory: `SharedMemory`, `ShareableList` (CPython's layout) and
 * `SharedMemoryManager` (CPython's `multiprocessing.shared_memory`).
 *
 * @module multiprocess/shared-memory
 */
import '../handles';

export * from '../shared-memory';
