// Value, Array/SharedArray, RawValue and RawArray (CPython's sharedctypes): C-typed scalars and arrays
// in shared segments, optionally behind a process-shared lock, that travel between processes as handles.
import { inspect } from 'node:util';

import type { NativeSegment } from './native';
import { register } from './serializer/registry';
import { Lock, RLock } from './synchronize';
import { addressOf, arrayIndex, createSegment, receiveSegment, sendSegment } from './util';

// ---------------------------------------------------------------------------------------------
// Typecodes

/** Canonical typecodes (Python's array module, plus `?` for c_bool) and their typed arrays. */
interface TypedArrays {
  b: Int8Array;
  B: Uint8Array;
  h: Int16Array;
  H: Uint16Array;
  i: Int32Array;
  I: Uint32Array;
  l: BigInt64Array;
  L: BigUint64Array;
  q: BigInt64Array;
  Q: BigUint64Array;
  f: Float32Array;
  d: Float64Array;
  c: Uint8Array;
  '?': Uint8Array;
}
type Code = keyof TypedArrays;

// `long` is 64-bit on every platform we support except 32-bit ones (LP64 vs ILP32).
const LP64 = process.arch.endsWith('64');

const ALIASES = {
  c_byte: 'b',
  c_ubyte: 'B',
  c_short: 'h',
  c_ushort: 'H',
  c_int: 'i',
  c_uint: 'I',
  c_long: 'l',
  c_ulong: 'L',
  c_longlong: 'q',
  c_ulonglong: 'Q',
  c_float: 'f',
  c_double: 'd',
  c_char: 'c',
  c_bool: '?',
  c_int8: 'b',
  c_uint8: 'B',
  c_int16: 'h',
  c_uint16: 'H',
  c_int32: 'i',
  c_uint32: 'I',
  c_int64: 'q',
  c_uint64: 'Q',
  c_size_t: 'Q',
  c_ssize_t: 'q',
} as const;
type Alias = keyof typeof ALIASES;

/** A typecode (`'i'`) or a ctypes name (`'c_int'`). */
export type Typecode = Code | Alias;
type Canonical<C extends Typecode> = C extends Code ? C : C extends Alias ? (typeof ALIASES)[C] : never;
/** The typed array that holds elements of typecode C. */
export type TypedArrayOf<C extends Typecode> = TypedArrays[Canonical<C>];
/** What reading an element of typecode C gives. */
export type CValue<C extends Typecode> = Canonical<C> extends 'c'
  ? string
  : Canonical<C> extends '?'
    ? boolean
    : TypedArrayOf<C> extends BigInt64Array | BigUint64Array
      ? bigint
      : number;
/** What an element of typecode C accepts (64-bit types take numbers too; c takes a byte as a number). */
export type CInput<C extends Typecode> = Canonical<C> extends 'c'
  ? string | Uint8Array | number
  : Canonical<C> extends '?'
    ? boolean | number | bigint
    : number | bigint | boolean;
/** An Array initializer: a length, or the elements (for `c` also a string or a Buffer). */
export type ArrayInit<C extends Typecode> = number | Iterable<CInput<C>> | (Canonical<C> extends 'c' ? string | Uint8Array : never);

type AnyTypedArray = TypedArrays[Code];
type Kind = 'int' | 'big' | 'float' | 'char' | 'bool';

/** How one typecode is stored, read, written and shown. */
interface CType {
  readonly code: Code;
  /** ctypes class name, as CPython's reprs show it (on LP64 c_longlong prints as c_long). */
  readonly name: string;
  readonly kind: Kind;
  readonly Shared: SharedTypedArrayClass;
  readonly bits: number;
  readonly signed: boolean;
}

type TypedArrayClass = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => AnyTypedArray;
interface SharedTypedArrayClass extends TypedArrayClass {
  readonly BYTES_PER_ELEMENT: number;
}

// Typed arrays over shared memory are instances of registered subclasses, so the registry can send
// them as handles while plain typed arrays keep travelling by value. Each keeps its segment alive
// (the segment's user count, not only the mapping) for as long as the array is reachable.
const segmentOf = new WeakMap<AnyTypedArray, NativeSegment>();

interface RawArrayState {
  segment: string;
  byteOffset: number;
  length: number;
}

