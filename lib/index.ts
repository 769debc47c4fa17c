// The package root: the default context's classes and the module functions (CPython's multiprocessing/__init__).

/**
 * Python's `multiprocessing` for Node.js: processes started by fork, spawn or forkserver,
 * process-shared locks, shared memory, queues and pools, with closures that travel between
 * processes. CPython's names in camelCase; timeouts in milliseconds; every blocking call has an
 * `…Async` twin.
 *
 * @module multiprocess
 */
import * as root from './index';
import { getContext, shareRootNames, type ManagerClass } from './context';
// Binds the contexts' Manager here (a runner of lib/*.ts cannot resolve the lazy require in context.ts).
import './managers/sync-manager';
import type { SyncManager } from './managers/sync-manager';

export * from './errors';
export { Pipe } from './connection';
export { Array, RawArray, RawValue, SharedArray, Value } from './sharedctypes';
export type { ArrayInit, CInput, CValue, SharedCtypesOptions, SynchronizedOptions, Typecode, TypedArrayOf } from './sharedctypes';
export { Context, getAllStartMethods, getContext, getStartMethod, Process, setStartMethod } from './context';
export { setForkserverPreload } from './popen/forkserver';
export { cpuCount, setExecutable } from './system';
export { CRITICAL, DEBUG, ERROR, getLogger, INFO, logToStderr, SUBDEBUG, SUBWARNING, WARNING } from './logging';
export { activeChildren, currentProcess, parentProcess } from './process';
export { AsyncResult, Pool, PoolTerminatedError, taskSignal } from './pool';
export type { AsyncOptions, IMapIterator, PoolOptions, ResultCallbacks, TaskOptions } from './pool';
export { JoinableQueue, Queue, SimpleQueue } from './queues';
export type { QueueOptions } from './queues';
export { Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore } from './synchronize';

/** CPython's Manager(): a SyncManager, started, whose server runs under the default start method. */
export const Manager: ManagerClass = getContext().Manager;
export type Manager = SyncManager;

/** No-op: there is no frozen-executable bootstrap to intercept (CPython's freeze_support). */
export function freezeSupport(): void {}

/** No-op: connections are always transferable here (CPython's allow_connection_pickling). */
export function allowConnectionPickling(): void {}

// CPython's root is its default context's names; here every context carries the root's.
shareRootNames(root);
