// The manager's server (CPython's Server): it holds the referents and serves every client
// connection from one poll loop. A request that must wait parks (waits.ts) and is answered when it
// can be, so one waiting client never stalls another. The loop is synchronous because a fork child
// cannot return to its event loop; blocking.ts keeps a Pool in the server (manager.Pool()) served
// while it polls.
import { inspect } from 'node:util';

import { Listener, Pipe, type Address, type AuthSteps, type Connection } from '../connection';
import { InvalidStateError, RemoteError } from '../errors';
import { untilReadable } from '../blocking';
import { native } from '../native';
import { SpinPolicy } from '../spin';
import { randomBytes } from '../util';
import { bodyOf, callIdOf, frameOf, NO_REPLY, type Request } from './protocol';
import { hostServer, makeProxy, type HostingServer, type ProxyClass, type Transport } from './proxy';
import { kValue, type Valued } from './referents';
import { addTimer, Deferred, nextTimerMs, runDueTimers, setCaller } from './waits';

/** What the server knows of a registered typeid (CPython's registry entry, less the client's part). */
export interface ServedType {
  callable?: ((...args: never[]) => unknown) | (new (...args: never[]) => unknown) | null;
  exposed?: readonly string[] | null;
  methodToTypeid?: Readonly<Record<string, string>> | null;
  proxytype?: ProxyClass;
}

export type ServedTypes = Record<string, ServedType>;

interface Served {
  referent: unknown;
  typeid: string;
  exposed: ReadonlySet<string>;
  refcount: number;
}

interface ClientState {
  id: string;
  connections: number;
  refs: Map<string, number>;
}

interface Session {
  conn: Connection;
  /** The authentication still under way (driven by the poll loop, so a silent peer stalls no one), or null. */
  handshake: { steps: AuthSteps; maxMessage: number; giveUp: () => void } | null;
  client: ClientState | null;
  /** Requests of this connection still waiting, by call id (a cancel or a closed connection ends them). */
  waiting: Map<number, Deferred>;
}

// A peer that has not authenticated by then is dropped: it holds a connection and nothing more.
const HANDSHAKE_MS = 10_000;

// The references the server holds itself (its proxies inside its own referents).
const SERVER_CLIENT = '#server';

/** The listening socket, to poll beside the connections. */
function listenerFd(listener: Listener): number {
  return (listener as unknown as { _open(call: string): number })._open('serveForever');
}

function isThenable(value: unknown): boolean {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && !(value instanceof Deferred) && typeof (value as { then?: unknown }).then === 'function';
}

/** A class is constructed with new; a plain or arrow function is called (API.md §8). */
function isClass(callable: unknown): callable is new (...args: unknown[]) => unknown {
  return typeof callable === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(callable));
}

/** The public methods of a referent: functions on it and up its prototype chain, not `_…`, not Object's. */
export function publicMethods(referent: unknown): string[] {
  const names = new Set<string>();
  for (let object = referent; object !== null && object !== undefined && object !== Object.prototype; object = Object.getPrototypeOf(object)) {
    for (const name of Object.getOwnPropertyNames(object)) {
      if (name === 'constructor' || name.startsWith('_')) continue;
      const descriptor = Object.getOwnPropertyDescriptor(object, name);
      if (typeof descriptor?.value === 'function') names.add(name);
    }
  }
  return [...names];
}

export class Server implements HostingServer {
  readonly nonce = randomBytes(8).toString('hex');
  readonly listener: Listener;
  private readonly _objects = new Map<string, Served>();
  private readonly _clients = new Map<string, ClientState>();
  private readonly _sessions: Session[] = [];
  private _nextId = 1;
  private _stopping = false;
  private readonly _spin = new SpinPolicy();
  private _encodingFor: string | null = null;

  constructor(
    private readonly _types: ServedTypes,
    address: Address | null | undefined,
    readonly authkey: Buffer,
  ) {
    this.listener = new Listener(address ?? null, null, 128, authkey);
  }

  get address(): Address {
    return this.listener.address;
  }

  get encodingFor(): string | null {
    return this._encodingFor;
  }

