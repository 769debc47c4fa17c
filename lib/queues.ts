// Queue, JoinableQueue and SimpleQueue (CPython's queues.py) over a ring buffer in one shared
// segment instead of a pipe and a feeder thread: put copies the serialized message into the ring
// and publishes it with one atomic store of the write position, so it is visible at once and
// nothing is left to flush at exit. Readers hold the reader lock, writers the writer lock (both
// robust SemLocks); sleepers park on the position words and are woken only when they sleep.
//
// Crash safety follows from the commit rule: a record exists once the write position passes it,
// and is gone once the read position passes it. A writer killed mid-record leaves nothing (the next
// writer, who inherits the writer lock, overwrites it); a reader killed before advancing the read
// position leaves the message for the next reader. Messages larger than the ring go in chunks: the
// writer holds the writer lock and the reader the reader lock across all of them; a reader that
// finds chunks without their start (their reader died) skips them, and a reader whose writer died
// mid-message (or who sees a new message start) drops the partial one, so no message is torn.
import { inspect } from 'node:util';

import { park } from './blocking';
import { Empty, Full, InvalidStateError } from './errors';
import { native, type NativeRingReadable, type NativeRingWatcher, type NativeSegment } from './native';
import { dumps, loads } from './serializer/index';
import { register } from './serializer/registry';
import { Lock, SemLock } from './synchronize';
import {
  createSegment, deadlineOf, driveAsync, driveBlocking, receiveSegment, remainingMs, sendSegment, thisProcess, timeoutArg,
  type AbortableWait, type AbortOptions, type Steps as GenericSteps,
} from './util';

// Byte offsets in the segment. Positions are free-running uint32 byte counts in the low half of a
// 64-bit word whose high half counts whole messages, so a position and its count change together.
const RLOCK = 0;
const WLOCK = 64;
const TAIL = 128; // written by the writer-lock holder; readers park on its low half
const READERS_WAITING = 136;
const HEAD = 192; // written by the reader-lock holder; writers park on its low half
const WRITERS_WAITING = 200;
const UNFINISHED = 256; // JoinableQueue: messages put and not yet taskDone()
const JOIN_WAITERS = 260;
const CAPACITY = 264;
const MAXSIZE = 268;
const DATA = 512;

// A record: int32 payload length, int32 flags, float64 total message length; 16-byte aligned.
const RECORD_HEADER = 16;
const FIRST = 1;
const LAST = 2;
// Bits 8-15 of a first record's flags: how to rebuild the message (0: serialized, else RAW_TYPES).
const KIND_SHIFT = 8;

// Byte arrays go into the ring as their raw bytes, one copy in and one out: dumps() would copy
// them twice more and caps 1 MiB messages near its own ~2 GB/s. Only exact classes: subclasses
// and everything else are serialized.
const RAW_TYPES = [
  undefined, Buffer, Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array,
  Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array,
] as const;

/** A message as it travels: bytes and the kind that says how to rebuild it. */
interface Encoded {
  bytes: Uint8Array;
  kind: number;
}

function encode(obj: unknown): Encoded {
  if (ArrayBuffer.isView(obj)) {
    const kind = RAW_TYPES.indexOf(obj.constructor as (typeof RAW_TYPES)[number]);
    if (kind > 0) return { bytes: new Uint8Array(obj.buffer, obj.byteOffset, obj.byteLength), kind };
  }
  return { bytes: dumps(obj), kind: 0 };
}

// From here on an async reader's buffer comes from native.allocateBytes (a populated mapping, or
// huge pages; aligned for every element type): faulting in its pages one by one cost more than
// the copy. Such memory is freed from the event loop, which a blocking reader (a fork child's
// loop of get()) may never turn: it gets memory V8 owns, which a collection frees at once.
const LARGE_MESSAGE = 256 << 10;

