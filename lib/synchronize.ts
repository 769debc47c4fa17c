// Process-shared Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event and Barrier (CPython's
// synchronize.py). Each SemLock is 32 bytes in a shared segment: tokens are taken and returned with
// Atomics (no system call when uncontended); only sleeping, waking and dead-holder recovery go native.
import { inspect } from 'node:util';
import { threadId } from 'node:worker_threads';

import { park } from './blocking';
import { BrokenBarrierError, InvalidStateError, TimeoutError } from './errors';
import { native, Take, type NativeCondWatcher, type NativeSegment, type NativeWatcher } from './native';
import { currentProcess } from './process';
import { register } from './serializer/registry';
import {
  addressOf, blockArg, createSegment, deadlineOf, driveAsync, driveBlocking, receiveSegment, remainingMs, sendSegment, thisProcess, timeoutArg,
  type AbortableWait, type AbortOptions, type Steps as GenericSteps,
} from './util';

// Int32 slots of a SemLock (native/semlock.h, SemLockState). A maxvalue-1 lock's VALUE is 1 when
// free and -pid of its holder when held: one CAS takes it and names the holder.
const VALUE = 0;
const SLEEPERS = 1;
const OWNER_TID = 3;
const COUNT = 4;
const SEMLOCK_BYTES = 32;
// What OWNER_TID holds for this thread: threadId + 1, so the 0 that a release (or the native
// dead-holder takeover) leaves never matches the main thread's threadId 0 while VALUE, read
// separately, already names this process.
const HOLDER_TID = threadId + 1;

// x64 never moves a load before an earlier locked CAS, so a plain read suffices there; elsewhere
// (ARM64) the SLEEPERS check after a release needs Atomics.load, which costs ~9 ns more.
const ORDERED_LOADS = process.arch === 'x64' || process.arch === 'ia32';

const SEMAPHORE = 0;
const RECURSIVE_MUTEX = 1;
export const SEM_VALUE_MAX = 0x7fffffff;

/** Where a shared object's state lives: a segment and a byte offset in it. */
interface Placement {
  segment: NativeSegment;
  offset: number;
}

/** Wire form of every primitive here: the segment name and offset; the class rebuilds the rest. */
interface PlacementState {
  segment: string;
  offset: number;
}

function placementState(placement: Placement): PlacementState {
  return { segment: sendSegment(placement.segment), offset: placement.offset };
}

function attachPlacement(state: PlacementState): Placement {
  return { segment: receiveSegment(state.segment), offset: state.offset };
}

function threadSuffix(): string {
  return threadId === 0 ? '' : `|Thread-${threadId}`;
}

// ---------------------------------------------------------------------------------------------
// The algorithms of Condition/Event/Barrier are step generators (util.ts) that wait on SemLocks.

/** What a step waits on: a SemLock, or a Condition's sleep (a token from notify). */
interface Waitable {
  acquire(block: boolean, timeoutMs?: number): boolean;
  acquireAsync(timeoutMs?: number, options?: AbortOptions): Promise<boolean>;
}

interface WaitStep extends AbortableWait {
  lock: Waitable;
  /** undefined waits forever. */
  timeoutMs: number | undefined;
}

type Steps<T> = GenericSteps<WaitStep, T>;

function runBlocking<T>(steps: Steps<T>): T {
  return driveBlocking(steps, ({ lock, timeoutMs }) => lock.acquire(true, timeoutMs));
}

function runAsync<T>(steps: Steps<T>, signal: AbortSignal | undefined): Promise<T> {
  return driveAsync(steps, signal, ({ lock, timeoutMs }, waitSignal) => lock.acquireAsync(timeoutMs, waitSignal && { signal: waitSignal }));
}

// ---------------------------------------------------------------------------------------------

interface Waiter {
  settle(acquired: boolean): void;
  fail(reason: unknown): void;
}

// SemLocks with queued async waiters stay reachable until those waiters settle.
const locksWithWaiters = new Set<SemLock>();

/** Base of Lock, RLock, Semaphore and BoundedSemaphore (CPython's synchronize.SemLock). */
export abstract class SemLock {
  protected _segment!: NativeSegment;
  protected _offset!: number;
  protected _state!: Int32Array;
  protected _maxvalue!: number;
  protected _recursive!: boolean;
  private _waiters: Waiter[] = [];
  private _watcher: NativeWatcher | undefined;
  /** True when the last acquisition through this object took over the lock of a holder that died. */
  ownerDied = false;

  constructor(kind: number, value: number, maxvalue: number, placement?: Placement) {
    const own = placement ?? { segment: createSegment('lock', SEMLOCK_BYTES), offset: 0 };
    native.semInit(own.segment, own.offset, value, maxvalue, kind);
    this._bind(own);
  }

