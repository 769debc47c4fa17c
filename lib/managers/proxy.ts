// Proxies (CPython's BaseProxy, AutoProxy and the typed proxies of managers.py) and their reducer:
// a proxy travels as its token and arrives, in any process, as a proxy of the same class that holds
// its own reference to the referent. A proxy in the server that owns its referent calls it in place.
import { inspect } from 'node:util';

import type { Address } from '../connection';
import { register } from '../serializer/registry';
import { addressOf, arrayIndex, blockArg, deadlineOf, remainingMs, thisProcess, timeoutArg, type AbortOptions } from '../util';
import { isSpawning } from '../popen/payload';
import { currentProcess } from '../process';
import { clientId, decodingReplyOf, existingLink, linkTo, type Link } from './client';

/** Names a referent in its server: CPython's Token (typeid, address, id) plus the server's nonce. */
export interface Token {
  readonly typeid: string;
  readonly address: Address;
  readonly id: string;
  /** The serving instance: tells a server its own referents from another's at the same address. */
  readonly server: string;
}

/** How a proxy reaches its referent: over a Link, or in place inside the server that holds it. */
export interface Transport {
  call(objectId: string, method: string, args: unknown[]): unknown;
  callAsync(objectId: string, method: string, args: unknown[], signal?: AbortSignal): Promise<unknown>;
  incref(objectId: string): void;
  decref(objectId: string): void;
  /** The same route from this process (a fork child must not share its parent's connections). */
  here(): Transport;
}

/** What the server in this process (if any) lends the reducer. */
export interface HostingServer extends Transport {
  readonly nonce: string;
  /** The client a reply is being encoded for (the server counts a proxy in it for that client), or null. */
  readonly encodingFor: string | null;
  exposedOf(objectId: string): readonly string[];
  referentOf(objectId: string): unknown;
}

let hostingServer: HostingServer | null = null;
let hostingPid = 0;

/** The server running in this process; a fork child of it (a Pool worker) is a client like any other. */
function hosting(): HostingServer | null {
  return hostingPid === thisProcess.pid ? hostingServer : null;
}

/** Set by the server running in this process. */
export function hostServer(server: HostingServer | null): void {
  hostingServer = server;
  hostingPid = thisProcess.pid;
}

/** The referent of `proxy` when this process is the server that holds it, else undefined. */
export function hostedReferent(proxy: BaseProxy): unknown {
  const server = hosting();
  return server !== null && proxy._token.server === server.nonce ? server.referentOf(proxy._token.id) : undefined;
}

class RemoteTransport implements Transport {
  constructor(readonly link: Link) {}
  call(objectId: string, method: string, args: unknown[]): unknown {
    const [ok, value] = this.link.call(objectId, method, args);
    if (!ok) throw value;
    return value;
  }
  async callAsync(objectId: string, method: string, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    const [ok, value] = await this.link.callAsync(objectId, method, args, signal);
    if (!ok) throw value;
    return value;
  }
  incref(objectId: string): void {
    this.call('', 'incref', [objectId]);
  }
  decref(objectId: string): void {
    this.link.notify('', 'decref', [objectId]);
  }
  here(): Transport {
    return remoteTransport(this.link.address, this.link.authkey);
  }
}

const transports = new WeakMap<Link, RemoteTransport>();

/** The transport over this process's link to `address`. */
export function remoteTransport(address: Address, authkey: Buffer): Transport {
  const link = linkTo(address, authkey);
  let transport = transports.get(link);
  if (!transport) {
    transport = new RemoteTransport(link);
    transports.set(link, transport);
  }
  return transport;
}

interface Held {
  transport: Transport;
  id: string;
}

// A proxy dropped without release gives its reference back when collected (CPython's decref finalizer).
const finalizer = new FinalizationRegistry<Held>(({ transport, id }) => {
  try {
    transport.decref(id);
  } catch {
    // the server is gone: nothing to give back
  }
});

export interface ProxyOptions {
  /** Methods the referent exposes (AutoProxy builds its methods from them). */
  exposed?: readonly string[];
  /** Take a reference of its own (false when the server already counted this one for us). */
  incref?: boolean;
  authkey?: Buffer;
}

