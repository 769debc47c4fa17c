// This process's connections to manager servers (CPython's per-thread connections in BaseProxy):
// one blocking connection, on which a call writes its request and reads the reply straight from the
// socket without the event loop turning, and one for Async calls, whose replies are matched by call
// id so that many can wait at once. Both say the same client id, under which the server counts this
// process's references and owns its locks; when the last one closes (the process died), the server
// drops them.
import { isMainThread, threadId } from 'node:worker_threads';

import { Client, ClientAsync, type Address, type Connection } from '../connection';
import { EOFError } from '../errors';
import { randomBytes, thisProcess } from '../util';
import { bodyOf, callIdOf, frameOf, NO_REPLY, type Reply } from './protocol';

interface PendingCall {
  resolve(reply: Reply): void;
  reject(error: unknown): void;
}

let clientIdOf = { pid: 0, id: '' };

// The link whose reply is being decoded, for the proxy reducer (proxy.ts).
let replyLink: Link | null = null;

export function decodingReplyOf(): Link | null {
  return replyLink;
}

/** This process's (thread's) client id; a fork child gets its own. */
export function clientId(): string {
  if (clientIdOf.pid !== thisProcess.pid)
    clientIdOf = { pid: thisProcess.pid, id: `${thisProcess.pid}${isMainThread ? '' : `.${threadId}`}-${randomBytes(4).toString('hex')}` };
  return clientIdOf.id;
}

export function addressKey(address: Address): string {
  return typeof address === 'string' ? address : `${address[0]}:${address[1]}`;
}

/** The manager server is gone: every call fails at once with this, sync or async. */
function goneError(address: Address, cause: unknown): EOFError {
  return new EOFError(
    `the manager server at ${addressKey(address)} is gone (its process died or shut down): the connection to it closed`,
    { cause },
  );
}

/** The connections of this process to one manager server. */
export class Link {
  private _sync: Connection | undefined;
  private _async: Promise<Connection> | undefined;
  private _asyncConn: Connection | undefined;
  private readonly _pending = new Map<number, PendingCall>();
  private _nextCallId = 1;
  private _reading = false;
  private _gone: EOFError | undefined;

  constructor(
    readonly address: Address,
    readonly authkey: Buffer,
  ) {}

  /** A blocking call: writes the request and reads its reply on this thread. */
  call(objectId: string, method: string, args: unknown[]): Reply {
    const conn = this._syncConnection();
    const frame = frameOf(1, [objectId, method, args], 2, 'args');
    let reply: Buffer;
    try {
      conn.sendBytes(frame);
      reply = conn.recvBytes();
    } catch (error) {
      throw this._lost(error);
    }
    return this._decode(reply);
  }

  /** Decodes a reply: proxies in it are this client's already (the server counted them for it). */
  private _decode(frame: Buffer): Reply {
    const outer = replyLink;
    replyLink = this;
    try {
      return bodyOf(frame) as Reply;
    } finally {
      replyLink = outer;
    }
  }

  /** A one-way message on the blocking connection (decref): no reply comes. */
  notify(objectId: string, method: string, args: unknown[]): void {
    if (this._gone) return;
    try {
      this._syncConnection().sendBytes(frameOf(NO_REPLY, [objectId, method, args], 2, 'args'));
    } catch (error) {
      this._lost(error);
    }
  }

