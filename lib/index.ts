// The package root: the default context's classes and the module functions (CPython's multiprocessing/__init__).
export * from './errors';
export { Pipe } from './connection';
export { cpuCount, setExecutable } from './context';
export { currentProcess, Process } from './process';
export { Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore } from './synchronize';
export { Array, RawArray, RawValue, SharedArray, Value } from './sharedctypes';
export type { ArrayInit, CInput, CValue, SharedCtypesOptions, SynchronizedOptions, Typecode, TypedArrayOf } from './sharedctypes';