const kTransport = Symbol('transport');
const kHeld = Symbol('held');
const kPid = Symbol('pid');

/** The base of every proxy (CPython's BaseProxy): `_callmethod`, `_getvalue` and their Async twins. */
export class BaseProxy {
  readonly _token: Token;
  readonly _exposed: readonly string[];
  readonly _authkey: Buffer;
  private [kTransport]: Transport;
  private [kHeld]: Held | null;
  private [kPid]: number;

  constructor(token: Token, transport: Transport, options: ProxyOptions = {}) {
    this._token = token;
    this[kTransport] = transport;
    this._exposed = options.exposed ?? [];
    this._authkey = options.authkey ?? Buffer.alloc(0);
    if (options.incref !== false) transport.incref(token.id);
    // The JS Proxy of a list, dict or Namespace holds this object: it is collected with it.
    const held = { transport, id: token.id };
    this[kHeld] = held;
    this[kPid] = thisProcess.pid;
    finalizer.register(this, held, held);
  }

  /** The transport of this process: a fork child's copy of a proxy takes a reference of its own (CPython's _after_fork). */
  private _transport(): Transport {
    if (this[kPid] === thisProcess.pid) return this[kTransport];
    this[kPid] = thisProcess.pid;
    const transport = this[kTransport].here();
    this[kTransport] = transport;
    transport.incref(this._token.id);
    const held = { transport, id: this._token.id };
    this[kHeld] = held;
    finalizer.register(this, held, held);
    return transport;
  }

  /** Calls `name` on the referent in its server and returns what it returned (CPython's _callmethod). */
  _callmethod(name: string, args: unknown[] = []): unknown {
    return this._transport().call(this._token.id, name, args);
  }

  /** The Async twin of _callmethod: never blocks the event loop; a waiting method waits in the server. */
  _callmethodAsync(name: string, args: unknown[] = [], options?: AbortOptions): Promise<unknown> {
    return this._transport().callAsync(this._token.id, name, args, options?.signal);
  }

  /** A copy of the referent. */
  _getvalue(): unknown {
    return this._callmethod('#getvalue');
  }

  _getvalueAsync(options?: AbortOptions): Promise<unknown> {
    return this._callmethodAsync('#getvalue', [], options);
  }

  /** Gives this proxy's reference back now (else it goes when the proxy is collected, or its process ends). */
  _release(): void {
    if (this[kHeld] === null) return;
    this._transport();
    const held = this[kHeld]!;
    this[kHeld] = null;
    finalizer.unregister(held);
    held.transport.decref(held.id);
  }

  [Symbol.dispose](): void {
    this._release();
  }

  /** The referent on one line, as String() of it there. */
  toString(): string {
    return this._callmethod('#str') as string;
  }

  [inspect.custom](): string {
    return `<${this.constructor.name} object, typeid '${this._token.typeid}' at ${addressOf(this)}>`;
  }
}

export type ProxyClass = new (token: Token, transport: Transport, options?: ProxyOptions) => BaseProxy;

/** Adds `name(...args)` and `nameAsync(...args)` calling the referent's method of that name. */
function exposeMethods(cls: { prototype: object }, names: readonly string[]): void {
  for (const name of names) {
    if (name in cls.prototype) continue;
    Object.defineProperty(cls.prototype, name, {
      configurable: true,
      writable: true,
      value: function (this: BaseProxy, ...args: unknown[]) {
        return this._callmethod(name, args);
      },
    });
    Object.defineProperty(cls.prototype, `${name}Async`, {
      configurable: true,
      writable: true,
      value: function (this: BaseProxy, ...args: unknown[]) {
        return this._callmethodAsync(name, args);
      },
    });
  }
}

/** The proxy of a registered type: a method (and its Async twin) per exposed method of the referent. */
export class AutoProxy extends BaseProxy {
  [name: string]: unknown;
}

const autoProxyClasses = new Map<string, ProxyClass>();

