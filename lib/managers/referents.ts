// The objects a SyncManager's server holds (CPython's threading/queue objects in its server): list,
// dict, Namespace, Value and the waiting primitives, whose waits park (waits.ts) instead of blocking
// the server. Locks are owned per client, so one client re-enters an RLock and another may release a
// Lock, as in CPython.
import { inspect, isDeepStrictEqual } from 'node:util';

import { BrokenBarrierError, Empty, Full, InvalidStateError, TimeoutError } from '../errors';
import type { AsyncOptions, Pool, PoolOptions } from '../pool';
import { shown } from '../util';
import { hostedReferent, type BaseProxy } from './proxy';
import { addTimer, currentCaller, Deferred, park } from './waits';

/** The value `_getvalue()` sends for a referent that wraps one (a list's array, a dict's Map). */
export const kValue = Symbol('multiprocess.managers.value');

export interface Valued {
  [kValue](): unknown;
}

function indexArg(items: unknown[], index: unknown, call: string, insert = false): number {
  if (typeof index !== 'number' || !Number.isInteger(index)) throw new TypeError(`${call}: index must be an integer, got ${shown(index)}`);
  const at = index < 0 ? index + items.length : index;
  if (insert) return Math.min(Math.max(at, 0), items.length);
  if (at < 0 || at >= items.length) throw new RangeError(`${call}: list index ${index} out of range (length ${items.length})`);
  return at;
}

export class ListReferent implements Valued {
  readonly items: unknown[];
  constructor(items: Iterable<unknown> = []) {
    this.items = [...items];
  }
  [kValue](): unknown[] {
    return this.items;
  }
  __len__(): number {
    return this.items.length;
  }
  __getitem__(index: number): unknown {
    return this.items[indexArg(this.items, index, 'list[index]')];
  }
  __setitem__(index: number, value: unknown): void {
    this.items[indexArg(this.items, index, 'list[index] = value')] = value;
  }
  __delitem__(index: number): void {
    this.items.splice(indexArg(this.items, index, 'delete list[index]'), 1);
  }
  append(value: unknown): void {
    this.items.push(value);
  }
  extend(values: Iterable<unknown>): void {
    for (const value of values) this.items.push(value);
  }
  pop(index = -1): unknown {
    if (this.items.length === 0) throw new RangeError('list.pop(): pop from empty list');
    return this.items.splice(indexArg(this.items, index, 'list.pop(index)'), 1)[0];
  }
  insert(index: number, value: unknown): void {
    this.items.splice(indexArg(this.items, index, 'list.insert(index)', true), 0, value);
  }
  remove(value: unknown): void {
    this.items.splice(this.index(value), 1);
  }
  reverse(): void {
    this.items.reverse();
  }
  sort(compare?: (a: never, b: never) => number): void {
    this.items.sort(compare as ((a: unknown, b: unknown) => number) | undefined);
  }
  index(value: unknown, start = 0, end = this.items.length): number {
    for (let i = Math.max(0, start); i < Math.min(end, this.items.length); i++) if (isDeepStrictEqual(this.items[i], value)) return i;
    throw new RangeError(`list.index(): ${shown(value)} is not in list`);
  }
  count(value: unknown): number {
    return this.items.filter((item) => isDeepStrictEqual(item, value)).length;
  }
  slice(start?: number, end?: number): unknown[] {
    return this.items.slice(start, end);
  }
}

