// A result to come (CPython's AsyncResult): settled by its job, waited for by a blocking get that
// drives the pool through the function it was handed, or awaited as a PromiseLike.
import { inspect } from 'node:util';

import { asCallback } from '../blocking';
import { InvalidStateError, TimeoutError } from '../errors';
import { timeoutArg, type AbortOptions } from '../util';

/** Drives the pool from this thread until done() or timeoutMs (-1: none) passed; true if done. */
export type Drive = (done: () => boolean, timeoutMs: number) => boolean;

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
    private readonly drive: Drive,
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
    if (this.outcome === Outcome.Pending) this.drive(() => this.outcome !== Outcome.Pending, timeoutArg(timeoutMs, 'AsyncResult.wait'));
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