/** A buffer for a message of `kind`, aligned for its element type. */
function allocate(length: number, kind: number, blocking: boolean): Buffer {
  if (length >= LARGE_MESSAGE) return blocking ? Buffer.allocUnsafeSlow(length) : native.allocateBytes(length);
  return kind <= 2 ? Buffer.allocUnsafe(length) : Buffer.from(new ArrayBuffer(length));
}

function decode({ bytes, kind }: { bytes: Buffer; kind: number }): unknown {
  if (kind === 0) return loads(bytes);
  if (kind === 1) return bytes;
  const type = RAW_TYPES[kind];
  if (!type) throw new InvalidStateError(`Queue: unknown message kind ${kind}; the shared ring is corrupt`);
  const view = type as unknown as { new (buffer: ArrayBufferLike, offset: number, length: number): unknown; BYTES_PER_ELEMENT: number };
  return new view(bytes.buffer, bytes.byteOffset, bytes.byteLength / view.BYTES_PER_ELEMENT);
}

const DEFAULT_BUFFER_BYTES = 4 << 20;
const MIN_BUFFER_BYTES = 4096;
// How often a reader in the middle of a chunked message checks that its writer still lives.
const WRITER_CHECK_MS = 100;
// A sleeper re-reads its word at least this often: a writer killed between its commit and its
// wake-up call would otherwise leave the message unseen until the next put.
const RECHECK_MS = 250;

function align(bytes: number): number {
  return (bytes + RECORD_HEADER - 1) & ~(RECORD_HEADER - 1);
}

function positionOf(word: bigint): number {
  return Number(word & 0xffffffffn);
}

function countOf(word: bigint): number {
  return Number(word >> 32n);
}

function pack(position: number, count: number): bigint {
  return (BigInt(count >>> 0) << 32n) | BigInt(position >>> 0);
}


// ---------------------------------------------------------------------------------------------
// put, get and join are step generators (util.ts) that wait on the ring's locks and words.

type WaitStep = AbortableWait & ({ lock: SemLock; timeoutMs: number | undefined } | { word: number; waiters: number; expected: number; timeoutMs: number | undefined });

type Steps<T> = GenericSteps<WaitStep, T>;

interface WordWatch {
  watcher: NativeRingWatcher;
  pid: number;
  listeners: Set<() => void>;
}

// Watches with a pending async wait, rooted like any pending I/O: otherwise the waiting promise,
// its queue and the watch reference only each other (the watcher's thread holds its listeners
// weakly, so that an idle queue can be collected), and a GC collects them, stopping the thread
// before the message the promise waits for arrives.
const watchesWithWaiters = new Set<WordWatch>();

/** The shared state of one queue: the segment, its two locks and the ring. */
class Ring {
  readonly segment: NativeSegment;
  readonly capacity: number;
  readonly maxsize: number;
  readonly rlock: Lock;
  readonly wlock: Lock;
  /** The header as int32s (JoinableQueue's counter lives there). */
  readonly ints: Int32Array;
  private readonly _words: BigInt64Array;
  private readonly _data: Uint8Array;
  private readonly _recordInts: Int32Array;
  private readonly _recordTotals: Float64Array;
  private readonly _mask: number;
  private readonly _watches = new Map<number, WordWatch>();
  private _closed = false;

  constructor(segment: NativeSegment) {
    this.segment = segment;
    this.ints = new Int32Array(segment.buffer, 0, DATA / 4);
    this._words = new BigInt64Array(segment.buffer, 0, DATA / 8);
    this.capacity = this.ints[CAPACITY / 4];
    this.maxsize = this.ints[MAXSIZE / 4];
    this._mask = this.capacity - 1;
    this._data = new Uint8Array(segment.buffer, DATA, this.capacity);
    this._recordInts = new Int32Array(segment.buffer, DATA, this.capacity / 4);
    this._recordTotals = new Float64Array(segment.buffer, DATA, this.capacity / 8);
    this.rlock = SemLock._attach(Lock, { segment, offset: RLOCK });
    this.wlock = SemLock._attach(Lock, { segment, offset: WLOCK });
  }