  private _bind(placement: Placement): void {
    this._segment = placement.segment;
    this._offset = placement.offset;
    this._state = new Int32Array(placement.segment.buffer, placement.offset, SEMLOCK_BYTES / 4);
    this._maxvalue = this._state[5];
    this._recursive = this._state[6] === RECURSIVE_MUTEX;
    this._waiters = [];
    this.ownerDied = false;
  }

  /** Rebuilds a SemLock of class `cls` over existing shared state (a handle from another process). */
  static _attach<T extends SemLock>(cls: abstract new (...args: never[]) => T, placement: Placement): T {
    const lock = Object.create(cls.prototype) as T;
    lock._bind(placement);
    return lock;
  }

  /** Takes the lock (a unit of the semaphore): waits up to timeoutMs (forever by default); false if it did not. `block = false` only tries. */
  acquire(block = true, timeoutMs?: number | null): boolean {
    blockArg(block, this);
    if (this._takeFast()) return true;
    const timeout = timeoutArg(timeoutMs, `${this.constructor.name}.acquire`);
    const taken = block
      ? park((ms) => native.semAcquire(this._segment, this._offset, ms), timeout)
      : native.semTryTake(this._segment, this._offset);
    if (taken === Take.Busy) return false;
    this._own(taken === Take.Recovered);
    return true;
  }

  /** The Async twin of acquire(): resolves true when taken, false after timeoutMs; rejects with the signal's reason when it aborts. */
  acquireAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const timeout = timeoutArg(timeoutMs, `${this.constructor.name}.acquireAsync`);
    if (this._waiters.length === 0 && this._tryTake()) return Promise.resolve(true);
    if (timeout === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => waiter.fail(signal?.reason);
      const leave = (): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this._waiters.indexOf(waiter);
        if (index >= 0) this._waiters.splice(index, 1);
        if (this._waiters.length === 0) this._quiet();
      };
      const waiter: Waiter = {
        settle: (acquired) => {
          leave();
          resolve(acquired);
        },
        fail: (reason) => {
          leave();
          reject(reason);
        },
      };
      this._waiters.push(waiter);
      if (timeout > 0) timer = setTimeout(() => waiter.settle(false), timeout);
      signal?.addEventListener('abort', onAbort, { once: true });
      locksWithWaiters.add(this);
      this._watch();
    });
  }

  /** Releases the lock, or gives a unit back to a semaphore; throws for a Lock not held, an RLock another thread holds, a BoundedSemaphore at its initial value. */
  release(): void {
    const state = this._state;
    if (this._recursive) {
      if (!this._isMine())
        throw new InvalidStateError(`${this.constructor.name}.release(): attempt to release recursive lock not owned by thread`);
      if (--state[COUNT] > 0) return;
    }
    if (this._maxvalue === 1) {
      // Plain stores, ordered before the CAS that frees it. Any process may release a Lock.
      state[OWNER_TID] = 0;
      state[COUNT] = 0;
      for (;;) {
        const holder = Atomics.load(state, VALUE);
        if (holder > 0) throw this._releasedTooMany();
        if (Atomics.compareExchange(state, VALUE, holder, 1) === holder) break;
      }
    } else if (this._maxvalue === SEM_VALUE_MAX) {
      // Unbounded: one atomic add; the bound only guards against overflow.
      if (Atomics.add(state, VALUE, 1) >= SEM_VALUE_MAX) {
        Atomics.sub(state, VALUE, 1);
        throw this._releasedTooMany();
      }
    } else {
      for (;;) {
        const value = Atomics.load(state, VALUE);
        if (value >= this._maxvalue) throw this._releasedTooMany();
        if (Atomics.compareExchange(state, VALUE, value, value + 1) === value) break;
      }
    }
    // The load must not move before the CAS: a sleeper increments SLEEPERS, then re-checks VALUE.
    if ((ORDERED_LOADS ? state[SLEEPERS] : Atomics.load(state, SLEEPERS)) > 0) native.semWake(this._segment, this._offset, 1);
  }

  private _releasedTooMany(): InvalidStateError {
    return new InvalidStateError(`${this.constructor.name}.release(): semaphore or lock released too many times`);
  }

  /** Acquires (blocking) and returns a Disposable that releases: `using _held = lock.hold()`. */
  hold(timeoutMs?: number | null): Disposable {
    if (!this.acquire(true, timeoutMs)) throw new TimeoutError(`${String(this)}.hold(): not acquired within ${timeoutMs} ms`);
    return { [Symbol.dispose]: () => this.release() };
  }

  /** The Async twin of hold(): `using _held = await lock.holdAsync()`. */
  async holdAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<Disposable> {
    if (!(await this.acquireAsync(timeoutMs, options)))
      throw new TimeoutError(`${String(this)}.holdAsync(): not acquired within ${timeoutMs} ms`);
    return { [Symbol.dispose]: () => this.release() };
  }

  /** @internal True when this thread of this process holds the lock (CPython's _is_mine). */
  _isMine(): boolean {
    const state = this._state;
    return state[VALUE] === -thisProcess.pid && state[OWNER_TID] === HOLDER_TID && state[COUNT] > 0;
  }

  /** @internal Recursion depth held by this thread (CPython's _count). */
  _count(): number {
    return this._isMine() ? this._state[COUNT] : 0;
  }

  /** @internal CPython's _get_value. */
  _getValue(): number {
    return Math.max(0, Atomics.load(this._state, VALUE));
  }

  /** Who holds it, as CPython's reprs name it: this process, None, SomeOtherThread or SomeOtherProcess. */
  protected _ownerName(): string {
    if (this._isMine()) return currentProcess().name + threadSuffix();
    if (this._getValue() > 0) return 'None';
    return Atomics.load(this._state, VALUE) === -thisProcess.pid ? 'SomeOtherThread' : 'SomeOtherProcess';
  }

  [inspect.custom](): string {
    return this.toString();
  }

  private _own(recovered: boolean): void {
    const state = this._state;
    state[OWNER_TID] = HOLDER_TID;
    state[COUNT] = 1;
    this.ownerDied = recovered;
    if (recovered)
      process.emitWarning(`${this.constructor.name} at ${this._segment.name}: its holder died while holding it; this process took it over (the data it guarded may be inconsistent)`, {
        code: 'ERR_MP_LOCK_OWNER_DIED',
      });
  }

  /** Takes without waiting and without entering the kernel: recursion or a free token. */
  private _takeFast(): boolean {
    const state = this._state;
    if (this._maxvalue === 1) {
      // Re-entry first: plain reads, where a failing CAS would still lock the cache line.
      if (this._recursive && state[VALUE] === -thisProcess.pid && state[OWNER_TID] === HOLDER_TID) {
        state[COUNT]++;
        return true;
      }
      if (Atomics.compareExchange(state, VALUE, 1, -thisProcess.pid) === 1) {
        state[OWNER_TID] = HOLDER_TID;
        state[COUNT] = 1;
        this.ownerDied = false;
        return true;
      }
      return false;
    }
    const value = Atomics.load(state, VALUE);
    return value > 0 && Atomics.compareExchange(state, VALUE, value, value - 1) === value;
  }

  /** Non-blocking take for the async path: the fast path, then dead-holder recovery. */
  private _tryTake(): boolean {
    if (this._takeFast()) return true;
    const taken = native.semTryTake(this._segment, this._offset);
    if (taken === Take.Busy) return false;
    this._own(taken === Take.Recovered);
    return true;
  }

  private _watch(): void {
    if (!this._watcher) {
      const self = new WeakRef(this);
      this._watcher = new native.Watcher(this._segment, this._offset, () => self.deref()?._onReady());
    }
    this._watcher.arm();
  }

  // Runs on the JS thread after the watcher saw a token (or a dead holder).
  private _onReady(): void {
    while (this._waiters.length > 0 && this._tryTake()) this._waiters[0].settle(true);
    if (this._waiters.length > 0) this._watcher?.arm();
  }

  private _quiet(): void {
    locksWithWaiters.delete(this);
    this._watcher?.idle();
    // The wake that reached our watcher may have been meant for a sleeper elsewhere: pass it on.
    if (Atomics.load(this._state, VALUE) > 0 && Atomics.load(this._state, SLEEPERS) > 0)
      native.semWake(this._segment, this._offset, 1);
  }

  /** @internal */
  _placement(): Placement {
    return { segment: this._segment, offset: this._offset };
  }
}

