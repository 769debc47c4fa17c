// The Pool's wire protocol between the parent and one worker: a 24-byte header frame, then the
// payload inline or as following frames. Lists of numbers, byte buffers and JSON-exact data skip
// the general serializer, whose fixed cost per message is several times a task's.
import { SerializationError } from './errors';
import { native } from './native';
import { plainCodec } from './serializer/encode';
import { CODEC_PLAIN_JSON, frame } from './serializer/format';
import { dumps, loads } from './serializer/index';

export const enum FrameType {
  /** parent → worker: [initializer, initargs] (DUMPS). */
  Init = 1,
  /** parent → worker: a function under `fnId` (DUMPS); `seq` names one to forget (0: none). */
  Function = 2,
  /** parent → worker: a chunk of calls of `fnId` (kind: TaskKind). */
  Task = 3,
  /** parent → worker: stop the running chunk `seq` (kind: AbortReason). */
  Abort = 4,
  /** worker → parent: the chunk's results. */
  Result = 5,
  /** worker → parent: the chunk failed at item `count` (DUMPS of the error). */
  Error = 6,
  /** worker → parent: the initializer threw (DUMPS of the error); the worker then exits. */
  InitError = 7,
}

export const enum TaskKind {
  /** One call f(...list). */
  Apply = 0,
  /** f(item) for each item of the list. */
  Map = 1,
  /** f(...args) for each args of the list. */
  Starmap = 2,
}

export const enum AbortReason {
  Aborted = 0,
  TimedOut = 1,
}

const enum Codec {
  None = 0,
  Dumps = 1,
  Float64 = 2,
  Json = 3,
  Bytes = 4,
  Undefined = 5,
}

export const HEADER = 24;
// Above this, a payload travels as its own frame instead of being copied behind the header.
const INLINE_LIMIT = 64 * 1024;
const FLAG_PLAIN_UINT8 = 1;

/** A decoded frame: the header's fields and the payload list (null when there is none). */
export interface Frame {
  type: FrameType;
  kind: number;
  seq: number;
  fnId: number;
  count: number;
  list: unknown[] | null;
  /** The raw payload of DUMPS frames that are not lists (functions, errors, init). */
  bytes: Uint8Array | null;
}

export interface Encoded {
  head: Buffer;
  follow: Uint8Array[];
}

function header(type: FrameType, codec: Codec, kind: number, flags: number, seq: number, fnId: number, count: number, follow: number, extra: number): Buffer {
  const head = Buffer.allocUnsafeSlow(HEADER + extra);
  head[0] = type;
  head[1] = codec;
  head[2] = kind;
  head[3] = flags;
  head.writeUInt32LE(seq >>> 0, 4);
  head.writeUInt32LE(fnId >>> 0, 8);
  head.writeUInt32LE(count >>> 0, 12);
  head.writeUInt32LE(follow, 16);
  head.writeUInt32LE(0, 20);
  return head;
}

function allNumbers(list: unknown[]): boolean {
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== 'number') return false;
  return true;
}

/** 0: not all bytes; 1: all Buffers; 2: all plain Uint8Arrays. */
function byteKind(list: unknown[]): number {
  if (list.length === 0) return 0;
  const first = list[0];
  const proto = first instanceof Buffer ? Buffer.prototype : first instanceof Uint8Array ? Uint8Array.prototype : null;
  if (proto === null) return 0;
  for (let i = 0; i < list.length; i++) if (!(list[i] instanceof Uint8Array) || Object.getPrototypeOf(list[i]) !== proto) return 0;
  return proto === Buffer.prototype ? 1 : 2;
}

function allUndefined(list: unknown[]): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] !== undefined || !(i in list)) return false;
  return true;
}

function withPayload(type: FrameType, codec: Codec, kind: number, seq: number, fnId: number, count: number, payload: Uint8Array): Encoded {
  if (payload.byteLength > INLINE_LIMIT) return { head: header(type, codec, kind, 0, seq, fnId, count, 1, 0), follow: [payload] };
  const head = header(type, codec, kind, 0, seq, fnId, count, 0, payload.byteLength);
  head.set(payload, HEADER);
  return { head, follow: [] };
}

/**
 * Encodes a list (task arguments or results) with the cheapest codec that carries it exactly.
 * `root` names the list in SerializationError paths.
 */
export function encodeList(type: FrameType, kind: number, seq: number, fnId: number, list: unknown[], root: string): Encoded {
  const count = list.length;
  if (allNumbers(list)) {
    const head = header(type, Codec.Float64, kind, 0, seq, fnId, count, 0, count * 8);
    new Float64Array(head.buffer, head.byteOffset + HEADER, count).set(list as number[]);
    return { head, follow: [] };
  }
  const bytes = byteKind(list);
  if (bytes !== 0) {
    return { head: header(type, Codec.Bytes, kind, bytes === 2 ? FLAG_PLAIN_UINT8 : 0, seq, fnId, count, count, 0), follow: list as Uint8Array[] };
  }
  if (allUndefined(list)) return { head: header(type, Codec.Undefined, kind, 0, seq, fnId, count, 0, 0), follow: [] };
  // The serializer's own plain-data check: JSON-exact lists skip its frame, other plain data skips a second walk.
  const plain = plainCodec(list);
  if (plain === CODEC_PLAIN_JSON) {
    const text = JSON.stringify(list);
    const length = Buffer.byteLength(text);
    if (length <= INLINE_LIMIT) {
      const head = header(type, Codec.Json, kind, 0, seq, fnId, count, 0, length);
      head.write(text, HEADER, 'utf8');
      return { head, follow: [] };
    }
    return withPayload(type, Codec.Json, kind, seq, fnId, count, Buffer.from(text, 'utf8'));
  }
  return withPayload(type, Codec.Dumps, kind, seq, fnId, count, plain !== null ? frame(plain, list) : dumps(list, { root }));
}