  /**
   * Serves until shutdown (a client's `shutdown()`), or until `lifeline` ends (the manager's
   * owner is gone). Returns after closing every connection.
   */
  serveForever(lifeline?: Connection): void {
    hostServer(this);
    try {
      while (!this._stopping) {
        const fds = [listenerFd(this.listener), ...this._sessions.map((session) => session.conn.fileno())];
        if (lifeline) fds.push(lifeline.fileno());
        const timeout = nextTimerMs();
        // While requests come fast, the next one is spun for instead of slept for.
        const spinMs = this._spin.started();
        const ready = native.pollMany(fds, untilReadable(fds, timeout), spinMs);
        this._spin.ended();
        runDueTimers();
        const sessions = [...this._sessions];
        for (const index of ready) {
          if (index === 0) this._accept();
          else if (index <= sessions.length) this._serve(sessions[index - 1]!);
          else this._stopping = true;
        }
      }
    } finally {
      for (const session of this._sessions.splice(0)) session.conn.close();
      this.listener.close();
      hostServer(null);
      // What holds resources of its own (a Pool's workers) lets them go with the server.
      for (const id of [...this._objects.keys()]) this._drop(id, Infinity);
      this._stopped();
    }
  }

  // --- HostingServer: this process's own proxies of its referents --------------------------

  call(objectId: string, method: string, args: unknown[]): unknown {
    const result = this._callMethod(objectId, method, args);
    if (result instanceof Deferred) {
      result.cancel(new InvalidStateError(`${method}() would wait inside the manager's server, which serves every client: call it from a client`));
      throw new InvalidStateError(`${method}() would wait inside the manager's server, which serves every client: call it from a client`);
    }
    return result;
  }

  async callAsync(objectId: string, method: string, args: unknown[]): Promise<unknown> {
    return this.call(objectId, method, args);
  }

  incref(objectId: string): void {
    this._incref(this._encodingFor ?? SERVER_CLIENT, objectId);
  }

  decref(objectId: string): void {
    this._decref(SERVER_CLIENT, objectId);
  }

  referentOf(objectId: string): unknown {
    return this._served(objectId).referent;
  }

  here(): Transport {
    return this;
  }

  exposedOf(objectId: string): readonly string[] {
    return [...this._served(objectId).exposed];
  }

  // --- connections -----------------------------------------------------------------------

  /** @internal Serves `conn` as authenticated: the server's end of the pair whose other end its owner holds. */
  adopt(conn: Connection): void {
    this._sessions.push({ conn, handshake: null, client: null, waiting: new Map() });
  }

  private _accept(): void {
    const pending = this.listener._acceptPending();
    if (pending === null) return;
    const { conn, handshake: steps, maxMessage } = pending;
    const session: Session = { conn, handshake: null, client: null, waiting: new Map() };
    this._sessions.push(session);
    session.handshake = { steps, maxMessage, giveUp: addTimer(HANDSHAKE_MS, () => this._close(session)) };
    this._handshake(session, steps.next());
  }

  /** Sends what the handshake says until it waits for the peer; closes the session if it fails. */
  private _handshake(session: Session, first: IteratorResult<{ send: Buffer } | { recv: true }, void>): void {
    const handshake = session.handshake!;
    try {
      let step = first;
      while (!step.done && 'send' in step.value) {
        session.conn.sendBytes(step.value.send);
        step = handshake.steps.next();
      }
      if (!step.done) return;
    } catch {
      // a wrong key, or a peer gone: nothing it sent was deserialized
      this._close(session);
      return;
    }
    handshake.giveUp();
    session.handshake = null;
  }

  private _serve(session: Session): void {
    let frame: Buffer;
    try {
      frame = session.conn.recvBytes(session.handshake?.maxMessage);
    } catch {
      this._close(session);
      return;
    }
    if (session.handshake) {
      let step;
      try {
        step = session.handshake.steps.next(frame);
      } catch {
        this._close(session);
        return;
      }
      this._handshake(session, step);
      return;
    }
    const callId = callIdOf(frame);
    let ok = true;
    let result: unknown;
    try {
      const [objectId, method, args] = bodyOf(frame) as Request;
      if (session.client === null && method !== 'hello') throw new InvalidStateError('a manager connection must say hello first');
      setCaller(session.client?.id ?? '');
      result = objectId === '' ? this._serverCall(session, method, args) : this._callMethod(objectId, method, args);
    } catch (error) {
      ok = false;
      result = error;
    }
    if (callId === NO_REPLY) return;
    if (result instanceof Deferred) {
      const deferred = result;
      session.waiting.set(callId, deferred);
      deferred.onSettle = (settledOk, value) => {
        session.waiting.delete(callId);
        if (this._sessions.includes(session)) this._reply(session, callId, settledOk, value);
      };
      return;
    }
    this._reply(session, callId, ok, result);
  }