/** A non-recursive lock; any process may release it, as in CPython. */
export class Lock extends SemLock {
  constructor() {
    super(SEMAPHORE, 1, 1);
  }

  override toString(): string {
    return `<Lock(owner=${this._ownerName()})>`;
  }
}

/** A lock the holding thread may take again; only the holder may release it. */
export class RLock extends SemLock {
  constructor() {
    super(RECURSIVE_MUTEX, 1, 1);
  }

  override toString(): string {
    const name = this._ownerName();
    const count = this._isMine() ? this._count() : name === 'None' ? 0 : 'nonzero';
    return `<RLock(${name}, ${count})>`;
  }
}

function semaphoreValue(value: number | undefined, what: string): number {
  const initial = value ?? 1;
  if (typeof initial !== 'number' || !Number.isInteger(initial)) throw new TypeError(`${what}: value must be an integer, got ${String(value)}`);
  if (initial < 0 || initial > SEM_VALUE_MAX) throw new RangeError(`${what}: value must be between 0 and ${SEM_VALUE_MAX}, got ${initial}`);
  return initial;
}

/** A counter processes take from and give back; acquire waits while it is 0 (CPython's Semaphore). */
export class Semaphore extends SemLock {
  constructor(value = 1) {
    super(SEMAPHORE, semaphoreValue(value, 'Semaphore'), SEM_VALUE_MAX);
  }

