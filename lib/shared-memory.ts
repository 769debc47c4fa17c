// multiprocess/shared-memory: SharedMemory, ShareableList, SharedMemoryManager (CPython's shared_memory).
// Segments are raw (no header, same /dev/shm names as CPython), so Python processes can open ours.
import { endianness } from 'node:os';
import { inspect } from 'node:util';

import { native, type NativeSegment } from './native';
import { register } from './serializer/registry';
import { pyBytesRepr, pyFloatRepr } from './sharedctypes';
import { arrayIndex, kernelName } from './util';

/** Options of SharedMemory, as CPython's `SharedMemory(name=None, create=False, size=0)`. */
export interface SharedMemoryOptions {
  /** The block's name (a leading `/` is accepted); generated (`mpjs-…`) when creating without one. */
  name?: string | null;
  create?: boolean;
  /** Bytes to allocate when creating; ignored when attaching. */
  size?: number;
  /**
   * CPython's `track`: when true (the default), a block this process creates is unlinked once its
   * whole process tree is gone (also after SIGKILL) unless unlink() ran first; unlink() tells the
   * tracker. False leaves the block's lifetime to the user alone.
   */
  track?: boolean;
}

/** An error carrying the errno name in `code`, as Node's fs errors and CPython's OSError subclasses do. */
function osError(message: string, cause: unknown): Error {
  const source = cause as NodeJS.ErrnoException;
  const error = new Error(message, { cause }) as NodeJS.ErrnoException;
  error.code = source.code;
  error.errno = source.errno;
  error.syscall = source.syscall;
  return error;
}

function kernelPath(name: string): string {
  return `/${name.replace(/^\/+/, '')}`;
}

/** A named block of shared memory, interoperable with CPython's `multiprocessing.shared_memory`. */
export class SharedMemory implements Disposable {
  private _segment: NativeSegment;
  private _buf: Uint8Array | null = null;
  private _closed = false;
  private readonly _name: string;
  private readonly _track: boolean;

