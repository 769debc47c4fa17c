// The Pool's wire protocol between the parent and one worker: a 24-byte header frame, then the
// payload inline or as following frames. Lists of numbers, strings, byte views and JSON-exact data skip
// the general serializer, whose fixed cost per message is several times a task's.
import { SerializationError } from '../errors';
import { native } from '../native';
import { parcelViews } from '../park';
import { plainCodec } from '../serializer/encode';
import { CODEC_PLAIN_JSON, frame } from '../serializer/format';
import { dumps, loads } from '../serializer/index';
import { decodeRecords, encodeRecords, getU32, isWide, putU32, readStrings, stringsSize, writeStrings } from './columns';

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
  /** worker → parent: it waits for tasks now (its start is over); only then is it given one. */
  Ready = 8,
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
  /** Strings: their lengths (uint32 each), then their text in latin1. */
  Latin1 = 6,
  /** Strings: their lengths (uint32 each), then their text in UTF-16. */
  Utf16 = 7,
  /** Flat records of one shape, as columns (columns.ts). */
  Records = 8,
}

export const HEADER = 24;
// Above this, a payload travels as its own frame instead of being copied behind the header.
const INLINE_LIMIT = 64 * 1024;

/** A decoded frame: the header's fields and the payload list (null when there is none). */
export interface Frame {
  type: FrameType;
  kind: number;
  seq: number;
  fnId: number;
  count: number;
  list: unknown[] | null;
  /** A Result's list when it is all numbers: read straight into the job's results (resultsOf, copyResults). */
  numbers: Float64Array | null;
  /** The raw payload of DUMPS frames that are not lists (functions, errors, init). */
  bytes: Uint8Array | null;
}

/** A Result frame's values: a list, or numbers still in the frame (no list made only to be copied). */
export type ResultValues = unknown[] | Float64Array;

export function resultsOf(frame: Frame): ResultValues {
  return frame.numbers ?? frame.list!;
}

/** Copies a chunk's results into `target` from `at`, numbers as V8 keeps integer literals. */
export function copyResults(values: ResultValues, target: unknown[], at: number): void {
  if (values instanceof Float64Array) for (let i = 0; i < values.length; i++, at++) target[at] = asSmallInteger(values[i]!);
  else for (let i = 0; i < values.length; i++, at++) target[at] = values[i];
}

/**
 * A map's result list, its elements kind chosen by the first chunk to arrive. Generic elements (not
 * holes) in general: once a double lands in a holey array, V8 stores every later integer result as
 * a double, and the caller's code on them slows for good. Unboxed doubles when that chunk holds
 * numbers beyond small integers: a generic list boxes each one, and a million boxed results cost
 * the parent's GC ~35 ms a map. `unboxed` says which: copyNumbers fills such a list, copyResults
 * any other, so each store site meets one kind of list (one that had met both turned the double
 * lists of every later pool generic, and its maps ran 1.6× slower).
 */
export function resultArray(first: ResultValues, length: number): { list: unknown[]; unboxed: boolean } {
  if (!(first instanceof Float64Array) || allSmallIntegers(first)) return { list: new Array(length).fill(undefined), unboxed: false };
  const list = new Array<unknown>(length);
  list[0] = 0.5; // doubles from the start: the one store makes their backing store, as a fill would
  return { list, unboxed: true };
}

/** Copies a chunk's numbers into a list resultArray made unboxed. */
export function copyNumbers(values: Float64Array, target: unknown[], at: number): void {
  for (let i = 0; i < values.length; i++, at++) target[at] = values[i];
}

function allSmallIntegers(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if ((values[i]! | 0) !== values[i]) return false;
  return true;
}

/** A chunk's results as a list of their own. */
export function resultList(values: ResultValues): unknown[] {
  if (!(values instanceof Float64Array)) return values;
  const list = new Array<unknown>(values.length).fill(undefined);
  copyResults(values, list, 0);
  return list;
}

export interface Encoded {
  head: Buffer;
  follow: Uint8Array[];
  /** Views that cross as descriptors sent with the head (made when it is sent). */
  byFd?: ArrayBufferView[];
}