  /** The current count (CPython's get_value). */
  getValue(): number {
    return this._getValue();
  }

  override toString(): string {
    return `<Semaphore(value=${this._getValue()})>`;
  }
}

/** A Semaphore whose release() past its initial value throws. */
export class BoundedSemaphore extends SemLock {
  constructor(value = 1) {
    const initial = semaphoreValue(value, 'BoundedSemaphore');
    super(SEMAPHORE, initial, Math.max(initial, 1));
  }

  /** The current count (CPython's get_value). */
  getValue(): number {
    return this._getValue();
  }

  override toString(): string {
    return `<BoundedSemaphore(value=${this._getValue()}, maxvalue=${this._maxvalue})>`;
  }
}

// ---------------------------------------------------------------------------------------------

// A Condition's state (native/condition.h, CondState): the wake-up tokens, the acknowledgements,
// the count of sleepers no notify has claimed, then who sleeps (per process).
const COND_BYTES = 312;
const WOKEN_OFFSET = SEMLOCK_BYTES;
const SLEEPING_SLOT = (2 * SEMLOCK_BYTES) / 4;
// How often a notify still waiting for its wake-ups to be taken looks for sleepers that died.
const SLEEPER_CHECK_MS = 100;

/** One waitAsync() of this process, as the Condition's watcher serves it. */
interface CondWaiter {
  deliver(): void;
}

/** The native watcher of one process's async waiters (a fork child needs its own). */
interface CondWatch {
  watcher: NativeCondWatcher;
  pid: number;
  waiters: CondWaiter[];
}

// Conditions with async waiters stay reachable until those waiters settle.
const conditionsWithWaiters = new Set<Condition>();

/**
 * This thread's blocking sleep, which serves busy pools between its waits (blocking.ts park): it
 * stays counted, so a pool callback that notifies its Condition claims it, and must take its
 * wake-up for it (the sleeper's thread is the notifier's). Callbacks never serve pools, so only
 * the outermost sleep is ever notified this way.
 */
let suspendedSleep: { segment: NativeSegment; offset: number; woken: boolean } | null = null;

/**
 * A condition variable over a Lock or RLock (a new RLock by default). As CPython's, notify() waits,
 * holding the lock, until each sleeper it woke has taken its wake-up, so no later waiter can take
 * one meant for an earlier sleeper. Sleepers acknowledge from native code (an async waiter's from
 * its watcher thread), never through an event loop, so notify usually waits microseconds;
 * notifyAsync waits without blocking. Unlike CPython's, it does not wait forever for a sleeper whose
 * process died in its wait.
 */
export class Condition {
  private _lock!: Lock | RLock;
  private _segment!: NativeSegment;
  private _offset!: number;
  private _ints!: Int32Array;
  private _sleeper!: Waitable;
  /** The acknowledgements of woken sleepers, which notify waits for. */
  private _woken!: Semaphore;
  private _watch: CondWatch | undefined;

  constructor(lock?: Lock | RLock) {
    if (lock !== undefined && !(lock instanceof Lock || lock instanceof RLock))
      throw new TypeError('Condition(lock): lock must be a Lock or RLock');
    const segment = createSegment('cond', COND_BYTES);
    native.semInit(segment, 0, 0, SEM_VALUE_MAX, SEMAPHORE);
    native.semInit(segment, WOKEN_OFFSET, 0, SEM_VALUE_MAX, SEMAPHORE);
    this._bind(lock ?? new RLock(), { segment, offset: 0 });
  }

  private _bind(lock: Lock | RLock, placement: Placement): void {
    this._lock = lock;
    this._segment = placement.segment;
    this._offset = placement.offset;
    this._ints = new Int32Array(placement.segment.buffer, placement.offset, COND_BYTES / 4);
    this._sleeper = {
      acquire: (_block, timeoutMs) => this._sleep(timeoutMs ?? -1),
      acquireAsync: (timeoutMs, options) => this._sleepAsync(timeoutMs ?? -1, options?.signal),
    };
    this._woken = SemLock._attach(Semaphore, { segment: placement.segment, offset: placement.offset + WOKEN_OFFSET });
    this._watch = undefined;
  }

  /** @internal */
  static _attach(lock: Lock | RLock, state: Placement): Condition {
    const condition = Object.create(Condition.prototype) as Condition;
    condition._bind(lock, state);
    return condition;
  }

  /** @internal */
  _parts(): { lock: Lock | RLock; state: Placement } {
    return { lock: this._lock, state: { segment: this._segment, offset: this._offset } };
  }

  /** Takes the underlying lock, as {@link Lock.acquire}. */
  acquire(block = true, timeoutMs?: number | null): boolean {
    return this._lock.acquire(block, timeoutMs);
  }