  static create(maxsize: number, capacity: number): Ring {
    const segment = createSegment('queue', DATA + capacity);
    native.semInit(segment, RLOCK, 1, 1, 0);
    native.semInit(segment, WLOCK, 1, 1, 0);
    const ints = new Int32Array(segment.buffer, 0, DATA / 4);
    ints[CAPACITY / 4] = capacity;
    ints[MAXSIZE / 4] = maxsize;
    return new Ring(segment);
  }

  /** Messages put and not yet taken (exact while nobody is in the middle of a put or get). */
  size(): number {
    return (countOf(Atomics.load(this._words, TAIL / 8)) - countOf(Atomics.load(this._words, HEAD / 8))) >>> 0;
  }

  *putSteps({ bytes, kind }: Encoded, timeout: number, call: string, task: boolean): Steps<void> {
    const deadline = deadlineOf(timeout);
    if (!(yield { lock: this.wlock, timeoutMs: remainingMs(deadline), abortable: true })) throw this._full(call);
    try {
      const length = bytes.byteLength;
      const whole = length + RECORD_HEADER <= this.capacity;
      let written = 0;
      for (;;) {
        const head = Atomics.load(this._words, HEAD / 8);
        const tail = Atomics.load(this._words, TAIL / 8);
        const headPosition = positionOf(head);
        const free = this.capacity - ((positionOf(tail) - headPosition) >>> 0);
        const started = written > 0;
        if (started || this.maxsize <= 0 || ((countOf(tail) - countOf(head)) >>> 0) < this.maxsize) {
          if (whole) {
            if (free >= align(RECORD_HEADER + length)) {
              if (task) Atomics.add(this.ints, UNFINISHED / 4, 1);
              this._write(tail, bytes, 0, length, FIRST | LAST | (kind << KIND_SHIFT), length);
              return;
            }
          } else {
            // Chunks no smaller than a quarter of the ring, so a slow reader costs few records.
            const left = length - written;
            const chunk = Math.min(left, free - RECORD_HEADER);
            if (chunk >= Math.min(left, this.capacity >> 2)) {
              const last = chunk === left;
              if (last && task) Atomics.add(this.ints, UNFINISHED / 4, 1);
              this._write(tail, bytes, written, chunk, (started ? 0 : FIRST | (kind << KIND_SHIFT)) | (last ? LAST : 0), length);
              written += chunk;
              if (last) return;
              continue;
            }
          }
        }
        // Once a message is partly in, it is finished whatever the timeout: a reader waits for it.
        if (!started && remainingMs(deadline) === 0) throw this._full(call);
        yield { word: HEAD, waiters: WRITERS_WAITING, expected: headPosition | 0, timeoutMs: started ? undefined : remainingMs(deadline), abortable: !started };
      }
    } finally {
      this.wlock.release();
    }
  }

  *getSteps(timeout: number, call: string, blocking: boolean): Steps<{ bytes: Buffer; kind: number }> {
    const deadline = deadlineOf(timeout);
    if (!(yield { lock: this.rlock, timeoutMs: remainingMs(deadline), abortable: true })) throw this._empty(call);
    try {
      let partial: Buffer | undefined;
      let filled = 0;
      let kind = 0;
      for (;;) {
        const tail = Atomics.load(this._words, TAIL / 8);
        const head = Atomics.load(this._words, HEAD / 8);
        const position = positionOf(head);
        if (position === positionOf(tail)) {
          if (partial && native.ringOwnerDied(this.segment, WLOCK)) partial = undefined;
          if (!partial && remainingMs(deadline) === 0) throw this._empty(call);
          yield {
            word: TAIL,
            waiters: READERS_WAITING,
            expected: positionOf(tail) | 0,
            timeoutMs: partial ? WRITER_CHECK_MS : remainingMs(deadline),
            abortable: !partial,
          };
          continue;
        }
        const slot = position & this._mask;
        const length = this._recordInts[slot >> 2];
        const flags = this._recordInts[(slot >> 2) + 1];
        const next = (position + align(RECORD_HEADER + length)) >>> 0;
        const last = (flags & LAST) !== 0;
        if (flags & FIRST) {
          // A new start while a message is partial: that message's writer died before finishing it.
          kind = (flags >> KIND_SHIFT) & 0xff;
          partial = allocate(last ? length : this._recordTotals[(slot >> 3) + 1], kind, blocking);
          filled = 0;
        }
        // Chunks without their start belong to a message whose reader died: skip them.
        if (partial) {
          this._copyOut(partial, filled, length, position + RECORD_HEADER);
          filled += length;
        }
        this._advanceHead(head, next, last);
        if (last && partial) return { bytes: partial, kind };
      }
    } finally {
      this.rlock.release();
    }
  }