/** The AutoProxy class for `typeid` with `exposed` (one per pair, as CPython caches them). */
export function autoProxyClass(typeid: string, exposed: readonly string[]): ProxyClass {
  const key = `${typeid}\0${exposed.join('\0')}`;
  let cls = autoProxyClasses.get(key);
  if (!cls) {
    cls = { [`AutoProxy[${typeid}]`]: class extends AutoProxy {} }[`AutoProxy[${typeid}]`]!;
    exposeMethods(cls, exposed);
    autoProxyClasses.set(key, cls);
  }
  return cls;
}

/** Builds the proxy of a token with `proxytype` (AutoProxy or undefined: built from `exposed`). */
export function makeProxy(token: Token, transport: Transport, proxytype: ProxyClass | undefined, options: ProxyOptions): BaseProxy {
  const cls = proxytype === undefined || proxytype === AutoProxy ? autoProxyClass(token.typeid, options.exposed ?? []) : proxytype;
  return new cls(token, transport, options);
}

interface ProxyState {
  token: Token;
  exposed: readonly string[];
  proxytype: ProxyClass;
  /** Only to a child being started (CPython's BaseProxy.__reduce__); elsewhere the receiver uses its own. */
  authkey?: Buffer;
  /** The client the server counted a reference for while sending this (it takes none of its own). */
  countedFor: string | null;
}

register(
  BaseProxy,
  {
    reduce(proxy: BaseProxy): ProxyState {
      let countedFor: string | null = null;
      const server = hosting();
      if (server !== null && server.encodingFor !== null && proxy._token.server === server.nonce) {
        countedFor = server.encodingFor;
        server.incref(proxy._token.id);
      }
      const proxytype = Object.getPrototypeOf(proxy) === null ? AutoProxy : (proxy.constructor as ProxyClass);
      const autoMade = proxytype.prototype instanceof AutoProxy && proxytype.name.startsWith('AutoProxy[');
      const state: ProxyState = { token: proxy._token, exposed: proxy._exposed, proxytype: autoMade ? AutoProxy : proxytype, countedFor };
      if (isSpawning()) state.authkey = proxy._authkey;
      return state;
    },
    restore({ token, exposed, proxytype, authkey, countedFor }: ProxyState): BaseProxy {
      const server = hosting();
      if (server !== null && token.server === server.nonce) return makeProxy(token, server, proxytype, { exposed, authkey });
      const link = decodingReplyOf();
      if (link !== null && countedFor === clientId()) {
        // The server counted it for us; the address we reached it by is the one that works from here.
        const here = { ...token, address: link.address };
        return makeProxy(here, remoteTransport(link.address, link.authkey), proxytype, { exposed, authkey: link.authkey, incref: false });
      }
      // A link this process already has to that server knows its key; else this process's own key.
      const key = authkey ?? existingLink(token.address)?.authkey ?? Buffer.from(currentProcess().authkey);
      return makeProxy(token, remoteTransport(token.address, key), proxytype, { exposed, authkey: key });
    },
  },
  'multiprocess.managers.BaseProxy',
);

// ---------------------------------------------------------------------------------------------
// The typed proxies of SyncManager.

/** Property keys a JS Proxy answers itself, never the referent: promise probing, symbols, our own names. */
function isOwnKey(target: object, key: string | symbol): boolean {
  return typeof key === 'symbol' || key in target || key === 'then' || key === 'toJSON';
}

export interface ListProxy<T = unknown> {
  [index: number]: T;
  append(value: T): void;
  appendAsync(value: T): Promise<void>;
  extend(values: Iterable<T>): void;
  extendAsync(values: Iterable<T>): Promise<void>;
  pop(index?: number): T;
  popAsync(index?: number): Promise<T>;
  insert(index: number, value: T): void;
  insertAsync(index: number, value: T): Promise<void>;
  remove(value: T): void;
  removeAsync(value: T): Promise<void>;
  reverse(): void;
  reverseAsync(): Promise<void>;
  sort(compare?: (a: T, b: T) => number): void;
  sortAsync(compare?: (a: T, b: T) => number): Promise<void>;
  index(value: T, start?: number, end?: number): number;
  indexAsync(value: T, start?: number, end?: number): Promise<number>;
  count(value: T): number;
  countAsync(value: T): Promise<number>;
  slice(start?: number, end?: number): T[];
  sliceAsync(start?: number, end?: number): Promise<T[]>;
  _getvalue(): T[];
}

