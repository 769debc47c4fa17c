// Wire format: a version byte, a codec byte, 6 reserved bytes, then a v8.serialize payload (or, for a
// graph that JSON carries exactly, UTF-8 JSON). Marker objects inside the GRAPH codecs carry what v8
// cannot (functions, prototypes, references); their tags live here.
import * as v8 from 'node:v8';
import { SerializationError } from '../errors';

export const VERSION = 1;
/** Plain data: the payload is the value itself, read back with v8.deserialize and nothing else. */
export const CODEC_PLAIN = 0;
/** The pre-pass output: `[root, functions, scopes]` with markers (see `Tag`). */
export const CODEC_GRAPH = 1;
/**
 * The same pre-pass output as UTF-8 JSON, when it holds only what JSON reproduces exactly (no shared
 * references, undefined, -0, NaN, bigint, Map, Set, Date, typed arrays, holes). A small closure
 * message is mostly such records, and v8.Serializer's fixed cost per message is several times JSON's.
 */
export const CODEC_JSON = 2;
/** Plain data that JSON reproduces exactly (see plainCodec): the payload is its UTF-8 JSON. */
export const CODEC_PLAIN_JSON = 3;

/** The own key that makes a decoded plain object a marker (user objects holding it are escaped). */
export const MARK = '\u0000mp';

export const enum Tag {
  /** An object rebuilt from prototype + property descriptors: { p, d, a?, x? }. */
  Object = 1,
  /** A function of the message's function table: { i }. */
  Function = 2,
  /** A registered Symbol.for key: { k }. */
  Symbol = 3,
  /** Something the receiver imports or looks up itself: { r: Ref }. */
  Ref = 4,
  /** `F.prototype` of a function of the message or a reference: { f }. */
  Prototype = 5,
  /** A bound function: { t, h, a }. */
  Bound = 6,
  /** An Error: { p, m, s, d, a? } built from a real Error so it keeps its internal slot. */
  Error = 7,
  /** A Map or Set subclass / with own props, or holding encoded entries: { p, e, set, d }. */
  Collection = 8,
  /** An array subclass or array with accessors: { p, e, d }. */
  Array = 9,
  /** A value that travelled through a registered reducer: { n, s }. */
  Reduced = 10,
  /** A boxed primitive, typed array, Date, … with a non-default prototype or own props: { v, p, d }. */
  Wrapped = 11,
  /** `undefined` inside a plain container is fine for v8; this marks a captured TDZ binding. */
  Uninitialized = 12,
}

/** Where a by-reference value lives: a global path, a builtin module export, a CJS/ESM file export, or a require function. */
export type Ref =
  | ['g', string[]]
  | ['m', string, string[]]
  | ['f', string, string[]]
  | ['r', string];

/** A by-value function on the wire. */
export interface FunctionRecord {
  /** Source to compile. */
  s: string;
  /** Form: 0 expression, 1 method, 2 getter, 3 setter. */
  f: number;
  /** Compile in strict mode. */
  t: boolean;
  /** Innermost scope index, -1 for none. */
  c: number;
  /** `name`, when it is the usual read-only own property (helpers such as esbuild's __name() set it). */
  n?: string;
  /** Own properties to overlay, as `d` and `a` of an Object marker. */
  p?: unknown;
  /** Superclass of a class with `extends`. */
  sp?: unknown;
  /** Own properties of `F.prototype` to overlay, and its [[Prototype]] when not the default. */
  pp?: unknown;
  ppp?: unknown;
  /** A prototype object that replaced the original `F.prototype`. */
  po?: unknown;
  /** [[Prototype]] of the home object of a method using `super`. */
  hp?: unknown;
}

export interface ScopeRecord {
  /** Parent scope index, -1 for none. */
  u: number;
  n: string[];
  v: unknown[];
}

/**
 * Our header (version, codec, 6 reserved bytes) goes in front of v8's own in one pass. Eight bytes
 * keep typed-array data as aligned as raw v8.serialize would, so the receiver can view it in place.
 */
const HEADER = 8;

export function frame(codec: number, value: unknown): Buffer {
  // The header's bytes are below 0x80: as characters they encode to themselves, in the same pass.
  if (codec === CODEC_JSON || codec === CODEC_PLAIN_JSON) return Buffer.from(`${String.fromCharCode(VERSION, codec, 0, 0, 0, 0, 0, 0)}${JSON.stringify(value)}`, 'utf8');
  const serializer = new v8.DefaultSerializer();
  const header = Buffer.alloc(HEADER);
  header[0] = VERSION;
  header[1] = codec;
  serializer.writeRawBytes(header);
  serializer.writeHeader();
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

/**
 * Reads a framed message; any malformed input surfaces as SerializationError. `parseGraph` reads
 * the text of a CODEC_JSON graph (the memo reuses the parse of a repeated function message).
 */
export function unframe(bytes: Uint8Array, parseGraph: (text: string) => unknown = JSON.parse): { codec: number; value: unknown } {
  if (!(bytes instanceof Uint8Array)) throw new SerializationError('loads(bytes): expected a Buffer or Uint8Array');
  // The shortest message is a one-character JSON value (`1`).
  if (bytes.length < HEADER + 1) throw new SerializationError(`loads: ${bytes.length} bytes is too short for a message`);
  if (bytes[0] !== VERSION)
    throw new SerializationError(`loads: format version ${bytes[0]} is not ${VERSION} (sender and receiver run different versions)`);
  const codec = bytes[1]!;
  if (codec !== CODEC_PLAIN && codec !== CODEC_GRAPH && codec !== CODEC_JSON && codec !== CODEC_PLAIN_JSON) throw new SerializationError(`loads: unknown codec ${codec}`);
  try {
    if (codec === CODEC_JSON || codec === CODEC_PLAIN_JSON) {
      const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      const text = buffer.toString('utf8', HEADER);
      // Only a graph can be a standalone function message; plain data is never memoized (callers may mutate it).
      return { codec, value: codec === CODEC_JSON ? parseGraph(text) : JSON.parse(text) };
    }
    const deserializer = new v8.DefaultDeserializer(bytes);
    deserializer.readRawBytes(HEADER);
    deserializer.readHeader();
    return { codec, value: deserializer.readValue() };
  } catch (error) {
    throw new SerializationError(`loads: malformed or truncated message (${(error as Error).message})`, { cause: error });
  }
}