// From here a byte view crosses as a parcel (native/memfd.cc): the sender copies it into pages it
// reuses, the receiver maps them, one copy in all where the socket makes two and the receiver's
// fresh pages. Against the socket (interleaved runs): a pool in use, 256-512 KiB per task
// 1.2-1.4x, 1 MiB 1.1-1.5x, 16 MiB 1.3-1.4x; a new pool's first such map 0.85-0.95x (its
// workers' parcels are fresh pages). Linux only.
const BY_FD_BYTES = 256 * 1024;
const BY_FD_MAX = 64;
const BY_FD = 0x80;
const canPassBytes = native.bytesToFd !== undefined && native.mapFd !== undefined;
// A parcel's view lets it go once collected: at the GC itself with the park addon's views, else
// by a finalizer Node runs from the event loop. Chosen at the first parcel (or by the receiver).
let viewParcels = true;
let mapParcel: ((fd: number) => Buffer) | undefined;
// Bytes of parcels received since the receiver last looked (a pool worker collects the views it dropped).
let parcelBytesReceived = 0;

/** Bytes of parcels received since the last call. */
export function takeParcelBytesReceived(): number {
  const bytes = parcelBytesReceived;
  parcelBytesReceived = 0;
  return bytes;
}

/**
 * For a receiver that never returns to its event loop (a fork worker): it views parcels only when V8
 * lets them go itself (the park addon's views), else copies them out and lets them go at once.
 * Whether it views them.
 */
export function viewParcelsWithoutLoop(): boolean {
  mapParcel = parcelViews() ?? undefined;
  viewParcels = mapParcel !== undefined;
  return viewParcels;
}

function header(type: FrameType, codec: Codec, kind: number, seq: number, fnId: number, count: number, follow: number, extra: number): Buffer {
  // From Node's pool for small heads (8-byte aligned, as the Float64 codec needs): no backing store of its own to free.
  const head = Buffer.allocUnsafe(HEADER + extra);
  head[0] = type;
  head[1] = codec;
  head[2] = kind;
  head[3] = 0;
  putU32(head, 4, seq);
  putU32(head, 8, fnId);
  putU32(head, 12, count);
  putU32(head, 16, follow);
  putU32(head, 20, 0);
  return head;
}

function allNumbers(list: unknown[], from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (typeof list[i] !== 'number') return false;
  return true;
}

// Byte views that travel as their own frames, each as one code byte behind the header: the
// memory is written from where it lies and the receiver views the frame it read, so a typed array
// is copied only by the kernel.
interface TypedArrayClass {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayBufferView;
}
// Code 0 is Buffer; the typed arrays follow.
const TYPED: TypedArrayClass[] = [Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array];
const VIEW_CODES = new Map<object, number>([Buffer, ...TYPED].map((view, code) => [view.prototype, code]));

/** The code of each item's view class, or null unless every item is a byte view of a class of VIEWS. */
function viewCodes(list: unknown[]): Uint8Array | null {
  if (list.length === 0 || !ArrayBuffer.isView(list[0])) return null;
  const codes = new Uint8Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    // A view of shared memory keeps its old way (the serializer decides what sharing means).
    const code = ArrayBuffer.isView(item) && !(item.buffer instanceof SharedArrayBuffer) ? VIEW_CODES.get(Object.getPrototypeOf(item)) : undefined;
    if (code === undefined) return null;
    codes[i] = code;
  }
  return codes;
}

/**
 * `value` as V8 holds an integer literal (a Smi) when it is an int32 other than -0. A number read
 * from a Float64Array is a boxed double: a task given one (fib(n)) collects "Number" feedback and
 * TurboFan compiles it to float arithmetic that boxes every result, ~1.6× slower for good.
 */
function asSmallInteger(value: number): number {
  const int = value | 0;
  // Object.is on every item, not `1 / value` on zeros only: a branch taken once per map (its first
  // item, 0) had no feedback when V8 optimized, so each new map threw the compiled copy away.
  return int === value && !Object.is(value, -0) ? int : value;
}

/** A received frame as the view class `code` names, over the same memory (recvFrame and mapFd allocate each frame aligned). */
function asView(part: Buffer, code: number): ArrayBufferView {
  if (code === 0) return part;
  const View = TYPED[code - 1];
  if (View === undefined) throw new SerializationError(`pool: unknown byte view code ${code}`);
  return new View(part.buffer, part.byteOffset, part.byteLength / View.BYTES_PER_ELEMENT);
}