/** A list in the server: index access, `length`, iteration and the list methods, each with its Async twin. */
export class ListProxy<T = unknown> extends BaseProxy {
  constructor(token: Token, transport: Transport, options?: ProxyOptions) {
    super(token, transport, options);
    return new Proxy(this, {
        get: (target, key, receiver) => {
          const index = arrayIndex(key);
          return index >= 0 ? target._callmethod('__getitem__', [index]) : Reflect.get(target, key, receiver);
        },
        set: (target, key, value, receiver) => {
          const index = arrayIndex(key);
          if (index < 0) return Reflect.set(target, key, value, receiver);
          target._callmethod('__setitem__', [index, value]);
          return true;
        },
        has: (target, key) => {
          const index = arrayIndex(key);
          return index >= 0 ? index < target.length : Reflect.has(target, key);
        },
        deleteProperty: (target, key) => {
          const index = arrayIndex(key);
          if (index < 0) return Reflect.deleteProperty(target, key);
          target._callmethod('__delitem__', [index]);
          return true;
        },
      });
  }

  get length(): number {
    return this._callmethod('__len__') as number;
  }

  lengthAsync(): Promise<number> {
    return this._callmethodAsync('__len__') as Promise<number>;
  }

  getAsync(index: number): Promise<T> {
    return this._callmethodAsync('__getitem__', [index]) as Promise<T>;
  }

  setAsync(index: number, value: T): Promise<void> {
    return this._callmethodAsync('__setitem__', [index, value]) as Promise<void>;
  }

  /** Iterates a copy taken now (one round trip). */
  [Symbol.iterator](): Iterator<T> {
    return this._getvalue()[Symbol.iterator]();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    yield* (await this._getvalueAsync()) as T[];
  }
}
exposeMethods(ListProxy, ['append', 'extend', 'pop', 'insert', 'remove', 'reverse', 'sort', 'index', 'count', 'slice']);

/** CPython's ArrayProxy: the manager's Array, a typed list in the server. */
export class ArrayProxy<T = number> extends ListProxy<T> {}

export interface DictProxy<K = unknown, V = unknown> {
  [key: string]: unknown;
  get(key: K, fallback?: V): V | undefined;
  getAsync(key: K, fallback?: V): Promise<V | undefined>;
  has(key: K): boolean;
  hasAsync(key: K): Promise<boolean>;
  delete(key: K): boolean;
  deleteAsync(key: K): Promise<boolean>;
  keys(): K[];
  keysAsync(): Promise<K[]>;
  values(): V[];
  valuesAsync(): Promise<V[]>;
  items(): [K, V][];
  itemsAsync(): Promise<[K, V][]>;
  update(entries: Iterable<readonly [K, V]> | Record<string, V>): void;
  updateAsync(entries: Iterable<readonly [K, V]> | Record<string, V>): Promise<void>;
  setdefault(key: K, fallback?: V): V;
  setdefaultAsync(key: K, fallback?: V): Promise<V>;
  pop(key: K, fallback?: V): V;
  popAsync(key: K, fallback?: V): Promise<V>;
  popitem(): [K, V];
  popitemAsync(): Promise<[K, V]>;
  clear(): void;
  clearAsync(): Promise<void>;
  copy(): Map<K, V>;
  copyAsync(): Promise<Map<K, V>>;
  _getvalue(): Map<K, V>;
}

/** A dict in the server, Map-like (`get`, `set`, `has`, `delete`, `size` …) plus access by string key. */
export class DictProxy<K = unknown, V = unknown> extends BaseProxy {
  constructor(token: Token, transport: Transport, options?: ProxyOptions) {
    super(token, transport, options);
    return new Proxy(this, {
        get: (target, key, receiver) => (isOwnKey(target, key) ? Reflect.get(target, key, receiver) : target._callmethod('get', [key])),
        set: (target, key, value, receiver) => {
          if (isOwnKey(target, key)) return Reflect.set(target, key, value, receiver);
          target._callmethod('set', [key, value]);
          return true;
        },
        has: (target, key) => (isOwnKey(target, key) ? Reflect.has(target, key) : (target._callmethod('has', [key]) as boolean)),
        deleteProperty: (target, key) => {
          if (isOwnKey(target, key)) return Reflect.deleteProperty(target, key);
          target._callmethod('delete', [key]);
          return true;
        },
      });
  }

