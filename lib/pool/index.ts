// Pool (CPython's pool.py): a dispatcher in the parent feeds chunks of calls to idle workers over
// one socket each, from the event loop (async forms), from a blocking call that polls the same
// sockets itself (map, apply, get), or from any other blocking call of the package while results
// are owed (blocking.ts), so no form needs another to make progress. Workers are processes here
// and threads in multiprocess/dummy, behind the WorkerTransport interface.
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { asCallback, setBusy, untilReadable, type Background } from '../blocking';
import { Context, getContext } from '../context';
import { BrokenPoolError, InvalidStateError, ProcessError, TimeoutError } from '../errors';
import { native, type NativeFdWatcher } from '../native';
import { describeExit, type Process } from '../process';
import { AbortReason, decodeFrame, encodeBare, encodeDumped, encodeList, FrameType, renamePath, sendEncoded, TaskKind, type Encoded, type Frame } from './protocol';
import { parentPoolFds, poolWorkerMain } from './worker';
import { dumps, loads } from '../serializer/index';
import { cpuCount } from '../system';
import { shown, thisProcess, timeoutArg, type AbortOptions } from '../util';

export { taskSignal } from './worker';

/** Thrown into every pending result by `terminate()` (CPython leaves them pending forever). */
export class PoolTerminatedError extends ProcessError {
  static override readonly code = 'ERR_MP_POOL_TERMINATED';
}

// ---------------------------------------------------------------------------------------------
// Workers behind a small interface: processes (this file) or threads (dummy/).

/** One started worker, seen from the dispatcher. */
export interface WorkerHandle {
  /** The process id, or the thread id. */
  readonly pid: number;
  /** An fd readable once the worker ended, or -1 (a thread: its socket's EOF tells). */
  readonly sentinel: number;
  /** The socket to the worker; -1 until it connects (processes connect to the transport). */
  fd: number;
  /** The second step of an escalation: SIGINT for a process. */
  interrupt(): void;
  /** The last step: SIGKILL, or terminating the thread. */
  kill(): void;
  /** After its end (EOF or sentinel): reaps it and says how it ended ('exit code 3', 'signal SIGKILL'). */
  reap(): string;
  /** Waits up to timeoutMs for a worker told to stop (its socket closed); true once it ended. */
  join(timeoutMs: number): boolean;
  joinAsync(): Promise<void>;
}

export interface WorkerTransport {
  /** What a worker is called in messages ('process', 'thread'). */
  readonly noun: string;
  /** Readable when a started worker connects; -1 when workers are connected at start. */
  readonly acceptFd: number;
  start(token: string): WorkerHandle;
  /** The connections that arrived, by the token each presented. */
  accept(): Array<{ token: string; fd: number }>;
  close(): void;
}