function allStrings(list: unknown[]): boolean {
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== 'string') return false;
  return true;
}

function allUndefined(list: unknown[]): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] !== undefined || !(i in list)) return false;
  return true;
}

function encodeStrings(type: FrameType, kind: number, seq: number, fnId: number, list: string[]): Encoded {
  const count = list.length;
  const text = list.join('');
  const wide = isWide(text);
  const size = stringsSize(count, text, wide);
  const inline = size <= INLINE_LIMIT;
  const head = header(type, wide ? Codec.Utf16 : Codec.Latin1, kind, seq, fnId, count, inline ? 0 : 1, inline ? size : 0);
  const payload = inline ? head.subarray(HEADER) : Buffer.allocUnsafeSlow(size);
  writeStrings(payload, 0, list, text, wide);
  return { head, follow: inline ? [] : [payload] };
}

function withPayload(type: FrameType, codec: Codec, kind: number, seq: number, fnId: number, count: number, payload: Uint8Array): Encoded {
  if (payload.byteLength > INLINE_LIMIT) return { head: header(type, codec, kind, seq, fnId, count, 1, 0), follow: [payload] };
  const head = header(type, codec, kind, seq, fnId, count, 0, payload.byteLength);
  head.set(payload, HEADER);
  return { head, follow: [] };
}

/**
 * Encodes a list (task arguments or results), or its items `from` to `to` (a map's chunk: numbers
 * are read where they lie, no slice is made for them), with the cheapest codec that carries them
 * exactly. `root` names the list in SerializationError paths.
 */
export function encodeList(type: FrameType, kind: number, seq: number, fnId: number, whole: unknown[], root: string, from = 0, to = whole.length): Encoded {
  if (allNumbers(whole, from, to)) return encodeNumbers(type, kind, seq, fnId, whole, from, to);
  return encodeItems(type, kind, seq, fnId, to - from === whole.length ? whole : whole.slice(from, to), root);
}

function encodeNumbers(type: FrameType, kind: number, seq: number, fnId: number, whole: unknown[], from: number, to: number): Encoded {
  const count = to - from;
  const head = header(type, Codec.Float64, kind, seq, fnId, count, 0, count * 8);
  const numbers = new Float64Array(head.buffer, head.byteOffset + HEADER, count);
  // Not numbers.set(whole): from a list whose elements kind is generic (a worker's results list,
  // whose allocation site saw other values), V8 copies it item by item through property lookups,
  // ~15x slower than this loop.
  for (let i = 0; i < count; i++) numbers[i] = whole[from + i] as number;
  return { head, follow: [] };
}

