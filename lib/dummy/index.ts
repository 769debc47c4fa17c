// multiprocess/dummy (CPython's multiprocessing.dummy): the same API on worker_threads. The Pool is
// lib/pool/ with threads behind its WorkerTransport; the locks, events, shared values and
// queues are the package's own (process-shared, so also thread-shared).
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { NotImplementedError } from '../errors';
import { native } from '../native';
import { Pool as ProcessPool, type PoolOptions } from '../pool';
import type { WorkerHandle, WorkerTransport } from '../pool/transport';
import { closeThreadFd, POOL_THREAD_ID_WORD, POOL_THREAD_KEY, POOL_THREAD_WORDS, ThreadLife, type PoolThreadData } from '../pool/worker';
import { awaitThreadGone, deadlineOf, remainingMs, threadGoneAsync } from '../util';

// The thread entry is the built pool/worker.js (a thread cannot run a .ts file by itself).
const WORKER_FILE = path.join(__dirname, '..', 'pool', 'worker.js');

class ThreadHandle implements WorkerHandle {
  readonly pid: number;
  readonly sentinel = -1;
  private killed = false;
  private readonly ended: Promise<void>;
  constructor(
    private readonly worker: Worker,
    public fd: number,
    private readonly data: PoolThreadData,
  ) {
    this.pid = worker.threadId;
    this.ended = new Promise((resolve) => worker.once('exit', () => resolve()));
  }
  interrupt(): void {
    this.kill();
  }
  kill(): void {
    this.killed = true;
    if (Atomics.compareExchange(this.data.state, 2, ThreadLife.Loading, ThreadLife.KillRequested) === ThreadLife.Ready) void this.worker.terminate();
  }
  reap(): string {
    this.join(1000);
    return this.killed ? 'termination' : `exit code ${Atomics.load(this.data.state, 1)}`;
  }
  join(timeoutMs: number): boolean {
    const deadline = deadlineOf(timeoutMs);
    // A terminated thread runs no exit handler; V8 tears it down without our help.
    if (!this.killed) {
      Atomics.wait(this.data.state, 0, 0, remainingMs(deadline));
      if (Atomics.load(this.data.state, 0) !== 1) return false;
    }
    return awaitThreadGone(this.data.state, POOL_THREAD_ID_WORD, deadline);
  }
  joinAsync(): Promise<void> {
    // 'exit' comes when its JS ended; its OS thread may linger (longer under sanitizers), and a
    // fork in between would be refused for it, as after a blocking join.
    return this.ended.then(() => threadGoneAsync(this.data.state, POOL_THREAD_ID_WORD));
  }
}

class ThreadTransport implements WorkerTransport {
  readonly noun = 'thread';
  readonly acceptFd = -1;
  start(_token: string, initializer: boolean): WorkerHandle {
    const [ours, theirs] = native.socketPair();
    const data: PoolThreadData = { fd: theirs, initializer, state: new Int32Array(new SharedArrayBuffer(POOL_THREAD_WORDS * 4)) };
    const worker = new Worker(WORKER_FILE, { workerData: { [POOL_THREAD_KEY]: data } });
    // Idle threads do not keep the process alive; pending work does (the pool watches their sockets).
    worker.unref();
    worker.on('error', () => undefined);
    worker.on('exit', () => closeThreadFd(data));
    return new ThreadHandle(worker, ours, data);
  }
  accept(): Array<{ token: string; fd: number }> {
    return [];
  }
  close(): void {}
}

/** A Pool of worker threads (CPython's multiprocessing.pool.ThreadPool): Pool's whole API. */
export class ThreadPool extends ProcessPool {
  constructor(options?: Omit<PoolOptions, 'context'> | number | null, ...positional: never[]) {
    super(options, ...positional);
  }
  protected override _transport(): WorkerTransport {
    return new ThreadTransport();
  }
}

export { ThreadPool as Pool };
export type { PoolOptions };
export { AsyncResult, PoolTerminatedError, taskSignal } from '../pool';
export { Process, currentProcess, activeChildren } from './process';
export type { ThreadProcessOptions } from './process';
export { Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore } from '../synchronize';
export { Array, RawArray, RawValue, Value } from '../sharedctypes';
export { Pipe } from '../connection';
export { JoinableQueue, Queue, SimpleQueue } from '../queues';

/** No-op, as in CPython's dummy module. */
export function freezeSupport(): void {}

/** CPython's dummy Manager() hands out thread-shared objects; here that needs managers (issue: managers). */
export class Manager {
  constructor() {
    throw new NotImplementedError('multiprocess/dummy Manager');
  }
}
