// Lists as columns. Strings: their lengths and one text, which the receiver slices (JSON.parse would
// look every short string up in V8's string table). Flat records (plain objects with the same keys,
// each value a number, string or boolean): one column per key, where JSON.stringify and
// JSON.parse cost ~170 ns a small object each way, and columns ~20–60. Also the little-endian
// words frame heads are made of.
import * as types from 'node:util/types';
import { SerializationError } from '../errors';
import { hasEnumerableKey } from '../serializer/encode';

// Below this many items JSON's fixed cost is lower than a column header's.
const MIN_RECORDS = 16;
const MAX_KEYS = 64;

const enum Column {
  Number = 'n',
  Boolean = 'b',
  Latin1 = 's',
  Utf16 = 'w',
}

const BEYOND_LATIN1 = /[^\u0000-\u00ff]/;

// Little-endian words of frame heads and payloads, written byte by byte: Buffer's writeUInt32LE is
// Node's own JavaScript, which a forkserver child compiled on its main thread (~2.5 ms each time)
// when its first frames made it hot, where these compile with the caller.
export function putU32(target: Uint8Array, at: number, value: number): void {
  target[at] = value;
  target[at + 1] = value >>> 8;
  target[at + 2] = value >>> 16;
  target[at + 3] = value >>> 24;
}

export function getU32(source: Uint8Array, at: number): number {
  return (source[at]! | (source[at + 1]! << 8) | (source[at + 2]! << 16) | (source[at + 3]! << 24)) >>> 0;
}

/** Whether `text` needs UTF-16 (else latin1 carries it, one byte a character). */
export function isWide(text: string): boolean {
  return BEYOND_LATIN1.test(text);
}

/** The bytes of a string column: a u32 length each, then their text. */
export function stringsSize(count: number, text: string, wide: boolean): number {
  return count * 4 + text.length * (wide ? 2 : 1);
}

/** Writes a string column at `at` of `target`: each string's length, then `text`, their concatenation. */
export function writeStrings(target: Buffer, at: number, list: string[], text: string, wide: boolean): void {
  const lengths = new Uint32Array(target.buffer, target.byteOffset + at, list.length);
  for (let i = 0; i < list.length; i++) lengths[i] = list[i]!.length;
  target.write(text, at + list.length * 4, wide ? 'utf16le' : 'latin1');
}

/** The strings of a column that fills `column` (4-byte aligned). */
export function readStrings(column: Buffer, count: number, wide: boolean): string[] {
  const lengths = new Uint32Array(column.buffer, column.byteOffset, count);
  const text = column.toString(wide ? 'utf16le' : 'latin1', count * 4);
  const list = new Array<string>(count);
  for (let i = 0, at = 0; i < count; i++) list[i] = text.slice(at, (at += lengths[i]!));
  return list;
}

function columnOf(value: unknown): Column | null {
  switch (typeof value) {
    case 'number':
      return Column.Number;
    case 'boolean':
      return Column.Boolean;
    case 'string':
      return Column.Latin1;
    default:
      return null;
  }
}

/** An own-keys plain object whose data JSON, v8 and these columns all carry (no symbols, no hidden keys, not frozen). */
function isBareObject(item: unknown): item is Record<string, unknown> {
  return typeof item === 'object' && item !== null && Object.getPrototypeOf(item) === Object.prototype && !types.isProxy(item) && Object.isExtensible(item);
}

const align8 = (n: number): number => (n + 7) & ~7;

/**
 * The payload of `list` as columns, or null when it is not a list of flat records of one shape.
 * Each record decodes as its own object: when `separate` is false (one call's arguments) a record
 * listed twice makes the list no records; when true (the items or results of a map's calls, each
 * its own value, as CPython keeps identity between them only within one chunk) it is not looked for. The
 * payload: u32 length of a JSON [keys, column letters], that JSON, then each column 8-byte aligned:
 * float64s, bytes (0/1), or u32 lengths followed by latin1 or UTF-16 text.
 */