  /** Takes the underlying lock without blocking the event loop, as {@link Lock.acquireAsync}. */
  acquireAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    return this._lock.acquireAsync(timeoutMs, options);
  }

  /** Releases the underlying lock. */
  release(): void {
    this._lock.release();
  }

  /** Takes the underlying lock and returns a Disposable that releases it: `using _held = cond.hold()`. */
  hold(timeoutMs?: number | null): Disposable {
    return this._lock.hold(timeoutMs);
  }

  /** The Async twin of hold(): `using _held = await cond.holdAsync()`. */
  holdAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<Disposable> {
    return this._lock.holdAsync(timeoutMs, options);
  }

  /** Releases the lock, waits for a notify (or the timeout), re-takes the lock. */
  wait(timeoutMs?: number | null): boolean {
    return runBlocking(this._waitSteps(timeoutArg(timeoutMs, 'Condition.wait'), 'wait'));
  }

  /** The Async twin of wait(): resolves false after timeoutMs; the lock is held again when it settles. */
  waitAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    return runAsync(this._waitSteps(timeoutArg(timeoutMs, 'Condition.waitAsync'), 'waitAsync'), options?.signal);
  }

  /** Waits until predicate() is truthy; returns its last value (falsy after a timeout). */
  waitFor<T>(predicate: () => T, timeoutMs?: number | null): T {
    return runBlocking(this._waitForSteps(predicate, timeoutArg(timeoutMs, 'Condition.waitFor')));
  }

  waitForAsync<T>(predicate: () => T, timeoutMs?: number | null, options?: AbortOptions): Promise<T> {
    return runAsync(this._waitForSteps(predicate, timeoutArg(timeoutMs, 'Condition.waitForAsync')), options?.signal);
  }

  /** Wakes up to n waiters and returns once each has taken its wake-up; the caller must hold the lock. */
  notify(n = 1): void {
    this._checkNotify(n, 'notify');
    // A plain read: sleepers are only added under the lock we hold; a stale count (one withdrew
    // meanwhile) only costs the claim that finds out.
    if (this._ints[SLEEPING_SLOT] > 0) runBlocking(this._notifySteps(n));
  }

  /** notify() that waits for the wake-ups to be taken without blocking the event loop; not abortable once begun. */
  notifyAsync(n = 1, options?: AbortOptions): Promise<void> {
    this._checkNotify(n, 'notifyAsync');
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this._ints[SLEEPING_SLOT] === 0) return Promise.resolve();
    return runAsync(this._notifySteps(n), undefined);
  }

  /** Wakes every waiter (as notify); the caller must hold the lock. */
  notifyAll(): void {
    this.notify(Number.POSITIVE_INFINITY);
  }

  /** The Async twin of notifyAll(). */
  notifyAllAsync(options?: AbortOptions): Promise<void> {
    return this.notifyAsync(Number.POSITIVE_INFINITY, options);
  }

  toString(): string {
    return `<Condition(${String(this._lock)}, ${Atomics.load(this._ints, SLEEPING_SLOT)})>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  /** @internal The wait that takes this condition's lock, for algorithms built on it. */
  _lockStep(): WaitStep {
    return { lock: this._lock, timeoutMs: undefined, abortable: true };
  }

  private _checkNotify(n: number, call: string): void {
    if (typeof n !== 'number' || Number.isNaN(n) || n < 0) throw new RangeError(`Condition.${call}(n): n must be a number >= 0, got ${String(n)}`);
    this._assertOwned(call);
  }

  /**
   * Claims up to n sleepers, gives each a wake-up and waits for each to acknowledge it. When
   * acknowledgements keep it waiting, it looks for sleepers whose process died: it stops waiting
   * for them, and wake-ups it takes back go to other sleepers, as many as are left.
   */
  private *_notifySteps(n: number): Steps<void> {
    let wanted = n;
    let pending = 0;
    for (;;) {
      if (pending === 0) {
        pending = wanted > 0 ? native.condClaim(this._segment, this._offset, wanted) : 0;
        if (pending === 0) return;
        wanted -= pending;
      }
      const mine = suspendedSleep;
      if (mine && !mine.woken && mine.segment === this._segment && mine.offset === this._offset)
        mine.woken = native.condTakeFor(this._segment, this._offset);
      if (yield { lock: this._woken, timeoutMs: SLEEPER_CHECK_MS, abortable: false }) {
        pending--;
      } else {
        const [settled, takenBack] = native.condReap(this._segment, this._offset, pending);
        pending -= settled;
        wanted += takenBack;
      }
    }
  }

  private _assertOwned(call: string): void {
    if (!this._lock._isMine()) throw new InvalidStateError(`Condition.${call}(): must acquire() the condition's lock before using ${call}()`);
  }

  /** @internal */
  *_waitSteps(timeout: number, call: string): Steps<boolean> {
    this._assertOwned(call);
    const depth = this._lock._count();
    // Counted under the lock, so a notify that follows our release sees this sleeper.
    native.condEnter(this._segment, this._offset);
    for (let i = 0; i < depth; i++) this._lock.release();
    try {
      return yield { lock: this._sleeper, timeoutMs: timeout < 0 ? undefined : timeout, abortable: true };
    } finally {
      for (let i = 0; i < depth; i++) yield { lock: this._lock, timeoutMs: undefined, abortable: false };
    }
  }

  /** A blocking sleep; while a pool is busy, it may be suspended to serve the pool (see suspendedSleep). */
  private _sleep(timeout: number): boolean {
    // Suspended from the start: park serves busy pools before its first wait too, and a callback
    // run then may notify this very sleeper.
    const suspended = { segment: this._segment, offset: this._offset, woken: false };
    const outer = suspendedSleep;
    suspendedSleep = suspended;
    try {
      return park((left) => {
        if (suspended.woken) return true;
        const outcome = native.condSleep(this._segment, this._offset, left);
        return outcome === Take.Interrupted ? outcome : outcome === Take.Taken;
      }, timeout);
    } finally {
      suspendedSleep = outer;
    }
  }

  /**
   * An async sleep: the watcher's thread takes (and acknowledges) a token for each waiter; a waiter
   * that times out or is aborted withdraws, unless a notify already claimed it — then it waits on
   * for the token that is on its way (an abort still rejects, once it arrived).
   */
  private _sleepAsync(timeout: number, signal: AbortSignal | undefined): Promise<boolean> {
    const watch = this._watchHere();
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let claimed = false;
      let aborted = false;
      const finish = (woken: boolean): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        watch.waiters.splice(watch.waiters.indexOf(waiter), 1);
        if (watch.waiters.length === 0) {
          watch.watcher.idle();
          conditionsWithWaiters.delete(this);
        }
        if (aborted) reject(signal?.reason);
        else resolve(woken);
      };
      const giveUp = (): void => {
        if (claimed) return;
        const outcome = watch.watcher.leave();
        if (outcome >= 0) return finish(outcome === 1);
        claimed = true;
        if (timer) clearTimeout(timer);
      };
      const onAbort = (): void => {
        aborted = true;
        giveUp();
      };
      const waiter: CondWaiter = { deliver: () => finish(true) };
      watch.waiters.push(waiter);
      conditionsWithWaiters.add(this);
      watch.watcher.enter();
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout === 0) giveUp();
      else if (timeout > 0) timer = setTimeout(giveUp, timeout);
    });
  }

  private _watchHere(): CondWatch {
    if (this._watch?.pid !== thisProcess.pid) {
      const self = new WeakRef(this);
      // A fork child drops the parent's waiters with the parent's watch: they are not its own.
      this._watch = {
        watcher: new native.CondWatcher(this._segment, this._offset, () => self.deref()?._onDelivered()),
        pid: thisProcess.pid,
        waiters: [],
      };
    }
    return this._watch;
  }

  private _onDelivered(): void {
    const watch = this._watch;
    if (watch?.pid !== thisProcess.pid) return;
    for (let count = watch.watcher.deliveries(); count > 0 && watch.waiters.length > 0; count--) watch.waiters[0].deliver();
  }

  /** @internal */
  *_waitForSteps<T>(predicate: () => T, timeout: number): Steps<T> {
    let result = predicate();
    const deadline = deadlineOf(timeout);
    while (!result) {
      const left = remainingMs(deadline);
      if (left === 0) break;
      yield* this._waitSteps(left ?? -1, 'waitFor');
      result = predicate();
    }
    return result;
  }
}

