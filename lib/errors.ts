// The package's error classes (API.md §1): each extends Error, takes (message, options) and has a stable code.

export interface MultiprocessErrorOptions {
  cause?: unknown;
}

/** Shared base (not exported from the package): sets `name` and the class's `code`. */
export class MultiprocessError extends Error {
  static readonly code: string = 'ERR_MP';
  declare readonly code: string;
  constructor(message?: string, options?: MultiprocessErrorOptions) {
    super(message, options);
    const hidden = { enumerable: false, configurable: true, writable: true };
    Object.defineProperty(this, 'name', { ...hidden, value: new.target.name });
    Object.defineProperty(this, 'code', { ...hidden, value: (new.target as typeof MultiprocessError).code });
  }
}

/** A call in the wrong state (CPython's ValueError/AssertionError for misuse): the message names the state needed. */
export class InvalidStateError extends MultiprocessError {
  static override readonly code = 'ERR_MP_INVALID_STATE';
}

export class ProcessError extends MultiprocessError {
  static override readonly code: string = 'ERR_MP_PROCESS';
}

export interface BufferTooShortOptions extends MultiprocessErrorOptions {
  /** The whole message that did not fit. */
  data?: Uint8Array;
}

export class BufferTooShort extends ProcessError {
  static override readonly code = 'ERR_MP_BUFFER_TOO_SHORT';
  readonly data: Uint8Array;
  constructor(message?: string, options?: BufferTooShortOptions) {
    super(message, options);
    this.data = options?.data ?? new Uint8Array(0);
  }
}

export class AuthenticationError extends ProcessError {
  static override readonly code = 'ERR_MP_AUTHENTICATION';
}

export class TimeoutError extends ProcessError {
  static override readonly code = 'ERR_MP_TIMEOUT';
}

export class BrokenPoolError extends ProcessError {
  static override readonly code = 'ERR_MP_BROKEN_POOL';
}

export class BrokenBarrierError extends MultiprocessError {
  static override readonly code = 'ERR_MP_BROKEN_BARRIER';
}

export class Empty extends MultiprocessError {
  static override readonly code = 'ERR_MP_QUEUE_EMPTY';
}

export class Full extends MultiprocessError {
  static override readonly code = 'ERR_MP_QUEUE_FULL';
}

export class EOFError extends MultiprocessError {
  static override readonly code = 'ERR_MP_EOF';
}

export class RemoteError extends MultiprocessError {
  static override readonly code = 'ERR_MP_REMOTE';
}

export interface SerializationErrorOptions extends MultiprocessErrorOptions {
  /** Where the value sits, rendered from the API's root, e.g. `args[0].client.socket`. */
  path?: string;
}

export class SerializationError extends MultiprocessError {
  static override readonly code = 'ERR_MP_SERIALIZATION';
  readonly path: string;
  constructor(message?: string, options?: SerializationErrorOptions) {
    super(message, options);
    this.path = options?.path ?? '';
  }
}

/** Thrown by the parts of the contract that are not built yet, so nothing pretends to work. */
export class NotImplementedError extends MultiprocessError {
  static override readonly code = 'ERR_MP_NOT_IMPLEMENTED';
  constructor(what: string, options?: MultiprocessErrorOptions) {
    super(`${what} is not implemented yet in this version of multiprocess`, options);
  }
}
