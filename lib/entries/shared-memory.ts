// The multiprocess/shared-memory entry point: its module's exports, with the documentation of the subpath.

/**
 * Named shared memory: `SharedMemory`, `ShareableList` (CPython's layout) and
 * `SharedMemoryManager` (CPython's `multiprocessing.shared_memory`).
 *
 * @module multiprocess/shared-memory
 */
export * from '../shared-memory';
