import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';

import { Array as MpArray, Lock, RawArray, RawValue, RLock, Semaphore, SharedArray, Value } from '../lib/index';
import { child } from './helpers/child';


describe('Value', () => {
  // [typecode, a value stored as is, [input, what C makes of it] (wrap-around)]
  const cases: Array<[string, unknown, [unknown, unknown]]> = [
    ['b', -5, [200, -56]],
    ['B', 250, [-1, 255]],
    ['h', -300, [40000, -25536]],
    ['H', 60000, [-1, 65535]],
    ['i', -70000, [2 ** 32 + 7, 7]],
    ['I', 4000000000, [-1, 4294967295]],
    ['l', -5n, [2n ** 64n + 3n, 3n]],
    ['L', 5n, [-1, 18446744073709551615n]],
    ['q', -(2n ** 63n), [2n ** 63n, -(2n ** 63n)]],
    ['Q', 2n ** 64n - 1n, [-2, 18446744073709551614n]],
    ['f', 1.5, [0.1, Math.fround(0.1)]],
    ['d', 0.1, [1e300, 1e300]],
    ['c', 'a', [0xe9, 'é']],
    ['?', true, [0, false]],
  ];

  it.each(cases)('typecode %s round-trips and wraps around as C does', (code, value, [input, wrapped]) => {
    const v = new Value(code as 'i', value as number);
    expect(v.value).toBe(value);
    v.value = input as number;
    expect(v.value).toBe(wrapped);
    const raw = new RawValue(code as 'i', value as number);
    expect(raw.value).toBe(value);
  });

  it('defaults to zero, accepts numbers for 64-bit types and ctypes aliases', () => {
    expect(new Value('i').value).toBe(0);
    expect(new Value('q', 7).value).toBe(7n);
    expect(new Value('c_int64', 7).value).toBe(7n);
    expect(new Value('c_uint8', 300).value).toBe(44);
    expect(new Value('c_double', 2).value).toBe(2);
    expect(new Value('c_bool', 5).value).toBe(true);
    expect(new Value('c_char', Buffer.from('z')).value).toBe('z');
    expect(new Value('i', 3n).value).toBe(3);
    expect(new Value('c_size_t', -1).value).toBe(2n ** 64n - 1n);
  });

  it('refuses unknown typecodes and values of the wrong type with TypeError', () => {
    expect(() => new Value('x' as 'i', 1)).toThrow(/Value: unknown typecode 'x'/);
    expect(() => new Value('i', 1.5)).toThrow(TypeError);
    expect(() => new Value('i', 1.5)).toThrow(/c_int \('i'\) cannot hold 1\.5/);
    expect(() => new Value('i', 'a' as unknown as number)).toThrow(TypeError);
    expect(() => new Value('q', 0.5)).toThrow(/c_long \('q'\)/);
    expect(() => new Value('c', 'ab')).toThrow(/one-character/);
    expect(() => new Value('c', 'ā')).toThrow(TypeError);
    expect(() => new Value('?', 'yes' as unknown as boolean)).toThrow(TypeError);
    const v = new Value('h', 1);
    expect(() => {
      v.value = Number.NaN;
    }).toThrow(TypeError);
    expect(v.value).toBe(1);
  });

  it('has CPython reprs', () => {
    expect(String(new Value('i', 5))).toBe('<Synchronized wrapper for c_int(5)>');
    expect(inspect(new Value('d', 1))).toBe('<Synchronized wrapper for c_double(1.0)>');
    expect(String(new Value('f', 0.1))).toBe('<Synchronized wrapper for c_float(0.10000000149011612)>');
    expect(String(new Value('d', 1e16))).toBe('<Synchronized wrapper for c_double(1e+16)>');
    expect(String(new Value('d', 1e-5))).toBe('<Synchronized wrapper for c_double(1e-05)>');
    expect(String(new Value('c', 'a'))).toBe("<Synchronized wrapper for c_char(b'a')>");
    expect(String(new Value('c', 0))).toBe("<Synchronized wrapper for c_char(b'\\x00')>");
    expect(String(new Value('?', 1))).toBe('<Synchronized wrapper for c_bool(True)>');
    expect(String(new Value('q', 5))).toBe('<Synchronized wrapper for c_long(5)>');
    expect(String(new Value('i', 5, { lock: false }))).toBe('c_int(5)');
    expect(inspect(new RawValue('B', 5))).toBe('c_ubyte(5)');
  });

  it('uses a new RLock by default, the given Lock/RLock, or none', () => {
    const v = new Value('i', 1);
    expect(v).toBeInstanceOf(Value);
    expect(v.getLock()).toBeInstanceOf(RLock);
    expect(v.getObj()).toBeInstanceOf(RawValue);
    expect(String(v.getObj())).toBe('c_int(1)');
    const lock = new Lock();
    const locked = new Value('i', 2, { lock });
    expect(locked.getLock()).toBe(lock);
    const raw = new Value('i', 3, { lock: false });
    expect(raw).toBeInstanceOf(RawValue);
    expect(raw).not.toBeInstanceOf(Value);
    expect(raw.value).toBe(3);
    expect(() => new Value('i', 1, { lock: new Semaphore() as unknown as Lock })).toThrow(TypeError);
    expect(() => new Value('i', 1, { lock: 5 as unknown as Lock })).toThrow(/options\.lock must be/);
  });

  it('holds its lock on every get and set: another process cannot read while we hold it', async () => {
    const v = new Value('i', 1, { lock: new Lock() });
    v.acquire();
    const c = child({ v }, `send('started'); return h.v.value;`);
    await c.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    v.getObj().value = 42;
    v.release();
    expect(await c.result()).toBe(42);
  });

  it('is the same memory in another process, and travels with its lock', async () => {
    const v = new Value('d', 1.25);
    const raw = new RawValue('q', 9n);
    const c = child({ v, raw }, `
      const before = [h.v.value, String(h.raw.value), String(h.v), String(h.v.getLock())];
      h.v.value = 2.5; h.raw.value = -1;
      return before;
    `);
    expect(await c.result()).toEqual([1.25, '9', '<Synchronized wrapper for c_double(1.25)>', '<RLock(None, 0)>']);
    expect(v.value).toBe(2.5);
    expect(raw.value).toBe(-1n);
  });

  it('10 processes x 10k increments under its lock end exactly at 100,000', async () => {
    const v = new Value('i', 0);
    const body = `
      const lock = h.v.getLock();
      for (let i = 0; i < 10000; i++) {
        lock.acquire();
        try { h.v.value += 1; } finally { lock.release(); }
      }
      return true;
    `;
    const workers = Array.from({ length: 10 }, () => child({ v }, body));
    await Promise.all(workers.map((w) => w.result()));
    expect(v.value).toBe(100_000);
  });

  it('without the lock the same loop runs (updates may be lost, so nothing is asserted on the total)', async () => {
    const v = new Value('i', 0, { lock: false });
    const body = `for (let i = 0; i < 10000; i++) h.v.value += 1; return true;`;
    const workers = Array.from({ length: 2 }, () => child({ v }, body));
    await Promise.all(workers.map((w) => w.result()));
    expect(v.value).toBeGreaterThan(0);
    expect(v.value).toBeLessThanOrEqual(20_000);
  });

  it('hold() keeps the lock for a read-modify-write', () => {
    const v = new Value('i', 1);
    {
      using _held = v.getLock().hold();
      v.value += 1;
      expect(String(v.getLock())).toBe('<RLock(MainProcess, 1)>');
    }
    expect(String(v.getLock())).toBe('<RLock(None, 0)>');
    expect(v.value).toBe(2);
  });
});

