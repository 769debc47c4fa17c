// BaseManager (CPython's BaseManager): a registry of typeids, a server started in a child process
// (start) or reached at an address (connect), and the factory methods that create referents there.
import { inspect } from 'node:util';

import { Connection, Pipe, type Address } from '../connection';
import { native } from '../native';
import { InvalidStateError, ProcessError } from '../errors';
import { currentProcess, Process } from '../process';
import { shown, type AbortOptions } from '../util';
import { dropLink, linkTo } from './client';
import { AutoProxy, makeProxy, remoteTransport, type BaseProxy, type ProxyClass, type Transport } from './proxy';
import { atServerStart, Server, serveManager, type ServedTypes } from './server';

export interface RegisterOptions {
  /** The proxy class for this typeid (default AutoProxy, built from the exposed methods). */
  proxytype?: ProxyClass;
  /** The methods proxies may call (default: the referent's public methods). */
  exposed?: readonly string[] | null;
  /** Methods whose result is kept in the server and returned as a proxy of that typeid. */
  methodToTypeid?: Readonly<Record<string, string>> | null;
  /** Whether the manager gets a `typeid(...)` method that creates a referent (default true). */
  createMethod?: boolean;
}

interface TypeSpec extends RegisterOptions {
  callable: ((...args: never[]) => unknown) | (new (...args: never[]) => unknown) | null;
}

export interface ManagerOptions {
  /** Where the server listens: an AF_UNIX path or [host, port] (default: a fresh AF_UNIX path). */
  address?: Address | null;
  /** The key clients prove they hold (default: this process's authkey, which children inherit). */
  authkey?: Uint8Array | null;
  /** The context whose start method starts the server (default: the package's). */
  ctx?: { Process: typeof Process } | null;
  /** How long shutdown() waits for the server to exit before terminating it (default 1000 ms). */
  shutdownTimeoutMs?: number;
}

type State = 'initial' | 'started' | 'connected' | 'shutdown';

const kRegistry = Symbol('registry');
// Managers whose servers this process started, shut down when it exits (CPython's Finalize).
const started = new Set<BaseManager>();
let exitHookInstalled = false;

// A fork child serving a manager holds copies of the other managers' lifelines: closed, so each
// server still ends when its own owner is gone, and is not held up by its siblings.
atServerStart.push(() => {
  for (const manager of started) manager._forgetInChild();
  started.clear();
});

/** A manager: a server process holding shared objects, and proxies to them (API.md §8). */
export class BaseManager {
  static [kRegistry]: Map<string, TypeSpec> = new Map();
  /** The server class run for this manager class (CPython's `_Server`). */
  static _Server: typeof Server = Server;

  private _address: Address | null;
  private readonly _authkey: Buffer;
  private readonly _ctx: { Process: typeof Process } | null;
  private readonly _shutdownTimeoutMs: number;
  private _state: State = 'initial';
  private _process: Process<Parameters<typeof serveManager>> | null = null;
  private _lifeline: Connection | null = null;

  constructor(options: ManagerOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError(`${new.target.name}(options): options must be an object, got ${shown(options)}`);
    this._address = options.address ?? null;
    if (options.authkey !== undefined && options.authkey !== null && !(options.authkey instanceof Uint8Array))
      throw new TypeError(`${new.target.name}: authkey must be a Buffer, got ${shown(options.authkey)}`);
    this._authkey = Buffer.from(options.authkey ?? currentProcess().authkey);
    this._ctx = options.ctx ?? null;
    this._shutdownTimeoutMs = options.shutdownTimeoutMs ?? 1000;
  }