export class DictReferent implements Valued {
  readonly map: Map<unknown, unknown>;
  constructor(entries?: Iterable<readonly [unknown, unknown]> | Record<string, unknown> | null) {
    this.map = new Map();
    if (entries) this.update(entries);
  }
  [kValue](): Map<unknown, unknown> {
    return this.map;
  }
  get(key: unknown, fallback?: unknown): unknown {
    return this.map.has(key) ? this.map.get(key) : fallback;
  }
  set(key: unknown, value: unknown): void {
    this.map.set(key, value);
  }
  has(key: unknown): boolean {
    return this.map.has(key);
  }
  delete(key: unknown): boolean {
    return this.map.delete(key);
  }
  keys(): unknown[] {
    return [...this.map.keys()];
  }
  values(): unknown[] {
    return [...this.map.values()];
  }
  items(): [unknown, unknown][] {
    return [...this.map.entries()];
  }
  __len__(): number {
    return this.map.size;
  }
  update(entries: Iterable<readonly [unknown, unknown]> | Record<string, unknown>): void {
    const pairs = Symbol.iterator in entries ? (entries as Iterable<readonly [unknown, unknown]>) : Object.entries(entries);
    for (const [key, value] of pairs) this.map.set(key, value);
  }
  setdefault(key: unknown, fallback: unknown = null): unknown {
    if (!this.map.has(key)) this.map.set(key, fallback);
    return this.map.get(key);
  }
  pop(key: unknown, ...fallback: unknown[]): unknown {
    if (this.map.has(key)) {
      const value = this.map.get(key);
      this.map.delete(key);
      return value;
    }
    if (fallback.length > 0) return fallback[0];
    throw new RangeError(`dict.pop(): key ${shown(key)} is not in the dict`);
  }
  popitem(): [unknown, unknown] {
    const last = [...this.map.entries()].at(-1);
    if (!last) throw new RangeError('dict.popitem(): the dict is empty');
    this.map.delete(last[0]);
    return last;
  }
  clear(): void {
    this.map.clear();
  }
  copy(): Map<unknown, unknown> {
    return new Map(this.map);
  }
}

export class NamespaceReferent implements Valued {
  readonly attributes: Record<string, unknown>;
  constructor(attributes: Record<string, unknown> = {}) {
    this.attributes = { ...attributes };
  }
  [kValue](): Record<string, unknown> {
    return this.attributes;
  }
  __getattr__(name: string): unknown {
    if (!Object.hasOwn(this.attributes, name)) throw new ReferenceError(`'Namespace' object has no attribute '${name}'`);
    return this.attributes[name];
  }
  __setattr__(name: string, value: unknown): void {
    this.attributes[name] = value;
  }
  __delattr__(name: string): void {
    if (!Object.hasOwn(this.attributes, name)) throw new ReferenceError(`'Namespace' object has no attribute '${name}'`);
    delete this.attributes[name];
  }
  __has__(name: string): boolean {
    return Object.hasOwn(this.attributes, name);
  }
  __keys__(): string[] {
    return Object.keys(this.attributes);
  }
  [inspect.custom](): string {
    return `Namespace(${Object.entries(this.attributes)
      .map(([name, value]) => `${name}=${inspect(value, { breakLength: Infinity })}`)
      .join(', ')})`;
  }
}

export class ValueReferent implements Valued {
  constructor(
    readonly typecode: string,
    public value: unknown,
  ) {}
  [kValue](): unknown {
    return this.value;
  }
  get(): unknown {
    return this.value;
  }
  set(value: unknown): void {
    this.value = value;
  }
  [inspect.custom](): string {
    return `Value(${inspect(this.typecode)}, ${inspect(this.value)})`;
  }
}

/** CPython's manager Array: an array.array in the server, proxied as a list. */
export class ArrayReferent extends ListReferent {
  constructor(
    readonly typecode: string,
    sizeOrInitializer: number | Iterable<unknown>,
  ) {
    super(typeof sizeOrInitializer === 'number' ? new globalThis.Array<number>(sizeOrInitializer).fill(0) : sizeOrInitializer);
  }
}

/** What a lock's waiters queue holds: who waits, for how deep a hold, and its answer. */
interface LockWaiter {
  owner: string;
  count: number;
  deferred: Deferred;
  /** What the wait answers once the lock is taken (a Condition's wait answers its own outcome). */
  outcome: unknown;
}

function removeFrom<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index >= 0) list.splice(index, 1);
}

/** A request parked in `list` until settled (true), or its timeout (false). */
function parkIn(list: Deferred[], timeoutMs: number | null | undefined): Deferred {
  return park(
    timeoutMs,
    (deferred) => {
      list.push(deferred);
      return () => removeFrom(list, deferred);
    },
    (deferred) => deferred.resolve(false),
  );
}

export class LockReferent {
  protected owner: string | null = null;
  protected count = 0;
  protected readonly waiters: LockWaiter[] = [];

  acquire(block = true, timeoutMs?: number | null): boolean | Deferred {
    const me = currentCaller();
    if (this.take(me)) return true;
    if (!block || (typeof timeoutMs === 'number' && timeoutMs <= 0)) return false;
    return this.waitFor(me, 1, true, timeoutMs, (deferred) => deferred.resolve(false));
  }