  constructor(options: SharedMemoryOptions | string = {}) {
    const { name = null, create = false, size = 0, track = true } = typeof options === 'string' ? { name: options } : options;
    if (typeof track !== 'boolean') throw new TypeError(`SharedMemory: track must be a boolean, got ${String(track)}`);
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0)
      throw new RangeError(`SharedMemory: size must be an integer >= 0, got ${String(size)}`);
    if (create && size === 0) throw new RangeError("SharedMemory: 'size' must be a positive number different from zero when create is true");
    if (name !== null && (typeof name !== 'string' || name.replace(/^\/+/, '') === ''))
      throw new TypeError(`SharedMemory: name must be a non-empty string, got ${String(name)}`);
    if (name === null && !create) throw new TypeError("SharedMemory: 'name' can only be omitted when create is true");
    this._segment = name === null ? SharedMemory._createFresh(size) : SharedMemory._open(kernelPath(name), create, size);
    this._name = this._segment.name.slice(1);
    this._track = track;
    // Only the creator registers: an attacher's tree must not unlink a block it did not make.
    if (create && track) {
      try {
        native.trackRawSegment(this._segment.name, true);
      } catch (error) {
        this._segment.unlink();
        this._segment.close();
        throw error;
      }
    }
  }

  private static _createFresh(size: number): NativeSegment {
    for (;;) {
      try {
        return new native.Segment(kernelName('shm'), size, true, false);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  }

  private static _open(path: string, create: boolean, size: number): NativeSegment {
    try {
      return new native.Segment(path, size, create, false);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const name = `'${path.slice(1)}'`;
      if (code === 'EEXIST') throw osError(`SharedMemory: a shared memory block named ${name} already exists (EEXIST)`, error);
      if (code === 'ENOENT') throw osError(`SharedMemory: no shared memory block named ${name} (ENOENT)`, error);
      throw error;
    }
  }

  /** The name other processes open it by, without the leading `/`. */
  get name(): string {
    return this._name;
  }

  get size(): number {
    return this._segment.size;
  }

  /** A Uint8Array over the whole block (zero-copy). Views taken from it stay valid after close(). */
  get buf(): Uint8Array {
    if (this._closed) throw new Error(`SharedMemory('${this._name}').buf: the shared memory block is closed in this process`);
    this._buf ??= new Uint8Array(this._segment.buffer);
    return this._buf;
  }

  /** Gives up this process's access; the block lives on until unlink(). */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._buf = null;
    this._segment.close();
  }

  /** Removes the name so no one else can open it; call once, from one process (as CPython). */
  unlink(): void {
    // Unregistered first: once the name is gone another process may create it anew, and the
    // tracker must not unlink that one.
    if (this._track) native.trackRawSegment(this._segment.name, false);
    try {
      this._segment.unlink();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw osError(`SharedMemory('${this._name}').unlink(): the block was already unlinked (ENOENT)`, error);
      throw error;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `SharedMemory('${this._name}', size=${this.size})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

register<SharedMemory, { name: string }>(
  SharedMemory,
  { reduce: (shm) => ({ name: shm.name }), restore: (state) => new SharedMemory({ name: state.name }) },
  'multiprocess.SharedMemory',
);

// ---------------------------------------------------------------------------------------------
// ShareableList, in CPython's exact layout (Lib/multiprocessing/shared_memory.py):
//   int64 N | int64 offsets[N + 1] (from the data area) | data | char formats[N][8] | int8 codes[N]

/** What a ShareableList holds: numbers are float64, bigints int64. */
export type ShareableItem = number | bigint | boolean | null | string | Buffer;

/** Options of ShareableList: the name to create or attach to. */
export interface ShareableListOptions {
  name?: string | null;
}

// Back-transform codes (CPython's _back_transforms_mapping).
const PLAIN = 0;
const STR = 1;
const BYTES = 2;
const NONE = 3;
const ALIGN = 8;
const LITTLE = endianness() === 'LE';

interface Packed {
  format: string;
  code: number;
  /** Bytes the item's slot takes in the data area. */
  slot: number;
  bytes?: Uint8Array;
}

function pack(item: unknown, where: string): Packed {
  if (typeof item === 'number') return { format: 'd', code: PLAIN, slot: ALIGN };
  if (typeof item === 'bigint') {
    if (BigInt.asIntN(64, item) !== item) throw new RangeError(`${where}: ${item}n does not fit in an int64`);
    return { format: 'q', code: PLAIN, slot: ALIGN };
  }
  if (typeof item === 'boolean') return { format: 'xxxxxxx?', code: PLAIN, slot: ALIGN };
  if (item === null) return { format: 'xxxxxx?x', code: NONE, slot: ALIGN };
  const isString = typeof item === 'string';
  if (isString || item instanceof Uint8Array) {
    const bytes = isString ? Buffer.from(item, 'utf8') : item;
    const slot = ALIGN * (Math.floor(bytes.length / ALIGN) + 1);
    return { format: `${slot}s`, code: isString ? STR : BYTES, slot, bytes };
  }
  throw new TypeError(`${where}: a ShareableList holds numbers, bigints, booleans, null, strings and Buffers, not ${typeof item === 'object' ? item?.constructor?.name ?? 'object' : typeof item}`);
}

const listTraps: ProxyHandler<ShareableList> = {
  get(target, key, receiver) {
    const index = arrayIndex(key);
    // Out of range throws, on read as on write (CPython's IndexError).
    return index < 0 ? Reflect.get(target, key, receiver) : target.at(index);
  },
  set(target, key, value, receiver) {
    const index = arrayIndex(key);
    if (index < 0) return Reflect.set(target, key, value, receiver);
    target.set(index, value as ShareableItem);
    return true;
  },
  has(target, key) {
    const index = arrayIndex(key);
    return index < 0 ? Reflect.has(target, key) : index < target.length;
  },
};

function itemRepr(item: ShareableItem): string {
  if (typeof item === 'number') return pyFloatRepr(item);
  if (typeof item === 'bigint') return String(item);
  if (typeof item === 'boolean') return item ? 'True' : 'False';
  if (item === null) return 'None';
  if (typeof item === 'string') return `'${item.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return pyBytesRepr(item);
}

/** A fixed-length list in one SharedMemory block; Python's ShareableList can open ours and vice versa. */
export class ShareableList implements Iterable<ShareableItem> {
  [index: number]: ShareableItem;
  readonly shm: SharedMemory;
  private _view!: DataView;
  private _offsets!: number[];

  /** Creates a list holding `sequence` (named `options.name` if given), or attaches when only a name is given. */
  constructor(sequence?: Iterable<ShareableItem> | null, options: ShareableListOptions = {}) {
    const name = options.name ?? null;
    if (name === null || sequence != null) {
      const items = globalThis.Array.from(sequence ?? []);
      const packed = items.map((item, i) => pack(item, `ShareableList(sequence[${i}])`));
      const offsets = [0];
      for (const p of packed) offsets.push(offsets[offsets.length - 1] + p.slot);
      const n = items.length;
      const size = 8 + 8 * (n + 1) + offsets[n] + 8 * n + n;
      this.shm = new SharedMemory({ name, create: true, size });
      this._bind(offsets);
      const view = this._view;
      view.setBigInt64(0, BigInt(n), LITTLE);
      offsets.forEach((offset, i) => view.setBigInt64(8 + 8 * i, BigInt(offset), LITTLE));
      items.forEach((item, i) => this._write(i, item, packed[i]));
    } else {
      this.shm = new SharedMemory({ name });
      const view = new DataView(this.shm.buf.buffer, this.shm.buf.byteOffset, this.shm.size);
      const n = Number(view.getBigInt64(0, LITTLE));
      const offsets: number[] = [];
      for (let i = 0; i <= n; i++) offsets.push(Number(view.getBigInt64(8 + 8 * i, LITTLE)));
      this._bind(offsets);
    }
    return new Proxy(this, listTraps);
  }

  private _bind(offsets: number[]): void {
    this._view = new DataView(this.shm.buf.buffer, this.shm.buf.byteOffset, this.shm.size);
    this._offsets = offsets;
  }

  get length(): number {
    return this._offsets.length - 1;
  }

  private get _dataStart(): number {
    return (this.length + 2) * 8;
  }

  private get _formatsStart(): number {
    return this._dataStart + this._offsets[this.length];
  }

  private _format(i: number): string {
    const start = this._formatsStart + 8 * i;
    const bytes = new Uint8Array(this._view.buffer, this._view.byteOffset + start, 8);
    const end = bytes.indexOf(0);
    return Buffer.from(bytes.subarray(0, end < 0 ? 8 : end)).toString('latin1');
  }

  private _position(index: number, call: string): number {
    const i = index < 0 ? index + this.length : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new RangeError(`ShareableList.${call}(${index}): index out of range for length ${this.length}`);
    return i;
  }

  /** The item at `index` (negative counts from the end, as in Python). */
  at(index: number): ShareableItem {
    const i = this._position(index, 'at');
    const view = this._view;
    const offset = this._dataStart + this._offsets[i];
    const format = this._format(i);
    const code = view.getInt8(this._formatsStart + 8 * this.length + i);
    if (code === NONE) return null;
    if (format === 'd') return view.getFloat64(offset, LITTLE);
    if (format === 'q') return view.getBigInt64(offset, LITTLE);
    if (format === 'xxxxxxx?') return view.getUint8(offset + 7) !== 0;
    if (format.endsWith('s')) {
      const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, Number(format.slice(0, -1)));
      let end = bytes.length;
      while (end > 0 && bytes[end - 1] === 0) end--; // CPython strips trailing NULs
      const copy = Buffer.from(bytes.subarray(0, end));
      return code === STR ? copy.toString('utf8') : copy;
    }
    throw new TypeError(`ShareableList.at(${index}): unsupported stored format '${format}'`);
  }

  /** Replaces the item at `index`; a string or Buffer must fit in the slot allocated at creation. */
  set(index: number, value: ShareableItem): void {
    const i = this._position(index, 'set');
    const packed = pack(value, `ShareableList.set(${index})`);
    this._write(i, value, packed);
  }

  private _write(i: number, value: unknown, packed: Packed): void {
    const view = this._view;
    const offset = this._dataStart + this._offsets[i];
    const allocated = this._offsets[i + 1] - this._offsets[i];
    let format = packed.format;
    if (packed.bytes) {
      if (packed.bytes.length > allocated)
        throw new RangeError(`ShareableList: item ${i} has room for ${allocated} bytes; ${packed.bytes.length} do not fit`);
      format = `${allocated}s`;
      const slot = new Uint8Array(view.buffer, view.byteOffset + offset, allocated);
      slot.fill(0);
      slot.set(packed.bytes);
    } else if (typeof value === 'number') view.setFloat64(offset, value, LITTLE);
    else if (typeof value === 'bigint') view.setBigInt64(offset, value, LITTLE);
    else {
      // Python packs a bool as 'xxxxxxx?' (flag in byte 7) and None as 'xxxxxx?x' (a False in byte 6).
      new Uint8Array(view.buffer, view.byteOffset + offset, ALIGN).fill(0);
      if (value === true) view.setUint8(offset + 7, 1);
    }
    const formatBytes = new Uint8Array(view.buffer, view.byteOffset + this._formatsStart + 8 * i, 8);
    formatBytes.fill(0);
    formatBytes.set(Buffer.from(format, 'latin1'));
    view.setInt8(this._formatsStart + 8 * this.length + i, packed.code);
  }

  /** The struct format of all items, as CPython's `format` property. */
  get format(): string {
    let format = '';
    for (let i = 0; i < this.length; i++) format += this._format(i);
    return format;
  }

  count(value: ShareableItem): number {
    let n = 0;
    for (const item of this) if (same(item, value)) n++;
    return n;
  }

  /** The first index holding `value`; throws RangeError when absent (CPython's ValueError). */
  index(value: ShareableItem): number {
    let i = 0;
    for (const item of this) {
      if (same(item, value)) return i;
      i++;
    }
    throw new RangeError(`ShareableList.index(): ${itemRepr(value)} is not in the list`);
  }

  *[Symbol.iterator](): Iterator<ShareableItem> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  toString(): string {
    return `ShareableList([${globalThis.Array.from(this, itemRepr).join(', ')}], name='${this.shm.name}')`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function same(a: ShareableItem, b: ShareableItem): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  return a === b;
}

register<ShareableList, { name: string }>(
  ShareableList,
  { reduce: (list) => ({ name: list.shm.name }), restore: (state) => new ShareableList(null, { name: state.name }) },
  'multiprocess.ShareableList',
);

export { SharedMemoryManager } from './managers/shared-memory-manager';