  /** Sets `key` (any key type) and returns this proxy, as Map.set does. */
  set(key: K, value: V): this {
    this._callmethod('set', [key, value]);
    return this;
  }

  async setAsync(key: K, value: V): Promise<this> {
    await this._callmethodAsync('set', [key, value]);
    return this;
  }

  get size(): number {
    return this._callmethod('__len__') as number;
  }

  sizeAsync(): Promise<number> {
    return this._callmethodAsync('__len__') as Promise<number>;
  }

  /** Iterates the entries of a copy taken now, as a Map iterates. */
  [Symbol.iterator](): Iterator<[K, V]> {
    return this.items()[Symbol.iterator]();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<[K, V]> {
    yield* await this.itemsAsync();
  }
}
exposeMethods(DictProxy, ['get', 'has', 'delete', 'keys', 'values', 'items', 'update', 'setdefault', 'pop', 'popitem', 'clear', 'copy']);

/** A Namespace in the server: its attributes are read and written as properties (names without a leading `_`). */
export class NamespaceProxy extends BaseProxy {
  [attribute: string]: unknown;
  constructor(token: Token, transport: Transport, options?: ProxyOptions) {
    super(token, transport, options);
    const remote = (target: object, key: string | symbol): key is string => !isOwnKey(target, key) && !(key as string).startsWith('_');
    return new Proxy(this, {
        get: (target, key, receiver) => (remote(target, key) ? target._callmethod('__getattr__', [key]) : Reflect.get(target, key, receiver)),
        set: (target, key, value, receiver) => {
          if (!remote(target, key)) return Reflect.set(target, key, value, receiver);
          target._callmethod('__setattr__', [key, value]);
          return true;
        },
        has: (target, key) => (remote(target, key) ? (target._callmethod('__has__', [key]) as boolean) : Reflect.has(target, key)),
        deleteProperty: (target, key) => {
          if (!remote(target, key)) return Reflect.deleteProperty(target, key);
          target._callmethod('__delattr__', [key]);
          return true;
        },
      });
  }
}

/** The manager's Value: `.value` (and get/set with Async twins). */
export class ValueProxy<T = unknown> extends BaseProxy {
  get value(): T {
    return this._callmethod('get') as T;
  }
  set value(value: T) {
    this._callmethod('set', [value]);
  }
  get(): T {
    return this._callmethod('get') as T;
  }
  getAsync(): Promise<T> {
    return this._callmethodAsync('get') as Promise<T>;
  }
  set(value: T): void {
    this._callmethod('set', [value]);
  }
  async setAsync(value: T): Promise<void> {
    await this._callmethodAsync('set', [value]);
  }
}

/** Lock, RLock, Semaphore and BoundedSemaphore (CPython's AcquirerProxy). */
export class AcquirerProxy extends BaseProxy {
  acquire(block = true, timeoutMs?: number | null): boolean {
    return this._callmethod('acquire', [blockArg(block, this), timeoutMs ?? null]) as boolean;
  }
  acquireAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    return this._callmethodAsync('acquire', [true, timeoutMs ?? null], options) as Promise<boolean>;
  }
  release(): void {
    this._callmethod('release');
  }
  async releaseAsync(): Promise<void> {
    await this._callmethodAsync('release');
  }
  /** `using _held = lock.hold()`: released when the scope ends. */
  hold(): Disposable {
    this.acquire();
    return { [Symbol.dispose]: () => this.release() };
  }
  async holdAsync(options?: AbortOptions): Promise<AsyncDisposable> {
    await this.acquireAsync(null, options);
    return { [Symbol.asyncDispose]: () => this.releaseAsync() };
  }
}