  release(): void {
    if (this.owner === null) throw new InvalidStateError(`${this.kind}.release(): release unlocked lock`);
    this.count = 0;
    this.handOff();
  }

  locked(): boolean {
    return this.owner !== null;
  }

  /** Condition's part: gives up the whole hold of `me`, returning how deep it was. */
  releaseAll(me: string, call: string): number {
    if (!this.isOwnedBy(me)) throw new InvalidStateError(`Condition.${call}(): must acquire() the condition's lock before using ${call}()`);
    const depth = Math.max(this.count, 1);
    this.count = 0;
    this.handOff();
    return depth;
  }

  /** Condition's part: takes the lock back for `me` at `depth`, then settles `deferred` with `outcome`. */
  restore(me: string, depth: number, deferred: Deferred, outcome: unknown, failure?: unknown): void {
    const finish = (): void => (failure === undefined ? deferred.resolve(outcome) : deferred.reject(failure));
    if (this.owner === null) {
      this.owner = me;
      this.count = depth;
      finish();
      return;
    }
    const inner = new Deferred();
    inner.onSettle = finish;
    this.waiters.push({ owner: me, count: depth, deferred: inner, outcome });
  }

  isOwnedBy(me: string): boolean {
    return this.owner === me;
  }

  protected get kind(): string {
    return 'Lock';
  }

  protected take(me: string): boolean {
    if (this.owner !== null) return false;
    this.owner = me;
    this.count = 1;
    return true;
  }

  protected waitFor(me: string, count: number, outcome: unknown, timeoutMs: number | null | undefined, onTimeout: (deferred: Deferred) => void): Deferred {
    return park(
      timeoutMs,
      (deferred) => {
        const waiter = { owner: me, count, deferred, outcome };
        this.waiters.push(waiter);
        return () => removeFrom(this.waiters, waiter);
      },
      onTimeout,
    );
  }

  protected handOff(): void {
    const next = this.waiters.shift();
    if (!next) {
      this.owner = null;
      return;
    }
    this.owner = next.owner;
    this.count = next.count;
    next.deferred.resolve(next.outcome);
  }

  [inspect.custom](): string {
    return `<${this.kind}(owner=${this.owner ?? 'None'})>`;
  }
}

export class RLockReferent extends LockReferent {
  protected override get kind(): string {
    return 'RLock';
  }

  protected override take(me: string): boolean {
    if (this.owner === me) {
      this.count++;
      return true;
    }
    return super.take(me);
  }

  override release(): void {
    if (this.owner !== currentCaller()) throw new InvalidStateError('RLock.release(): attempt to release recursive lock not owned by thread');
    if (--this.count === 0) this.handOff();
  }
}

export class SemaphoreReferent {
  private readonly waiters: Deferred[] = [];

  constructor(protected value = 1) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new RangeError(`Semaphore(value): value must be an integer >= 0, got ${shown(value)}`);
  }

  acquire(block = true, timeoutMs?: number | null): boolean | Deferred {
    if (this.value > 0) {
      this.value--;
      return true;
    }
    if (!block || (typeof timeoutMs === 'number' && timeoutMs <= 0)) return false;
    return parkIn(this.waiters, timeoutMs);
  }

  release(n = 1): void {
    for (let i = 0; i < n; i++) {
      const next = this.waiters.shift();
      if (next) next.resolve(true);
      else this.value++;
    }
  }

  getValue(): number {
    return this.value;
  }
}

export class BoundedSemaphoreReferent extends SemaphoreReferent {
  private readonly initial: number;
  constructor(value = 1) {
    super(value);
    this.initial = value;
  }
  override release(n = 1): void {
    if (this.value + n > this.initial) throw new RangeError('BoundedSemaphore.release(): semaphore released too many times');
    super.release(n);
  }
}

export class ConditionReferent {
  private readonly lock: LockReferent;
  private readonly waiters: { wake: () => void }[] = [];

  constructor(lock?: BaseProxy | null) {
    // The lock arrives as this server's own proxy of it.
    const referent = lock ? hostedReferent(lock) : new RLockReferent();
    if (!(referent instanceof LockReferent)) throw new TypeError(`Condition(lock): lock must be a Lock or RLock of the same manager, got ${shown(lock)}`);
    this.lock = referent;
  }

  acquire(block = true, timeoutMs?: number | null): boolean | Deferred {
    return this.lock.acquire(block, timeoutMs);
  }