export function encodeRecords(list: unknown[], separate: boolean): Buffer | null {
  const count = list.length;
  const first = list[0];
  if (count < MIN_RECORDS || !isBareObject(first)) return null;
  // for-in reads V8's enum cache and makes no key list (Object.keys made one per record); with
  // Object.prototype the only prototype, it lists exactly the own enumerable keys while that has none.
  if (hasEnumerableKey(Object.prototype)) return null;
  const keys = Object.keys(first);
  if (keys.length === 0 || keys.length > MAX_KEYS || keys.includes('__proto__')) return null;
  const kinds: Column[] = [];
  for (const key of keys) {
    const kind = columnOf(first[key]);
    if (kind === null) return null;
    kinds.push(kind);
  }
  const columns: Columns = [];
  for (const kind of kinds) columns.push(kind === Column.Number ? new Float64Array(count) : kind === Column.Boolean ? new Uint8Array(count) : new Array<string>(count));
  const seen = separate ? null : new Set<object>();
  for (let i = 0; i < count; i++) {
    const item = list[i];
    if (!isBareObject(item)) return null;
    if (seen !== null) {
      if (seen.has(item)) return null;
      seen.add(item);
    }
    let k = 0;
    for (const key in item) {
      if (key !== keys[k]) return null;
      const value = item[key];
      const kind = kinds[k];
      const column = columns[k]!;
      if (typeof value === 'number' && kind === Column.Number) (column as Float64Array)[i] = value;
      else if (typeof value === 'string' && kind === Column.Latin1) (column as string[])[i] = value;
      else if (typeof value === 'boolean' && kind === Column.Boolean) (column as Uint8Array)[i] = value ? 1 : 0;
      else return null;
      k++;
    }
    if (k !== keys.length || Object.getOwnPropertyNames(item).length !== k || Object.getOwnPropertySymbols(item).length > 0) return null;
  }
  return payloadOf(keys, kinds, columns, count);
}

type Columns = Array<Float64Array | Uint8Array | string[]>;

/**
 * The columns laid out as encodeRecords says. A function of its own: V8 deoptimizes this part on
 * string shapes it has not seen, and would otherwise throw away the compiled record loop with it.
 */
function payloadOf(keys: string[], kinds: Column[], columns: Columns, count: number): Buffer {
  const texts: string[] = [];
  for (let k = 0; k < kinds.length; k++) {
    const text = kinds[k] === Column.Latin1 ? (columns[k] as string[]).join('') : '';
    if (isWide(text)) kinds[k] = Column.Utf16;
    texts.push(text);
  }
  const meta = Buffer.from(JSON.stringify([keys, kinds.join('')]), 'utf8');
  const sizes: number[] = [];
  let size = align8(4 + meta.length);
  for (let k = 0; k < kinds.length; k++) {
    const kind = kinds[k];
    sizes.push(kind === Column.Number ? count * 8 : kind === Column.Boolean ? count : stringsSize(count, texts[k]!, kind === Column.Utf16));
    size += align8(sizes[k]!);
  }
  const payload = Buffer.alloc(size); // zeroed: the padding between columns is never written
  putU32(payload, 0, meta.length);
  meta.copy(payload, 4);
  let at = align8(4 + meta.length);
  for (let k = 0; k < kinds.length; k++) {
    const column = columns[k]!;
    if (Array.isArray(column)) writeStrings(payload, at, column, texts[k]!, kinds[k] === Column.Utf16);
    else payload.set(new Uint8Array(column.buffer), at);
    at += align8(sizes[k]!);
  }
  return payload;
}

/** One record of a shape, from its columns' values at `i`. */
type Make = (columns: unknown[][], i: number) => Record<string, unknown>;

/** A shape as read from a payload's JSON, with the function that makes its records. */
interface Shape {
  keys: string[];
  kinds: string;
  make: Make;
}

// One record maker per shape: an object literal with the shape's keys makes each record in one step,
// ~3× faster than adding its keys one by one.
const shapes = new Map<string, Shape>();
const MAX_SHAPES = 256;