  private _reply(session: Session, callId: number, ok: boolean, value: unknown): void {
    this._encodingFor = session.client?.id ?? null;
    let frame: Buffer;
    try {
      frame = frameOf(callId, [ok, value], 1, 'result');
    } catch (error) {
      frame = this._unserializable(callId, ok ? error : value);
    } finally {
      this._encodingFor = null;
    }
    try {
      session.conn.sendBytes(frame);
    } catch {
      this._close(session);
    }
  }

  /** An error that cannot travel as itself arrives as RemoteError with its text and stack. */
  private _unserializable(callId: number, error: unknown): Buffer {
    const text = error instanceof Error ? (error.stack ?? String(error)) : inspect(error);
    return frameOf(callId, [false, new RemoteError(`\n${'-'.repeat(75)}\n${text}\n${'-'.repeat(75)}`)], 1, 'result');
  }

  private _close(session: Session): void {
    const index = this._sessions.indexOf(session);
    if (index < 0) return;
    this._sessions.splice(index, 1);
    session.handshake?.giveUp();
    session.conn.close();
    // A waiting request of a client that went away must not take anything (a queue item, a lock).
    for (const deferred of session.waiting.values()) deferred.cancel(new InvalidStateError('the client went away'));
    session.waiting.clear();
    const client = session.client;
    if (client && --client.connections === 0) {
      this._clients.delete(client.id);
      for (const [id, count] of client.refs) this._drop(id, count);
    }
  }

  // --- server functions (CPython's Server.public) ------------------------------------------

  private _serverCall(session: Session, method: string, args: unknown[]): unknown {
    const client = session.client;
    switch (method) {
      case 'hello': {
        const id = String(args[0]);
        let state = this._clients.get(id);
        if (!state) {
          state = { id, connections: 0, refs: new Map() };
          this._clients.set(id, state);
        }
        state.connections++;
        session.client = state;
        return undefined;
      }
      case 'create':
        return this._create(client!.id, args[0] as string, (args[1] as unknown[]) ?? []);
      case 'incref':
        return this._incref(client!.id, args[0] as string);
      case 'decref':
        return this._decref(client!.id, args[0] as string);
      case 'cancel':
        return session.waiting.get(args[0] as number)?.cancel(new InvalidStateError('the call was aborted'));
      case 'numberOfObjects':
        return this._objects.size;
      case 'debugInfo':
        return [...this._objects].map(([id, served]) => `  ${id}:       refcount=${served.refcount}\n    ${inspect(served.referent, { breakLength: Infinity }).slice(0, 75)}`).join('\n');
      case 'getMethods':
        return this.exposedOf(args[0] as string);
      case 'dummy':
        return undefined;
      case 'shutdown':
        this._stopping = true;
        return undefined;
      default:
        return this._extraFunction(method, args);
    }
  }

  /** A server function a subclass adds (CPython's Server.public of a subclass); none here. */
  protected _extraFunction(method: string, _args: unknown[]): unknown {
    throw new TypeError(`unknown manager server function ${inspect(method)}`);
  }

  /** Runs once the server has stopped serving, whether by shutdown or because its owner is gone. */
  protected _stopped(): void {}

  private _create(clientId: string, typeid: string, args: unknown[]): [string, string[], string] {
    const type = this._types[typeid];
    if (!type) throw new TypeError(`the manager has no typeid ${inspect(typeid)} registered (known: ${Object.keys(this._types).join(', ')})`);
    const callable = type.callable;
    if (typeof callable !== 'function') throw new TypeError(`typeid ${inspect(typeid)} was registered without a callable in the server: it cannot create objects`);
    const referent = isClass(callable) ? new callable(...args) : (callable as (...a: unknown[]) => unknown)(...args);
    const id = this._register(referent, typeid);
    this._incref(clientId, id);
    return [id, [...this._served(id).exposed], this.nonce];
  }

  private _register(referent: unknown, typeid: string): string {
    const id = (this._nextId++).toString(16);
    const exposed = this._types[typeid]?.exposed ?? publicMethods(referent);
    this._objects.set(id, { referent, typeid, exposed: new Set(exposed), refcount: 0 });
    return id;
  }

  private _served(id: string): Served {
    const served = this._objects.get(id);
    if (!served) throw new ReferenceError(`the manager holds no object with id ${inspect(id)} (it was released)`);
    return served;
  }