  /** Blocks until the word at `word` differs from `expected` or timeoutMs passes. */
  waitWord(word: number, waiters: number, expected: number, timeoutMs: number | undefined): void {
    park((ms) => native.ringWait(this.segment, word, expected, waiters, ms), Math.min(timeoutMs ?? RECHECK_MS, RECHECK_MS));
  }

  /** The Async twin of waitWord; rejects with the signal's reason when it aborts. */
  waitWordAsync(word: number, waiters: number, expected: number, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const watch = this._watch(word, waiters);
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (settle: () => void): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        watch.listeners.delete(listener);
        if (watch.listeners.size === 0) {
          watchesWithWaiters.delete(watch);
          if (this._closed) this._dropWatch(word, watch);
          else watch.watcher.idle();
        }
        settle();
      };
      const listener = (): void => done(resolve);
      const onAbort = (): void => done(() => reject(signal?.reason));
      watch.listeners.add(listener);
      watchesWithWaiters.add(watch);
      if (timeoutMs !== undefined) timer = setTimeout(listener, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      watch.watcher.arm(expected);
    });
  }

  wake(word: number, waiters: number): void {
    if (Atomics.load(this.ints, waiters / 4) > 0) native.ringWake(this.segment, word);
  }

  /** Stops the idle watchers now, and the others once their last wait ends (a message half written or read is finished). */
  closeWatchers(): void {
    this._closed = true;
    for (const [word, watch] of this._watches) if (watch.listeners.size === 0) this._dropWatch(word, watch);
  }

  private _dropWatch(word: number, watch: WordWatch): void {
    watchesWithWaiters.delete(watch);
    if (watch.pid === thisProcess.pid) watch.watcher.close();
    if (this._watches.get(word) === watch) this._watches.delete(word);
  }

  private _watch(word: number, waiters: number): WordWatch {
    let watch = this._watches.get(word);
    // A fork child inherits the object but not the watcher's thread: it needs its own.
    if (!watch || watch.pid !== thisProcess.pid) {
      const listeners = new Set<() => void>();
      const weak = new WeakRef(listeners);
      const watcher = new native.RingWatcher(this.segment, word, waiters, () => {
        const current = weak.deref();
        if (current) for (const listener of [...current]) listener();
      });
      watch = { watcher, pid: thisProcess.pid, listeners };
      this._watches.set(word, watch);
    }
    return watch;
  }

  private _write(tail: bigint, bytes: Uint8Array, start: number, length: number, flags: number, total: number): void {
    const position = positionOf(tail);
    const slot = position & this._mask;
    this._recordInts[slot >> 2] = length;
    this._recordInts[(slot >> 2) + 1] = flags;
    this._recordTotals[(slot >> 3) + 1] = total;
    const at = (position + RECORD_HEADER) & this._mask;
    const first = Math.min(length, this.capacity - at);
    this._data.set(bytes.subarray(start, start + first), at);
    if (first < length) this._data.set(bytes.subarray(start + first, start + length), 0);
    // The commit: one atomic store makes the whole record visible.
    Atomics.store(this._words, TAIL / 8, pack(position + align(RECORD_HEADER + length), countOf(tail) + (flags & LAST ? 1 : 0)));
    this.wake(TAIL, READERS_WAITING);
  }

  private _copyOut(target: Buffer, offset: number, length: number, position: number): void {
    // A corrupt length must not write past the message (a record from a dead writer is never read).
    if (offset + length > target.byteLength) throw new InvalidStateError('Queue: a chunk overruns its message; the shared ring is corrupt');
    const at = position & this._mask;
    const first = Math.min(length, this.capacity - at);
    target.set(this._data.subarray(at, at + first), offset);
    if (first < length) target.set(this._data.subarray(0, length - first), offset + first);
  }

  private _advanceHead(head: bigint, next: number, last: boolean): void {
    Atomics.store(this._words, HEAD / 8, pack(next, countOf(head) + (last ? 1 : 0)));
    this.wake(HEAD, WRITERS_WAITING);
  }

  private _full(call: string): Full {
    return new Full(`${call}(): the queue is full (maxsize ${this.maxsize}, or its ${this.capacity}-byte buffer)`);
  }

  private _empty(call: string): Empty {
    return new Empty(`${call}(): the queue is empty`);
  }
}