  /**
   * Registers a typeid on this manager class (and its subclasses): `callable` makes the referent in
   * the server (a class is constructed with new); a client that only connects registers without it.
   */
  static register(
    typeid: string,
    callable?: ((...args: never[]) => unknown) | (new (...args: never[]) => unknown) | null,
    options: RegisterOptions = {},
  ): void {
    if (typeof typeid !== 'string' || typeid === '') throw new TypeError(`register(typeid): typeid must be a non-empty string, got ${shown(typeid)}`);
    if (callable !== undefined && callable !== null && typeof callable !== 'function')
      throw new TypeError(`register(${typeid}, callable): callable must be a function or a class, got ${shown(callable)}`);
    // Each class gets its own copy, so a subclass's registrations stay its own (as CPython's).
    if (!Object.hasOwn(this, kRegistry)) this[kRegistry] = new Map(this[kRegistry]);
    this[kRegistry].set(typeid, { callable: callable ?? null, ...options });
    if (options.createMethod === false) return;
    Object.defineProperty(this.prototype, typeid, {
      configurable: true,
      writable: true,
      value: function (this: BaseManager, ...args: unknown[]) {
        return this._create(typeid, args);
      },
    });
  }

  get address(): Address {
    if (this._address === null) throw new InvalidStateError(`${this.constructor.name}.address: the manager has not been started`);
    return this._address;
  }

  get authkey(): Buffer {
    return this._authkey;
  }