  release(): void {
    this.lock.release();
  }

  wait(timeoutMs?: number | null): Deferred {
    const me = currentCaller();
    const depth = this.lock.releaseAll(me, 'wait');
    const deferred = new Deferred();
    let clearTimer: (() => void) | undefined;
    // Every way out takes the lock back first, as CPython's wait re-acquires on every exit.
    const end = (outcome: boolean, failure?: unknown): void => {
      clearTimer?.();
      removeFrom(this.waiters, waiter);
      this.lock.restore(me, depth, deferred, outcome, failure);
    };
    const waiter = { wake: () => end(true) };
    this.waiters.push(waiter);
    if (timeoutMs !== undefined && timeoutMs !== null) clearTimer = addTimer(Math.max(0, timeoutMs), () => end(false));
    // Once notified, the wait answers as notified: the lock is on its way back.
    deferred.cancel = (reason: unknown) => {
      if (this.waiters.includes(waiter)) end(false, reason);
    };
    return deferred;
  }

  notify(n = 1): void {
    if (!this.lock.isOwnedBy(currentCaller())) throw new InvalidStateError("Condition.notify(): must acquire() the condition's lock before using notify()");
    for (const waiter of this.waiters.splice(0, n)) waiter.wake();
  }

  notifyAll(): void {
    this.notify(this.waiters.length);
  }
}

export class EventReferent {
  private flag = false;
  private readonly waiters: Deferred[] = [];

  isSet(): boolean {
    return this.flag;
  }

  set(): void {
    this.flag = true;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(true);
  }

  clear(): void {
    this.flag = false;
  }

  wait(timeoutMs?: number | null): boolean | Deferred {
    if (this.flag) return true;
    if (typeof timeoutMs === 'number' && timeoutMs <= 0) return false;
    return parkIn(this.waiters, timeoutMs);
  }
}

export class BarrierReferent {
  private waiters: Deferred[] = [];
  private broken = false;

  constructor(
    private readonly parties: number,
    private readonly action?: (() => unknown) | null,
    private readonly timeoutMs?: number | null,
  ) {
    if (typeof parties !== 'number' || !Number.isInteger(parties) || parties < 1) throw new RangeError(`Barrier(parties): parties must be an integer >= 1, got ${shown(parties)}`);
  }

  wait(timeoutMs: number | null | undefined = this.timeoutMs): number | Deferred {
    if (this.broken) throw new BrokenBarrierError('Barrier.wait(): the barrier is broken');
    const index = this.waiters.length;
    if (index + 1 === this.parties) {
      try {
        this.action?.();
      } catch (error) {
        this.breakWith('the action failed');
        throw error;
      }
      this.waiters.splice(0).forEach((waiter, i) => waiter.resolve(i));
      return index;
    }
    return park(
      timeoutMs,
      (deferred) => {
        this.waiters.push(deferred);
        return () => removeFrom(this.waiters, deferred);
      },
      (deferred) => {
        deferred.reject(new BrokenBarrierError(`Barrier.wait(): timed out after ${timeoutMs} ms; the barrier is now broken`));
        this.breakWith('another party timed out');
      },
    );
  }

  abort(): void {
    this.breakWith('it was aborted');
  }

  reset(): void {
    this.breakWith('it was reset');
    this.broken = false;
  }

  getParties(): number {
    return this.parties;
  }

  getNWaiting(): number {
    return this.waiters.length;
  }

  isBroken(): boolean {
    return this.broken;
  }

  private breakWith(why: string): void {
    this.broken = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new BrokenBarrierError(`Barrier.wait(): the barrier was broken while waiting (${why})`));
  }
}

/** CPython's queue.Queue in the server; gets and puts wait in turn. */
export class QueueReferent {
  protected readonly items: unknown[] = [];
  private readonly getters: Deferred[] = [];
  private readonly putters: { item: unknown; deferred: Deferred }[] = [];

  constructor(private readonly maxsize = 0) {
    if (typeof maxsize !== 'number' || !Number.isInteger(maxsize)) throw new TypeError(`Queue(maxsize): maxsize must be an integer, got ${shown(maxsize)}`);
  }