function sharedSubclass(Base: TypedArrayClass & { BYTES_PER_ELEMENT: number; name: string }): SharedTypedArrayClass {
  // TS cannot extend a union of typed-array classes; at run time Base is one concrete class.
  const Shared = class extends (Base as unknown as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => object) {
    // map/slice/filter copy into ordinary memory: their results must not pass for shared arrays.
    static get [Symbol.species](): TypedArrayClass {
      return Base;
    }
  } as unknown as SharedTypedArrayClass;
  Object.defineProperty(Shared, 'name', { value: `Shared${Base.name}` });
  register<AnyTypedArray, RawArrayState>(
    Shared as unknown as abstract new (...args: never[]) => AnyTypedArray,
    {
      reduce: (array) => {
        const segment = segmentOf.get(array);
        if (!segment) throw new TypeError(`this ${Base.name} is not backed by a shared segment`);
        return { segment: sendSegment(segment), byteOffset: array.byteOffset, length: array.length };
      },
      restore: (state) => viewOf(Shared, receiveSegment(state.segment), state.byteOffset, state.length),
    },
    `multiprocess.RawArray.${Base.name}`,
  );
  return Shared;
}

function viewOf(Shared: SharedTypedArrayClass, segment: NativeSegment, byteOffset: number, length: number): AnyTypedArray {
  const view = new Shared(segment.buffer, byteOffset, length);
  segmentOf.set(view, segment);
  return view;
}

const SHARED = {
  Int8Array: sharedSubclass(Int8Array),
  Uint8Array: sharedSubclass(Uint8Array),
  Int16Array: sharedSubclass(Int16Array),
  Uint16Array: sharedSubclass(Uint16Array),
  Int32Array: sharedSubclass(Int32Array),
  Uint32Array: sharedSubclass(Uint32Array),
  BigInt64Array: sharedSubclass(BigInt64Array),
  BigUint64Array: sharedSubclass(BigUint64Array),
  Float32Array: sharedSubclass(Float32Array),
  Float64Array: sharedSubclass(Float64Array),
};

function ctype(code: Code, name: string, kind: Kind, Shared: SharedTypedArrayClass, signed: boolean): CType {
  return { code, name, kind, Shared, bits: Shared.BYTES_PER_ELEMENT * 8, signed };
}

const CTYPES: Record<Code, CType> = {
  b: ctype('b', 'c_byte', 'int', SHARED.Int8Array, true),
  B: ctype('B', 'c_ubyte', 'int', SHARED.Uint8Array, false),
  h: ctype('h', 'c_short', 'int', SHARED.Int16Array, true),
  H: ctype('H', 'c_ushort', 'int', SHARED.Uint16Array, false),
  i: ctype('i', 'c_int', 'int', SHARED.Int32Array, true),
  I: ctype('I', 'c_uint', 'int', SHARED.Uint32Array, false),
  l: LP64 ? ctype('l', 'c_long', 'big', SHARED.BigInt64Array, true) : ctype('l', 'c_long', 'int', SHARED.Int32Array, true),
  L: LP64 ? ctype('L', 'c_ulong', 'big', SHARED.BigUint64Array, false) : ctype('L', 'c_ulong', 'int', SHARED.Uint32Array, false),
  q: ctype('q', LP64 ? 'c_long' : 'c_longlong', 'big', SHARED.BigInt64Array, true),
  Q: ctype('Q', LP64 ? 'c_ulong' : 'c_ulonglong', 'big', SHARED.BigUint64Array, false),
  f: ctype('f', 'c_float', 'float', SHARED.Float32Array, true),
  d: ctype('d', 'c_double', 'float', SHARED.Float64Array, true),
  c: ctype('c', 'c_char', 'char', SHARED.Uint8Array, false),
  '?': ctype('?', 'c_bool', 'bool', SHARED.Uint8Array, false),
};