class ProcessHandle implements WorkerHandle {
  fd = -1;
  readonly pid: number;
  readonly sentinel: number;
  constructor(private readonly process: Process<unknown[]>) {
    this.pid = process.pid!;
    this.sentinel = process.sentinel;
  }
  private signal(signal: NodeJS.Signals): void {
    if (this.process.exitcode !== null) return;
    try {
      globalThis.process.kill(this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  interrupt(): void {
    this.signal('SIGINT');
  }
  kill(): void {
    this.signal('SIGKILL');
  }
  reap(): string {
    if (!this.join(1000)) {
      this.kill();
      this.join(-1);
    }
    return describeExit(this.process.exitcode);
  }
  join(timeoutMs: number): boolean {
    if (this.process.exitcode === null) this.process.join(timeoutMs < 0 ? null : timeoutMs);
    return this.process.exitcode !== null;
  }
  async joinAsync(): Promise<void> {
    await this.process.joinAsync();
  }
}

const WORKER_NAMES: Record<string, string> = { fork: 'ForkPoolWorker', spawn: 'SpawnPoolWorker', forkserver: 'ForkServerPoolWorker' };
let workerCounter = 0;

class ProcessTransport implements WorkerTransport {
  readonly noun = 'process';
  readonly acceptFd: number;
  private readonly address: string;
  private readonly method: string;

  constructor(private readonly context: Context) {
    this.method = context.getStartMethod() ?? 'forkserver';
    const name = `mpjs-${process.pid}-pool-${randomBytes(6).toString('hex')}`;
    // Linux's abstract namespace leaves no file behind; elsewhere a socket file in tmpdir.
    this.address = process.platform === 'linux' ? `\0${name}` : join(tmpdir(), name);
    this.acceptFd = native.listenSocket('AF_UNIX', this.address, 0, 128)[0];
    trackFd(this.acceptFd);
  }

  start(token: string): WorkerHandle {
    const worker = new this.context.Process({
      target: poolWorkerMain,
      args: [this.address, token, this.method === 'fork'],
      name: `${WORKER_NAMES[this.method] ?? 'PoolWorker'}-${++workerCounter}`,
      daemon: true,
    });
    worker.start();
    return new ProcessHandle(worker as Process<unknown[]>);
  }

  accept(): Array<{ token: string; fd: number }> {
    const arrived: Array<{ token: string; fd: number }> = [];
    for (;;) {
      const accepted = native.acceptSocket(this.acceptFd, 0);
      if (accepted === null) return arrived;
      const fd = accepted[0];
      // A worker sends its token right after connecting; anything else is not ours.
      const token = native.pollFd(fd, 2000) ? native.recvFrame(fd, 64) : null;
      if (token === null) native.closeFd(fd);
      else arrived.push({ token: token.toString('hex'), fd });
    }
  }

  close(): void {
    untrackFd(this.acceptFd);
    native.closeFd(this.acceptFd);
    if (process.platform !== 'linux') require('node:fs').rmSync(this.address, { force: true });
  }
}

function trackFd(fd: number): void {
  if (parentPoolFds.pid !== thisProcess.pid) {
    parentPoolFds.pid = thisProcess.pid;
    parentPoolFds.fds.clear();
  }
  parentPoolFds.fds.add(fd);
}

function untrackFd(fd: number): void {
  parentPoolFds.fds.delete(fd);
}

// ---------------------------------------------------------------------------------------------
// Results.

export interface ResultCallbacks<T> {
  /** Called with the result on the main thread, once it is in. */
  callback?: ((value: T) => void) | null;
  /** Called with the error when the task failed. */
  errorCallback?: ((error: unknown) => void) | null;
}

/** Options of the async forms beyond CPython: cancellation and a per-task time limit. */
export interface TaskOptions extends AbortOptions {
  /** Milliseconds a chunk may run in a worker before the result fails with TimeoutError. */
  timeout?: number | null;
}

export type AsyncOptions<T> = ResultCallbacks<T> & TaskOptions;

const enum Outcome {
  Pending,
  Fulfilled,
  Rejected,
}

/** A result to come (CPython's AsyncResult), also a PromiseLike: `await pool.mapAsync(f, xs)`. */
export class AsyncResult<T> implements PromiseLike<T> {
  private outcome = Outcome.Pending;
  private value: T | undefined;
  private error: unknown;
  private settle: { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } | null = null;
  /** @internal */
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly callbacks: ResultCallbacks<T> = {},
  ) {}

  ready(): boolean {
    return this.outcome !== Outcome.Pending;
  }

  successful(): boolean {
    if (this.outcome === Outcome.Pending) throw new InvalidStateError('AsyncResult.successful(): the result is not ready');
    return this.outcome === Outcome.Fulfilled;
  }

  /** Blocks until the result is in or timeoutMs passed; true when it is ready. */
  wait(timeoutMs?: number | null): boolean {
    if (this.outcome === Outcome.Pending) this.dispatcher.pumpUntil(() => this.outcome !== Outcome.Pending, timeoutArg(timeoutMs, 'AsyncResult.wait'));
    return this.ready();
  }

  /** Blocks for the result; throws the task's error, or TimeoutError when timeoutMs passed. */
  get(timeoutMs?: number | null): T {
    if (!this.wait(timeoutMs)) throw new TimeoutError(`AsyncResult.get(): no result within ${timeoutMs} ms`);
    if (this.outcome === Outcome.Rejected) throw this.error;
    return this.value as T;
  }

  then<A = T, B = never>(onFulfilled?: ((value: T) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.promise().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.promise().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.promise().finally(onFinally);
  }

  private promise(): Promise<T> {
    if (this.outcome === Outcome.Fulfilled) return Promise.resolve(this.value as T);
    if (this.outcome === Outcome.Rejected) return Promise.reject(this.error);
    if (this.settle === null) {
      let resolve!: (value: T) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<T>((yes, no) => ((resolve = yes), (reject = no)));
      this.settle = { promise, resolve, reject };
    }
    return this.settle.promise;
  }

  /** @internal */
  _fulfill(value: T): void {
    if (this.outcome !== Outcome.Pending) return;
    this.outcome = Outcome.Fulfilled;
    this.value = value;
    callSafely(this.callbacks.callback, value);
    this.settle?.resolve(value);
  }

  /** @internal */
  _reject(error: unknown): void {
    if (this.outcome !== Outcome.Pending) return;
    this.outcome = Outcome.Rejected;
    this.error = error;
    callSafely(this.callbacks.errorCallback, error);
    this.settle?.reject(error);
  }

  toString(): string {
    return `<AsyncResult ${this.outcome === Outcome.Pending ? 'pending' : this.outcome === Outcome.Fulfilled ? 'fulfilled' : 'rejected'}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

// A callback that throws must not break the pool's bookkeeping: its error surfaces as an uncaught
// exception, as an EventEmitter listener's would.
function callSafely<T>(callback: ((value: T) => void) | null | undefined, value: T): void {
  if (!callback) return;
  try {
    asCallback(() => callback(value));
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Jobs and chunks.

interface FnEntry {
  id: number;
  bytes: Buffer;
}

/** A slice of a job's calls, sent to one worker as one frame. */
interface Chunk {
  job: Job;
  /** Position of the chunk in its job. */
  index: number;
  /** Position of its first item in the job's input. */
  start: number;
  items: unknown[];
  seq: number;
  slot: Slot | null;
  timer: Timer | null;
}

abstract class Job {
  settled = false;
  readonly running = new Set<Chunk>();
  private readonly retry: Chunk[] = [];
  private onAbort: (() => void) | null = null;

  constructor(
    readonly dispatcher: Dispatcher,
    readonly fn: FnEntry,
    readonly kind: TaskKind,
    readonly options: TaskOptions,
  ) {}

  /** Watches the caller's signal; false when it already aborted (the job then failed). */
  watchSignal(): boolean {
    const signal = this.options.signal;
    if (!signal) return true;
    if (signal.aborted) {
      this.fail(signal.reason, AbortReason.Aborted);
      return false;
    }
    this.onAbort = () => this.fail(signal.reason, AbortReason.Aborted);
    signal.addEventListener('abort', this.onAbort, { once: true });
    return true;
  }

  /** The next chunk to run, or null when none is available now. */
  nextChunk(): Chunk | null {
    if (this.settled) return null;
    return this.retry.shift() ?? this.produce();
  }

  /** A chunk whose worker died before it started goes back to the front. */
  requeue(chunk: Chunk): void {
    this.retry.unshift(chunk);
  }

  protected abstract produce(): Chunk | null;
  /** No more chunks will come from produce(). */
  abstract get exhausted(): boolean;
  abstract chunkDone(chunk: Chunk, values: unknown[]): void;
  abstract chunkFailed(chunk: Chunk, error: unknown): void;
  /** Settles the job's result(s) with the error. */
  protected abstract rejectAll(error: unknown): void;

  protected makeChunk(index: number, start: number, items: unknown[]): Chunk {
    return { job: this, index, start, items, seq: this.dispatcher.nextSeq(), slot: null, timer: null };
  }

  /** Fails the whole job: queued chunks are dropped, running ones aborted when a reason is given. */
  fail(error: unknown, abort?: AbortReason): void {
    if (this.settled) return;
    this.finish();
    this.retry.length = 0;
    this.rejectAll(error);
    this.dispatcher.jobEnded(this, abort);
  }

  /** Marks the job settled and stops watching its signal. */
  protected finish(): void {
    this.settled = true;
    if (this.onAbort) this.options.signal?.removeEventListener('abort', this.onAbort);
    this.onAbort = null;
  }
}

class ApplyJob extends Job {
  private produced = false;
  constructor(
    dispatcher: Dispatcher,
    fn: FnEntry,
    private readonly args: unknown[],
    readonly result: AsyncResult<unknown>,
    options: TaskOptions,
  ) {
    super(dispatcher, fn, TaskKind.Apply, options);
  }
  protected produce(): Chunk | null {
    if (this.produced) return null;
    this.produced = true;
    return this.makeChunk(0, 0, this.args);
  }
  get exhausted(): boolean {
    return this.produced;
  }
  chunkDone(_chunk: Chunk, values: unknown[]): void {
    this.finish();
    this.result._fulfill(values[0]);
    this.dispatcher.jobEnded(this);
  }
  chunkFailed(_chunk: Chunk, error: unknown): void {
    this.fail(error);
  }
  protected rejectAll(error: unknown): void {
    this.result._reject(error);
  }
}

class MapJob extends Job {
  private nextIndex = 0;
  private remaining: number;
  private readonly values: unknown[];
  constructor(
    dispatcher: Dispatcher,
    fn: FnEntry,
    kind: TaskKind,
    private readonly items: unknown[],
    private readonly chunksize: number,
    readonly result: AsyncResult<unknown[]>,
    options: TaskOptions,
  ) {
    super(dispatcher, fn, kind, options);
    this.values = new Array(items.length);
    this.remaining = Math.ceil(items.length / chunksize);
  }
  protected produce(): Chunk | null {
    const start = this.nextIndex * this.chunksize;
    if (start >= this.items.length) return null;
    const items = this.chunksize === this.items.length ? this.items : this.items.slice(start, start + this.chunksize);
    return this.makeChunk(this.nextIndex++, start, items);
  }
  get exhausted(): boolean {
    return this.nextIndex * this.chunksize >= this.items.length;
  }
  chunkDone(chunk: Chunk, values: unknown[]): void {
    const target = this.values;
    for (let i = 0, at = chunk.start; i < values.length; i++, at++) target[at] = values[i];
    if (--this.remaining > 0) return;
    this.finish();
    this.result._fulfill(target);
    this.dispatcher.jobEnded(this);
  }
  chunkFailed(_chunk: Chunk, error: unknown): void {
    this.fail(error);
  }
  protected rejectAll(error: unknown): void {
    this.result._reject(error);
  }
}

/** What imap keeps per chunk until the consumer took it. */
interface Delivery {
  values: unknown[] | null;
  error: unknown;
  taken: number;
}

class IMapJob<R> extends Job implements IterableIterator<R>, AsyncIterable<R> {
  private nextIndex = 0;
  private position = 0;
  private sourceDone = false;
  /** Chunks produced and not yet fully consumed: the backpressure window counts these. */
  private open = 0;
  private delivered = 0;
  private yielded = 0;
  private readonly byIndex = new Map<number, Delivery>();
  private readonly inOrder: Delivery[] = [];
  private waiter: { resolve(result: IteratorResult<R>): void; reject(error: unknown): void } | null = null;
  private stopError: unknown = undefined;

  constructor(
    dispatcher: Dispatcher,
    fn: FnEntry,
    kind: TaskKind,
    private readonly source: Iterator<unknown>,
    private readonly chunksize: number,
    private readonly ordered: boolean,
    private readonly window: number,
    options: TaskOptions,
  ) {
    super(dispatcher, fn, kind, options);
  }

  protected produce(): Chunk | null {
    if (this.sourceDone || this.open >= this.window) return null;
    const items: unknown[] = [];
    try {
      while (items.length < this.chunksize) {
        const step = this.source.next();
        if (step.done) {
          this.sourceDone = true;
          break;
        }
        items.push(step.value);
      }
    } catch (error) {
      // The input itself failed: its items so far run, then iteration raises it at this point.
      this.sourceDone = true;
      this.stopError = error;
    }
    if (items.length === 0) {
      if (this.stopError !== undefined) this.deliverStop();
      else this.wake();
      return null;
    }
    this.open++;
    const chunk = this.makeChunk(this.nextIndex++, this.position, items);
    this.position += items.length;
    if (this.sourceDone && this.stopError !== undefined) queueMicrotask(() => this.deliverStop());
    return chunk;
  }

  private deliverStop(): void {
    if (this.stopError === undefined) return;
    const error = this.stopError;
    this.stopError = undefined;
    this.open++;
    this.store(this.nextIndex++, { values: null, error, taken: 0 });
  }

  get exhausted(): boolean {
    return this.sourceDone;
  }

  chunkDone(chunk: Chunk, values: unknown[]): void {
    this.store(chunk.index, { values, error: undefined, taken: 0 });
  }

  chunkFailed(chunk: Chunk, error: unknown): void {
    this.store(chunk.index, { values: null, error, taken: 0 });
  }

  protected rejectAll(error: unknown): void {
    this.stopError = undefined;
    this.terminal = error;
    this.wake();
  }

  private terminal: unknown = undefined;

  private store(index: number, delivery: Delivery): void {
    this.delivered++;
    if (this.ordered) this.byIndex.set(index, delivery);
    else this.inOrder.push(delivery);
    this.wake();
  }

  private head(): Delivery | undefined {
    return this.ordered ? this.byIndex.get(this.yielded) : this.inOrder[0];
  }

  private get finished(): boolean {
    return this.sourceDone && this.stopError === undefined && this.yielded === this.nextIndex;
  }

  /** The next step if one is available now: a value, the end, or a thrown error. */
  private take(): IteratorResult<R> | null {
    const head = this.head();
    if (head !== undefined) {
      if (head.values === null) {
        this.advance();
        throw head.error;
      }
      const value = head.values[head.taken++] as R;
      if (head.taken >= head.values.length) this.advance();
      return { value, done: false };
    }
    if (this.terminal !== undefined) {
      const error = this.terminal;
      this.terminal = undefined;
      this.stop();
      throw error;
    }
    if (this.settled || this.finished) {
      if (!this.settled) this.complete();
      return { value: undefined, done: true };
    }
    return null;
  }

  private advance(): void {
    if (this.ordered) this.byIndex.delete(this.yielded);
    else this.inOrder.shift();
    this.yielded++;
    this.open--;
    this.dispatcher.schedule();
  }

  private complete(): void {
    this.finish();
    this.dispatcher.jobEnded(this);
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter === null) return;
    let step: IteratorResult<R> | null;
    try {
      step = this.take();
    } catch (error) {
      this.waiter = null;
      return waiter.reject(error);
    }
    if (step === null) return;
    this.waiter = null;
    waiter.resolve(step);
  }

  /** The next result; blocks (driving the pool) until it is in. CPython's next(timeout). */
  next(timeoutMs?: number | null): IteratorResult<R> {
    let step = this.take();
    if (step !== null) return step;
    this.dispatcher.schedule();
    const timeout = timeoutArg(timeoutMs, 'IMapIterator.next');
    this.dispatcher.pumpUntil(() => this.head() !== undefined || this.terminal !== undefined || this.settled || this.finished, timeout);
    step = this.take();
    if (step === null) throw new TimeoutError(`IMapIterator.next(): no result within ${timeoutMs} ms`);
    return step;
  }

  nextAsync(): Promise<IteratorResult<R>> {
    try {
      const step = this.take();
      if (step !== null) return Promise.resolve(step);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.waiter !== null) return Promise.reject(new InvalidStateError('imap: next() was called again before the previous call settled'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.dispatcher.schedule();
    });
  }

  /** Stops early (a `break` out of for…of): queued chunks are dropped, the input is closed. */
  return(): IteratorResult<R> {
    this.stop();
    return { value: undefined, done: true };
  }

  private stop(): void {
    if (!this.settled) {
      this.finish();
      this.dispatcher.jobEnded(this);
    }
    if (!this.sourceDone) {
      this.sourceDone = true;
      this.source.return?.();
    }
    this.byIndex.clear();
    this.inOrder.length = 0;
  }

  [Symbol.iterator](): this {
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<R> {
    return {
      next: () => this.nextAsync(),
      return: async () => this.return(),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}

export type IMapIterator<R> = IterableIterator<R> & AsyncIterable<R> & { next(timeoutMs?: number | null): IteratorResult<R> };

// ---------------------------------------------------------------------------------------------
// The dispatcher: slots, the queue of jobs, timers, and the two ways of waiting.

interface Timer {
  at: number;
  run: () => void;
  live: boolean;
}

const enum SlotState {
  Starting,
  Ready,
  Retired,
  Dead,
}

class Slot {
  state = SlotState.Starting;
  chunk: Chunk | null = null;
  done = 0;
  readonly known = new Set<number>();
  watcher: NativeFdWatcher | null = null;
  watching = false;
  sentinelWatch: { close(): void } | null = null;
  escalation: Timer | null = null;
  constructor(
    readonly handle: WorkerHandle,
    readonly token: string,
  ) {}
}

const FUNCTIONS_PER_WORKER = 256;
// Workers that die before connecting this many times in a row cannot start (a bad execArgv, a
// crashing preload): the pool breaks instead of starting them forever.
const MAX_START_FAILURES = 5;
const enum PoolState {
  Run,
  Close,
  Terminate,
}

/** @internal The machinery behind a Pool, shared by its blocking and async forms. */
export class Dispatcher implements Background {
  private readonly slots = new Set<Slot>();
  private readonly idle: Slot[] = [];
  private readonly starting = new Map<string, Slot>();
  private readonly retired: WorkerHandle[] = [];
  private readonly jobs: Job[] = [];
  /** Jobs not yet settled (results the pool still owes). */
  private pending = 0;
  private readonly fns = new WeakMap<Function, FnEntry>();
  private fnCounter = 0;
  private seqCounter = 0;
  private timers: Timer[] = [];
  private timerHandle: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private acceptWatcher: NativeFdWatcher | null = null;
  private disarmQueued = false;
  private accepting = false;
  private armed = false;
  /** Registered with blocking.ts as busy: other blocking calls of this thread serve it. */
  private registered = false;
  private broken: BrokenPoolError | null = null;
  private initBytes: Buffer | null = null;
  state = PoolState.Run;
  private joinWaiters: Array<() => void> = [];
  private startFailures = 0;

  constructor(
    readonly transport: WorkerTransport,
    readonly size: number,
    initializer: ((...args: never[]) => unknown) | null,
    initargs: unknown[],
    readonly maxtasks: number | null,
    readonly graceMs: number,
  ) {
    if (initializer) this.initBytes = dumps([initializer, initargs], { root: 'initializer' });
    try {
      for (let i = 0; i < size; i++) this.startSlot();
    } catch (error) {
      // A worker that cannot start (a forkserver that cannot serve) fails the Pool, leaving nothing behind.
      this.terminate();
      this.join();
      throw error;
    }
  }

  nextSeq(): number {
    this.seqCounter = (this.seqCounter + 1) >>> 0 || 1;
    return this.seqCounter;
  }

  /** The id under which workers know `fn`; serialized once per pool. */
  functionEntry(fn: Function): FnEntry {
    if (typeof fn !== 'function') throw new TypeError(`Pool: func must be a function, got ${shown(fn)}`);
    let entry = this.fns.get(fn);
    if (entry === undefined) {
      entry = { id: ++this.fnCounter, bytes: dumps(fn, { root: 'func' }) };
      this.fns.set(fn, entry);
    }
    return entry;
  }

  checkRunning(call: string): void {
    if (this.state !== PoolState.Run) throw new InvalidStateError(`Pool.${call}(): the pool is not running (it was closed or terminated)`);
    if (this.broken) throw this.broken;
  }

  submit(job: Job): void {
    this.pending++;
    if (!job.watchSignal()) return;
    this.jobs.push(job);
    this.schedule();
  }

  /** A job settled: drop its queued chunks; abort its running ones when asked. */
  jobEnded(job: Job, abort?: AbortReason): void {
    this.pending--;
    const at = this.jobs.indexOf(job);
    if (at >= 0) this.jobs.splice(at, 1);
    for (const chunk of job.running) {
      this.clearTimer(chunk.timer);
      if (abort !== undefined && chunk.slot) this.escalate(chunk.slot, chunk, abort);
    }
    this.maybeReleaseWorkers();
    this.updateArming();
  }

  // --- workers ---------------------------------------------------------------------------

  private startSlot(): void {
    const token = randomBytes(16).toString('hex');
    const handle = this.transport.start(token);
    const slot = new Slot(handle, token);
    this.slots.add(slot);
    if (handle.fd >= 0) this.connected(slot);
    else this.starting.set(token, slot);
  }

  private connected(slot: Slot): void {
    slot.state = SlotState.Ready;
    this.startFailures = 0;
    trackFd(slot.handle.fd);
    if (this.initBytes) {
      try {
        sendEncoded(slot.handle.fd, encodeDumped(FrameType.Init, 0, 0, 0, this.initBytes));
      } catch {
        return this.lost(slot);
      }
    }
    this.idle.push(slot);
  }

  private acceptConnections(): void {
    for (const { token, fd } of this.transport.accept()) {
      const slot = this.starting.get(token);
      if (!slot) {
        native.closeFd(fd);
        continue;
      }
      this.starting.delete(token);
      slot.handle.fd = fd;
      this.connected(slot);
    }
  }

  /** The worker ended (EOF or its sentinel): its chunk fails, and a new worker takes its place. */
  private lost(slot: Slot): void {
    if (slot.state === SlotState.Dead) return;
    const wasRetired = slot.state === SlotState.Retired;
    const wasStarted = slot.state !== SlotState.Starting;
    slot.state = SlotState.Dead;
    this.slots.delete(slot);
    this.starting.delete(slot.token);
    const at = this.idle.indexOf(slot);
    if (at >= 0) this.idle.splice(at, 1);
    this.closeSlot(slot);
    const how = slot.handle.reap();
    const chunk = slot.chunk;
    slot.chunk = null;
    this.clearTimer(slot.escalation);
    if (chunk) {
      chunk.job.running.delete(chunk);
      this.clearTimer(chunk.timer);
      chunk.job.chunkFailed(
        chunk,
        new BrokenPoolError(`a pool worker ${this.transport.noun} (${this.transport.noun === 'thread' ? 'id' : 'pid'} ${slot.handle.pid}) ended with ${how} while running a task; the pool replaced it`),
      );
    }
    if (slot.state === SlotState.Dead && !wasStarted && ++this.startFailures >= MAX_START_FAILURES) {
      return this.breakPool(new BrokenPoolError(`pool workers keep ending before they connect (the last with ${how}); see their stderr`));
    }
    if (!wasRetired && this.wantsWorkers()) this.startSlot();
    this.schedule();
  }

  private wantsWorkers(): boolean {
    return this.broken === null && (this.state === PoolState.Run || (this.state === PoolState.Close && this.pending > 0));
  }

  private closeSlot(slot: Slot): void {
    slot.watcher?.close();
    slot.watcher = null;
    slot.watching = false;
    slot.sentinelWatch?.close();
    slot.sentinelWatch = null;
    if (slot.handle.fd >= 0) {
      untrackFd(slot.handle.fd);
      native.closeFd(slot.handle.fd);
      slot.handle.fd = -1;
    }
  }

  /** Lets a worker go (maxtasksperchild, close): closing its socket ends it. */
  private retire(slot: Slot): void {
    slot.state = SlotState.Retired;
    this.slots.delete(slot);
    const at = this.idle.indexOf(slot);
    if (at >= 0) this.idle.splice(at, 1);
    this.closeSlot(slot);
    this.retired.push(slot.handle);
  }

  private maybeReleaseWorkers(): void {
    if (this.state !== PoolState.Close || this.pending > 0) return;
    for (const slot of [...this.slots]) if (slot.chunk === null && slot.escalation === null && slot.state === SlotState.Ready) this.retire(slot);
  }

  // --- scheduling ------------------------------------------------------------------------

  /** Gives chunks to idle workers, first job first; never more than one chunk per worker. */
  schedule(): void {
    while (this.idle.length > 0) {
      const chunk = this.takeChunk();
      if (chunk === null) break;
      this.dispatch(this.idle.pop()!, chunk);
    }
    this.updateArming();
    if (this.joinWaiters.length > 0 && this.quiet()) for (const wake of this.joinWaiters.splice(0)) wake();
  }

  /** Nothing owed and nothing running: join may proceed. */
  private quiet(): boolean {
    return !this.busy();
  }

  private takeChunk(): Chunk | null {
    for (let i = 0; i < this.jobs.length; i++) {
      const job = this.jobs[i]!;
      const chunk = job.nextChunk();
      if (chunk !== null) return chunk;
      if (job.exhausted && !(job instanceof IMapJob)) {
        this.jobs.splice(i--, 1);
      }
    }
    return null;
  }

  private dispatch(slot: Slot, chunk: Chunk): void {
    const job = chunk.job;
    const fd = slot.handle.fd;
    let task: Encoded;
    try {
      task = encodeList(FrameType.Task, job.kind, chunk.seq, job.fn.id, chunk.items, 'args');
    } catch (error) {
      this.idle.push(slot);
      job.chunkFailed(chunk, renamePath(error, job.kind, 'args'));
      return;
    }
    try {
      if (!slot.known.has(job.fn.id)) {
        let forget = 0;
        if (slot.known.size >= FUNCTIONS_PER_WORKER) {
          forget = slot.known.values().next().value!;
          slot.known.delete(forget);
        }
        sendEncoded(fd, encodeDumped(FrameType.Function, forget, job.fn.id, 0, job.fn.bytes));
        slot.known.add(job.fn.id);
      }
      sendEncoded(fd, task);
    } catch {
      // The worker is gone before the chunk reached it: the chunk waits for another worker.
      job.requeue(chunk);
      return this.lost(slot);
    }
    slot.chunk = chunk;
    chunk.slot = slot;
    job.running.add(chunk);
    const timeout = job.options.timeout;
    if (timeout != null) chunk.timer = this.addTimer(timeout, () => job.fail(new TimeoutError(`a Pool task ran longer than its timeout of ${timeout} ms`), AbortReason.TimedOut));
  }

  /** Tells the running chunk to stop, then SIGINT, then SIGKILL (the worker is replaced). */
  private escalate(slot: Slot, chunk: Chunk, reason: AbortReason): void {
    if (slot.escalation !== null || slot.chunk !== chunk) return;
    try {
      sendEncoded(slot.handle.fd, encodeBare(FrameType.Abort, reason, chunk.seq));
    } catch {
      // already gone: its sentinel tells
    }
    slot.escalation = this.addTimer(this.graceMs, () => {
      slot.handle.interrupt();
      slot.escalation = this.addTimer(this.graceMs, () => {
        slot.escalation = null;
        slot.handle.kill();
      });
    });
  }

  // --- receiving -------------------------------------------------------------------------

  /** Reads every frame the worker has sent; handles its end. */
  private drain(slot: Slot): void {
    while (slot.state === SlotState.Ready && native.pollFd(slot.handle.fd, 0)) {
      let frame: Frame;
      try {
        const head = native.recvFrame(slot.handle.fd, -1);
        if (head === null) return this.lost(slot);
        frame = decodeFrame(slot.handle.fd, head);
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_MP_SERIALIZATION' || error instanceof Error && error.name === 'SerializationError') {
          this.received(slot, null, error);
          continue;
        }
        return this.lost(slot);
      }
      this.received(slot, frame, undefined);
    }
  }

  private received(slot: Slot, frame: Frame | null, decodeError: unknown): void {
    if (frame?.type === FrameType.InitError) {
      let cause: unknown;
      try {
        cause = loads(frame.bytes!);
      } catch (error) {
        cause = error;
      }
      const message = cause instanceof Error ? cause.message : String(cause);
      return this.breakPool(new BrokenPoolError(`the pool's initializer failed in worker pid ${slot.handle.pid}: ${message}`, { cause }));
    }
    const chunk = slot.chunk;
    if (chunk === null) return;
    slot.chunk = null;
    slot.done++;
    const job = chunk.job;
    job.running.delete(chunk);
    this.clearTimer(chunk.timer);
    this.clearTimer(slot.escalation);
    slot.escalation = null;
    if (!job.settled) {
      if (frame === null) job.chunkFailed(chunk, decodeError);
      else if (frame.type === FrameType.Result) job.chunkDone(chunk, frame.list!);
      else {
        let error: unknown;
        try {
          error = loads(frame.bytes!);
        } catch (failure) {
          error = failure;
        }
        job.chunkFailed(chunk, error);
      }
    }
    if (slot.state !== SlotState.Ready) return;
    if (this.maxtasks !== null && slot.done >= this.maxtasks) {
      this.retire(slot);
      if (this.wantsWorkers()) this.startSlot();
    } else {
      this.idle.push(slot);
    }
    if (this.state === PoolState.Close) this.maybeReleaseWorkers();
    this.schedule();
  }

  private breakPool(error: BrokenPoolError): void {
    if (this.broken) return;
    this.broken = error;
    for (const job of [...this.jobs]) job.fail(error);
    for (const slot of [...this.slots]) if (slot.chunk) slot.chunk.job.fail(error);
    for (const slot of [...this.slots]) this.retire(slot);
  }

  // --- waiting: blocking ------------------------------------------------------------------

  /** Drives the workers from this thread until done() or the timeout (-1: none); true if done. */
  pumpUntil(done: () => boolean, timeoutMs: number): boolean {
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    const fds: number[] = [];
    const owners: Array<Slot | null> = [];
    while (!done()) {
      this.runDueTimers();
      if (done()) break;
      this.collect(fds, owners);
      const now = performance.now();
      if (now >= deadline) return false;
      const until = Math.min(deadline, this.nextTimerAt());
      if (fds.length === 0 && until === Infinity) throw new InvalidStateError('Pool: waiting for a result the pool can no longer produce (it has no workers)');
      this.handleReady(native.pollMany(fds, untilReadable(fds, until === Infinity ? -1 : Math.max(0, until - now), this)), fds, owners);
      this.schedule();
    }
    return true;
  }

  /** What a blocking wait watches: the accept socket while workers start, each worker's socket and sentinel. */
  private collect(fds: number[], owners: Array<Slot | null>): void {
    fds.length = 0;
    owners.length = 0;
    if (this.starting.size > 0 && this.transport.acceptFd >= 0) {
      fds.push(this.transport.acceptFd);
      owners.push(null);
    }
    for (const slot of this.slots) {
      if (slot.handle.fd >= 0) {
        fds.push(slot.handle.fd);
        owners.push(slot);
      }
      if (slot.handle.sentinel >= 0) {
        fds.push(slot.handle.sentinel);
        owners.push(slot);
      }
    }
  }

  private handleReady(ready: number[], fds: number[], owners: Array<Slot | null>): void {
    for (const index of ready) {
      const owner = owners[index]!;
      if (owner === null) this.acceptConnections();
      else if (owner.state === SlotState.Ready) {
        if (fds[index] === owner.handle.fd) this.drain(owner);
        else {
          this.drain(owner);
          this.lost(owner);
        }
      } else if (owner.state === SlotState.Starting && fds[index] === owner.handle.sentinel) this.lost(owner);
    }
  }

  // --- waiting: another blocking call of this thread (blocking.ts) ---------------------------

  private readonly scratchFds: number[] = [];
  private readonly scratchOwners: Array<Slot | null> = [];

  watch(fds: number[]): number {
    this.collect(this.scratchFds, this.scratchOwners);
    for (const fd of this.scratchFds) fds.push(fd);
    return this.nextTimerAt();
  }

  serve(): void {
    this.runDueTimers();
    const fds = this.scratchFds;
    const owners = this.scratchOwners;
    this.collect(fds, owners);
    if (fds.length > 0) this.handleReady(native.pollMany(fds, 0), fds, owners);
    this.schedule();
  }

  // --- waiting: the event loop --------------------------------------------------------------

  /** Watches the workers from the event loop while something waits on the pool. */
  updateArming(): void {
    const busy = this.busy();
    if (busy !== this.registered) setBusy(this, (this.registered = busy));
    if (busy) return this.arm();
    // Lazily: back-to-back tasks keep their watchers instead of re-creating them per task.
    if (!this.armed || this.disarmQueued) return;
    this.disarmQueued = true;
    setImmediate(() => {
      this.disarmQueued = false;
      if (!this.busy() && this.armed) this.disarm();
    });
  }

  /** Results owed or workers busy: the event loop must watch the workers (and stay alive). */
  private busy(): boolean {
    return this.pending > 0 || this.runningCount() > 0 || this.escalating();
  }

  private runningCount(): number {
    let count = 0;
    for (const slot of this.slots) if (slot.chunk !== null) count++;
    return count;
  }

  private escalating(): boolean {
    for (const slot of this.slots) if (slot.escalation !== null) return true;
    return false;
  }

  private arm(): void {
    this.armed = true;
    for (const slot of this.slots) {
      if (slot.handle.fd >= 0 && !slot.watching) {
        slot.watcher ??= new native.FdWatcher(slot.handle.fd, () => this.onReadable(slot));
        slot.watching = true;
        slot.watcher.waitReadable();
      }
      if (slot.handle.sentinel >= 0 && slot.sentinelWatch === null) slot.sentinelWatch = new native.SentinelWatch(slot.handle.sentinel, () => this.onSentinel(slot));
    }
    if (this.starting.size > 0 && this.transport.acceptFd >= 0 && !this.accepting) {
      this.acceptWatcher ??= new native.FdWatcher(this.transport.acceptFd, () => {
        this.accepting = false;
        this.acceptConnections();
        this.schedule();
      });
      this.accepting = true;
      this.acceptWatcher.waitReadable();
    }
  }

  private disarm(): void {
    this.armed = false;
    for (const slot of this.slots) {
      if (slot.watching) slot.watcher?.cancel();
      slot.watching = false;
      slot.sentinelWatch?.close();
      slot.sentinelWatch = null;
    }
    if (this.accepting) this.acceptWatcher?.cancel();
    this.accepting = false;
  }

  private onReadable(slot: Slot): void {
    slot.watching = false;
    if (slot.state === SlotState.Ready) this.drain(slot);
    this.schedule();
  }

  private onSentinel(slot: Slot): void {
    slot.sentinelWatch?.close();
    slot.sentinelWatch = null;
    if (slot.state === SlotState.Ready) this.drain(slot);
    if (slot.state === SlotState.Ready || slot.state === SlotState.Starting) this.lost(slot);
    this.schedule();
  }

  // --- timers: run by the event loop, and by a blocking pump --------------------------------

  private addTimer(delayMs: number, run: () => void): Timer {
    const timer: Timer = { at: performance.now() + Math.max(0, delayMs), run, live: true };
    this.timers.push(timer);
    this.timers.sort((a, b) => a.at - b.at);
    this.syncTimer();
    return timer;
  }

  private clearTimer(timer: Timer | null): void {
    if (timer === null) return;
    timer.live = false;
  }

  private nextTimerAt(): number {
    while (this.timers.length > 0 && !this.timers[0]!.live) this.timers.shift();
    return this.timers[0]?.at ?? Infinity;
  }

  private runDueTimers(): void {
    const now = performance.now();
    while (this.nextTimerAt() <= now) {
      const timer = this.timers.shift()!;
      timer.live = false;
      timer.run();
    }
    this.syncTimer();
  }

  private syncTimer(): void {
    const at = this.nextTimerAt();
    if (at === this.timerAt) return;
    if (this.timerHandle) clearTimeout(this.timerHandle);
    this.timerHandle = null;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timerHandle = setTimeout(() => {
      this.timerHandle = null;
      this.timerAt = Infinity;
      this.runDueTimers();
      this.schedule();
    }, Math.max(0, at - performance.now()));
    // Timers matter only while chunks run, and then the armed socket watchers hold the loop.
    this.timerHandle.unref();
  }

  // --- ending ------------------------------------------------------------------------------

  close(): void {
    if (this.state === PoolState.Run) this.state = PoolState.Close;
    this.maybeReleaseWorkers();
    this.updateArming();
  }

  terminate(): void {
    if (this.state === PoolState.Terminate) return;
    this.state = PoolState.Terminate;
    const error = new PoolTerminatedError('the pool was terminated before this task finished');
    for (const job of [...this.jobs]) job.fail(error);
    for (const slot of [...this.slots]) if (slot.chunk && !slot.chunk.job.settled) slot.chunk.job.fail(error);
    for (const slot of [...this.slots]) {
      slot.handle.kill();
      this.retire(slot);
    }
    this.starting.clear();
    setBusy(this, (this.registered = false));
    this.disarm();
    this.clearAllTimers();
    this.closeTransport();
  }

  // The watcher goes before its fd: libuv aborts on a watched fd that was closed under it.
  private closeTransport(): void {
    this.acceptWatcher?.close();
    this.acceptWatcher = null;
    this.accepting = false;
    this.transport.close();
  }

  private clearAllTimers(): void {
    for (const timer of this.timers) timer.live = false;
    this.timers = [];
    this.syncTimer();
  }

  /** Blocks until every job settled and every worker ended. */
  join(): void {
    this.pumpUntil(() => this.quiet(), -1);
    this.finishJoin();
    for (const handle of this.retired.splice(0)) handle.join(-1);
  }

  async joinAsync(): Promise<void> {
    while (!this.quiet()) {
      await new Promise<void>((resolve) => {
        this.joinWaiters.push(resolve);
        this.updateArming();
      });
    }
    this.finishJoin();
    await Promise.all(this.retired.splice(0).map((handle) => handle.joinAsync()));
  }

  private finishJoin(): void {
    for (const slot of [...this.slots]) this.retire(slot);
    setBusy(this, (this.registered = false));
    this.disarm();
    this.clearAllTimers();
    if (this.state !== PoolState.Terminate) {
      this.closeTransport();
      this.state = PoolState.Terminate;
    }
  }

  get stateName(): string {
    return ['RUN', 'CLOSE', 'TERMINATE'][this.state]!;
  }

  get workerPids(): number[] {
    return [...this.slots].map((slot) => slot.handle.pid);
  }
}

// ---------------------------------------------------------------------------------------------
// The public Pool.

/** Options of `new Pool(options)`. */
export interface PoolOptions {
  /** Number of workers; default cpuCount(). */
  processes?: number | null;
  /** Runs once in each worker before its first task, with `initargs`. */
  initializer?: ((...args: never[]) => unknown) | null;
  initargs?: unknown[];
  /** Tasks (chunks) a worker runs before it is replaced by a fresh one; default unlimited. */
  maxtasksperchild?: number | null;
  /** The context whose start method starts the workers; default the default context. */
  context?: Context | null;
  /**
   * Beyond CPython: how long an aborted or timed-out task has to stop after its taskSignal()
   * aborted before its worker gets SIGINT, and again before SIGKILL. Default 1000 ms.
   */
  cancelGraceMs?: number;
}

type Fn<A extends unknown[], R> = (...args: A) => R;

/** An integer >= 1: a wrong type is a TypeError, a number out of range a RangeError. */
function countArg(value: unknown, what: string): number {
  if (typeof value !== 'number') throw new TypeError(`${what} must be an integer >= 1, got ${shown(value)}`);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be an integer >= 1, got ${shown(value)}`);
  return value;
}

/** A number of milliseconds >= 0 (null/undefined: none). */
function millisecondsArg(value: unknown, what: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number') throw new TypeError(`${what} must be a number of ms, got ${shown(value)}`);
  if (!(value >= 0)) throw new RangeError(`${what} must be a number of ms >= 0, got ${shown(value)}`);
  return value;
}

function functionArg(value: unknown, what: string): void {
  if (value != null && typeof value !== 'function') throw new TypeError(`${what} must be a function, got ${shown(value)}`);
}

function chunksizeArg(chunksize: number | null | undefined, fallback: number, call: string): number {
  if (chunksize === undefined || chunksize === null) return fallback;
  return countArg(chunksize, `Pool.${call}(): chunksize`);
}

function listOf<T>(iterable: Iterable<T>, call: string): T[] {
  if (Array.isArray(iterable)) return iterable;
  if (iterable === null || typeof (iterable as Iterable<T>)?.[Symbol.iterator] !== 'function') throw new TypeError(`Pool.${call}(): iterable must be iterable, got ${shown(iterable)}`);
  return [...iterable];
}

function optionsArg<T>(options: AsyncOptions<T> | undefined, call: string): AsyncOptions<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw new TypeError(`Pool.${call}(): options must be an object, got ${shown(options)}`);
  millisecondsArg(options.timeout, `Pool.${call}(): timeout`);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new TypeError(`Pool.${call}(): signal must be an AbortSignal, got ${shown(options.signal)}`);
  functionArg(options.callback, `Pool.${call}(): callback`);
  functionArg(options.errorCallback, `Pool.${call}(): errorCallback`);
  return options;
}

export class Pool {
  /** @internal */ protected readonly _dispatcher: Dispatcher;
  private readonly _processes: number;

  constructor(options?: PoolOptions | number | null) {
    const opts: PoolOptions = typeof options === 'number' ? { processes: options } : (options ?? {});
    if (typeof opts !== 'object') throw new TypeError(`Pool(options): options must be an object or the number of processes, got ${shown(options)}`);
    const processes = opts.processes == null ? cpuCount() : countArg(opts.processes, 'Pool: processes');
    functionArg(opts.initializer, 'Pool: initializer');
    if (opts.initargs !== undefined && !Array.isArray(opts.initargs)) throw new TypeError(`Pool: initargs must be an array, got ${shown(opts.initargs)}`);
    const maxtasks = opts.maxtasksperchild == null ? null : countArg(opts.maxtasksperchild, 'Pool: maxtasksperchild');
    const grace = millisecondsArg(opts.cancelGraceMs, 'Pool: cancelGraceMs') ?? 1000;
    this._processes = processes;
    this._dispatcher = new Dispatcher(this._transport(opts), processes, opts.initializer ?? null, opts.initargs ?? [], maxtasks, grace);
  }

  /** @internal The workers' kind; multiprocess/dummy's ThreadPool overrides it. */
  protected _transport(options: PoolOptions): WorkerTransport {
    const context = options.context ?? getContext();
    if (!(context instanceof Context)) throw new TypeError(`Pool: context must be a Context (getContext(method)), got ${shown(context)}`);
    return new ProcessTransport(context);
  }

  /** Calls f(...args) in a worker and blocks for the result. */
  apply<A extends unknown[], R>(f: Fn<A, R>, args?: A): Awaited<R> {
    return this.applyAsync(f, args).get();
  }

  applyAsync<A extends unknown[], R>(f: Fn<A, R>, args?: A, options?: AsyncOptions<Awaited<R>>): AsyncResult<Awaited<R>> {
    const d = this._dispatcher;
    d.checkRunning('applyAsync');
    if (args !== undefined && !Array.isArray(args)) throw new TypeError(`Pool.applyAsync(): args must be an array, got ${shown(args)}`);
    const opts = optionsArg(options, 'applyAsync');
    const result = new AsyncResult<Awaited<R>>(d, opts);
    d.submit(new ApplyJob(d, d.functionEntry(f), args ?? [], result as AsyncResult<unknown>, opts));
    return result;
  }

  /** f(item) for every item, in order; blocks. chunksize defaults to CPython's rule. */
  map<T, R>(f: (item: T) => R, iterable: Iterable<T>, chunksize?: number | null): Awaited<R>[] {
    return this._mapAsync('map', TaskKind.Map, f as Fn<unknown[], unknown>, iterable, chunksize, undefined).get() as Awaited<R>[];
  }

  mapAsync<T, R>(f: (item: T) => R, iterable: Iterable<T>, chunksize?: number | null, options?: AsyncOptions<Awaited<R>[]>): AsyncResult<Awaited<R>[]> {
    return this._mapAsync('mapAsync', TaskKind.Map, f as Fn<unknown[], unknown>, iterable, chunksize, options as AsyncOptions<unknown[]>) as AsyncResult<Awaited<R>[]>;
  }

  /** f(...args) for every args of the iterable, in order; blocks. */
  starmap<A extends unknown[], R>(f: Fn<A, R>, iterable: Iterable<A>, chunksize?: number | null): Awaited<R>[] {
    return this._mapAsync('starmap', TaskKind.Starmap, f as Fn<unknown[], unknown>, iterable, chunksize, undefined).get() as Awaited<R>[];
  }

  starmapAsync<A extends unknown[], R>(f: Fn<A, R>, iterable: Iterable<A>, chunksize?: number | null, options?: AsyncOptions<Awaited<R>[]>): AsyncResult<Awaited<R>[]> {
    return this._mapAsync('starmapAsync', TaskKind.Starmap, f as Fn<unknown[], unknown>, iterable, chunksize, options as AsyncOptions<unknown[]>) as AsyncResult<Awaited<R>[]>;
  }

  private _mapAsync(call: string, kind: TaskKind, f: Fn<unknown[], unknown>, iterable: Iterable<unknown>, chunksize: number | null | undefined, options: AsyncOptions<unknown[]> | undefined): AsyncResult<unknown[]> {
    const d = this._dispatcher;
    d.checkRunning(call);
    const items = listOf(iterable, call);
    if (kind === TaskKind.Starmap) for (const args of items) if (!Array.isArray(args)) throw new TypeError(`Pool.${call}(): each item must be an array of arguments, got ${shown(args)}`);
    // CPython's rule: about four chunks per worker.
    let fallback = Math.floor(items.length / (this._processes * 4));
    if (items.length % (this._processes * 4) !== 0) fallback++;
    const size = chunksizeArg(chunksize, Math.max(1, fallback), call);
    const opts = optionsArg(options, call);
    const result = new AsyncResult<unknown[]>(d, opts);
    if (items.length === 0) {
      result._fulfill([]);
      return result;
    }
    d.submit(new MapJob(d, d.functionEntry(f), kind, items, size, result, opts));
    return result;
  }

  /**
   * Results of f(item) in order, as they come: a blocking Iterable and an AsyncIterable. The input
   * is read lazily, a few chunks ahead of the consumer, so it may be endless. chunksize default 1.
   */
  imap<T, R>(f: (item: T) => R, iterable: Iterable<T>, chunksize?: number | null, options?: TaskOptions): IMapIterator<Awaited<R>> {
    return this._imap('imap', f as Fn<unknown[], unknown>, iterable, chunksize, true, options) as IMapIterator<Awaited<R>>;
  }

  /** Like imap, in the order the results come in. */
  imapUnordered<T, R>(f: (item: T) => R, iterable: Iterable<T>, chunksize?: number | null, options?: TaskOptions): IMapIterator<Awaited<R>> {
    return this._imap('imapUnordered', f as Fn<unknown[], unknown>, iterable, chunksize, false, options) as IMapIterator<Awaited<R>>;
  }

  private _imap(call: string, f: Fn<unknown[], unknown>, iterable: Iterable<unknown>, chunksize: number | null | undefined, ordered: boolean, options: TaskOptions | undefined): IMapIterator<unknown> {
    const d = this._dispatcher;
    d.checkRunning(call);
    if (iterable === null || typeof (iterable as Iterable<unknown>)?.[Symbol.iterator] !== 'function') throw new TypeError(`Pool.${call}(): iterable must be iterable, got ${shown(iterable)}`);
    const size = chunksizeArg(chunksize, 1, call);
    const opts = optionsArg(options, call);
    const job = new IMapJob<unknown>(d, d.functionEntry(f), TaskKind.Map, iterable[Symbol.iterator](), size, ordered, Math.max(4, this._processes * 2), opts);
    d.submit(job);
    return job as unknown as IMapIterator<unknown>;
  }

  /** No more tasks; the workers end once the pending ones are done. */
  close(): void {
    this._dispatcher.close();
  }

  /** Stops the workers now; pending results fail with code ERR_MP_POOL_TERMINATED. */
  terminate(): void {
    this._dispatcher.terminate();
  }

  /** Waits for the workers to end; call close() or terminate() first. */
  join(): void {
    this._checkJoinable('join');
    this._dispatcher.join();
  }

  async joinAsync(): Promise<void> {
    this._checkJoinable('joinAsync');
    await this._dispatcher.joinAsync();
  }

  private _checkJoinable(call: string): void {
    if (this._dispatcher.state === PoolState.Run) throw new InvalidStateError(`Pool.${call}(): the pool is still running; call close() or terminate() first`);
  }

  [Symbol.dispose](): void {
    this.terminate();
    this.join();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
    await this.joinAsync();
  }

  /** @internal Pids of the live workers (tests, maxtasksperchild). */
  get _workerPids(): number[] {
    return this._dispatcher.workerPids;
  }

  toString(): string {
    return `<${this.constructor.name} state=${this._dispatcher.stateName} pool_size=${this._processes}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

// ctx.Pool: the Pool bound to a context's start method (CPython's context.Pool).
declare module '../context' {
  interface Context {
    readonly Pool: typeof Pool;
  }
}
const boundPools = new WeakMap<Context, typeof Pool>();
const BasePool = Pool;
Object.defineProperty(Context.prototype, 'Pool', {
  configurable: true,
  get(this: Context): typeof Pool {
    let Bound = boundPools.get(this);
    if (Bound === undefined) {
      const context = this;
      Bound = class Pool extends BasePool {
        constructor(options?: PoolOptions | number | null) {
          const opts: PoolOptions = typeof options === 'number' ? { processes: options } : { ...(options ?? {}) };
          opts.context ??= context;
          super(opts);
        }
      };
      boundPools.set(this, Bound);
    }
    return Bound;
  },
});
