// The pool's jobs (CPython's ApplyResult, MapResult, IMapIterator): each cuts its calls into
// chunks for the dispatcher and settles its result from the chunks' outcomes. The dispatcher is
// seen through JobHost only.
import { InvalidStateError, TimeoutError } from '../errors';
import { objectList, timeoutArg } from '../util';
import type { AsyncResult, Drive, TaskOptions } from './async-result';
import { AbortReason, copyNumbers, copyResults, resultArray, resultList, TaskKind, type Encoded, type ResultValues } from './protocol';

/** What a job asks of the dispatcher that runs it. */
export interface JobHost {
  /** A fresh sequence number for a chunk. */
  nextSeq(): number;
  /** The job settled: its queued chunks go, its running ones are aborted when a reason is given. */
  jobEnded(job: Job, abort?: AbortReason): void;
  /** Chunks may be available (a consumer took results): give them to idle workers. */
  schedule(): void;
  pumpUntil: Drive;
  /** close() was called: every input is read to its end, so that join() returns (as CPython's). */
  readonly closing: boolean;
}

/** A function as workers know it: the id it is sent under, and its serialized form. */
export interface FnEntry {
  id: number;
  bytes: Buffer;
}

/** A slice of a job's calls, sent to one worker as one frame. */
export interface Chunk {
  job: Job;
  /** Position of the chunk in its job. */
  index: number;
  /** Position of its first item in the job's input. */
  start: number;
  /** Its items: `items` from `from` to `to` (a map's chunk is a range of the job's input, not a copy). */
  items: unknown[];
  from: number;
  to: number;
  seq: number;
  /** Its Task frame, made while every worker was busy (Dispatcher.encodeAhead), sent once; null if that failed. */
  encoded: Encoded | null | undefined;
}

export abstract class Job {
  settled = false;
  readonly running = new Set<Chunk>();
  private readonly retry: Chunk[] = objectList();
  private onAbort: (() => void) | null = null;

  constructor(
    readonly host: JobHost,
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
  abstract chunkDone(chunk: Chunk, values: ResultValues): void;
  abstract chunkFailed(chunk: Chunk, error: unknown): void;
  /** Settles the job's result(s) with the error. */
  protected abstract rejectAll(error: unknown): void;

  protected makeChunk(index: number, start: number, items: unknown[], from = 0, to = items.length): Chunk {
    return { job: this, index, start, items, from, to, seq: this.host.nextSeq(), encoded: undefined };
  }

  /** Fails the whole job: queued chunks are dropped, running ones aborted when a reason is given. */
  fail(error: unknown, abort?: AbortReason): void {
    if (this.settled) return;
    this.finish();
    this.retry.length = 0;
    this.rejectAll(error);
    this.endForHost(abort);
  }

  private endedForHost = false;

  /** Tells the pool, once, that this job needs no more of it (join() waits for the others). */
  protected endForHost(abort?: AbortReason): void {
    if (this.endedForHost) return;
    this.endedForHost = true;
    this.host.jobEnded(this, abort);
  }

  /** Marks the job settled and stops watching its signal. */
  protected finish(): void {
    this.settled = true;
    if (this.onAbort) this.options.signal?.removeEventListener('abort', this.onAbort);
    this.onAbort = null;
  }
}

export class ApplyJob extends Job {
  private produced = false;
  constructor(
    host: JobHost,
    fn: FnEntry,
    private readonly args: unknown[],
    readonly result: AsyncResult<unknown>,
    options: TaskOptions,
  ) {
    super(host, fn, TaskKind.Apply, options);
  }
  protected produce(): Chunk | null {
    if (this.produced) return null;
    this.produced = true;
    return this.makeChunk(0, 0, this.args);
  }
  get exhausted(): boolean {
    return this.produced;
  }
  chunkDone(_chunk: Chunk, values: ResultValues): void {
    this.finish();
    this.result._fulfill(resultList(values)[0]);
    this.endForHost();
  }
  chunkFailed(_chunk: Chunk, error: unknown): void {
    this.fail(error);
  }
  protected rejectAll(error: unknown): void {
    this.result._reject(error);
  }
}

export class MapJob extends Job {
  private nextIndex = 0;
  private remaining: number;
  private values: unknown[] | null = null;
  /** The list holds doubles (resultArray), until a chunk brings other values than numbers. */
  private unboxed = false;
  constructor(
    host: JobHost,
    fn: FnEntry,
    kind: TaskKind,
    private readonly items: unknown[],
    private readonly chunksize: number,
    readonly result: AsyncResult<unknown[]>,
    options: TaskOptions,
  ) {
    super(host, fn, kind, options);
    this.remaining = Math.ceil(items.length / chunksize);
  }
  protected produce(): Chunk | null {
    const start = this.nextIndex * this.chunksize;
    if (start >= this.items.length) return null;
    return this.makeChunk(this.nextIndex++, start, this.items, start, Math.min(start + this.chunksize, this.items.length));
  }
  get exhausted(): boolean {
    return this.nextIndex * this.chunksize >= this.items.length;
  }
  chunkDone(chunk: Chunk, values: ResultValues): void {
    if (this.values === null) ({ list: this.values, unboxed: this.unboxed } = resultArray(values, this.items.length));
    const target = this.values;
    const numbers = values instanceof Float64Array;
    // Values other than numbers make the list generic: copyNumbers must never meet such a list.
    if (!numbers) this.unboxed = false;
    if (this.unboxed && numbers) copyNumbers(values, target, chunk.start);
    else copyResults(values, target, chunk.start);
    if (--this.remaining > 0) return;
    this.finish();
    this.result._fulfill(target);
    this.endForHost();
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

export class IMapJob<R> extends Job implements IterableIterator<R>, AsyncIterable<R> {
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
    host: JobHost,
    fn: FnEntry,
    kind: TaskKind,
    private readonly source: Iterator<unknown>,
    private readonly chunksize: number,
    private readonly ordered: boolean,
    private readonly window: number,
    options: TaskOptions,
  ) {
    super(host, fn, kind, options);
  }

  protected produce(): Chunk | null {
    if (this.sourceDone || (this.open >= this.window && !this.host.closing)) return null;
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
      else {
        this.endIfAllIn();
        this.wake();
      }
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

  chunkDone(chunk: Chunk, values: ResultValues): void {
    this.store(chunk.index, { values: resultList(values), error: undefined, taken: 0 });
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
    this.endIfAllIn();
    this.wake();
  }

  /** Every result is in: the rest is the consumer's, as in CPython, whose join() does not wait for it. */
  private endIfAllIn(): void {
    if (this.sourceDone && this.stopError === undefined && this.delivered === this.nextIndex) this.endForHost();
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
    this.host.schedule();
  }

  private complete(): void {
    this.finish();
    this.endForHost();
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
    this.host.schedule();
    const timeout = timeoutArg(timeoutMs, 'IMapIterator.next');
    this.host.pumpUntil(() => this.head() !== undefined || this.terminal !== undefined || this.settled || this.finished, timeout);
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
      this.host.schedule();
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
      this.endForHost();
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