function ctypeOf(type: unknown, caller: string): CType {
  if (typeof type === 'string') {
    const code = Object.hasOwn(ALIASES, type) ? ALIASES[type as Alias] : type;
    if (Object.hasOwn(CTYPES, code)) return CTYPES[code as Code];
  }
  const codes = Object.keys(CTYPES).join(' ');
  throw new TypeError(`${caller}: unknown typecode ${describe(type)}; use one of ${codes} or a ctypes name such as 'c_int'`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `a ${value.constructor.name} of length ${value.length}`;
  return typeof value === 'object' && value !== null ? `a ${value.constructor?.name ?? 'object'}` : String(value);
}

function badValue(ct: CType, value: unknown, expected: string): TypeError {
  return new TypeError(`${ct.name} ('${ct.code}') cannot hold ${describe(value)} (${typeof value}): expected ${expected}`);
}

/** Converts a JS value to what the typed array stores; wrap-around is left to the typed array (C's). */
function encode(ct: CType, value: unknown): number | bigint {
  switch (ct.kind) {
    case 'int':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value === 'bigint') return Number(ct.signed ? BigInt.asIntN(ct.bits, value) : BigInt.asUintN(ct.bits, value));
      throw badValue(ct, value, 'an integer (number or bigint)');
    case 'big':
      if (typeof value === 'bigint') return value;
      if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
      if (typeof value === 'boolean') return value ? 1n : 0n;
      throw badValue(ct, value, 'an integer (bigint or number)');
    case 'float':
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') return Number(value);
      if (typeof value === 'boolean') return value ? 1 : 0;
      throw badValue(ct, value, 'a number');
    case 'char':
      if (typeof value === 'string' && value.length === 1 && value.charCodeAt(0) <= 0xff) return value.charCodeAt(0);
      if (value instanceof Uint8Array && value.length === 1) return value[0];
      if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xff) return value;
      throw badValue(ct, value, 'a one-character latin1 string, a 1-byte Buffer or a byte value 0-255');
    case 'bool':
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value === 'number' || typeof value === 'bigint') return value ? 1 : 0;
      throw badValue(ct, value, 'a boolean (or a number)');
  }
}

function decode(ct: CType, stored: number | bigint): unknown {
  if (ct.kind === 'char') return String.fromCharCode(stored as number);
  if (ct.kind === 'bool') return stored !== 0;
  return stored;
}

// ---------------------------------------------------------------------------------------------
// Python-style reprs

