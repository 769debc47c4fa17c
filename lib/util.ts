// Small shared helpers: kernel object names, argument checks, timeouts and deadlines, the wait
// drivers, thread joins by kernel id, and repr addresses.
import * as fs from 'node:fs';
import { inspect } from 'node:util';
import { native, type NativeSegment } from './native';

/** `size` random bytes from the kernel (node:crypto, with the streams it loads, would cost every process's start ~3 ms). */
export function randomBytes(size: number): Buffer {
  return native.randomBytes(size);
}

/** A fresh name for a kernel object of ours: the `mpjs-` prefix makes leaks easy to spot in /dev/shm. */
export function kernelName(kind: string): string {
  return `/mpjs-${process.pid}-${kind}-${randomBytes(6).toString('hex')}`;
}

// Segments this process has mapped, so a handle that arrives many times maps its segment once.
const mappedSegments = new Map<string, WeakRef<NativeSegment>>();
const forgetSegment = new FinalizationRegistry<string>((name) => {
  if (!mappedSegments.get(name)?.deref()) mappedSegments.delete(name);
});

function remember(segment: NativeSegment): NativeSegment {
  mappedSegments.set(segment.name, new WeakRef(segment));
  forgetSegment.register(segment, segment.name);
  return segment;
}

/** Creates a managed segment (user-counted, unlinked by its last user) with a fresh name. */
export function createSegment(kind: string, size: number): NativeSegment {
  for (;;) {
    try {
      return remember(new native.Segment(kernelName(kind), size, true, true));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Attaches to a managed segment created by any process (reusing this process's mapping). */
export function attachSegment(name: string): NativeSegment {
  const known = mappedSegments.get(name)?.deref();
  if (known && !known.closed) return known;
  return remember(new native.Segment(name, 0, false, true));
}

/** A managed segment's name for a handle in a message; the message counts as a user until received. */
export function sendSegment(segment: NativeSegment): string {
  segment.sent();
  return segment.name;
}

/** Attaches to the segment of a handle that arrived in a message (the counterpart of sendSegment). */
export function receiveSegment(name: string): NativeSegment {
  const segment = attachSegment(name);
  segment.received();
  return segment;
}

/**
 * An empty list whose elements are already of V8's "any object" kind. A fresh [] holds small
 * integers, and the first object put in it changes its map: code V8 optimized on one pool's lists
 * was thrown away ("wrong map") at every new pool's first task, and compiled again later.
 */
export function objectList<T>(): T[] {
  const list: unknown[] = [undefined];
  list.pop();
  return list as T[];
}

/** A value as the caller gave it, for error texts: a string '12' keeps its quotes. */
export function shown(value: unknown): string {
  return `${inspect(value, { depth: 0, breakLength: Infinity })} (${value === null ? 'null' : typeof value})`;
}

/**
 * CPython's timeout rules in milliseconds: undefined/null waits forever (-1 for native calls),
 * 0 or negative polls (0).
 */
export function timeoutArg(timeoutMs: number | null | undefined, what: string): number {
  if (timeoutMs === undefined || timeoutMs === null) return -1;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs))
    throw new TypeError(`${what}: timeoutMs must be a number, null or undefined, got ${shown(timeoutMs)}`);
  return timeoutMs <= 0 ? 0 : timeoutMs;
}

/**
 * acquire's `block`: a number there is a timeout in the wrong place (`acquire(1000)` would wait
 * forever, as in CPython, where `acquire(10)` is `block=10`), so it is refused with the fix. The
 * message names `owner`'s class, built only then: acquire is a hot path.
 */
export function blockArg(block: boolean, owner: object): boolean {
  if (typeof block === 'number') {
    const what = `${owner.constructor.name}.acquire`;
    throw new TypeError(`${what}(block, timeoutMs): block is a boolean, got ${shown(block)}; for a timeout write acquire(true, ${block})`);
  }
  return block;
}

/** The moment a timeout from timeoutArg ends (undefined: never). */
export function deadlineOf(timeout: number): number | undefined {
  return timeout < 0 ? undefined : performance.now() + timeout;
}

/** What is left until `deadline` (undefined: forever, 0: past). */
export function remainingMs(deadline: number | undefined): number | undefined {
  return deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
}

/** A thread's kernel id word before the thread said it, and where the system cannot name it (no /proc). */
const enum ThreadId {
  Unsaid = 0,
  Unknown = -1,
}

/** In a worker thread: says its kernel thread id in state[index], so that a join can wait until it is truly gone. */
export function sayThreadId(state: Int32Array, index: number): void {
  let tid: number = ThreadId.Unknown;
  try {
    tid = Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1));
  } catch {
    // not Linux: nothing to wait for by id
  }
  Atomics.store(state, index, tid);
  Atomics.notify(state, index);
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks until the thread that said its id in state[index] is gone, or `deadline`; false if it
 * was not. Its JS ends (exit handlers run) milliseconds before its OS thread does, and only the
 * main thread's loop (which a blocking join does not run) joins it: a fork in between would be
 * refused for the live thread. The kernel tells nobody else when a thread ends, so this looks
 * every millisecond.
 */
export function awaitThreadGone(state: Int32Array, index: number, deadline: number | undefined): boolean {
  Atomics.wait(state, index, ThreadId.Unsaid, remainingMs(deadline));
  const tid = Atomics.load(state, index);
  if (tid === ThreadId.Unknown) return true;
  if (tid === ThreadId.Unsaid) return false;
  while (fs.existsSync(`/proc/self/task/${tid}`)) {
    if (remainingMs(deadline) === 0) return false;
    Atomics.wait(pause, 0, 0, 1);
  }
  return true;
}

/** awaitThreadGone's Async twin, for a thread whose JS already ended ('exit' came): looks every millisecond. */
export async function threadGoneAsync(state: Int32Array, index: number): Promise<void> {
  const tid = Atomics.load(state, index);
  if (tid === ThreadId.Unknown || tid === ThreadId.Unsaid) return; // never said: it ended before it could
  while (fs.existsSync(`/proc/self/task/${tid}`)) await new Promise((resolve) => setTimeout(resolve, 1));
}

// One algorithm, two drivers: waiting algorithms (Condition, Barrier, Queue put/get, …) are
// generators that yield each wait; driveBlocking performs the waits on this thread, driveAsync
// awaits their Async forms. The generator receives each wait's boolean outcome, or its error.

/** A wait a step generator yields; cleanup waits (re-taking a lock) ignore the caller's AbortSignal. */
export interface AbortableWait {
  abortable: boolean;
}

export type Steps<W, T> = Generator<W, T, boolean>;

export function driveBlocking<W, T>(steps: Steps<W, T>, wait: (step: W) => boolean): T {
  let step = steps.next();
  while (!step.done) step = steps.next(wait(step.value));
  return step.value;
}

export async function driveAsync<W extends AbortableWait, T>(
  steps: Steps<W, T>,
  signal: AbortSignal | undefined,
  wait: (step: W, signal: AbortSignal | undefined) => Promise<boolean>,
): Promise<T> {
  let step = steps.next();
  while (!step.done) {
    let outcome: boolean;
    try {
      outcome = await wait(step.value, step.value.abortable ? signal : undefined);
    } catch (error) {
      step = steps.throw(error);
      continue;
    }
    step = steps.next(outcome);
  }
  return step.value;
}

/**
 * This process's pid for hot paths: reading the `process` global costs ~35 ns (it is an accessor
 * on globalThis). A fork child must update it.
 */
/** This process's pid, kept right in a fork child; forkedBy is the pid of the process that forked it (null if none did). */
export const thisProcess: { pid: number; forkedBy: number | null } = { pid: process.pid, forkedBy: null };

/** Options accepted by every Async twin (API.md §1). */
export interface AbortOptions {
  signal?: AbortSignal;
}

// CPython's reprs show object addresses; ours are stable per object, in the same style.
const addresses = new WeakMap<object, string>();
let nextAddress = 0x7f0000001000;

/** A stable `0x…` address for `obj`, for reprs. */
export function addressOf(obj: object): string {
  let address = addresses.get(obj);
  if (!address) {
    address = `0x${nextAddress.toString(16)}`;
    nextAddress += 0x120;
    addresses.set(obj, address);
  }
  return address;
}

/** The array index a Proxy trap's property key names, or -1 (`'01'`, `'-1'` and `'1.5'` are not indices). */
export function arrayIndex(key: string | symbol): number {
  if (typeof key !== 'string') return -1;
  const first = key.charCodeAt(0);
  if (first < 48 || first > 57) return -1;
  const index = Number(key);
  return Number.isInteger(index) && String(index) === key ? index : -1;
}