  put(item: unknown, block = true, timeoutMs?: number | null): void | Deferred {
    if (!this.full()) return this.accept(item);
    if (!block || (typeof timeoutMs === 'number' && timeoutMs <= 0)) throw new Full('Queue.put(): the queue is full');
    return park(
      timeoutMs,
      (deferred) => {
        const putter = { item, deferred };
        this.putters.push(putter);
        return () => removeFrom(this.putters, putter);
      },
      (deferred) => deferred.reject(new Full(`Queue.put(): the queue stayed full for ${timeoutMs} ms`)),
    );
  }

  get(block = true, timeoutMs?: number | null): unknown {
    if (this.items.length > 0) {
      const item = this.items.shift();
      this.admitPutter();
      return item;
    }
    if (!block || (typeof timeoutMs === 'number' && timeoutMs <= 0)) throw new Empty('Queue.get(): the queue is empty');
    return park(
      timeoutMs,
      (deferred) => {
        this.getters.push(deferred);
        return () => removeFrom(this.getters, deferred);
      },
      (deferred) => deferred.reject(new Empty(`Queue.get(): nothing arrived within ${timeoutMs} ms`)),
    );
  }

  putNowait(item: unknown): void | Deferred {
    return this.put(item, false);
  }

  getNowait(): unknown {
    return this.get(false);
  }

  qsize(): number {
    return this.items.length;
  }

  empty(): boolean {
    return this.items.length === 0;
  }

  full(): boolean {
    return this.maxsize > 0 && this.items.length >= this.maxsize;
  }

  protected accept(item: unknown): void {
    const getter = this.getters.shift();
    if (getter) getter.resolve(item);
    else this.items.push(item);
  }

  private admitPutter(): void {
    const putter = this.putters.shift();
    if (!putter) return;
    this.accept(putter.item);
    putter.deferred.resolve(undefined);
  }
}

export class JoinableQueueReferent extends QueueReferent {
  private unfinished = 0;
  private readonly joiners: Deferred[] = [];

  protected override accept(item: unknown): void {
    this.unfinished++;
    super.accept(item);
  }

  taskDone(): void {
    if (this.unfinished <= 0) throw new RangeError('JoinableQueue.taskDone(): called too many times');
    if (--this.unfinished === 0) for (const joiner of this.joiners.splice(0)) joiner.resolve(true);
  }

  join(timeoutMs?: number | null): boolean | Deferred {
    if (this.unfinished === 0) return true;
    return parkIn(this.joiners, timeoutMs);
  }
}

// ---------------------------------------------------------------------------------------------
// manager.Pool() (CPython's PoolProxy): a Pool in the server. Its blocking calls wait as parked
// requests, settled by the pool's callbacks, which the server's poll loop drives (blocking.ts).

/** A pool result in the server (CPython's AsyncResult behind its proxy). */
export class AsyncResultReferent {
  private outcome: { ok: boolean; value: unknown } | null = null;
  private readonly waiters = new Set<{ deferred: Deferred; giveValue: boolean }>();

  /** @internal Called by the pool's callbacks. */
  _settle(ok: boolean, value: unknown): void {
    this.outcome = { ok, value };
    for (const { deferred, giveValue } of this.waiters) {
      if (!giveValue) deferred.resolve(true);
      else if (ok) deferred.resolve(value);
      else deferred.reject(value);
    }
    this.waiters.clear();
  }

  ready(): boolean {
    return this.outcome !== null;
  }

  successful(): boolean {
    if (this.outcome === null) throw new InvalidStateError('AsyncResult.successful(): the result is not ready');
    return this.outcome.ok;
  }

  wait(timeoutMs?: number | null): boolean | Deferred {
    if (this.outcome !== null) return true;
    if (typeof timeoutMs === 'number' && timeoutMs <= 0) return false;
    return this.enlist(timeoutMs, false, (deferred) => deferred.resolve(false));
  }

  get(timeoutMs?: number | null): unknown {
    if (this.outcome !== null) {
      if (this.outcome.ok) return this.outcome.value;
      throw this.outcome.value;
    }
    const timedOut = (): TimeoutError => new TimeoutError(`AsyncResult.get(): no result within ${timeoutMs} ms`);
    if (typeof timeoutMs === 'number' && timeoutMs <= 0) throw timedOut();
    return this.enlist(timeoutMs, true, (deferred) => deferred.reject(timedOut()));
  }

  private enlist(timeoutMs: number | null | undefined, giveValue: boolean, onTimeout: (deferred: Deferred) => void): Deferred {
    return park(
      timeoutMs,
      (deferred) => {
        const waiter = { deferred, giveValue };
        this.waiters.add(waiter);
        return () => this.waiters.delete(waiter);
      },
      onTimeout,
    );
  }
}