  private _incref(clientId: string, id: string): void {
    const served = this._served(id);
    served.refcount++;
    const client = this._clients.get(clientId) ?? this._serverState();
    client.refs.set(id, (client.refs.get(id) ?? 0) + 1);
  }

  private _decref(clientId: string, id: string): void {
    const client = this._clients.get(clientId) ?? this._serverState();
    const count = client.refs.get(id);
    if (!count) return;
    if (count === 1) client.refs.delete(id);
    else client.refs.set(id, count - 1);
    this._drop(id, 1);
  }

  private _serverState(): ClientState {
    let state = this._clients.get(SERVER_CLIENT);
    if (!state) {
      state = { id: SERVER_CLIENT, connections: 1, refs: new Map() };
      this._clients.set(SERVER_CLIENT, state);
    }
    return state;
  }

  private _drop(id: string, count: number): void {
    const served = this._objects.get(id);
    if (!served) return;
    served.refcount -= count;
    if (served.refcount > 0) return;
    this._objects.delete(id);
    (served.referent as { [Symbol.dispose]?: () => void } | null)?.[Symbol.dispose]?.();
  }

  // --- method calls ------------------------------------------------------------------------

  private _callMethod(id: string, method: string, args: unknown[]): unknown {
    const served = this._served(id);
    const referent = served.referent as Record<string, unknown> & Partial<Valued>;
    if (method === '#getvalue') return typeof referent?.[kValue] === 'function' ? referent[kValue]() : referent;
    if (method === '#str') {
      const shownValue = typeof referent?.[kValue] === 'function' && !(inspect.custom in referent) ? referent[kValue]() : referent;
      return inspect(shownValue, { breakLength: Infinity, compact: true, depth: Infinity });
    }
    if (!served.exposed.has(method)) throw new TypeError(`method ${inspect(method)} of ${inspect(served.typeid)} object is not in the exposed list`);
    const fn = referent[method];
    if (typeof fn !== 'function') throw new TypeError(`${served.typeid}.${method} is not a function in the server`);
    const result = (fn as (...a: unknown[]) => unknown).apply(referent, args);
    if (isThenable(result))
      throw new TypeError(
        `${served.typeid}.${method}() returned a Promise: the manager's server cannot await it (it serves from a synchronous loop, as a fork-started server has no event loop to return to); make ${method} return its value`,
      );
    const typeid = this._types[served.typeid]?.methodToTypeid?.[method];
    if (typeid === undefined) return result;
    // A method that returns a referent of its own typeid (CPython's method_to_typeid): the result
    // stays here and the client gets a proxy, counted for it when the reply is encoded.
    const proxy = (value: unknown): unknown => {
      const newId = this._register(value, typeid);
      return makeProxy({ typeid, address: this.address, id: newId, server: this.nonce }, this, this._types[typeid]?.proxytype, {
        exposed: [...this._served(newId).exposed],
        authkey: this.authkey,
        incref: false,
      });
    };
    if (!(result instanceof Deferred)) return proxy(result);
    const outer = new Deferred();
    result.onSettle = (ok, value) => (ok ? outer.resolve(proxy(value)) : outer.reject(value));
    outer.onCancel = () => result.cancel(new InvalidStateError('the call was aborted'));
    return outer;
  }
}

/** Run first in a server process: a fork child drops what it inherited of its parent's managers. */
export const atServerStart: (() => void)[] = [];

/** The target of a manager's server process: serves until shutdown or until its owner is gone. */
export function serveManager(
  ServerClass: typeof Server,
  types: ServedTypes,
  address: Address | null,
  authkey: Buffer,
  lifeline: Connection,
  initializer: ((...args: never[]) => unknown) | null,
  initargs: unknown[],
): void {
  for (const hook of atServerStart) hook();
  if (initializer) (initializer as (...args: unknown[]) => unknown)(...initargs);
  const server = new ServerClass(types, address, authkey);
  // The owner's first connection comes with the address: no connect, no handshake on its first call.
  // Its descriptor goes by itself: the serializer's Connection path is cold in a fresh server.
  const [ownerEnd, serverEnd] = Pipe();
  server.adopt(serverEnd);
  lifeline.send(server.address);
  native.sendFds(lifeline.fileno(), [ownerEnd.fileno()]);
  ownerEnd.close();
  server.serveForever(lifeline);
}