  /** An Async call: resolves with the reply; an aborted call asks the server to give up and waits for its answer. */
  async callAsync(objectId: string, method: string, args: unknown[], signal?: AbortSignal): Promise<Reply> {
    signal?.throwIfAborted();
    if (this._gone) throw this._gone;
    const callId = this._nextCallId++;
    if (this._nextCallId > 0xfffffff0) this._nextCallId = 1;
    const frame = frameOf(callId, [objectId, method, args], 2, 'args');
    const conn = await this._asyncConnection();
    const reply = new Promise<Reply>((resolve, reject) => this._pending.set(callId, { resolve, reject }));
    try {
      conn.sendBytes(frame);
    } catch (error) {
      this._pending.delete(callId);
      throw this._lost(error);
    }
    this._readReplies(conn);
    if (!signal) return reply;
    const onAbort = (): void => {
      try {
        conn.sendBytes(frameOf(NO_REPLY, ['', 'cancel', [callId]], 2, 'args'));
      } catch {
        // the server is gone: the pending call fails on its own
      }
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      const outcome = await reply;
      // Given up, and the server gave up too: the caller sees the signal's reason.
      if (signal.aborted && !outcome[0]) throw signal.reason;
      return outcome;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Closes this process's connections (the server then drops what they held). */
  close(): void {
    this._sync?.close();
    this._asyncConn?.close();
    this._sync = undefined;
    this._asyncConn = undefined;
    this._async = undefined;
  }

  /** Takes `conn`, already authenticated (the server made it for its owner), as the blocking connection. */
  adoptConnection(conn: Connection): void {
    this._sync?.close();
    this._sync = conn;
    this._hello(conn);
  }

  private _hello(conn: Connection): void {
    conn.sendBytes(frameOf(NO_REPLY, ['', 'hello', [clientId()]], 2, 'args'));
  }

  private _syncConnection(): Connection {
    if (this._gone) throw this._gone;
    if (!this._sync) {
      try {
        this._sync = Client(this.address, null, this.authkey);
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_MP_AUTHENTICATION') throw error;
        throw this._lost(error);
      }
      this._hello(this._sync);
    }
    return this._sync;
  }

  private _asyncConnection(): Promise<Connection> {
    this._async ??= (async () => {
      let conn: Connection;
      try {
        conn = await ClientAsync(this.address, null, this.authkey);
      } catch (error) {
        this._async = undefined;
        if ((error as { code?: string }).code === 'ERR_MP_AUTHENTICATION') throw error;
        throw this._lost(error);
      }
      this._hello(conn);
      this._asyncConn = conn;
      return conn;
    })();
    return this._async;
  }

  // Reads replies only while some call waits, so an idle link never keeps the event loop alive.
  private _readReplies(conn: Connection): void {
    if (this._reading) return;
    this._reading = true;
    void (async () => {
      try {
        while (this._pending.size > 0) {
          const frame = await conn.recvBytesAsync();
          const pending = this._pending.get(callIdOf(frame));
          if (!pending) continue;
          this._pending.delete(callIdOf(frame));
          try {
            pending.resolve(this._decode(frame));
          } catch (error) {
            pending.reject(error);
          }
        }
      } catch (error) {
        const lost = this._lost(error);
        for (const pending of this._pending.values()) pending.reject(lost);
        this._pending.clear();
      } finally {
        this._reading = false;
      }
    })();
  }

  private _lost(error: unknown): unknown {
    const code = (error as { code?: string }).code;
    const gone = error instanceof EOFError || code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EPIPE' || code === 'ECONNRESET';
    if (!gone) return error;
    this._gone ??= goneError(this.address, error);
    this.close();
    return this._gone;
  }
}

const links = new Map<string, Link>();
let linksOf = 0;

/** This process's link to the manager at `address`, if it has one (a fork child starts afresh). */
export function existingLink(address: Address): Link | undefined {
  if (linksOf !== thisProcess.pid) {
    links.clear();
    linksOf = thisProcess.pid;
  }
  return links.get(addressKey(address));
}

/** This process's link to the manager at `address`. */
export function linkTo(address: Address, authkey: Buffer): Link {
  const existing = existingLink(address);
  if (existing) return existing;
  const key = addressKey(address);
  const link = new Link(address, authkey);
  links.set(key, link);
  return link;
}

/** Forgets the link to `address` (a manager started or shut down there): the next use connects anew. */
export function dropLink(address: Address): void {
  const key = addressKey(address);
  links.get(key)?.close();
  links.delete(key);
}