type PoolFn = (...args: never[]) => unknown;

export class PoolReferent {
  private readonly pool: Pool;
  private outstanding = 0;
  private state: 'running' | 'closed' | 'terminated' = 'running';
  private readonly joiners = new Set<Deferred>();

  constructor(options?: PoolOptions | number | null) {
    // Loaded here: pool.ts needs context.ts, which needs the SyncManager these referents serve.
    const { Pool } = require('../pool') as typeof import('../pool');
    this.pool = new Pool(options);
  }

  apply(f: PoolFn, args?: unknown[]): Deferred {
    return this.parked((callbacks) => this.pool.applyAsync(f, args as never, callbacks));
  }

  map(f: PoolFn, iterable: Iterable<unknown>, chunksize?: number | null): Deferred {
    return this.parked((callbacks) => this.pool.mapAsync(f as (item: unknown) => unknown, iterable, chunksize, callbacks));
  }

  starmap(f: PoolFn, iterable: Iterable<unknown[]>, chunksize?: number | null): Deferred {
    return this.parked((callbacks) => this.pool.starmapAsync(f, iterable as never, chunksize, callbacks));
  }

  applyAsync(f: PoolFn, args?: unknown[]): AsyncResultReferent {
    return this.kept((callbacks) => this.pool.applyAsync(f, args as never, callbacks));
  }

  mapAsync(f: PoolFn, iterable: Iterable<unknown>, chunksize?: number | null): AsyncResultReferent {
    return this.kept((callbacks) => this.pool.mapAsync(f as (item: unknown) => unknown, iterable, chunksize, callbacks));
  }

  starmapAsync(f: PoolFn, iterable: Iterable<unknown[]>, chunksize?: number | null): AsyncResultReferent {
    return this.kept((callbacks) => this.pool.starmapAsync(f, iterable as never, chunksize, callbacks));
  }

  close(): void {
    this.pool.close();
    if (this.state === 'running') this.state = 'closed';
    this.joinIfDone();
  }

  terminate(): void {
    this.pool.terminate();
    this.state = 'terminated';
    this.joinIfDone();
  }

  /** Waits (parked) until the closed pool's tasks are done, then joins its workers. */
  join(): void | Deferred {
    if (this.state === 'running') return this.pool.join(); // throws: the state it needs
    if (this.outstanding === 0) return this.pool.join();
    return park(
      null,
      (deferred) => {
        this.joiners.add(deferred);
        return () => this.joiners.delete(deferred);
      },
      () => {},
    );
  }

  [Symbol.dispose](): void {
    this.terminate();
  }

  /** Submits through `submit`; a call cancelled by its client aborts the task. */
  private parked(submit: (callbacks: AsyncOptions<unknown>) => unknown): Deferred {
    const deferred = new Deferred();
    const aborter = new AbortController();
    this.submitted(submit, aborter.signal, (ok, value) => (ok ? deferred.resolve(value) : deferred.reject(value)));
    deferred.onCancel = () => aborter.abort(new InvalidStateError('the call was aborted'));
    return deferred;
  }

  private kept(submit: (callbacks: AsyncOptions<unknown>) => unknown): AsyncResultReferent {
    const result = new AsyncResultReferent();
    this.submitted(submit, undefined, (ok, value) => result._settle(ok, value));
    return result;
  }

  private submitted(submit: (callbacks: AsyncOptions<unknown>) => unknown, signal: AbortSignal | undefined, settle: (ok: boolean, value: unknown) => void): void {
    const done = (ok: boolean, value: unknown): void => {
      this.outstanding--;
      settle(ok, value);
      this.joinIfDone();
    };
    this.outstanding++;
    try {
      submit({ callback: (value) => done(true, value), errorCallback: (error) => done(false, error), signal });
    } catch (error) {
      this.outstanding--;
      throw error;
    }
  }

  private joinIfDone(): void {
    if (this.state === 'running' || this.outstanding > 0 || this.joiners.size === 0) return;
    let error: unknown = null;
    try {
      this.pool.join();
    } catch (caught) {
      error = caught;
    }
    for (const deferred of this.joiners) error === null ? deferred.resolve(undefined) : deferred.reject(error);
    this.joiners.clear();
  }
}
