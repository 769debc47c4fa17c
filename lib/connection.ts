// Connection and Pipe (CPython's connection.py): CPython-framed messages over a socketpair or a
// pipe. Blocking calls do their I/O in native code; Async twins are driven by the event loop.
import { rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { inspect } from 'node:util';

import { untilReadable } from './blocking';
import { AuthenticationError, BufferTooShort, EOFError, InvalidStateError } from './errors';
import { native, type NativeFdWatcher, type SocketFamily } from './native';
import { dumps, loads } from './serializer/index';
import { passFd, register, takeFd } from './serializer/registry';
import { SpinPolicy } from './spin';
import { kernelName, randomBytes, timeoutArg, type AbortOptions } from './util';

/** A frame and the descriptors that came with it (SCM_RIGHTS; empty on other routes). */
interface Frame {
  bytes: Buffer;
  fds: number[];
}

const NO_FDS: number[] = [];

function closeFds(fds: number[]): void {
  for (const fd of fds) if (fd >= 0) native.closeFd(fd);
}

interface PendingRead {
  call: string;
  /** The largest frame this read takes (-1: any); a larger one is ERR_MP_BAD_MESSAGE_LENGTH. */
  limit: number;
  resolve(frame: Frame): void;
  reject(reason: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

function closedWhileWaiting(call: string, what = 'connection'): InvalidStateError {
  return new InvalidStateError(`${call}: the ${what} was closed while waiting`);
}

/** What `recv` accepts: `functions: false` refuses code-carrying messages (see `loads`). */
export interface ReceiveOptions {
  functions?: boolean;
}

/** Options of `new Connection(fd, options)`: which directions the fd serves, and what recv accepts. */
export interface ConnectionOptions extends ReceiveOptions {
  readable?: boolean;
  writable?: boolean;
}

function functionsArg(options: ReceiveOptions | undefined, call: string): boolean {
  const functions = options?.functions ?? true;
  if (typeof functions !== 'boolean') throw new TypeError(`${call}: functions must be a boolean, got ${inspect(functions)}`);
  return functions;
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

/** The byte offset in `buffer` where recvBytesInto(Async) writes. */
function intoOffset(buffer: ArrayBufferView, offset: number | undefined, call: string): number {
  if (!ArrayBuffer.isView(buffer)) throw new TypeError(`Connection.${call}: buffer must be a Buffer, typed array or DataView`);
  const start = byteCount(offset, 0, `${call} offset`);
  if (start < 0) throw new RangeError(`Connection.${call}: negative offset`);
  if (start > buffer.byteLength) throw new RangeError(`Connection.${call}: offset too large`);
  return start;
}

/** Copies a received message into `buffer` at `start`; BufferTooShort carries it when it does not fit. */
function copyInto(message: Buffer, buffer: ArrayBufferView, start: number, call: string): number {
  if (message.byteLength > buffer.byteLength - start)
    throw new BufferTooShort(`Connection.${call}: the message (${message.byteLength} bytes) does not fit in ${buffer.byteLength - start} bytes`, { data: message });
  new Uint8Array(buffer.buffer, buffer.byteOffset + start, message.byteLength).set(message);
  return message.byteLength;
}

/** One end of a Pipe (or an accepted/connected socket). */
export class Connection {
  private _fd: number;
  private readonly _readable: boolean;
  private readonly _writable: boolean;
  private readonly _functions: boolean;
  private _watcher: NativeFdWatcher | undefined;
  private readonly _reads: PendingRead[] = [];
  // A frame finished after its reader gave up (aborted): kept so no message is lost.
  private readonly _stash: Frame[] = [];
  // Whether descriptors can travel here (AF_UNIX); asked of the kernel on first use.
  private _unixSocket: boolean | undefined;
  private _eof = false;
  private _reading = false;
  /** Whether answers on this connection come fast enough to spin for them. */
  private readonly _spin = new SpinPolicy();
  // The pending pollAsync or connect: called when the fd is ready, or with the error that ends the wait.
  private _pollWaiter: ((error?: Error) => void) | undefined;

  constructor(fd: number, options: ConnectionOptions = {}) {
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) throw new TypeError(`Connection(fd): fd must be a non-negative integer, got ${String(fd)}`);
    const { readable = true, writable = true } = options;
    if (!readable && !writable) throw new RangeError('Connection: at least one of readable or writable must be true');
    this._fd = fd;
    this._readable = readable;
    this._writable = writable;
    this._functions = functionsArg(options, 'Connection');
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

  /**
   * Sends a serialized object (see multiprocess/serializer). Over an AF_UNIX socket, Connections
   * inside it travel with their descriptors (SCM_RIGHTS); elsewhere they are refused.
   */
  send(obj: unknown): void {
    this._check('send', 'writable');
    if (!this._carriesFds()) {
      native.sendFrame(this._fd, dumps(obj));
      return;
    }
    const fds: number[] = [];
    const bytes = dumps(obj, { fds });
    native.sendFrame(this._fd, bytes, fds);
  }

  /** Blocks until a whole message arrives; EOFError when the peer closed and nothing is left. */
  recvBytes(maxLength?: number): Buffer {
    this._check('recvBytes', 'readable');
    return this._recvFrame('recvBytes', this._maxLength(maxLength), false).bytes;
  }

  /** Reads a message into `buffer` at byte `offset`; returns its length. BufferTooShort carries it when it does not fit. */
  recvBytesInto(buffer: ArrayBufferView, offset?: number): number {
    this._check('recvBytesInto', 'readable');
    const start = intoOffset(buffer, offset, 'recvBytesInto');
    const stashed = this._stash.shift();
    if (stashed) closeFds(stashed.fds);
    // Straight into the buffer when it fits; the whole message, to go into BufferTooShort, when not.
    const result = stashed?.bytes ?? this._recvFrameInto(buffer, start);
    if (result === null) throw this._eofError('recvBytesInto');
    if (typeof result === 'number') return result;
    return copyInto(result, buffer, start, 'recvBytesInto');
  }

  /** The Async twin of recvBytesInto. */
  async recvBytesIntoAsync(buffer: ArrayBufferView, offset?: number, options?: AbortOptions): Promise<number> {
    this._check('recvBytesIntoAsync', 'readable');
    const start = intoOffset(buffer, offset, 'recvBytesIntoAsync');
    const frame = await this._recvFrameAsync('recvBytesIntoAsync', options?.signal);
    closeFds(frame.fds);
    return copyInto(frame.bytes, buffer, start, 'recvBytesIntoAsync');
  }

  /** Receives an object; Connections in it arrive with their descriptors. */
  recv(): unknown {
    this._check('recv', 'readable');
    return decodeFrame(this._recvFrame('recv', -1, this._carriesFds()), this._functions);
  }

  /** The Async twin of recvBytes. */
  async recvBytesAsync(options?: AbortOptions): Promise<Buffer> {
    return this._recvBytesAsync(-1, options?.signal);
  }

  /** @internal recvBytesAsync refusing a frame over `limit` bytes from its header, before reading it. */
  async _recvBytesAsync(limit: number, signal: AbortSignal | undefined): Promise<Buffer> {
    this._check('recvBytesAsync', 'readable');
    const frame = await this._recvFrameAsync('recvBytesAsync', signal, limit);
    closeFds(frame.fds);
    return frame.bytes;
  }

  async recvAsync(options?: AbortOptions): Promise<unknown> {
    this._check('recvAsync', 'readable');
    return decodeFrame(await this._recvFrameAsync('recvAsync', options?.signal), this._functions);
  }

  private _recvFrameInto(buffer: ArrayBufferView, start: number): Buffer | number | null {
    this._assertNoAsyncRead('recvBytesInto');
    untilReadable(this._fd, -1);
    try {
      const result = native.recvFrameInto(this._fd, buffer, start, this._spin.started());
      this._spin.ended();
      return result;
    } catch (error) {
      this._closeOnBadLength(error);
      throw error;
    }
  }

  private _recvFrame(call: string, limit: number, wantFds: boolean): Frame {
    const stashed = this._stash.shift();
    if (stashed) {
      if (!wantFds) closeFds(stashed.fds);
      return stashed;
    }
    this._assertNoAsyncRead(call);
    const fds: number[] = wantFds ? [] : NO_FDS;
    let bytes: Buffer | null;
    untilReadable(this._fd, -1);
    try {
      bytes = native.recvFrame(this._fd, limit, wantFds ? fds : undefined, this._spin.started());
      this._spin.ended();
    } catch (error) {
      closeFds(fds);
      this._closeOnBadLength(error);
      throw error;
    }
    if (bytes === null) throw this._eofError(call);
    return { bytes, fds };
  }

  private _recvFrameAsync(call: string, signal: AbortSignal | undefined, limit = -1): Promise<Frame> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const stashed = this._stash.shift();
    if (stashed) return Promise.resolve(stashed);
    if (this._eof) return Promise.reject(this._eofError(call));
    return new Promise<Frame>((resolve, reject) => {
      const read: PendingRead = {
        call,
        limit,
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

  /** True when a message (or EOF) is ready. No argument polls (0 ms); null waits forever. */
  poll(timeoutMs?: number | null): boolean {
    this._check('poll', 'readable');
    if (this._stash.length > 0) return true;
    this._assertNoAsyncRead('poll');
    const timeout = timeoutMs === undefined ? 0 : timeoutArg(timeoutMs, 'Connection.poll');
    return native.pollFd(this._fd, untilReadable(this._fd, timeout));
  }

  /** The Async twin of poll: resolves true when readable, false after `timeoutMs` (no argument: 0). */
  async pollAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<boolean> {
    this._check('pollAsync', 'readable');
    const timeout = timeoutMs === undefined ? 0 : timeoutArg(timeoutMs, 'Connection.pollAsync');
    if (this._stash.length > 0) return true;
    this._assertNoAsyncRead('pollAsync');
    if (timeout === 0) return native.pollFd(this._fd, 0);
    const signal = options?.signal;
    signal?.throwIfAborted();
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
      this._pollWaiter = (error) => finish(error ? () => reject(error) : () => resolve(true), false);
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
    for (const frame of this._stash.splice(0)) closeFds(frame.fds);
    for (const read of this._reads.splice(0)) {
      read.signal?.removeEventListener('abort', read.onAbort);
      read.reject(closedWhileWaiting(`Connection.${read.call}()`));
    }
    this._pollWaiter?.(closedWhileWaiting('Connection.pollAsync()'));
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

  /** @internal Resolves once the fd is writable (a non-blocking connect finished). */
  _connected(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this._watcher?.cancel();
        this._pollWaiter = undefined;
        reject(signal?.reason);
      };
      this._pollWaiter = (error) => {
        this._pollWaiter = undefined;
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this._ensureWatcher().waitWritable();
    });
  }

  private _ensureWatcher(): NativeFdWatcher {
    this._watcher ??= new native.FdWatcher(this._fd, (error, result, fds) => this._onWatcher(error, result, fds));
    return this._watcher;
  }

  private _readNext(): void {
    this._reading = true;
    this._ensureWatcher().readFrame(this._reads[0]?.limit ?? -1, this._carriesFds());
    const spinMs = this._spin.started();
    if (spinMs > 0) native.spinLoop(spinMs);
  }

  private _carriesFds(): boolean {
    this._unixSocket ??= native.isUnixSocket(this._fd);
    return this._unixSocket;
  }

  private _onWatcher(error: Error | null, result: Buffer | null | true, fds?: number[]): void {
    if (result === true) {
      this._pollWaiter?.();
      return;
    }
    this._reading = false;
    this._spin.ended();
    const read = this._reads.shift();
    read?.signal?.removeEventListener('abort', read.onAbort);
    if (error) {
      read?.reject(error);
      this._closeOnBadLength(error);
    } else if (result === null) {
      this._eof = true;
      for (const pending of [read, ...this._reads.splice(0)]) pending?.reject(this._eofError('recvAsync'));
      return;
    } else if (read) {
      read.resolve({ bytes: result, fds: fds ?? NO_FDS });
    } else {
      this._stash.push({ bytes: result, fds: fds ?? NO_FDS });
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

/** Rebuilds a received object; its handles take their descriptors, and the ones left over are closed. */
// What the Connection decoding a frame accepts, for the Connections restored from it.
let receivingFunctions = true;

function decodeFrame({ bytes, fds }: Frame, functions: boolean): unknown {
  if (fds.length === 0) return loads(bytes, { functions });
  receivingFunctions = functions;
  try {
    return loads(bytes, { fds, functions });
  } finally {
    receivingFunctions = true;
    closeFds(fds);
  }
}

// A Connection travels as its descriptor where the route carries descriptors (SCM_RIGHTS, a
// spawn child's payload); the receiver gets its own copy, and the sender keeps its end open (as
// CPython's DupFd). Every other route refuses it with the path of the value.
register(
  Connection,
  {
    reduce: (connection: Connection) => ({
      fd: passFd(connection.fileno(), 'a Connection'),
      readable: connection.readable,
      writable: connection.writable,
    }),
    // A Connection that came from a peer refusing code refuses it too: the peer is the same.
    restore: (state: { fd: number; readable: boolean; writable: boolean }) =>
      new Connection(takeFd(state.fd), { readable: state.readable, writable: state.writable, functions: receivingFunctions }),
  },
  'multiprocess.Connection',
);

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

// ---------------------------------------------------------------------------------------------
// Listener and Client with CPython 3.12's HMAC challenge/response. Each side's protocol is a
// generator of send/recv steps, run by a blocking or an async driver (one algorithm, two forms).

const CHALLENGE = Buffer.from('#CHALLENGE#');
const WELCOME = Buffer.from('#WELCOME#');
const FAILURE = Buffer.from('#FAILURE#');
const MESSAGE_LENGTH = 40;
const MD5_ONLY_MESSAGE_LENGTH = 20;
const MD5_DIGEST_LENGTH = 16;
const MAX_AUTH_MESSAGE = 256;
// CPython's digest names and Node's.
const DIGESTS: Record<string, string> = { md5: 'md5', sha256: 'sha256', sha384: 'sha384', sha3_256: 'sha3-256', sha3_384: 'sha3-384' };
const MAX_DIGEST_NAME = 8;

type AuthStep = { send: Buffer } | { recv: true };
export type AuthSteps = Generator<AuthStep, void, Buffer | undefined>;

// Loaded by the first handshake, not by every process that imports the package (~3 ms with the streams it loads).
const crypto = (): typeof import('node:crypto') => require('node:crypto') as typeof import('node:crypto');

function hmac(authkey: Buffer, message: Buffer, digest: string): Buffer {
  const algorithm = DIGESTS[digest];
  if (!algorithm) throw new AuthenticationError(`digest ${digest} is not supported`);
  return crypto().createHmac(algorithm, authkey).update(message).digest();
}

/** The digest a message names ('' for CPython's legacy MD5 form) and its payload. */
function digestAndPayload(message: Buffer): [string, Buffer] {
  if (message.length === MD5_ONLY_MESSAGE_LENGTH || message.length === MD5_DIGEST_LENGTH) return ['', message];
  if (message[0] === 0x7b) {
    const close = message.indexOf(0x7d, 1);
    if (close > 0 && close <= MAX_DIGEST_NAME + 1) {
      const digest = message.subarray(1, close).toString('latin1');
      if (digest in DIGESTS) return [digest, message.subarray(close + 1)];
    }
  }
  throw new AuthenticationError('unsupported message length, missing digest prefix, or unsupported digest');
}

function* deliverChallenge(authkey: Buffer): AuthSteps {
  const message = Buffer.concat([Buffer.from('{sha256}'), randomBytes(MESSAGE_LENGTH)]);
  yield { send: Buffer.concat([CHALLENGE, message]) };
  const response = (yield { recv: true })!;
  const [responseDigest, mac] = digestAndPayload(response);
  const expected = hmac(authkey, message, responseDigest || 'md5');
  if (expected.length !== mac.length || !crypto().timingSafeEqual(expected, mac)) {
    yield { send: FAILURE };
    throw new AuthenticationError('digest received was wrong');
  }
  yield { send: WELCOME };
}

function* answerChallenge(authkey: Buffer): AuthSteps {
  const message = (yield { recv: true })!;
  if (!message.subarray(0, CHALLENGE.length).equals(CHALLENGE)) throw new AuthenticationError('protocol error: expected a challenge');
  const challenge = message.subarray(CHALLENGE.length);
  if (challenge.length < MD5_ONLY_MESSAGE_LENGTH) throw new AuthenticationError(`challenge too short: ${challenge.length} bytes`);
  const [digest] = digestAndPayload(challenge);
  const mac = hmac(authkey, challenge, digest || 'md5');
  yield { send: digest ? Buffer.concat([Buffer.from(`{${digest}}`), mac]) : mac };
  const verdict = (yield { recv: true })!;
  if (!verdict.equals(WELCOME)) throw new AuthenticationError('digest sent was rejected');
}

function* acceptingHandshake(authkey: Buffer | undefined): AuthSteps {
  if (!authkey) return;
  yield* deliverChallenge(authkey);
  yield* answerChallenge(authkey);
}

function authenticate(connection: Connection, steps: AuthSteps): void {
  let step = steps.next();
  while (!step.done) {
    step = 'send' in step.value ? (connection.sendBytes(step.value.send), steps.next()) : steps.next(connection.recvBytes(MAX_AUTH_MESSAGE));
  }
}

async function authenticateAsync(connection: Connection, steps: AuthSteps, signal: AbortSignal | undefined): Promise<void> {
  let step = steps.next();
  while (!step.done) {
    if ('send' in step.value) {
      connection.sendBytes(step.value.send);
      step = steps.next();
    } else {
      // As the blocking driver: a longer header is refused before its body is read (CPython's OSError).
      step = steps.next(await connection._recvBytesAsync(MAX_AUTH_MESSAGE, signal));
    }
  }
}

/** A Unix socket path, or [host, port] for TCP (CPython's address tuple). */
export type Address = string | [string, number];

/** A checked socket address: the family and what the native calls take. */
interface SocketAddress {
  family: SocketFamily;
  host: string;
  port: number;
}

// sockaddr_un's sun_path holds 108 bytes with the terminating NUL.
const MAX_UNIX_PATH_BYTES = 107;

function familyArg(family: unknown, call: string): SocketFamily | undefined {
  if (family === undefined || family === null) return undefined;
  if (typeof family !== 'string') throw new TypeError(`${call}: family must be 'AF_UNIX' or 'AF_INET', got ${inspect(family)}`);
  if (family === 'AF_UNIX' || family === 'AF_INET') return family;
  if (family === 'AF_PIPE') throw new RangeError(`${call}: family 'AF_PIPE' (a Windows named pipe) is not available on this platform; use 'AF_UNIX' or 'AF_INET'`);
  throw new RangeError(`${call}: family must be 'AF_UNIX' or 'AF_INET', got ${inspect(family)}`);
}

// CPython's address_type: [host, port] is AF_INET; a string is a socket path (AF_UNIX) unless it
// starts with \\, which names a Windows pipe (AF_PIPE), refused on POSIX as CPython refuses it.
function familyOfAddress(address: unknown, call: string): SocketFamily {
  if (Array.isArray(address)) return 'AF_INET';
  if (typeof address !== 'string') throw new TypeError(`${call}: address must be a socket path (a string) or [host, port], got ${inspect(address)}`);
  if (address.startsWith('\\\\'))
    throw new RangeError(`${call}: address ${inspect(address)} names a Windows named pipe (family 'AF_PIPE'), which is not available on this platform; use a socket path or [host, port]`);
  return 'AF_UNIX';
}

/** Checks an address against its family (given, or CPython's address_type of the address). */
function socketAddress(address: unknown, family: unknown, call: string): SocketAddress {
  const checked = familyArg(family, call) ?? familyOfAddress(address, call);
  if (checked === 'AF_UNIX') {
    if (typeof address !== 'string') throw new TypeError(`${call}: an AF_UNIX address is a socket path (a string), got ${inspect(address)}`);
    const bytes = Buffer.byteLength(address);
    if (bytes === 0 || bytes > MAX_UNIX_PATH_BYTES)
      throw new RangeError(`${call}: an AF_UNIX address must be 1 to ${MAX_UNIX_PATH_BYTES} bytes long, got ${inspect(address)} (${bytes} bytes)`);
    // A leading NUL selects Linux's abstract namespace, where any byte may follow; a path ends at its first NUL.
    if (!address.startsWith('\0') && address.includes('\0')) throw new RangeError(`${call}: a socket path must not contain NUL characters, got ${inspect(address)}`);
    return { family: checked, host: address, port: 0 };
  }
  if (!Array.isArray(address) || address.length !== 2) throw new TypeError(`${call}: an AF_INET address is [host, port], got ${inspect(address)}`);
  const [host, port] = address as unknown[];
  if (typeof host !== 'string') throw new TypeError(`${call}: the host of an AF_INET address must be a string, got ${inspect(host)} in ${inspect(address)}`);
  if (typeof port !== 'number' || !Number.isInteger(port))
    throw new TypeError(`${call}: the port of an AF_INET address must be an integer, got ${inspect(port)} in ${inspect(address)}`);
  if (port < 0 || port > 65535) throw new RangeError(`${call}: the port of an AF_INET address must be 0 to 65535, got ${inspect(port)} in ${inspect(address)}`);
  return { family: checked, host: host === '' ? '0.0.0.0' : host, port };
}

function arbitraryAddress(family: SocketFamily): Address {
  return family === 'AF_UNIX' ? join(tmpdir(), kernelName('listener').slice(1)) : ['127.0.0.1', 0];
}

function authkeyArg(authkey: Uint8Array | null | undefined, what: string): Buffer | undefined {
  if (authkey === undefined || authkey === null) return undefined;
  if (!(authkey instanceof Uint8Array)) throw new TypeError(`${what}: authkey should be a Buffer (a byte string), got ${inspect(authkey, { depth: 0 })}`);
  return Buffer.from(authkey);
}

/** `new Listener(address, options)`: CPython's positional arguments by name, and what only Node has. */
export interface ListenerOptions extends ReceiveOptions {
  family?: SocketFamily | null;
  backlog?: number;
  authkey?: Uint8Array | null;
  /** A TCP Listener without an authkey must say so: any peer that reaches the port is accepted. */
  allowUnauthenticated?: boolean;
}

/** `Client(address, options)` / `ClientAsync(address, options)`. */
export interface ClientOptions extends ReceiveOptions {
  family?: SocketFamily | null;
  authkey?: Uint8Array | null;
}

function isOptions<T extends object>(value: unknown): value is T {
  return typeof value === 'object' && value !== null;
}

/** A bound, listening socket that hands out authenticated Connections (CPython's Listener). */
export class Listener {
  private _fd: number;
  private readonly _family: SocketFamily;
  private readonly _address: Address;
  private readonly _authkey: Buffer | undefined;
  private readonly _functions: boolean;
  private readonly _trackedFile: boolean;
  private _watcher: NativeFdWatcher | undefined;
  // Pending acceptAsync calls: woken together when a client knocks (the losers wait again), or
  // given the error that ends their wait.
  private readonly _acceptWaiters = new Set<(error?: Error) => void>();
  lastAccepted: Address | null = null;

  constructor(address?: Address | null, options?: ListenerOptions);
  constructor(address?: Address | null, family?: SocketFamily | null, backlog?: number, authkey?: Uint8Array | null);
  constructor(address?: Address | null, familyOrOptions?: SocketFamily | null | ListenerOptions, backlog?: number, authkey?: Uint8Array | null) {
    const options: ListenerOptions = isOptions<ListenerOptions>(familyOrOptions) ? familyOrOptions : { family: familyOrOptions, backlog, authkey };
    const { family, allowUnauthenticated = false } = options;
    const backlogGiven = options.backlog ?? 1;
    this._functions = functionsArg(options, 'Listener');
    if (typeof allowUnauthenticated !== 'boolean') throw new TypeError(`Listener: allowUnauthenticated must be a boolean, got ${inspect(allowUnauthenticated)}`);
    // As CPython: no address (or '') means a fresh one of the family, AF_UNIX by default.
    const arbitrary = address === undefined || address === null || address === '';
    const requested = arbitrary ? arbitraryAddress(familyArg(family, 'Listener') ?? 'AF_UNIX') : address;
    const { family: checked, host, port } = socketAddress(requested, family, 'Listener');
    this._family = checked;
    this._authkey = authkeyArg(options.authkey, 'Listener');
    // Unlike CPython: a message from any peer that reaches the port could run code here.
    if (checked === 'AF_INET' && !this._authkey && !allowUnauthenticated)
      throw Object.assign(
        new TypeError(
          `Listener: a TCP Listener (${inspect(requested)}) needs an authkey: without one any peer that reaches the port is accepted, and its messages are deserialized, which runs code. Pass an authkey, or { allowUnauthenticated: true } to accept anyone`,
        ),
        { code: 'ERR_MP_AUTHKEY_REQUIRED' },
      );
    if (typeof backlogGiven !== 'number' || !Number.isInteger(backlogGiven)) throw new TypeError(`Listener: backlog must be an integer, got ${inspect(backlogGiven)}`);
    if (backlogGiven < 0) throw new RangeError(`Listener: backlog must be >= 0, got ${backlogGiven}`);
    const [fd, bound] = native.listenSocket(checked, host, port, backlogGiven);
    this._fd = fd;
    this._address = checked === 'AF_UNIX' ? host : bound;
    // A file of ours outlives a SIGKILL: the tree's resource tracker removes it then.
    this._trackedFile = arbitrary && checked === 'AF_UNIX';
    if (this._trackedFile) native.trackSocketFile(host, true);
  }

  get address(): Address {
    return this._address;
  }

  /** Waits for a client and authenticates it (when an authkey is set). */
  accept(): Connection {
    const fd = this._open('accept');
    const accepted = native.acceptSocket(fd, untilReadable(fd, -1))!;
    const connection = this._accepted(accepted);
    if (this._authkey) {
      try {
        authenticate(connection, deliverChallenge(this._authkey));
        authenticate(connection, answerChallenge(this._authkey));
      } catch (error) {
        connection.close();
        throw error;
      }
    }
    return connection;
  }

  /**
   * @internal A client already knocking (null if none), not yet authenticated: its handshake comes
   * as steps, for a server that drives many from one poll loop (the manager's), each `recv` step
   * waiting for a frame of at most `maxMessage` bytes.
   */
  _acceptPending(): { conn: Connection; handshake: AuthSteps; maxMessage: number } | null {
    const accepted = native.acceptSocket(this._open('accept'), 0);
    if (!accepted) return null;
    return { conn: this._accepted(accepted), handshake: acceptingHandshake(this._authkey), maxMessage: MAX_AUTH_MESSAGE };
  }

  async acceptAsync(options?: AbortOptions): Promise<Connection> {
    const signal = options?.signal;
    for (;;) {
      signal?.throwIfAborted();
      const accepted = native.acceptSocket(this._open('acceptAsync'), 0);
      if (accepted) {
        const connection = this._accepted(accepted);
        if (!this._authkey) return connection;
        try {
          await authenticateAsync(connection, deliverChallenge(this._authkey), signal);
          await authenticateAsync(connection, answerChallenge(this._authkey), signal);
          return connection;
        } catch (error) {
          connection.close();
          throw error;
        }
      }
      await this._readable(signal);
    }
  }

  close(): void {
    if (this._fd < 0) return;
    this._watcher?.close();
    native.closeFd(this._fd);
    this._fd = -1;
    for (const waiter of [...this._acceptWaiters]) waiter(closedWhileWaiting('Listener.acceptAsync()', 'listener'));
    if (this._family === 'AF_UNIX' && typeof this._address === 'string' && !this._address.startsWith('\0')) rmSync(this._address, { force: true });
    if (this._trackedFile) native.trackSocketFile(this._address as string, false);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `<Listener ${this._family} ${inspect(this._address)}${this._fd < 0 ? ' closed' : ''}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  private _open(call: string): number {
    if (this._fd < 0) throw new InvalidStateError(`Listener.${call}(): the listener is closed`);
    return this._fd;
  }

  private _accepted([fd, peer]: [number, [string, number]]): Connection {
    this.lastAccepted = this._family === 'AF_UNIX' ? peer[0] : peer;
    return new Connection(fd, { functions: this._functions });
  }

  private _readable(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = (error?: Error): void => {
        this._acceptWaiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = (): void => {
        waiter(signal?.reason);
        if (this._acceptWaiters.size === 0) this._watcher?.cancel();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this._acceptWaiters.add(waiter);
      if (this._acceptWaiters.size > 1) return;
      this._watcher ??= new native.FdWatcher(this._fd, () => {
        for (const ready of [...this._acceptWaiters]) ready();
      });
      this._watcher.waitReadable();
    });
  }
}

/** Connects to a Listener (and answers its challenge when an authkey is given). */
export function Client(address: Address, options?: ClientOptions): Connection;
export function Client(address: Address, family?: SocketFamily | null, authkey?: Uint8Array | null): Connection;
export function Client(address: Address, familyOrOptions?: SocketFamily | null | ClientOptions, authkey?: Uint8Array | null): Connection {
  const options: ClientOptions = isOptions<ClientOptions>(familyOrOptions) ? familyOrOptions : { family: familyOrOptions, authkey };
  const { family: checked, host, port } = socketAddress(address, options.family, 'Client');
  const key = authkeyArg(options.authkey, 'Client');
  const functions = functionsArg(options, 'Client');
  const [fd] = native.connectSocket(checked, host, port, true);
  const connection = new Connection(fd, { functions });
  if (key) {
    try {
      authenticate(connection, answerChallenge(key));
      authenticate(connection, deliverChallenge(key));
    } catch (error) {
      connection.close();
      throw error;
    }
  }
  return connection;
}

// A full AF_UNIX backlog fails a non-blocking connect with EAGAIN and, unlike TCP, gives nothing
// to wait on (a blocking connect sleeps in the kernel until the listener accepts): so retry, from
// 1 ms up to every 100 ms.
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 100;

async function connectNonBlocking(family: SocketFamily, host: string, port: number, signal: AbortSignal | undefined): Promise<[number, boolean]> {
  for (let retryMs = FIRST_RETRY_MS; ; retryMs = Math.min(retryMs * 2, MAX_RETRY_MS)) {
    signal?.throwIfAborted();
    try {
      return native.connectSocket(family, host, port, false);
    } catch (error) {
      if (family !== 'AF_UNIX' || (error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
    // timers/promises rejects with its own AbortError: the contract is the signal's reason.
    await delay(retryMs, undefined, { signal }).catch(() => signal?.throwIfAborted());
  }
}

/** The Async twin of Client: resolves names, connects and authenticates on the event loop. */
export async function ClientAsync(address: Address, options?: ClientOptions & AbortOptions): Promise<Connection>;
export async function ClientAsync(address: Address, family?: SocketFamily | null, authkey?: Uint8Array | null, options?: ReceiveOptions & AbortOptions): Promise<Connection>;
export async function ClientAsync(
  address: Address,
  familyOrOptions?: SocketFamily | null | (ClientOptions & AbortOptions),
  authkey?: Uint8Array | null,
  rest?: ReceiveOptions & AbortOptions,
): Promise<Connection> {
  const options: ClientOptions & AbortOptions = isOptions<ClientOptions>(familyOrOptions) ? familyOrOptions : { ...rest, family: familyOrOptions, authkey };
  const signal = options.signal;
  const { family: checked, host, port } = socketAddress(address, options.family, 'ClientAsync');
  const key = authkeyArg(options.authkey, 'ClientAsync');
  const functions = functionsArg(options, 'ClientAsync');
  const numericHost = checked === 'AF_INET' && isIP(host) === 0 ? (await (require('node:dns/promises') as typeof import('node:dns/promises')).lookup(host, { family: 4 })).address : host;
  const [fd, connected] = await connectNonBlocking(checked, numericHost, port, signal);
  const connection = new Connection(fd, { functions });
  try {
    if (!connected) {
      await connection._connected(signal);
      native.connectResult(fd);
    }
    if (key) {
      await authenticateAsync(connection, answerChallenge(key), signal);
      await authenticateAsync(connection, deliverChallenge(key), signal);
    }
    return connection;
  } catch (error) {
    connection.close();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------

/** What wait() watches: Connections, Listeners, net.Sockets, or raw fds such as Process sentinels. */
export type Waitable = Connection | Listener | { fileno(): number } | number | { _handle?: { fd?: number } };

function fdOf(object: Waitable): number {
  if (typeof object === 'number') return object;
  if (object instanceof Listener) return (object as unknown as { _open(call: string): number })._open('wait');
  if ('fileno' in object && typeof object.fileno === 'function') return object.fileno();
  const fd = (object as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd === 'number' && fd >= 0) return fd;
  throw new TypeError(`wait(): cannot wait on ${inspect(object, { depth: 0 })}: it has no file descriptor`);
}

/** Blocks until some objects are ready to read; returns them (empty after the timeout). */
export function wait<T extends Waitable>(objects: Iterable<T>, timeoutMs?: number | null): T[] {
  const list = [...objects];
  const fds = list.map(fdOf);
  const ready = native.pollMany(fds, untilReadable(fds, timeoutArg(timeoutMs, 'wait')));
  return ready.map((index) => list[index]);
}

/** The Async twin of wait(): resolves with the ready objects once at least one is ready. */
export async function waitAsync<T extends Waitable>(objects: Iterable<T>, timeoutMs?: number | null, options?: AbortOptions): Promise<T[]> {
  const list = [...objects];
  const fds = list.map(fdOf);
  const timeout = timeoutArg(timeoutMs, 'waitAsync');
  const now = native.pollMany(fds, 0);
  if (now.length > 0 || timeout === 0) return now.map((index) => list[index]);
  const signal = options?.signal;
  signal?.throwIfAborted();
  // A private dup per object, so these watchers never collide with the objects' own.
  const duplicates = fds.map((fd) => native.dupFd(fd));
  const watchers: NativeFdWatcher[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (outcome: () => void): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const onAbort = (): void => done(() => reject(signal?.reason));
      for (const fd of duplicates) {
        const watcher = new native.FdWatcher(fd, () => done(resolve));
        watchers.push(watcher);
        watcher.waitReadable();
      }
      if (timeout > 0) timer = setTimeout(() => done(resolve), timeout);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  } finally {
    for (const watcher of watchers) watcher.close();
    for (const fd of duplicates) native.closeFd(fd);
  }
  return native.pollMany(fds, 0).map((index) => list[index]);
}