function shapeOf(json: string): Shape {
  let shape = shapes.get(json);
  if (shape !== undefined) return shape;
  const [keys, kinds] = JSON.parse(json) as [unknown, unknown];
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string') || typeof kinds !== 'string' || kinds.length !== keys.length || keys.length === 0 || keys.length > MAX_KEYS || keys.includes('__proto__')) {
    throw new SerializationError(`pool: a record payload names no valid shape: ${json.slice(0, 200)}`);
  }
  const fields = keys.map((key, k) => `${JSON.stringify(key)}: c[${k}][i]`).join(', ');
  let make: Make;
  try {
    make = new Function('c', 'i', `return { ${fields} };`) as Make;
  } catch {
    // Code generation from strings is off (--disallow-code-generation-from-strings): key by key.
    make = (columns, i) => {
      const record: Record<string, unknown> = {};
      for (let k = 0; k < keys.length; k++) record[keys[k]!] = columns[k]![i];
      return record;
    };
  }
  if (shapes.size >= MAX_SHAPES) shapes.clear();
  shapes.set(json, (shape = { keys, kinds, make }));
  return shape;
}

function truncated(payload: Buffer, count: number): never {
  throw new SerializationError(`pool: a ${payload.length}-byte record payload for ${count} records is truncated`);
}

/** Where the column of `kind` that starts at `at` ends (checked against the payload). */
function columnEnd(payload: Buffer, at: number, kind: Column, count: number): number {
  let end: number;
  if (kind === Column.Number) {
    end = at + count * 8;
  } else if (kind === Column.Boolean) {
    end = at + count;
  } else if (kind === Column.Latin1 || kind === Column.Utf16) {
    if (at + count * 4 > payload.length) truncated(payload, count);
    const lengths = new Uint32Array(payload.buffer, payload.byteOffset + at, count);
    let chars = 0;
    for (let i = 0; i < count; i++) chars += lengths[i]!;
    end = at + count * 4 + chars * (kind === Column.Utf16 ? 2 : 1);
  } else {
    throw new SerializationError(`pool: unknown record column kind ${JSON.stringify(kind)}`);
  }
  if (end > payload.length) truncated(payload, count);
  return end;
}

function readColumn(payload: Buffer, at: number, end: number, kind: Column, count: number, asNumber: (value: number) => number): unknown[] {
  if (kind === Column.Latin1 || kind === Column.Utf16) return readStrings(payload.subarray(at, end), count, kind === Column.Utf16);
  const column = new Array<unknown>(count);
  if (kind === Column.Number) {
    const numbers = new Float64Array(payload.buffer, payload.byteOffset + at, count);
    for (let i = 0; i < count; i++) column[i] = asNumber(numbers[i]!);
  } else {
    for (let i = 0; i < count; i++) column[i] = payload[at + i] === 1;
  }
  return column;
}

/** The records of an encodeRecords payload; `asNumber` gives each number the form V8 keeps for it. */
export function decodeRecords(received: Buffer, count: number, asNumber: (value: number) => number): unknown[] {
  const payload = received.byteOffset % 8 === 0 ? received : Buffer.from(received);
  if (payload.length < 4) truncated(payload, count);
  const metaLength = getU32(payload, 0);
  if (4 + metaLength > payload.length) truncated(payload, count);
  const { keys, kinds, make } = shapeOf(payload.toString('utf8', 4, 4 + metaLength));
  const columns: unknown[][] = [];
  for (let k = 0, at = align8(4 + metaLength); k < keys.length; k++) {
    const kind = kinds[k] as Column;
    const end = columnEnd(payload, at, kind, count);
    columns.push(readColumn(payload, at, end, kind, count, asNumber));
    at = align8(end);
  }
  // One loop for every shape, compiled once (the forkserver rehearses it): a new shape brings only
  // its small record maker, which V8 compiles in a fraction of the time a loop of its own would take.
  const records = new Array<Record<string, unknown>>(count);
  for (let i = 0; i < count; i++) records[i] = make(columns, i);
  return records;
}