// ---------------------------------------------------------------------------------------------

/** A flag processes can wait on (CPython's Event: a Condition over a Lock, and the flag). */
export class Event {
  private _cond!: Condition;
  private _flag!: Int32Array;
  private _segment!: NativeSegment;

  constructor() {
    this._bind(new Condition(new Lock()), createSegment('event', 8));
  }

  private _bind(cond: Condition, segment: NativeSegment): void {
    this._cond = cond;
    this._segment = segment;
    this._flag = new Int32Array(segment.buffer, 0, 1);
  }

  /** @internal */
  static _attach(cond: Condition, segment: NativeSegment): Event {
    const event = Object.create(Event.prototype) as Event;
    event._bind(cond, segment);
    return event;
  }

  /** @internal */
  _parts(): { cond: Condition; segment: NativeSegment } {
    return { cond: this._cond, segment: this._segment };
  }

  /** True once set() was called and clear() was not since. */
  isSet(): boolean {
    return Atomics.load(this._flag, 0) === 1;
  }

  /** Sets the flag and wakes every process waiting for it. */
  set(): void {
    using _held = this._cond.hold();
    Atomics.store(this._flag, 0, 1);
    this._cond.notifyAll();
  }

  /** Resets the flag: later waits block until the next set(). */
  clear(): void {
    using _held = this._cond.hold();
    Atomics.store(this._flag, 0, 0);
  }

