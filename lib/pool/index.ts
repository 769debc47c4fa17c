// The public Pool (CPython's pool.py): checks its arguments, cuts calls into jobs and hands them
// to its Dispatcher (dispatcher.ts), which feeds idle workers over their transport (transport.ts:
// processes; threads in multiprocess/dummy) from the event loop, from a blocking call that polls
// the workers itself (map, apply, get), or from any other blocking call of the package while
// results are owed (blocking.ts), so no form needs another to make progress.
import { inspect } from 'node:util';

import { Context, getContext } from '../context';
import { InvalidStateError } from '../errors';
import { cpuCount } from '../system';
import { shown } from '../util';
import { AsyncResult, type AsyncOptions, type TaskOptions } from './async-result';
import { Dispatcher, PoolState } from './dispatcher';
import { ApplyJob, IMapJob, MapJob, type IMapIterator } from './jobs';
import { TaskKind } from './protocol';
import { ProcessTransport, type WorkerTransport } from './transport';

export { AsyncResult } from './async-result';
export type { AsyncOptions, ResultCallbacks, TaskOptions } from './async-result';
export { PoolTerminatedError } from './dispatcher';
export type { IMapIterator } from './jobs';
export { taskSignal } from './worker';

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

  constructor(options?: PoolOptions | number | null, ...positional: never[]) {
    // CPython's Pool(processes, initializer, initargs): an initializer passed so would be ignored.
    if (positional.length > 0) throw new TypeError('Pool(options): takes one argument, the number of processes or { processes, initializer, initargs, maxtasksperchild }; write CPython\'s Pool(4, init, args) as new Pool({ processes: 4, initializer: init, initargs: args })');
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
    return new ProcessTransport(context.Process, context.getStartMethod() ?? 'forkserver');
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
    const result = new AsyncResult<Awaited<R>>(d.drive, opts);
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
    const result = new AsyncResult<unknown[]>(d.drive, opts);
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
        constructor(options?: PoolOptions | number | null, ...positional: never[]) {
          const opts: PoolOptions = typeof options === 'number' ? { processes: options } : { ...(options ?? {}) };
          opts.context ??= context;
          super(opts, ...positional);
        }
      };
      boundPools.set(this, Bound);
    }
    return Bound;
  },
});