function runBlocking<T>(ring: Ring, steps: Steps<T>): T {
  return driveBlocking(steps, (wait) => {
    if ('lock' in wait) return wait.lock.acquire(true, wait.timeoutMs ?? null);
    ring.waitWord(wait.word, wait.waiters, wait.expected, wait.timeoutMs);
    return true;
  });
}

function runAsync<T>(ring: Ring, steps: Steps<T>, signal: AbortSignal | undefined): Promise<T> {
  return driveAsync(steps, signal, async (wait, waitSignal) => {
    if ('lock' in wait) return wait.lock.acquireAsync(wait.timeoutMs ?? null, { signal: waitSignal });
    await ring.waitWordAsync(wait.word, wait.waiters, wait.expected, wait.timeoutMs, waitSignal);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------

/** Beyond CPython: the size of the shared ring that holds messages in flight. */
export interface QueueOptions {
  /** A power of two >= 4096; default 4 MiB. Larger messages go through in chunks. */
  bufferBytes?: number;
}

function bufferBytesArg(options: QueueOptions | undefined, what: string): number {
  const bytes = options?.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < MIN_BUFFER_BYTES || bytes > 2 ** 30 || (bytes & (bytes - 1)) !== 0)
    throw new RangeError(`${what}: bufferBytes must be a power of two between ${MIN_BUFFER_BYTES} and 2**30, got ${String(bytes)}`);
  return bytes;
}

function maxsizeArg(maxsize: number, what: string): number {
  if (typeof maxsize !== 'number' || !Number.isInteger(maxsize)) throw new TypeError(`${what}: maxsize must be an integer, got ${String(maxsize)}`);
  return Math.max(0, Math.min(maxsize, 0x7fffffff));
}

/**
 * CPython's Queue._reader, for wait()/waitAsync(): its fileno() is readable while the queue holds
 * messages. The messages live in shared memory, not in a pipe, so this is an eventfd that a thread
 * keeps in step with the ring (started on first use; it costs the queue's readers a wake-up call).
 * Readable means "a get() would find data", not that this process will win the race for it.
 */
export interface QueueReader {
  fileno(): number;
}

interface JoinedSignal {
  signal: AbortSignal;
  release(): void;
}

const noop = (): void => {};

/** What Queue and SimpleQueue share: a Ring, closing, and the put/get drivers. */
/** `Queue.put`, `JoinableQueue.getAsync`, …: error texts name the call; built once per class, not per put. */
type CallNames = Record<'put' | 'get' | 'putNowait' | 'getNowait' | 'putAsync' | 'getAsync' | 'empty', string>;
const callNamesByClass = new Map<string, CallNames>();

function callNames(cls: string): CallNames {
  let names = callNamesByClass.get(cls);
  if (names === undefined) {
    const of = (method: string): string => `${cls}.${method}`;
    names = { put: of('put'), get: of('get'), putNowait: of('putNowait'), getNowait: of('getNowait'), putAsync: of('putAsync'), getAsync: of('getAsync'), empty: of('empty') };
    callNamesByClass.set(cls, names);
  }
  return names;
}

abstract class RingQueue<T> {
  protected _ring!: Ring;
  protected _closed = false;
  protected _calls!: CallNames;
  // Aborted by close(): the async waits of this object that can stop there reject with its reason.
  private _closing!: AbortController;
  private _closingOnly!: JoinedSignal;
  private _readable: { handle: NativeRingReadable; pid: number } | undefined;

  /** @internal Rebuilds a queue of class `cls` over an existing segment (a handle from another process). */
  static _attach<Q extends RingQueue<unknown>>(cls: abstract new (...args: never[]) => Q, segment: NativeSegment): Q {
    const queue = Object.create(cls.prototype) as Q;
    queue._bind(new Ring(segment));
    return queue;
  }

  protected _bind(ring: Ring): void {
    this._ring = ring;
    this._closed = false;
    this._closing = new AbortController();
    this._closingOnly = { signal: this._closing.signal, release: noop };
    this._calls = callNames(this.constructor.name);
  }

  /** @internal The shared segment that holds the ring (its name is the queue's identity). */
  _segment(): NativeSegment {
    return this._ring.segment;
  }

  /** @internal */
  _segmentName(): string {
    return this._ring.segment.name;
  }

  /** The readable handle wait() watches (see QueueReader). */
  get _reader(): QueueReader {
    this._check('_reader');
    // A fork child inherits the eventfd but not the thread that drives it: it needs its own.
    if (this._readable?.pid !== thisProcess.pid) {
      const handle = new native.RingReadable(this._ring.segment, TAIL, HEAD, READERS_WAITING, WRITERS_WAITING);
      this._readable = { handle, pid: thisProcess.pid };
    }
    return this._readable.handle;
  }

  /** Closes this process's use of the queue: later put/get here throw; other processes are unaffected. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._closing.abort(new InvalidStateError(`${this.constructor.name}: the queue was closed while waiting`));
    this._ring.closeWatchers();
    if (this._readable?.pid === thisProcess.pid) this._readable.handle.close();
    this._readable = undefined;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  protected _put(obj: T, timeout: number, call: string): void {
    this._check(call);
    runBlocking(this._ring, this._ring.putSteps(encode(obj), timeout, call, this._countsTasks()));
  }

  protected _get(timeout: number, call: string): T {
    this._check(call);
    return decode(runBlocking(this._ring, this._ring.getSteps(timeout, call, true))) as T;
  }

  protected async _putAsync(obj: T, timeoutMs: number | null | undefined, options: AbortOptions | undefined, call: string): Promise<void> {
    this._check(call);
    const timeout = timeoutArg(timeoutMs, call);
    options?.signal?.throwIfAborted();
    const steps = this._ring.putSteps(encode(obj), timeout, call, this._countsTasks());
    const until = this._untilClosed(options?.signal);
    try {
      await runAsync(this._ring, steps, until.signal);
    } catch (error) {
      throw this._namingClose(error, call);
    } finally {
      until.release();
    }
  }

  protected async _getAsync(timeoutMs: number | null | undefined, options: AbortOptions | undefined, call: string): Promise<T> {
    this._check(call);
    const timeout = timeoutArg(timeoutMs, call);
    options?.signal?.throwIfAborted();
    const steps = this._ring.getSteps(timeout, call, false);
    const until = this._untilClosed(options?.signal);
    try {
      return decode(await runAsync(this._ring, steps, until.signal)) as T;
    } catch (error) {
      throw this._namingClose(error, call);
    } finally {
      until.release();
    }
  }

  /**
   * The caller's signal joined with close()'s. Joined by hand: Node 20's AbortSignal.any keeps
   * every joined signal alive as long as the queue's (measured: ~2 KB per call).
   */
  private _untilClosed(signal: AbortSignal | undefined): JoinedSignal {
    const closing = this._closing.signal;
    if (!signal) return this._closingOnly;
    const joined = new AbortController();
    const forward = (): void => joined.abort(signal.aborted ? signal.reason : closing.reason);
    signal.addEventListener('abort', forward, { once: true });
    closing.addEventListener('abort', forward, { once: true });
    return {
      signal: joined.signal,
      release: () => {
        signal.removeEventListener('abort', forward);
        closing.removeEventListener('abort', forward);
      },
    };
  }

  /** close()'s reason, rephrased to name the call that was waiting; any other error as it is. */
  private _namingClose(error: unknown, call: string): unknown {
    const closing = this._closing.signal;
    return closing.aborted && error === closing.reason ? new InvalidStateError(`${call}(): the queue was closed while waiting`) : error;
  }

  protected _countsTasks(): boolean {
    return false;
  }

  protected _check(call: string): void {
    if (this._closed) throw new InvalidStateError(`${call}(): the queue is closed`);
  }
}

/**
 * A multi-producer, multi-consumer queue shared between processes (CPython's multiprocessing.Queue).
 * put never waits for a reader unless `maxsize` messages (or the ring's bytes) are in flight.
 */
export class Queue<T = unknown> extends RingQueue<T> {
  constructor(maxsize = 0, options?: QueueOptions) {
    super();
    const what = new.target.name;
    this._bind(Ring.create(maxsizeArg(maxsize, what), bufferBytesArg(options, what)));
  }

  /** Puts obj; with block (default) waits up to timeoutMs for room, else throws Full. */
  put(obj: T, block = true, timeoutMs?: number | null): void {
    this._put(obj, block ? timeoutArg(timeoutMs, this._calls.put) : 0, this._calls.put);
  }

  /** Takes the next message; with block (default) waits up to timeoutMs, else throws Empty. */
  get(block = true, timeoutMs?: number | null): T {
    return this._get(block ? timeoutArg(timeoutMs, this._calls.get) : 0, this._calls.get);
  }

  /** put(obj, false): throws Full at once when there is no room. */
  putNowait(obj: T): void {
    this._put(obj, 0, this._calls.putNowait);
  }

  /** get(false): throws Empty at once when no message is there. */
  getNowait(): T {
    return this._get(0, this._calls.getNowait);
  }

  /** The Async twin of put(): waits for room without blocking the event loop; rejects with Full after timeoutMs. */
  putAsync(obj: T, timeoutMs?: number | null, options?: AbortOptions): Promise<void> {
    return this._putAsync(obj, timeoutMs, options, this._calls.putAsync);
  }

  /** The Async twin of get(): rejects with Empty after timeoutMs, or with the signal's reason when it aborts. */
  getAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<T> {
    return this._getAsync(timeoutMs, options, this._calls.getAsync);
  }

  // As CPython's, qsize, empty and full still answer after close(): they read shared state only.

  /** Approximate number of messages in the queue (CPython's caveat applies). */
  qsize(): number {
    return this._ring.size();
  }

  /** True when no message is waiting (approximate, as qsize). */
  empty(): boolean {
    return this._ring.size() === 0;
  }

  /** True when a put would wait (approximate, as qsize). */
  full(): boolean {
    return this._ring.maxsize > 0 && this._ring.size() >= this._ring.maxsize;
  }

  // CPython buffers puts in the process and a feeder thread flushes them into a pipe; a process
  // that put items waits at exit until they are flushed, so joining it before draining the queue
  // can deadlock (the documented "joining processes that use queues" hazard), and
  // cancel_join_thread() avoids that by letting buffered items be lost. Here put() writes the
  // message into the shared ring before it returns: there is no buffer, no feeder thread and
  // nothing to flush at exit, so a producer whose puts returned always exits, and joining it
  // before draining cannot deadlock. What remains of the hazard is inside put(): a message larger
  // than the ring's free bytes (bufferBytes, 4 MiB by default), or a put beyond maxsize, waits
  // for readers there, visibly and subject to put's timeout (Full), never at exit.

  /** CPython's join_thread: waits for buffered puts to be flushed. Puts here are never buffered. */
  joinThread(): void {
    if (!this._closed) throw new InvalidStateError(`${this.constructor.name}.joinThread(): close() the queue first`);
  }

  /** CPython's cancel_join_thread: nothing to cancel; every put is already in shared memory, and stays readable after this process exits. */
  cancelJoinThread(): void {}

  override toString(): string {
    return `<${this.constructor.name}(maxsize=${this._ring.maxsize}) qsize=${this._ring.size()}${this._closed ? ' closed' : ''}>`;
  }
}

/** A Queue whose consumers report each message done with taskDone(), so join() can wait for all. */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** Marks one message taken with get() as processed. */
  taskDone(): void {
    const ints = this._ring.ints;
    for (;;) {
      const left = Atomics.load(ints, UNFINISHED / 4);
      if (left <= 0) throw new InvalidStateError('JoinableQueue.taskDone(): called too many times');
      if (Atomics.compareExchange(ints, UNFINISHED / 4, left, left - 1) === left) {
        if (left === 1) this._ring.wake(UNFINISHED, JOIN_WAITERS);
        return;
      }
    }
  }

  /** Waits until every message put has been taskDone(); false when timeoutMs passes first (beyond CPython). */
  join(timeoutMs?: number | null): boolean {
    return runBlocking(this._ring, this._joinSteps(timeoutArg(timeoutMs, 'JoinableQueue.join')));
  }

  /** The Async twin of join(). */
  joinAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    return runAsync(this._ring, this._joinSteps(timeoutArg(timeoutMs, 'JoinableQueue.joinAsync')), options?.signal);
  }

  private *_joinSteps(timeout: number): Steps<boolean> {
    const deadline = deadlineOf(timeout);
    const ints = this._ring.ints;
    for (;;) {
      const left = Atomics.load(ints, UNFINISHED / 4);
      if (left === 0) return true;
      const remaining = remainingMs(deadline);
      if (remaining === 0) return false;
      yield { word: UNFINISHED, waiters: JOIN_WAITERS, expected: left, timeoutMs: remaining, abortable: true };
    }
  }

  protected override _countsTasks(): boolean {
    return true;
  }
}

