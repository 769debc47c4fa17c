// Connection and Pipe (CPython's connection.py): CPython-framed messages over a socketpair or a
// pipe. Blocking calls do their I/O in native code; Async twins are driven by the event loop.
import { inspect } from 'node:util';

import { BufferTooShort, EOFError, InvalidStateError, NotImplementedError } from './errors';
import { native, type NativeFdWatcher } from './native';
import { dumps, loads } from './serializer/index';
import { timeoutArg, type AbortOptions } from './util';

interface PendingRead {
  resolve(frame: Buffer): void;
  reject(reason: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** Options of `new Connection(fd, options)`: which directions the fd serves. */
export interface ConnectionOptions {
  readable?: boolean;
  writable?: boolean;
}

/** Bytes accepted by sendBytes: any view (sent as its bytes) or an ArrayBuffer. */
export type BytesLike = ArrayBufferView | ArrayBuffer;

function asBytes(buffer: BytesLike, what: string): Uint8Array {
  if (buffer instanceof Uint8Array) return buffer;
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (buffer instanceof ArrayBuffer || (buffer as unknown) instanceof SharedArrayBuffer) return new Uint8Array(buffer);
  throw new TypeError(`${what}: expected a Buffer, typed array, DataView or ArrayBuffer, got ${inspect(buffer, { depth: 0 })}`);
}

function byteCount(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${what} must be an integer, got ${String(value)}`);
  return value;
}

/** One end of a Pipe (or an accepted/connected socket). */
export class Connection {
  private _fd: number;
  private readonly _readable: boolean;
  private readonly _writable: boolean;
  private _watcher: NativeFdWatcher | undefined;
  private readonly _reads: PendingRead[] = [];
  // A frame finished after its reader gave up (aborted): kept so no message is lost.
  private readonly _stash: Buffer[] = [];
  private _eof = false;
  private _reading = false;
  private _pollWaiter: (() => void) | undefined;

  constructor(fd: number, options: ConnectionOptions = {}) {
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) throw new TypeError(`Connection(fd): fd must be a non-negative integer, got ${String(fd)}`);
    const { readable = true, writable = true } = options;
    if (!readable && !writable) throw new RangeError('Connection: at least one of readable or writable must be true');
    this._fd = fd;
    this._readable = readable;
    this._writable = writable;
  }

  get closed(): boolean {
    return this._fd < 0;
  }

  get readable(): boolean {
    return this._readable;
  }

  get writable(): boolean {
    return this._writable;
  }

  fileno(): number {
    this._check('fileno');
    return this._fd;
  }

  /** Sends `size` bytes of `buffer` from `offset` as one message. */
  sendBytes(buffer: BytesLike, offset?: number, size?: number): void {
    this._check('sendBytes', 'writable');
    const bytes = asBytes(buffer, 'Connection.sendBytes');
    const start = byteCount(offset, 0, 'sendBytes offset');
    if (start < 0) throw new RangeError('Connection.sendBytes: offset is negative');
    if (bytes.byteLength < start) throw new RangeError('Connection.sendBytes: buffer length < offset');
    const count = byteCount(size, bytes.byteLength - start, 'sendBytes size');
    if (count < 0) throw new RangeError('Connection.sendBytes: size is negative');
    if (start + count > bytes.byteLength) throw new RangeError('Connection.sendBytes: buffer length < offset + size');
    native.sendFrame(this._fd, start === 0 && count === bytes.byteLength ? bytes : bytes.subarray(start, start + count));
  }

  /** Sends a serialized object (see multiprocess/serializer). */
  send(obj: unknown): void {
    this._check('send', 'writable');
    native.sendFrame(this._fd, dumps(obj));
  }

  /** Blocks until a whole message arrives; EOFError when the peer closed and nothing is left. */
  recvBytes(maxLength?: number): Buffer {
    this._check('recvBytes', 'readable');
    const limit = this._maxLength(maxLength);
    const stashed = this._stash.shift();
    if (stashed) return stashed;
    this._assertNoAsyncRead('recvBytes');
    let frame: Buffer | null;
    try {
      frame = native.recvFrame(this._fd, limit);
    } catch (error) {
      this._closeOnBadLength(error);
      throw error;
    }
    if (frame === null) throw this._eofError('recvBytes');
    return frame;
  }

  /** Reads a message into `buffer` at byte `offset`; returns its length. BufferTooShort carries it when it does not fit. */
  recvBytesInto(buffer: ArrayBufferView, offset?: number): number {
    this._check('recvBytesInto', 'readable');
    if (!ArrayBuffer.isView(buffer)) throw new TypeError('Connection.recvBytesInto: buffer must be a Buffer, typed array or DataView');
    const start = byteCount(offset, 0, 'recvBytesInto offset');
    if (start < 0) throw new RangeError('Connection.recvBytesInto: negative offset');
    if (start > buffer.byteLength) throw new RangeError('Connection.recvBytesInto: offset too large');
    const stashed = this._stash.shift();
    const result = stashed ?? (this._assertNoAsyncRead('recvBytesInto'), native.recvFrameInto(this._fd, buffer, start));
    if (result === null) throw this._eofError('recvBytesInto');
    if (typeof result === 'number') return result;
    if (stashed && result.byteLength <= buffer.byteLength - start) {
      new Uint8Array(buffer.buffer, buffer.byteOffset + start, result.byteLength).set(result);
      return result.byteLength;
    }
    throw new BufferTooShort(`Connection.recvBytesInto: the message (${result.byteLength} bytes) does not fit in ${buffer.byteLength - start} bytes`, { data: result });
  }

  recv(): unknown {
    return loads(this.recvBytes());
  }

  /** The Async twin of recvBytes. */
  recvBytesAsync(options?: AbortOptions): Promise<Buffer> {
    this._check('recvBytesAsync', 'readable');
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const stashed = this._stash.shift();
    if (stashed) return Promise.resolve(stashed);
    if (this._eof) return Promise.reject(this._eofError('recvBytesAsync'));
    return new Promise<Buffer>((resolve, reject) => {
      const read: PendingRead = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this._reads.indexOf(read);
          if (index >= 0) this._reads.splice(index, 1);
          // A half-read frame keeps being read; whoever asks next gets it (see _stash).
          if (this._reads.length === 0 && this._watcher?.cancel()) this._reading = false;
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', read.onAbort, { once: true });
      this._reads.push(read);
      if (this._reads.length === 1 && !this._reading) this._readNext();
    });
  }

  async recvAsync(options?: AbortOptions): Promise<unknown> {
    return loads(await this.recvBytesAsync(options));
  }

  /** True when a message (or EOF) is ready. No argument polls (0 ms); null waits forever. */
  poll(timeoutMs?: number | null): boolean {
    this._check('poll', 'readable');
    if (this._stash.length > 0) return true;
    this._assertNoAsyncRead('poll');
    const timeout = timeoutMs === undefined ? 0 : timeoutArg(timeoutMs, 'Connection.poll');
    return native.pollFd(this._fd, timeout);
  }

  /** The Async twin of poll: resolves true when readable, false after `timeoutMs` (no argument: 0). */
  pollAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    this._check('pollAsync', 'readable');
    const timeout = timeoutMs === undefined ? 0 : timeoutArg(timeoutMs, 'Connection.pollAsync');
    if (this._stash.length > 0) return Promise.resolve(true);
    this._assertNoAsyncRead('pollAsync');
    if (timeout === 0) return Promise.resolve(native.pollFd(this._fd, 0));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (outcome: () => void, stopWatching: boolean): void => {
        if (stopWatching) this._watcher?.cancel();
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this._pollWaiter = undefined;
        outcome();
      };
      const onAbort = (): void => finish(() => reject(signal?.reason), true);
      this._pollWaiter = () => finish(() => resolve(true), false);
      if (timeout > 0) timer = setTimeout(() => finish(() => resolve(false), true), timeout);
      signal?.addEventListener('abort', onAbort, { once: true });
      this._ensureWatcher().waitReadable();
    });
  }

  close(): void {
    if (this._fd < 0) return;
    this._watcher?.close();
    this._watcher = undefined;
    native.closeFd(this._fd);
    this._fd = -1;
    const closed = new InvalidStateError('Connection.recvAsync(): the connection was closed while waiting');
    for (const read of this._reads.splice(0)) {
      read.signal?.removeEventListener('abort', read.onAbort);
      read.reject(closed);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `<Connection fd=${this._fd}${this.closed ? ' closed' : ''}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  private _ensureWatcher(): NativeFdWatcher {
    this._watcher ??= new native.FdWatcher(this._fd, (error, result) => this._onWatcher(error, result));
    return this._watcher;
  }

  private _readNext(): void {
    this._reading = true;
    this._ensureWatcher().readFrame(-1);
  }

  private _onWatcher(error: Error | null, result: Buffer | null | true): void {
    if (result === true) {
      this._pollWaiter?.();
      return;
    }
    this._reading = false;
    const read = this._reads.shift();
    read?.signal?.removeEventListener('abort', read.onAbort);
    if (error) {
      read?.reject(error);
    } else if (result === null) {
      this._eof = true;
      for (const pending of [read, ...this._reads.splice(0)]) pending?.reject(this._eofError('recvAsync'));
      return;
    } else if (read) {
      read.resolve(result);
    } else {
      this._stash.push(result);
    }
    if (this._reads.length > 0 && this._fd >= 0) this._readNext();
  }

  private _check(call: string, direction?: 'readable' | 'writable'): void {
    if (this._fd < 0) throw new InvalidStateError(`Connection.${call}(): the connection is closed`);
    if (direction === 'readable' && !this._readable) throw new InvalidStateError(`Connection.${call}(): the connection is write-only`);
    if (direction === 'writable' && !this._writable) throw new InvalidStateError(`Connection.${call}(): the connection is read-only`);
  }

  private _assertNoAsyncRead(call: string): void {
    if (this._reading || this._pollWaiter)
      throw new InvalidStateError(`Connection.${call}(): an async read is in progress on this connection; await it first`);
  }

  private _maxLength(maxLength: number | undefined): number {
    if (maxLength === undefined || maxLength === null) return -1;
    if (typeof maxLength !== 'number' || !Number.isInteger(maxLength)) throw new TypeError(`Connection.recvBytes: maxLength must be an integer, got ${String(maxLength)}`);
    if (maxLength < 0) throw new RangeError('Connection.recvBytes: negative maxLength');
    return maxLength;
  }

  // CPython closes the connection on an oversized message: its stream position is lost.
  private _closeOnBadLength(error: unknown): void {
    if ((error as { code?: string }).code === 'ERR_MP_BAD_MESSAGE_LENGTH') this.close();
  }

  private _eofError(call: string): EOFError {
    return new EOFError(`Connection.${call}(): the other end closed the connection and no message is left`);
  }
}

/** A pair of connected Connections: duplex over socketpair(2), or [reader, writer] over pipe(2). */
export function Pipe(duplex = true): [Connection, Connection] {
  if (typeof duplex !== 'boolean') throw new TypeError(`Pipe(duplex): duplex must be a boolean, got ${String(duplex)}`);
  if (duplex) {
    const [a, b] = native.socketPair();
    return [new Connection(a), new Connection(b)];
  }
  const [reader, writer] = native.pipePair();
  return [new Connection(reader, { writable: false }), new Connection(writer, { readable: false })];
}

export class Listener {
  constructor() {
    throw new NotImplementedError('multiprocess/connection Listener');
  }
}

export function Client(): never {
  throw new NotImplementedError('multiprocess/connection Client');
}

export function ClientAsync(): Promise<never> {
  return Promise.reject(new NotImplementedError('multiprocess/connection ClientAsync'));
}

export function wait(): never {
  throw new NotImplementedError('multiprocess/connection wait');
}

export function waitAsync(): Promise<never> {
  return Promise.reject(new NotImplementedError('multiprocess/connection waitAsync'));
}