  /** Starts the server in a child process, by the context's start method; `initializer(...initargs)` runs there first. */
  start(initializer?: ((...args: never[]) => unknown) | null, initargs: unknown[] = []): void {
    if (this._state !== 'initial') throw new InvalidStateError(`${this.constructor.name}.start(): the manager is ${this._state}; start() needs a new one`);
    if (initializer !== undefined && initializer !== null && typeof initializer !== 'function') throw new TypeError(`start(initializer): initializer must be a function, got ${shown(initializer)}`);
    const [mine, theirs] = Pipe();
    const ProcessClass = this._ctx?.Process ?? Process;
    const server = new ProcessClass({
      target: serveManager,
      args: [(this.constructor as typeof BaseManager)._Server, this._servedTypes(), this._address, this._authkey, theirs, initializer ?? null, initargs],
      name: `${this.constructor.name}-${started.size + 1}`,
    });
    // Kept open: the server ends when this process (and so its end of the pipe) is gone. Listed
    // before the start, so that a fork-started server closes its copy of this end too.
    this._lifeline = mine;
    started.add(this);
    const abandon = (): void => {
      started.delete(this);
      this._lifeline = null;
      mine.close();
    };
    try {
      server.start();
    } catch (error) {
      abandon();
      throw error;
    } finally {
      theirs.close();
    }
    let ownerEnd: Connection;
    try {
      this._address = mine.recv() as Address;
      ownerEnd = new Connection(native.recvFds(mine.fileno(), 1)[0]!);
    } catch (error) {
      abandon();
      server.join();
      throw new ProcessError(`${this.constructor.name}.start(): the server process failed to start (exit code ${server.exitcode})`, { cause: error });
    }
    this._process = server;
    this._state = 'started';
    dropLink(this._address);
    linkTo(this._address, this._authkey).adoptConnection(ownerEnd);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      // Before the hook that joins children (process.ts): that join would wait for the server forever.
      process.prependListener('exit', () => {
        for (const manager of started) manager.shutdown();
      });
    }
  }

  /** Connects to a server already running at `address` (one started elsewhere, or remote). */
  connect(): void {
    if (this._state !== 'initial') throw new InvalidStateError(`${this.constructor.name}.connect(): the manager is ${this._state}`);
    this._transport().call('', 'dummy', []);
    this._state = 'connected';
  }

  /** A server in this process, to be run with `getServer().serveForever()`. */
  getServer(): Server {
    if (this._state !== 'initial') throw new InvalidStateError(`${this.constructor.name}.getServer(): the manager is ${this._state}`);
    const server = new (this.constructor as typeof BaseManager)._Server(this._servedTypes(), this._address, this._authkey);
    this._address = server.address;
    return server;
  }

  /** Stops the server this manager started (waits for it to exit; terminates it after shutdownTimeoutMs). */
  shutdown(): void {
    if (this._process === null || this._state === 'shutdown') return;
    this._state = 'shutdown';
    started.delete(this);
    try {
      this._transport().call('', 'shutdown', []);
    } catch {
      // already gone
    }
    this._finish();
    this._process.join(this._shutdownTimeoutMs);
    if (this._process.isAlive()) {
      this._process.terminate();
      this._process.join(this._shutdownTimeoutMs);
    }
  }

  async shutdownAsync(options?: AbortOptions): Promise<void> {
    if (this._process === null || this._state === 'shutdown') return;
    this._state = 'shutdown';
    started.delete(this);
    try {
      await this._transport().callAsync('', 'shutdown', [], options?.signal);
    } catch {
      // already gone
    }
    this._finish();
    await this._process.joinAsync(this._shutdownTimeoutMs);
    if (this._process.isAlive()) {
      this._process.terminate();
      await this._process.joinAsync(this._shutdownTimeoutMs);
    }
  }

  /** Waits for the server process to exit. */
  join(timeoutMs?: number | null): void {
    this._process?.join(timeoutMs);
  }

  [Symbol.dispose](): void {
    this.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdownAsync();
  }

  /** How many referents the server holds (CPython's _number_of_objects, for debugging). */
  _numberOfObjects(): number {
    return this._transport().call('', 'numberOfObjects', []) as number;
  }

  _debugInfo(): string {
    return this._transport().call('', 'debugInfo', []) as string;
  }

  /** Calls a function of the server itself (not of a referent), for `call` (a method name in errors). */
  protected _serverFunction(call: string, method: string, args: unknown[]): unknown {
    this._checkServing(call);
    return this._transport().call('', method, args);
  }

  protected _serverFunctionAsync(call: string, method: string, args: unknown[], options?: AbortOptions): Promise<unknown> {
    this._checkServing(call);
    return this._transport().callAsync('', method, args, options?.signal);
  }

  private _checkServing(call: string): void {
    if (this._state === 'initial' || this._state === 'shutdown')
      throw new InvalidStateError(`${this.constructor.name}.${call}(): the manager is ${this._state === 'initial' ? 'not started: call start() or connect() first' : 'shut down'}`);
  }

  /** Creates a referent of `typeid` in the server and returns its proxy. */
  _create(typeid: string, args: unknown[]): BaseProxy {
    const [id, exposed, server] = this._serverFunction(typeid, 'create', [typeid, args]) as [string, string[], string];
    const spec = (this.constructor as typeof BaseManager)[kRegistry].get(typeid);
    const transport = this._transport();
    const token = { typeid, address: this.address, id, server };
    return makeProxy(token, transport, spec?.proxytype ?? AutoProxy, { exposed: spec?.exposed ?? exposed, authkey: this._authkey, incref: false });
  }

  toString(): string {
    return `<${this.constructor.name}(${this._address === null ? 'unstarted' : inspect(this._address)}, ${this._state})>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  private _transport(): Transport {
    return remoteTransport(this.address, this._authkey);
  }

  /** @internal In a fork child: this manager is its parent's, not its own. */
  _forgetInChild(): void {
    this._lifeline?.close();
    this._lifeline = null;
    this._process = null;
  }

  private _finish(): void {
    this._lifeline?.close();
    this._lifeline = null;
    if (this._address !== null) dropLink(this._address);
  }

  /** What the server needs of the registry: no client-only entries' absence matters there. */
  private _servedTypes(): ServedTypes {
    const types: ServedTypes = {};
    for (const [typeid, spec] of (this.constructor as typeof BaseManager)[kRegistry])
      types[typeid] = { callable: spec.callable, exposed: spec.exposed ?? null, methodToTypeid: spec.methodToTypeid ?? null, proxytype: spec.proxytype };
    return types;
  }
}