/** The plain queue: put, get, empty and close, without maxsize (CPython's SimpleQueue). */
export class SimpleQueue<T = unknown> extends RingQueue<T> {
  constructor(options?: QueueOptions) {
    super();
    this._bind(Ring.create(0, bufferBytesArg(options, 'SimpleQueue')));
  }

  /** Puts obj, waiting while the ring is full. */
  put(obj: T): void {
    this._put(obj, -1, this._calls.put);
  }

  /** Takes the next message, waiting for one. */
  get(): T {
    return this._get(-1, this._calls.get);
  }

  /** The Async twin of put(). */
  putAsync(obj: T, options?: AbortOptions): Promise<void> {
    return this._putAsync(obj, null, options, this._calls.putAsync);
  }

  /** The Async twin of get(). */
  getAsync(options?: AbortOptions): Promise<T> {
    return this._getAsync(null, options, this._calls.getAsync);
  }

  /** As CPython's, whose reader is closed by close(): on a closed queue it throws. */
  empty(): boolean {
    this._check(this._calls.empty);
    return this._ring.size() === 0;
  }

  override toString(): string {
    return `<SimpleQueue${this._closed ? ' closed' : ''}>`;
  }
}

// Handles: a queue travels as the name of its segment; the ring, locks and limits live there.
type QueueClass = abstract new (...args: never[]) => RingQueue<unknown>;
const queueClasses: Record<string, QueueClass> = { Queue, JoinableQueue, SimpleQueue };

for (const [name, cls] of Object.entries(queueClasses)) {
  register(
    cls,
    {
      reduce: (queue: RingQueue<unknown>) => ({ segment: sendSegment(queue._segment()) }),
      restore: (state: { segment: string }) => RingQueue._attach(cls, receiveSegment(state.segment)),
    },
    `multiprocess.${name}`,
  );
}