export class ConditionProxy extends AcquirerProxy {
  wait(timeoutMs?: number | null): boolean {
    return this._callmethod('wait', [timeoutMs ?? null]) as boolean;
  }
  waitAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    return this._callmethodAsync('wait', [timeoutMs ?? null], options) as Promise<boolean>;
  }
  notify(n = 1): void {
    this._callmethod('notify', [n]);
  }
  async notifyAsync(n = 1): Promise<void> {
    await this._callmethodAsync('notify', [n]);
  }
  notifyAll(): void {
    this._callmethod('notifyAll');
  }
  async notifyAllAsync(): Promise<void> {
    await this._callmethodAsync('notifyAll');
  }
  /** Waits until `predicate()` (evaluated here, with the lock held) is truthy, or the time is up. */
  waitFor<R>(predicate: () => R, timeoutMs?: number | null): R {
    const deadline = deadlineOf(timeoutArg(timeoutMs, 'Condition.waitFor'));
    let result = predicate();
    while (!result) {
      const left = remainingMs(deadline);
      if (left === 0) break;
      this.wait(left ?? null);
      result = predicate();
    }
    return result;
  }
  async waitForAsync<R>(predicate: () => R, timeoutMs?: number | null, options?: AbortOptions): Promise<R> {
    const deadline = deadlineOf(timeoutArg(timeoutMs, 'Condition.waitForAsync'));
    let result = predicate();
    while (!result) {
      const left = remainingMs(deadline);
      if (left === 0) break;
      await this.waitAsync(left ?? null, options);
      result = predicate();
    }
    return result;
  }
}

export class EventProxy extends BaseProxy {
  isSet(): boolean {
    return this._callmethod('isSet') as boolean;
  }
  isSetAsync(): Promise<boolean> {
    return this._callmethodAsync('isSet') as Promise<boolean>;
  }
  set(): void {
    this._callmethod('set');
  }
  async setAsync(): Promise<void> {
    await this._callmethodAsync('set');
  }
  clear(): void {
    this._callmethod('clear');
  }
  async clearAsync(): Promise<void> {
    await this._callmethodAsync('clear');
  }
  wait(timeoutMs?: number | null): boolean {
    return this._callmethod('wait', [timeoutMs ?? null]) as boolean;
  }
  waitAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    return this._callmethodAsync('wait', [timeoutMs ?? null], options) as Promise<boolean>;
  }
}

export class BarrierProxy extends BaseProxy {
  wait(timeoutMs?: number | null): number {
    return this._callmethod('wait', timeoutMs === undefined ? [] : [timeoutMs]) as number;
  }
  waitAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<number> {
    return this._callmethodAsync('wait', timeoutMs === undefined ? [] : [timeoutMs], options) as Promise<number>;
  }
  abort(): void {
    this._callmethod('abort');
  }
  async abortAsync(): Promise<void> {
    await this._callmethodAsync('abort');
  }
  reset(): void {
    this._callmethod('reset');
  }
  async resetAsync(): Promise<void> {
    await this._callmethodAsync('reset');
  }
  get parties(): number {
    return this._callmethod('getParties') as number;
  }
  get nWaiting(): number {
    return this._callmethod('getNWaiting') as number;
  }
  get broken(): boolean {
    return this._callmethod('isBroken') as boolean;
  }
}

/** The manager's Queue and JoinableQueue (a queue.Queue in the server). */
export class QueueProxy<T = unknown> extends BaseProxy {
  put(item: T, block = true, timeoutMs?: number | null): void {
    this._callmethod('put', [item, block, timeoutMs ?? null]);
  }
  async putAsync(item: T, timeoutMs?: number | null, options?: AbortOptions): Promise<void> {
    await this._callmethodAsync('put', [item, true, timeoutMs ?? null], options);
  }
  get(block = true, timeoutMs?: number | null): T {
    return this._callmethod('get', [block, timeoutMs ?? null]) as T;
  }
  getAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<T> {
    return this._callmethodAsync('get', [true, timeoutMs ?? null], options) as Promise<T>;
  }
  putNowait(item: T): void {
    this.put(item, false);
  }
  getNowait(): T {
    return this.get(false);
  }
  qsize(): number {
    return this._callmethod('qsize') as number;
  }
  qsizeAsync(): Promise<number> {
    return this._callmethodAsync('qsize') as Promise<number>;
  }
  empty(): boolean {
    return this._callmethod('empty') as boolean;
  }
  emptyAsync(): Promise<boolean> {
    return this._callmethodAsync('empty') as Promise<boolean>;
  }
  full(): boolean {
    return this._callmethod('full') as boolean;
  }
  fullAsync(): Promise<boolean> {
    return this._callmethodAsync('full') as Promise<boolean>;
  }
  taskDone(): void {
    this._callmethod('taskDone');
  }
  async taskDoneAsync(): Promise<void> {
    await this._callmethodAsync('taskDone');
  }
  join(timeoutMs?: number | null): boolean {
    return this._callmethod('join', [timeoutMs ?? null]) as boolean;
  }
  joinAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    return this._callmethodAsync('join', [timeoutMs ?? null], options) as Promise<boolean>;
  }
}