/** A frame carrying one serialized value (a function, an error, the initializer). */
export function encodeValue(type: FrameType, seq: number, fnId: number, count: number, value: unknown, root: string): Encoded {
  return encodeDumped(type, seq, fnId, count, dumps(value, { root }));
}

/** Like encodeValue, for bytes `dumps` already made (a function sent to several workers). */
export function encodeDumped(type: FrameType, seq: number, fnId: number, count: number, bytes: Uint8Array): Encoded {
  return withPayload(type, Codec.Dumps, 0, seq, fnId, count, bytes);
}

export function encodeBare(type: FrameType, kind: number, seq: number): Encoded {
  return { head: header(type, Codec.None, kind, 0, seq, 0, 0, 0, 0), follow: [] };
}

export function sendEncoded(fd: number, encoded: Encoded): void {
  native.sendFrame(fd, encoded.head);
  for (const part of encoded.follow) native.sendFrame(fd, part);
}

/** The number of frames that follow a header frame (read them with recvFrame right away). */
export function followCount(head: Buffer): number {
  return head.readUInt32LE(16);
}

/**
 * `value` as V8 holds an integer literal (a Smi) when it is an int32 other than -0. A number read
 * from a Float64Array is a boxed double: a task given one (fib(n)) collects "Number" feedback and
 * TurboFan compiles it to float arithmetic that boxes every result, ~1.6× slower for good.
 */
function asSmallInteger(value: number): number {
  const int = value | 0;
  return int === value && (int !== 0 || 1 / value > 0) ? int : value;
}

/** Reads the frames that follow `head` (the sender writes them back to back) and decodes. */
export function decodeFrame(fd: number, head: Buffer): Frame {
  if (head.length < HEADER) throw new SerializationError(`pool: a ${head.length}-byte frame is too short for a header`);
  const follow: Buffer[] = [];
  for (let n = followCount(head); n > 0; n--) {
    const part = native.recvFrame(fd, -1);
    if (part === null) throw new SerializationError('pool: the peer closed the connection in the middle of a message');
    follow.push(part);
  }
  const codec = head[1] as Codec;
  const count = head.readUInt32LE(12);
  const frame: Frame = { type: head[0] as FrameType, kind: head[2]!, seq: head.readUInt32LE(4), fnId: head.readUInt32LE(8), count, list: null, bytes: null };
  const payload = follow.length > 0 && codec !== Codec.Bytes ? follow[0]! : head.subarray(HEADER);
  switch (codec) {
    case Codec.None:
      break;
    case Codec.Dumps:
      if (frame.type === FrameType.Task || frame.type === FrameType.Result) frame.list = loads(payload) as unknown[];
      else frame.bytes = payload;
      break;
    case Codec.Float64: {
      const aligned = payload.byteOffset % 8 === 0 ? payload : Buffer.from(payload);
      const view = new Float64Array(aligned.buffer, aligned.byteOffset, count);
      // Generic elements from the start: in a double array an integer is boxed again when read.
      const list = new Array<unknown>(count).fill(undefined);
      for (let i = 0; i < count; i++) list[i] = asSmallInteger(view[i]!);
      frame.list = list;
      break;
    }
    case Codec.Json:
      frame.list = JSON.parse(payload.toString('utf8')) as unknown[];
      break;
    case Codec.Bytes:
      frame.list = head[3]! & FLAG_PLAIN_UINT8 ? follow.map((part) => new Uint8Array(part.buffer, part.byteOffset, part.byteLength)) : follow;
      break;
    case Codec.Undefined:
      frame.list = new Array(count).fill(undefined);
      break;
    default:
      throw new SerializationError(`pool: unknown payload codec ${String(codec)}`);
  }
  return frame;
}

/** Error paths as the user sees them: `args[…]` of one call, `result` of one call. */
export function renamePath(error: unknown, kind: TaskKind, root: 'args' | 'result'): unknown {
  if (!(error instanceof SerializationError)) return error;
  const match = /^(args|result)\[(\d+)\]/.exec(error.path);
  if (!match) return error;
  let path: string;
  if (root === 'args') path = kind === TaskKind.Apply ? error.path : kind === TaskKind.Map ? `args[0]${error.path.slice(match[0].length)}` : `args${error.path.slice(match[0].length)}`;
  else path = `result${error.path.slice(match[0].length)}`;
  if (path === error.path) return error;
  return new SerializationError(error.message.replace(error.path, path), { path, cause: error.cause });
}