describe('Array', () => {
  it('gives index access, length, iteration, slice and at', () => {
    const a = new MpArray('i', [1, 2, 3, 4]);
    expect(a).toBeInstanceOf(MpArray);
    expect(SharedArray).toBe(MpArray);
    expect(a.length).toBe(4);
    expect(a[0]).toBe(1);
    // Out of range reads throw as writes do (CPython's IndexError); at() answers as typed arrays do.
    expect(() => a[4]).toThrow(RangeError);
    expect(() => a[4]).toThrow('c_int_Array_4: index 4 out of range for length 4');
    expect(() => new MpArray('c', 'ab')[2]).toThrow('index 2 out of range for length 2');
    expect(a.at(4)).toBeUndefined();
    a[1] = 20;
    expect([...a]).toEqual([1, 20, 3, 4]);
    expect(a.slice(1, 3)).toEqual([20, 3]);
    expect(a.slice(-1)).toEqual([4]);
    expect(a.at(-1)).toBe(4);
    expect(1 in a).toBe(true);
    expect(4 in a).toBe(false);
    expect(() => {
      a[4] = 1;
    }).toThrow(RangeError);
    expect(() => {
      a[0] = 1.5;
    }).toThrow(TypeError);
    a.set(-1, -4);
    expect(a.getObj()).toBeInstanceOf(Int32Array);
    expect(Array.from(a.getObj())).toEqual([1, 20, 3, -4]);
    expect(a.getLock()).toBeInstanceOf(RLock);
  });

  it('takes a size, wraps stores, and holds 64-bit values as bigints', () => {
    const zeros = new MpArray('d', 3);
    expect([...zeros]).toEqual([0, 0, 0]);
    const bytes = new MpArray('B', [256, -1]);
    expect([...bytes]).toEqual([0, 255]);
    const big = new MpArray('Q', [1, 2n]);
    expect(big.slice()).toEqual([1n, 2n]);
    const flags = new MpArray('?', [true, 0, 1]);
    expect([...flags]).toEqual([true, false, true]);
    expect(new MpArray('i', 0).length).toBe(0);
    expect(() => new MpArray('i', -1)).toThrow(RangeError);
    expect(() => new MpArray('i', [1, 'x' as unknown as number])).toThrow(TypeError);
    expect(() => new MpArray('i', 'abc' as unknown as number)).toThrow(TypeError);
  });

  it('c arrays take strings, Buffers and one-character arrays and have .value and .raw', () => {
    const s = new MpArray('c', 'hi\0x');
    expect(s.value).toBe('hi');
    expect(s.raw).toEqual(Buffer.from('hi\0x', 'latin1'));
    expect(s[1]).toBe('i');
    s.value = 'ab';
    expect(s.raw).toEqual(Buffer.from('ab\0x', 'latin1'));
    s.raw = Buffer.from('wxyz');
    expect(s.value).toBe('wxyz');
    expect(() => {
      s.value = 'abcdef';
    }).toThrow(/too long/);
    expect(new MpArray('c', Buffer.from([0x41, 0xe9])).value).toBe('Aé');
    expect(new MpArray('c_char', ['a', 'b']).value).toBe('ab');
  });

  it('has CPython reprs', () => {
    expect(String(new MpArray('i', 3))).toMatch(/^<SynchronizedArray wrapper for <multiprocessing\.sharedctypes\.c_int_Array_3 object at 0x[0-9a-f]+>>$/);
    expect(inspect(new MpArray('c', 2))).toMatch(/^<SynchronizedString wrapper for <multiprocessing\.sharedctypes\.c_char_Array_2 object at 0x[0-9a-f]+>>$/);
  });

  it('{ lock: false } and RawArray return the typed array itself', () => {
    const raw = new MpArray('h', [1, 2], { lock: false });
    expect(raw).toBeInstanceOf(Int16Array);
    expect(Array.from(raw)).toEqual([1, 2]);
    const r = RawArray('L', 2);
    expect(r).toBeInstanceOf(BigUint64Array);
    // copies are ordinary typed arrays, not shared ones
    expect(r.slice().constructor).toBe(BigUint64Array);
    const lock = new Lock();
    expect(new MpArray('i', 1, { lock }).getLock()).toBe(lock);
  });

  it('is the same memory in another process: wrappers, raw arrays and c strings', async () => {
    const a = new MpArray('i', [1, 2, 3]);
    const r = RawArray('d', [0.5, 1.5]);
    const s = new MpArray('c', 5);
    const c = child({ a, r, s }, `
      const seen = [h.a.slice(), Array.from(h.r), h.a.length, h.r.constructor.name];
      h.a[0] = 10; h.r[1] = -1; h.s.value = 'hey';
      return seen;
    `);
    expect(await c.result()).toEqual([[1, 2, 3], [0.5, 1.5], 3, 'SharedFloat64Array']);
    expect(a.slice()).toEqual([10, 2, 3]);
    expect(Array.from(r)).toEqual([0.5, -1]);
    expect(s.value).toBe('hey');
  });
});
