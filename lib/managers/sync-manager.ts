// SyncManager (CPython's SyncManager): the typeids every manager serves — shared list, dict,
// Namespace, Value, Array, the synchronization primitives and queues, and Pool.
import { _bindSyncManager } from '../context';
import type { PoolOptions } from '../pool';
import { BaseManager } from './base-manager';
import {
  AcquirerProxy,
  ArrayProxy,
  AsyncResultProxy,
  BarrierProxy,
  ConditionProxy,
  DictProxy,
  EventProxy,
  ListProxy,
  NamespaceProxy,
  PoolProxy,
  QueueProxy,
  ValueProxy,
  type ProxyClass,
} from './proxy';
import {
  ArrayReferent,
  AsyncResultReferent,
  BarrierReferent,
  BoundedSemaphoreReferent,
  ConditionReferent,
  DictReferent,
  EventReferent,
  JoinableQueueReferent,
  ListReferent,
  LockReferent,
  NamespaceReferent,
  PoolReferent,
  QueueReferent,
  RLockReferent,
  SemaphoreReferent,
  ValueReferent,
} from './referents';

export interface SyncManager {
  list<T = unknown>(sequence?: Iterable<T>): ListProxy<T>;
  dict<K = unknown, V = unknown>(entries?: Iterable<readonly [K, V]> | Record<string, V> | null): DictProxy<K, V>;
  Namespace(attributes?: Record<string, unknown>): NamespaceProxy;
  Lock(): AcquirerProxy;
  RLock(): AcquirerProxy;
  Semaphore(value?: number): AcquirerProxy;
  BoundedSemaphore(value?: number): AcquirerProxy;
  Condition(lock?: AcquirerProxy): ConditionProxy;
  Event(): EventProxy;
  Barrier(parties: number, action?: (() => unknown) | null, timeoutMs?: number | null): BarrierProxy;
  Queue<T = unknown>(maxsize?: number): QueueProxy<T>;
  JoinableQueue<T = unknown>(maxsize?: number): QueueProxy<T>;
  Value<T = unknown>(typecode: string, value: T): ValueProxy<T>;
  Array<T = number>(typecode: string, sizeOrInitializer: number | Iterable<T>): ArrayProxy<T>;
  /** A Pool in the server (options as `new Pool(options)`); its workers start by the server's default start method. */
  Pool(options?: PoolOptions | number | null): PoolProxy;
}

/** A manager serving CPython's SyncManager types (API.md §8); `new Manager()` is one, started. */
export class SyncManager extends BaseManager {}

const ACQUIRER = ['acquire', 'release', 'locked'];
const TYPES: [string, unknown, ProxyClass, readonly string[]][] = [
  ['list', ListReferent, ListProxy as ProxyClass, ['__len__', '__getitem__', '__setitem__', '__delitem__', 'append', 'extend', 'pop', 'insert', 'remove', 'reverse', 'sort', 'index', 'count', 'slice']],
  ['dict', DictReferent, DictProxy as ProxyClass, ['__len__', 'get', 'set', 'has', 'delete', 'keys', 'values', 'items', 'update', 'setdefault', 'pop', 'popitem', 'clear', 'copy']],
  ['Namespace', NamespaceReferent, NamespaceProxy as ProxyClass, ['__getattr__', '__setattr__', '__delattr__', '__has__', '__keys__']],
  ['Lock', LockReferent, AcquirerProxy, ACQUIRER],
  ['RLock', RLockReferent, AcquirerProxy, ACQUIRER],
  ['Semaphore', SemaphoreReferent, AcquirerProxy, [...ACQUIRER, 'getValue']],
  ['BoundedSemaphore', BoundedSemaphoreReferent, AcquirerProxy, [...ACQUIRER, 'getValue']],
  ['Condition', ConditionReferent, ConditionProxy, [...ACQUIRER, 'wait', 'notify', 'notifyAll']],
  ['Event', EventReferent, EventProxy, ['isSet', 'set', 'clear', 'wait']],
  ['Barrier', BarrierReferent, BarrierProxy, ['wait', 'abort', 'reset', 'getParties', 'getNWaiting', 'isBroken']],
  ['Queue', QueueReferent, QueueProxy as ProxyClass, ['put', 'get', 'putNowait', 'getNowait', 'qsize', 'empty', 'full']],
  ['JoinableQueue', JoinableQueueReferent, QueueProxy as ProxyClass, ['put', 'get', 'putNowait', 'getNowait', 'qsize', 'empty', 'full', 'taskDone', 'join']],
  ['Value', ValueReferent, ValueProxy as ProxyClass, ['get', 'set']],
  ['Array', ArrayReferent, ArrayProxy as ProxyClass, ['__len__', '__getitem__', '__setitem__', 'append', 'extend', 'pop', 'insert', 'remove', 'reverse', 'sort', 'index', 'count', 'slice']],
];

for (const [typeid, callable, proxytype, exposed] of TYPES) SyncManager.register(typeid, callable as new () => unknown, { proxytype, exposed });
const POOL_RESULTS = { applyAsync: 'AsyncResult', mapAsync: 'AsyncResult', starmapAsync: 'AsyncResult' };
SyncManager.register('Pool', PoolReferent, {
  proxytype: PoolProxy,
  exposed: ['apply', 'applyAsync', 'map', 'mapAsync', 'starmap', 'starmapAsync', 'close', 'terminate', 'join'],
  methodToTypeid: POOL_RESULTS,
});
SyncManager.register('AsyncResult', AsyncResultReferent, { proxytype: AsyncResultProxy as ProxyClass, exposed: ['ready', 'successful', 'wait', 'get'], createMethod: false });

_bindSyncManager(SyncManager);