/** Python's repr of a float: shortest round trip, exponent outside [1e-4, 1e16), at least 2 exponent digits. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exp] = x.toExponential().split('e');
  const e = Number(exp);
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  const fixed = String(x);
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}

/** Python's repr of a bytes object. */
export function pyBytesRepr(bytes: Uint8Array): string {
  const quote = bytes.includes(0x27) && !bytes.includes(0x22) ? '"' : "'";
  let out = '';
  for (const byte of bytes) {
    if (byte === 0x5c) out += '\\\\';
    else if (byte === quote.charCodeAt(0)) out += `\\${quote}`;
    else if (byte === 0x09) out += '\\t';
    else if (byte === 0x0a) out += '\\n';
    else if (byte === 0x0d) out += '\\r';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `b${quote}${out}${quote}`;
}

function valueRepr(ct: CType, stored: number | bigint): string {
  switch (ct.kind) {
    case 'float':
      return pyFloatRepr(stored as number);
    case 'char':
      return pyBytesRepr(Uint8Array.of(stored as number));
    case 'bool':
      return stored ? 'True' : 'False';
    default:
      return String(stored);
  }
}

// ---------------------------------------------------------------------------------------------
// Raw objects

function allocate(ct: CType, length: number, kind: string): AnyTypedArray {
  const segment = createSegment(kind, length * ct.Shared.BYTES_PER_ELEMENT);
  return viewOf(ct.Shared, segment, 0, length);
}

/** A C scalar in shared memory, without a lock (CPython's RawValue). */
export class RawValue<C extends Typecode = Typecode> {
  private _ctype!: CType;
  private _view!: AnyTypedArray;

  constructor(typecodeOrType: C, initial?: CInput<C>) {
    const ct = ctypeOf(typecodeOrType, 'RawValue');
    const stored = initial === undefined ? undefined : encode(ct, initial);
    this._bind(ct, allocate(ct, 1, 'value'));
    if (stored !== undefined) this._view[0] = stored;
  }

  private _bind(ct: CType, view: AnyTypedArray): void {
    this._ctype = ct;
    this._view = view;
  }

  /** @internal Rebuilds a RawValue over a view received from another process. */
  static _attach(code: Code, view: AnyTypedArray): RawValue {
    const raw = Object.create(RawValue.prototype) as RawValue;
    raw._bind(CTYPES[code], view);
    return raw;
  }

  get value(): CValue<C> {
    const ct = this._ctype;
    const stored = this._view[0];
    return (ct.kind === 'char' || ct.kind === 'bool' ? decode(ct, stored) : stored) as CValue<C>;
  }

  set value(value: CInput<C>) {
    this._view[0] = encode(this._ctype, value);
  }

  /** The typecode this value was created with, canonical (`'i'` for `'c_int'`). */
  get typecode(): Canonical<C> {
    return this._ctype.code as Canonical<C>;
  }

  /** @internal */
  _parts(): { code: Code; view: AnyTypedArray } {
    return { code: this._ctype.code, view: this._view };
  }

  toString(): string {
    return `${this._ctype.name}(${valueRepr(this._ctype, this._view[0])})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function fill(ct: CType, view: AnyTypedArray, init: Iterable<unknown> | string | Uint8Array, caller: string): void {
  const items = typeof init === 'string' || init instanceof Uint8Array ? init : globalThis.Array.from(init);
  if (items.length > view.length)
    throw new RangeError(`${caller}: ${items.length} initial values do not fit in ${view.length} elements`);
  if (typeof items === 'string') {
    if (ct.kind !== 'char') throw badValue(ct, items, 'numbers (a string initializer is only for typecode c)');
    for (let i = 0; i < items.length; i++) view[i] = encode(ct, items[i]);
  } else if (items instanceof Uint8Array && ct.kind === 'char') {
    (view as Uint8Array).set(items);
  } else {
    for (let i = 0; i < items.length; i++) view[i] = encode(ct, items[i]);
  }
}

function lengthOf(init: unknown, caller: string): number {
  if (typeof init === 'number') {
    if (!Number.isInteger(init) || init < 0) throw new RangeError(`${caller}: size must be an integer >= 0, got ${init}`);
    return init;
  }
  if (typeof init === 'string' || init instanceof Uint8Array) return init.length;
  if (init !== null && typeof init === 'object' && Symbol.iterator in init) return -1;
  throw new TypeError(`${caller}: sizeOrInitializer must be a size or an iterable of values, got ${describe(init)}`);
}

function rawArray(ct: CType, sizeOrInitializer: unknown, caller: string): AnyTypedArray {
  let length = lengthOf(sizeOrInitializer, caller);
  let init = sizeOrInitializer as Iterable<unknown> | string | Uint8Array;
  if (length < 0) {
    init = globalThis.Array.from(init as Iterable<unknown>);
    length = (init as unknown[]).length;
  }
  // Validate every element before anything is allocated.
  const staging = typeof sizeOrInitializer === 'number' ? undefined : new ct.Shared(new ArrayBuffer(length * ct.Shared.BYTES_PER_ELEMENT), 0, length);
  if (staging) fill(ct, staging, init, caller);
  const view = allocate(ct, length, 'array');
  if (staging) new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(new Uint8Array(staging.buffer));
  return view;
}

/**
 * A C array in shared memory, returned as the typed array itself (CPython's RawArray). It travels
 * between processes as a handle, like Value; a view made from it with subarray() does not.
 */
export function RawArray<C extends Typecode>(typecodeOrType: C, sizeOrInitializer: ArrayInit<C>): TypedArrayOf<C> {
  return rawArray(ctypeOf(typecodeOrType, 'RawArray'), sizeOrInitializer, 'RawArray') as TypedArrayOf<C>;
}

// ---------------------------------------------------------------------------------------------
// Synchronized wrappers

/** Options of Value and Array: `lock: true` (a new RLock), `false` (the raw object), or a Lock/RLock to use. */
export interface SharedCtypesOptions {
  lock?: boolean | Lock | RLock | null;
}
/** Options that return a synchronized wrapper. */
export interface SynchronizedOptions extends SharedCtypesOptions {
  lock?: true | Lock | RLock | null;
}

function lockOption(options: SharedCtypesOptions | undefined, caller: string): Lock | RLock | null {
  const lock = options?.lock ?? true;
  if (lock === true) return new RLock();
  if (lock === false) return null;
  if (lock instanceof Lock || lock instanceof RLock) return lock;
  throw new TypeError(`${caller}: options.lock must be true, false, a Lock or an RLock, got ${describe(lock)}`);
}

/** Shared by Synchronized and SynchronizedArray: CPython's SynchronizedBase. */
abstract class SynchronizedBase {
  protected _lock!: Lock | RLock;

  /** The lock every access holds (CPython's get_lock). */
  getLock(): Lock | RLock {
    return this._lock;
  }

  /** Takes the lock, as {@link Lock.acquire}. */
  acquire(block = true, timeoutMs?: number | null): boolean {
    return this._lock.acquire(block, timeoutMs);
  }

  /** Releases the lock. */
  release(): void {
    this._lock.release();
  }

  /** `using _held = value.hold()` keeps the lock for a read-modify-write. */
  hold(timeoutMs?: number | null): Disposable {
    return this._lock.hold(timeoutMs);
  }

  [inspect.custom](): string {
    return String(this);
  }
}

/** A Value: a RawValue behind a lock; every get and set of `.value` holds it (CPython's Synchronized). */
export class Synchronized<C extends Typecode = Typecode> extends SynchronizedBase {
  private _obj!: RawValue<C>;

  /** @internal */
  static _wrap<C extends Typecode>(obj: RawValue<C>, lock: Lock | RLock): Synchronized<C> {
    const wrapper = Object.create(Synchronized.prototype) as Synchronized<C>;
    wrapper._obj = obj;
    wrapper._lock = lock;
    return wrapper;
  }

  /** Reads the value under the lock; `v.value += 1` reads and writes under it separately: hold() the lock around it. */
  get value(): CValue<C> {
    const lock = this._lock;
    lock.acquire();
    try {
      return this._obj.value;
    } finally {
      lock.release();
    }
  }

  set value(value: CInput<C>) {
    const lock = this._lock;
    lock.acquire();
    try {
      this._obj.value = value;
    } finally {
      lock.release();
    }
  }

  /** The RawValue behind the lock (CPython's get_obj). */
  getObj(): RawValue<C> {
    return this._obj;
  }

  /** @internal */
  _parts(): { obj: RawValue<C>; lock: Lock | RLock } {
    return { obj: this._obj, lock: this._lock };
  }

  override toString(): string {
    return `<Synchronized wrapper for ${String(this._obj)}>`;
  }
}

// Index access `a[i]` on a synchronized array; everything else goes to the wrapper itself.
const arrayTraps: ProxyHandler<SynchronizedArray> = {
  get(target, key, receiver) {
    const index = arrayIndex(key);
    return index < 0 ? Reflect.get(target, key, receiver) : target._item(index);
  },
  set(target, key, value, receiver) {
    const index = arrayIndex(key);
    if (index < 0) return Reflect.set(target, key, value, receiver);
    target.set(index, value);
    return true;
  },
  has(target, key) {
    const index = arrayIndex(key);
    return index < 0 ? Reflect.has(target, key) : index < target.length;
  },
};

/** An Array: a shared typed array behind a lock; each element access holds it (CPython's SynchronizedArray). */
export class SynchronizedArray<C extends Typecode = Typecode> extends SynchronizedBase implements Iterable<CValue<C>> {
  [index: number]: CValue<C>;
  protected _obj!: TypedArrayOf<C>;
  protected _ctype!: CType;

  /** @internal Wraps a shared typed array; returns the Proxy that provides `a[i]`. */
  static _wrap<C extends Typecode>(obj: TypedArrayOf<C>, code: Code, lock: Lock | RLock): SynchronizedArray<C> {
    const ct = CTYPES[code];
    const wrapper = Object.create((ct.kind === 'char' ? SynchronizedString : SynchronizedArray).prototype) as SynchronizedArray<C>;
    wrapper._obj = obj;
    wrapper._ctype = ct;
    wrapper._lock = lock;
    return new Proxy(wrapper, arrayTraps as ProxyHandler<SynchronizedArray<C>>);
  }

  get length(): number {
    return this._obj.length;
  }

  get typecode(): Canonical<C> {
    return this._ctype.code as Canonical<C>;
  }

  /** The element at `index` (negative counts from the end), undefined when out of range, as typed arrays do. */
  at(index: number): CValue<C> | undefined {
    const lock = this._lock;
    lock.acquire();
    try {
      const stored = this._obj.at(index);
      return (stored === undefined ? undefined : decode(this._ctype, stored)) as CValue<C> | undefined;
    } finally {
      lock.release();
    }
  }

  /** @internal `a[i]`: an index out of range throws RangeError (CPython's IndexError), as on write. */
  _item(index: number): CValue<C> {
    if (index >= this._obj.length) throw this._outOfRange(index);
    return this.at(index) as CValue<C>;
  }

  /** Stores one element; an index out of range throws RangeError (CPython's IndexError). */
  set(index: number, value: CInput<C>): void {
    const obj = this._obj;
    const i = index < 0 ? index + obj.length : index;
    if (!Number.isInteger(i) || i < 0 || i >= obj.length) throw this._outOfRange(index);
    const stored = encode(this._ctype, value);
    const lock = this._lock;
    lock.acquire();
    try {
      obj[i] = stored;
    } finally {
      lock.release();
    }
  }

  /** Copies elements start..end (negative counts from the end) into a plain array, under the lock. */
  slice(start?: number, end?: number): Array<CValue<C>> {
    const lock = this._lock;
    lock.acquire();
    let copy: AnyTypedArray;
    try {
      copy = this._obj.slice(start, end);
    } finally {
      lock.release();
    }
    const out = new globalThis.Array<CValue<C>>(copy.length);
    for (let i = 0; i < copy.length; i++) out[i] = decode(this._ctype, copy[i]) as CValue<C>;
    return out;
  }

  *[Symbol.iterator](): Iterator<CValue<C>> {
    for (let i = 0; i < this._obj.length; i++) yield this.at(i) as CValue<C>;
  }

  /** The typed array over the shared memory, without the lock (CPython's get_obj). */
  getObj(): TypedArrayOf<C> {
    return this._obj;
  }

  /** @internal */
  _parts(): { obj: TypedArrayOf<C>; code: Code; lock: Lock | RLock } {
    return { obj: this._obj, code: this._ctype.code, lock: this._lock };
  }

  protected _describe(): string {
    return `${this._ctype.name}_Array_${this._obj.length}`;
  }

  private _outOfRange(index: number): RangeError {
    return new RangeError(`${this._describe()}: index ${index} out of range for length ${this._obj.length}`);
  }

  override toString(): string {
    const kind = this._ctype.kind === 'char' ? 'SynchronizedString' : 'SynchronizedArray';
    return `<${kind} wrapper for <multiprocessing.sharedctypes.${this._describe()} object at ${addressOf(this._obj)}>>`;
  }
}

/** An Array of `c`: adds `.value` (the string up to the first NUL) and `.raw` (all bytes). */
export class SynchronizedString extends SynchronizedArray<'c'> {
  get value(): string {
    const lock = this._lock;
    lock.acquire();
    try {
      const end = this._obj.indexOf(0);
      return Buffer.from(this._obj.buffer, this._obj.byteOffset, end < 0 ? this._obj.length : end).toString('latin1');
    } finally {
      lock.release();
    }
  }

  /** Stores the bytes and, when there is room, a terminating NUL (as ctypes does). */
  set value(value: string | Uint8Array) {
    const bytes = this._bytes(value, 'value');
    const lock = this._lock;
    lock.acquire();
    try {
      this._obj.set(bytes);
      if (bytes.length < this._obj.length) this._obj[bytes.length] = 0;
    } finally {
      lock.release();
    }
  }

  get raw(): Buffer {
    const lock = this._lock;
    lock.acquire();
    try {
      return Buffer.from(this._obj);
    } finally {
      lock.release();
    }
  }

  set raw(value: string | Uint8Array) {
    const bytes = this._bytes(value, 'raw');
    const lock = this._lock;
    lock.acquire();
    try {
      this._obj.set(bytes);
    } finally {
      lock.release();
    }
  }

  private _bytes(value: unknown, what: string): Uint8Array {
    let bytes: Uint8Array;
    if (value instanceof Uint8Array) bytes = value;
    else if (typeof value === 'string') {
      if (/[^\0-\xff]/.test(value)) throw new TypeError(`${this._describe()}.${what}: ${describe(value)} has characters outside latin1`);
      bytes = Buffer.from(value, 'latin1');
    } else throw new TypeError(`${this._describe()}.${what}: expected a string or a Buffer, got ${describe(value)}`);
    if (bytes.length > this._obj.length)
      throw new RangeError(`${this._describe()}.${what}: byte string too long (${bytes.length} bytes for ${this._obj.length})`);
    return bytes;
  }
}

// ---------------------------------------------------------------------------------------------
// Public constructors: `new Value(...)` returns the raw object for `{ lock: false }` (as CPython does),
// so their types are spelled as constructor interfaces.

class ValueImpl {
  constructor(typecodeOrType: Typecode, initial?: unknown, options?: SharedCtypesOptions) {
    const ct = ctypeOf(typecodeOrType, 'Value');
    const lock = lockOption(options, 'Value');
    const obj = new RawValue(ct.code, initial as never);
    return lock === null ? obj : Synchronized._wrap(obj, lock);
  }
}
Object.defineProperty(ValueImpl, 'name', { value: 'Value' });
Object.defineProperty(ValueImpl, Symbol.hasInstance, { value: (obj: unknown) => obj instanceof Synchronized });

export interface ValueConstructor {
  new <C extends Typecode>(typecodeOrType: C, initial: CInput<C> | undefined, options: { lock: false }): RawValue<C>;
  new <C extends Typecode>(typecodeOrType: C, initial?: CInput<C>, options?: SynchronizedOptions): Synchronized<C>;
  new <C extends Typecode>(typecodeOrType: C, initial?: CInput<C>, options?: SharedCtypesOptions): Synchronized<C> | RawValue<C>;
}

/** `new Value('i', 0)`: a C value in shared memory behind a lock (a new RLock unless given one). */
export const Value = ValueImpl as unknown as ValueConstructor;
export type Value<C extends Typecode = Typecode> = Synchronized<C>;

class SharedArrayImpl {
  constructor(typecodeOrType: Typecode, sizeOrInitializer: unknown, options?: SharedCtypesOptions) {
    const lock = lockOption(options, 'Array');
    const ct = ctypeOf(typecodeOrType, 'Array');
    const obj = rawArray(ct, sizeOrInitializer, 'Array');
    return lock === null ? obj : SynchronizedArray._wrap(obj, ct.code, lock);
  }
}
Object.defineProperty(SharedArrayImpl, 'name', { value: 'Array' });
Object.defineProperty(SharedArrayImpl, Symbol.hasInstance, { value: (obj: unknown) => obj instanceof SynchronizedArray });

export interface SharedArrayConstructor {
  new <C extends Typecode>(typecodeOrType: C, sizeOrInitializer: ArrayInit<C>, options: { lock: false }): TypedArrayOf<C>;
  new <C extends 'c' | 'c_char'>(typecodeOrType: C, sizeOrInitializer: ArrayInit<C>, options?: SynchronizedOptions): SynchronizedString;
  new <C extends Typecode>(typecodeOrType: C, sizeOrInitializer: ArrayInit<C>, options?: SynchronizedOptions): SynchronizedArray<C>;
  new <C extends Typecode>(typecodeOrType: C, sizeOrInitializer: ArrayInit<C>, options?: SharedCtypesOptions): SynchronizedArray<C> | TypedArrayOf<C>;
}

/** `new SharedArray('i', 10)` (also exported as `Array`): a C array in shared memory behind a lock. */
export const SharedArray = SharedArrayImpl as unknown as SharedArrayConstructor;
export type SharedArray<C extends Typecode = Typecode> = SynchronizedArray<C>;
export { SharedArray as Array };

// ---------------------------------------------------------------------------------------------
// Handles: the raw objects travel as segment names; wrappers as their raw object plus their lock.

register<RawValue, { code: Code; view: AnyTypedArray }>(
  RawValue,
  { reduce: (raw) => raw._parts(), restore: (state) => RawValue._attach(state.code, state.view) },
  'multiprocess.RawValue',
);

register<Synchronized, { obj: RawValue; lock: Lock | RLock }>(
  Synchronized,
  { reduce: (value) => value._parts(), restore: (state) => Synchronized._wrap(state.obj, state.lock) },
  'multiprocess.Synchronized',
);

register<SynchronizedArray, { obj: AnyTypedArray; code: Code; lock: Lock | RLock }>(
  SynchronizedArray,
  { reduce: (array) => array._parts(), restore: (state) => SynchronizedArray._wrap(state.obj, state.code, state.lock) },
  'multiprocess.SynchronizedArray',
);