  /** Blocks until the flag is set or timeoutMs passes; returns the flag. */
  wait(timeoutMs?: number | null): boolean {
    return runBlocking(this._waitSteps(timeoutArg(timeoutMs, 'Event.wait')));
  }

  /** The Async twin of wait(): resolves with the flag once set, or false after timeoutMs. */
  waitAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    return runAsync(this._waitSteps(timeoutArg(timeoutMs, 'Event.waitAsync')), options?.signal);
  }

  toString(): string {
    return `<Event at ${addressOf(this)} ${this.isSet() ? 'set' : 'unset'}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  private *_waitSteps(timeout: number): Steps<boolean> {
    if (this.isSet()) return true;
    yield this._cond._lockStep();
    try {
      if (!this.isSet()) yield* this._cond._waitSteps(timeout, 'wait');
      return this.isSet();
    } finally {
      this._cond.release();
    }
  }
}

// ---------------------------------------------------------------------------------------------

const BARRIER_STATE = 0;
const BARRIER_COUNT = 1;
// From here one slot per party inside wait(): its pid, 0 when free. A party SIGKILLed there never
// leaves, so a round would drain forever; a later arrival finds its pid dead and leaves for it.
const BARRIER_PARTIES = 2;
// How often an arrival waiting for an earlier round to drain checks that round's parties live.
const DRAIN_CHECK_MS = 100;
// Barrier states, as threading.Barrier: filling, draining, resetting, broken.
const FILLING = 0;
const DRAINING = 1;
const RESETTING = -1;
const BROKEN = -2;

/** A barrier for `parties` processes (threading.Barrier over shared state). */
export class Barrier {
  private _cond!: Condition;
  private _ints!: Int32Array;
  private _segment!: NativeSegment;
  private _parties!: number;
  private _action: (() => unknown) | null = null;
  private _timeout: number | null = null;

  constructor(parties: number, action?: (() => unknown) | null, timeoutMs?: number | null) {
    if (typeof parties !== 'number' || !Number.isInteger(parties) || parties < 1)
      throw new RangeError(`Barrier(parties): parties must be an integer >= 1, got ${String(parties)}`);
    if (action != null && typeof action !== 'function') throw new TypeError('Barrier(parties, action): action must be a function');
    timeoutArg(timeoutMs, 'Barrier');
    const segment = createSegment('barrier', 4 * (BARRIER_PARTIES + parties));
    // A Lock, as threading.Barrier's: the async parties of one thread would share an RLock's ownership.
    this._bind(new Condition(new Lock()), segment, parties, action ?? null, timeoutMs ?? null);
  }

  private _bind(cond: Condition, segment: NativeSegment, parties: number, action: (() => unknown) | null, timeout: number | null): void {
    this._cond = cond;
    this._segment = segment;
    this._ints = new Int32Array(segment.buffer, 0, BARRIER_PARTIES + parties);
    this._parties = parties;
    this._action = action;
    this._timeout = timeout;
  }

  /** @internal */
  static _attach(cond: Condition, segment: NativeSegment, parties: number, action: (() => unknown) | null, timeout: number | null): Barrier {
    const barrier = Object.create(Barrier.prototype) as Barrier;
    barrier._bind(cond, segment, parties, action, timeout);
    return barrier;
  }

  /** @internal */
  _parts(): { cond: Condition; segment: NativeSegment; parties: number; action: (() => unknown) | null; timeout: number | null } {
    return { cond: this._cond, segment: this._segment, parties: this._parties, action: this._action, timeout: this._timeout };
  }

  /** The number of parties that must wait for the barrier to trip. */
  get parties(): number {
    return this._parties;
  }

  /** Parties waiting now (CPython's n_waiting). */
  get nWaiting(): number {
    return this._ints[BARRIER_STATE] === FILLING ? this._ints[BARRIER_COUNT] : 0;
  }

  /** True after abort(), a timeout or a failed action, until reset(). */
  get broken(): boolean {
    return this._ints[BARRIER_STATE] === BROKEN;
  }

  /** Waits for all parties; returns this party's index (0 … parties-1). Throws BrokenBarrierError. */
  wait(timeoutMs?: number | null): number {
    return runBlocking(this._waitSteps(timeoutMs, 'wait'));
  }

  /** The Async twin of wait(); rejects with BrokenBarrierError as wait() throws. */
  waitAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<number> {
    return runAsync(this._waitSteps(timeoutMs, 'waitAsync'), options?.signal);
  }

  /** Returns the barrier to its empty state; parties waiting now get BrokenBarrierError. */
  reset(): void {
    using _held = this._cond.hold();
    const ints = this._ints;
    if (ints[BARRIER_COUNT] > 0) {
      if (ints[BARRIER_STATE] === FILLING || ints[BARRIER_STATE] === BROKEN) ints[BARRIER_STATE] = RESETTING;
    } else {
      ints[BARRIER_STATE] = FILLING;
    }
    this._cond.notifyAll();
  }

  /** Breaks the barrier: current and later waits throw BrokenBarrierError until reset(). */
  abort(): void {
    using _held = this._cond.hold();
    this._break();
  }

  toString(): string {
    return `<Barrier(parties=${this._parties}, nWaiting=${this.nWaiting}, broken=${this.broken})>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  private _break(): void {
    this._ints[BARRIER_STATE] = BROKEN;
    this._cond.notifyAll();
  }

  /** One party out of wait(): the last one out of a round opens the next. Holds the lock. */
  private _leave(): void {
    const ints = this._ints;
    if (--ints[BARRIER_COUNT] === 0 && (ints[BARRIER_STATE] === DRAINING || ints[BARRIER_STATE] === RESETTING)) {
      ints[BARRIER_STATE] = FILLING;
      this._cond.notifyAll();
    }
  }

  private _leaveForDeadParties(): void {
    const ints = this._ints;
    for (let slot = BARRIER_PARTIES; slot < ints.length; slot++) {
      if (ints[slot] === 0 || native.processAlive(ints[slot])) continue;
      ints[slot] = 0;
      this._leave();
    }
  }

  private *_waitSteps(timeoutMs: number | null | undefined, call: string): Steps<number> {
    const timeout = timeoutArg(timeoutMs === undefined ? this._timeout : timeoutMs, `Barrier.${call}`);
    const deadline = deadlineOf(timeout);
    const ints = this._ints;
    yield this._cond._lockStep();
    try {
      // Wait while an earlier round drains or resets.
      while (ints[BARRIER_STATE] === DRAINING || ints[BARRIER_STATE] === RESETTING)
        if (!(yield* this._cond._waitSteps(DRAIN_CHECK_MS, call))) this._leaveForDeadParties();
      if (ints[BARRIER_STATE] < 0) throw new BrokenBarrierError(`Barrier.${call}(): the barrier is broken`);
      const index = ints[BARRIER_COUNT]++;
      const slot = ints.indexOf(0, BARRIER_PARTIES);
      ints[slot] = thisProcess.pid;
      try {
        if (index + 1 === this._parties) {
          try {
            this._action?.();
          } catch (error) {
            this._break();
            throw error;
          }
          ints[BARRIER_STATE] = DRAINING;
          this._cond.notifyAll();
        } else {
          const released = yield* this._cond._waitForSteps(() => ints[BARRIER_STATE] !== FILLING, remainingMs(deadline) ?? -1);
          if (!released) {
            this._break();
            throw new BrokenBarrierError(`Barrier.${call}(): timed out after ${timeout} ms; the barrier is now broken`);
          }
          if (ints[BARRIER_STATE] < 0) throw new BrokenBarrierError(`Barrier.${call}(): the barrier was broken or reset while waiting`);
        }
        return index;
      } finally {
        ints[slot] = 0;
        this._leave();
      }
    } finally {
      this._cond.release();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Handles: every primitive travels as the names of its segments and is re-attached on arrival.

const semLockClasses = { Lock, RLock, Semaphore, BoundedSemaphore } as const;
type SemLockClassName = keyof typeof semLockClasses;

register(
  SemLock,
  {
    reduce: (lock: SemLock) => ({ cls: lock.constructor.name as SemLockClassName, ...placementState(lock._placement()) }),
    restore: (state: PlacementState & { cls: SemLockClassName }) => {
      const cls = semLockClasses[state.cls];
      if (!cls) throw new TypeError(`unknown SemLock class ${String(state.cls)}`);
      return SemLock._attach(cls, attachPlacement(state));
    },
  },
  'multiprocess.SemLock',
);

register(
  Condition,
  {
    reduce: (cond: Condition) => {
      const { lock, state } = cond._parts();
      return { lock, state: placementState(state) };
    },
    restore: (wire: { lock: Lock | RLock; state: PlacementState }) => Condition._attach(wire.lock, attachPlacement(wire.state)),
  },
  'multiprocess.Condition',
);

register(
  Event,
  {
    reduce: (event: Event) => {
      const { cond, segment } = event._parts();
      return { cond, segment: sendSegment(segment) };
    },
    restore: (state: { cond: Condition; segment: string }) => Event._attach(state.cond, receiveSegment(state.segment)),
  },
  'multiprocess.Event',
);

register(
  Barrier,
  {
    reduce: (barrier: Barrier) => {
      const parts = barrier._parts();
      return { ...parts, segment: sendSegment(parts.segment) };
    },
    restore: (state: Omit<ReturnType<Barrier['_parts']>, 'segment'> & { segment: string }) =>
      Barrier._attach(state.cond, receiveSegment(state.segment), state.parties, state.action, state.timeout),
  },
  'multiprocess.Barrier',
);