/** A result of manager.Pool()'s applyAsync/mapAsync/starmapAsync (CPython's AsyncResult proxy); `await` it. */
export class AsyncResultProxy<T = unknown> extends BaseProxy implements PromiseLike<T> {
  ready(): boolean {
    return this._callmethod('ready') as boolean;
  }
  successful(): boolean {
    return this._callmethod('successful') as boolean;
  }
  wait(timeoutMs?: number | null): boolean {
    return this._callmethod('wait', [timeoutMs ?? null]) as boolean;
  }
  waitAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    return this._callmethodAsync('wait', [timeoutMs ?? null], options) as Promise<boolean>;
  }
  /** Blocks for the result; throws the task's error, or TimeoutError when timeoutMs passed. */
  get(timeoutMs?: number | null): T {
    return this._callmethod('get', [timeoutMs ?? null]) as T;
  }
  getAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<T> {
    return this._callmethodAsync('get', [timeoutMs ?? null], options) as Promise<T>;
  }
  then<A = T, B = never>(onFulfilled?: ((value: T) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.getAsync().then(onFulfilled, onRejected);
  }
}

/**
 * manager.Pool(): a Pool in the server (CPython's PoolProxy). Blocking calls wait in the server
 * without stalling its other clients; applyAsync/mapAsync/starmapAsync submit (one short round
 * trip) and return an AsyncResultProxy. `using` terminates it, as a Pool's does.
 */
export class PoolProxy extends BaseProxy {
  apply<A extends unknown[], R>(f: (...args: A) => R, args?: A): Awaited<R> {
    return this._callmethod('apply', [f, args ?? []]) as Awaited<R>;
  }
  applyAsync<A extends unknown[], R>(f: (...args: A) => R, args?: A): AsyncResultProxy<Awaited<R>> {
    return this._callmethod('applyAsync', [f, args ?? []]) as AsyncResultProxy<Awaited<R>>;
  }
  map<T, R>(f: (item: T) => R, iterable: Iterable<T>, chunksize?: number | null): Awaited<R>[] {
    return this._callmethod('map', [f, [...iterable], chunksize ?? null]) as Awaited<R>[];
  }
  mapAsync<T, R>(f: (item: T) => R, iterable: Iterable<T>, chunksize?: number | null): AsyncResultProxy<Awaited<R>[]> {
    return this._callmethod('mapAsync', [f, [...iterable], chunksize ?? null]) as AsyncResultProxy<Awaited<R>[]>;
  }
  starmap<A extends unknown[], R>(f: (...args: A) => R, iterable: Iterable<A>, chunksize?: number | null): Awaited<R>[] {
    return this._callmethod('starmap', [f, [...iterable], chunksize ?? null]) as Awaited<R>[];
  }
  starmapAsync<A extends unknown[], R>(f: (...args: A) => R, iterable: Iterable<A>, chunksize?: number | null): AsyncResultProxy<Awaited<R>[]> {
    return this._callmethod('starmapAsync', [f, [...iterable], chunksize ?? null]) as AsyncResultProxy<Awaited<R>[]>;
  }
  close(): void {
    this._callmethod('close');
  }
  terminate(): void {
    this._callmethod('terminate');
  }
  /** Waits for the workers to end; close() or terminate() first. */
  join(): void {
    this._callmethod('join');
  }
  async joinAsync(options?: AbortOptions): Promise<void> {
    await this._callmethodAsync('join', [], options);
  }
  override [Symbol.dispose](): void {
    try {
      this.terminate();
    } finally {
      this._release();
    }
  }
}