// Every codec but numbers, apart from encodeList: too large for V8 to inline there, so the numbers
// path compiles on its own (~1 ms, not the 6-10 ms of the whole), each time a new kind of list makes
// V8 throw it away.
function encodeItems(type: FrameType, kind: number, seq: number, fnId: number, list: unknown[], root: string): Encoded {
  const count = list.length;
  const codes = viewCodes(list);
  if (codes !== null) {
    const follow: Uint8Array[] = [];
    const byFd: ArrayBufferView[] = [];
    for (let i = 0; i < count; i++) {
      const view = list[i] as ArrayBufferView;
      if (canPassBytes && view.byteLength >= BY_FD_BYTES && byFd.length < BY_FD_MAX) {
        codes[i]! |= BY_FD;
        byFd.push(view);
      } else {
        follow.push(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      }
    }
    const head = header(type, Codec.Bytes, kind, seq, fnId, count, follow.length, count);
    head.set(codes, HEADER);
    return { head, follow, byFd };
  }
  if (allUndefined(list)) return { head: header(type, Codec.Undefined, kind, seq, fnId, count, 0, 0), follow: [] };
  if (allStrings(list)) return encodeStrings(type, kind, seq, fnId, list as string[]);
  const records = encodeRecords(list, kind !== TaskKind.Apply);
  if (records !== null) return withPayload(type, Codec.Records, kind, seq, fnId, count, records);
  // The serializer's own plain-data check: JSON-exact lists skip its frame, other plain data skips a second walk.
  const plain = plainCodec(list);
  if (plain === CODEC_PLAIN_JSON) {
    const text = JSON.stringify(list);
    const length = Buffer.byteLength(text);
    if (length <= INLINE_LIMIT) {
      const head = header(type, Codec.Json, kind, seq, fnId, count, 0, length);
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
  return { head: header(type, Codec.None, kind, seq, 0, 0, 0, 0), follow: [] };
}

export function sendEncoded(fd: number, encoded: Encoded): void {
  if (encoded.byFd?.length) {
    const fds: number[] = [];
    try {
      for (const view of encoded.byFd) fds.push(native.bytesToFd!(view));
      native.sendFrame(fd, encoded.head, fds);
    } finally {
      for (const passed of fds) native.closeFd(passed);
    }
  } else {
    native.sendFrame(fd, encoded.head);
  }
  for (const part of encoded.follow) native.sendFrame(fd, part);
}

/**
 * Whether `head` ends a worker's chunk (its results or its error) with values that take decoding:
 * byte views are only mapped, so sending the next chunk first gains nothing (and measured slower on
 * a new pool's first map of 1 MiB arrays).
 */
export function answerTakesDecoding(head: Buffer): boolean {
  if (head.length < HEADER) return false;
  return head[0] === FrameType.Error || (head[0] === FrameType.Result && head[1] !== Codec.Bytes);
}

/** The number of frames that follow a header frame (read them with recvFrame right away). */
export function followCount(head: Buffer): number {
  return getU32(head, 16);
}

/**
 * Reads the frames that follow `head` (the sender writes them back to back) and decodes; `fds`
 * came with the head (recvFrame's fdsOut) and are closed here, whatever happens.
 */
export function decodeFrame(fd: number, head: Buffer, fds: number[] = []): Frame {
  try {
    return decodeWith(fd, head, fds);
  } finally {
    for (const passed of fds) native.closeFd(passed);
  }
}

function decodeWith(fd: number, head: Buffer, fds: number[]): Frame {
  if (head.length < HEADER) throw new SerializationError(`pool: a ${head.length}-byte frame is too short for a header`);
  const follow: Buffer[] = [];
  for (let n = followCount(head); n > 0; n--) {
    const part = native.recvFrame(fd, -1);
    if (part === null) throw new SerializationError('pool: the peer closed the connection in the middle of a message');
    // A view made here: a Buffer the addon made has a map of its own, so the decoders, compiled in
    // the forkserver on inline payloads (head.subarray), were thrown away at a worker's first large chunk.
    follow.push(part.subarray(0));
  }
  const codec = head[1] as Codec;
  const count = getU32(head, 12);
  const frame: Frame = { type: head[0] as FrameType, kind: head[2]!, seq: getU32(head, 4), fnId: getU32(head, 8), count, list: null, numbers: null, bytes: null };
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
      const numbers = new Float64Array(aligned.buffer, aligned.byteOffset, count);
      // A map's results go straight into its result list (copyResults), a task's arguments into a list.
      if (frame.type === FrameType.Result) frame.numbers = numbers;
      else frame.list = resultList(numbers);
      break;
    }
    case Codec.Json:
      frame.list = JSON.parse(payload.toString('utf8')) as unknown[];
      break;
    case Codec.Bytes: {
      const list = new Array<ArrayBufferView>(count);
      for (let i = 0, byFd = 0, inFollow = 0; i < count; i++) {
        const code = head[HEADER + i]!;
        if (!(code & BY_FD)) list[i] = asView(follow[inFollow++]!, code);
        else if (byFd < fds.length && native.mapFd) {
          const fd = fds[byFd++]!;
          const bytes = viewParcels ? (mapParcel ??= parcelViews() ?? native.mapFd)(fd) : native.mapFd(fd, true);
          parcelBytesReceived += bytes.byteLength;
          list[i] = asView(bytes, code & ~BY_FD);
        }
        else throw new SerializationError('pool: a payload sent as a descriptor did not arrive');
      }
      frame.list = list;
      break;
    }
    case Codec.Latin1:
    case Codec.Utf16:
      frame.list = readStrings(payload, count, codec === Codec.Utf16);
      break;
    case Codec.Undefined:
      frame.list = new Array(count).fill(undefined);
      break;
    case Codec.Records:
      frame.list = decodeRecords(payload, count, asSmallInteger);
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
