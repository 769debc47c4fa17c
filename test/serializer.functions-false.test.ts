// loads(bytes, { functions: false }): data passes, every code-carrying record is refused with its
// path before anything is compiled, imported or run.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadBuilt, requireHelper } from './helpers/serializer-harness';

const ser = loadBuilt();
const format = requireHelper('../../dist/serializer/format.js') as typeof import('../lib/serializer/format');
const types = requireHelper('./serializer-types.cjs') as { Temperature: new (c: number) => object; Shape: new (side: number) => { area(): number }; double: (x: number) => number };

const strict = { functions: false } as const;

function refused(value: unknown, path: string): void {
  const bytes = ser.dumps(value);
  let error: unknown;
  try {
    ser.loads(bytes, strict);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ser.SerializationError);
  expect((error as { path: string }).path).toBe(path);
  expect((error as Error).message).toMatch(new RegExp(`^loads: ${path.replace(/[.[\]()]/g, '\\$&')} is .*, refused by \\{ functions: false \\}$`));
}

/** A GRAPH message built by hand: what a peer could send that dumps never makes. */
function graph(root: unknown, functions: unknown[] = [], scopes: unknown[] = []): Buffer {
  return format.frame(format.CODEC_GRAPH, [root, functions, scopes]);
}

describe('loads with { functions: false }', () => {
  it('passes data, errors, registered types and instances of loaded classes', () => {
    const value = {
      list: [1, 'x', null, undefined, -0, 2n],
      map: new Map<unknown, unknown>([[1, new Set(['a'])]]),
      date: new Date(0),
      error: new RangeError('r'),
      nested: { deep: [{ sym: Symbol.for('s') }] },
      typed: new Float64Array([1.5]),
      temperature: new types.Temperature(21),
      shape: new types.Shape(3),
    };
    const out = ser.loads(ser.dumps(value), strict) as typeof value;
    expect(out.list).toEqual(value.list);
    expect(out.map).toEqual(value.map);
    expect(out.error).toBeInstanceOf(RangeError);
    expect(out.temperature).toBeInstanceOf(types.Temperature);
    expect(out.shape.area()).toBe(9);
    expect(out.nested.deep[0]!.sym).toBe(Symbol.for('s'));
  });

  it('refuses functions and classes by value, by reference and bound, naming their paths', () => {
    const k = 3;
    refused((x: number) => x * k, 'value');
    refused({ a: [1, { f: (x: number) => x + k }] }, 'value.a[1].f');
    refused([class Local {}], 'value[0]');
    refused({ 'odd key': Math.max }, 'value["odd key"]');
    refused({ helper: types.double }, 'value.helper');
    refused({ b: Math.max.bind(null, 1) }, 'value.b');
    refused(new Map([['k', () => 1]]), 'value<value 0>');
    class Local {
      constructor(readonly v: number) {}
    }
    refused({ instance: new Local(1) }, 'value.instance.__proto__.constructor');
  });

  it('compiles nothing: a class whose rebuild has a side effect is refused without running it', () => {
    const seen = globalThis as { mpjsFunctionsFalse?: number };
    class Effect {
      static {
        seen.mpjsFunctionsFalse = (seen.mpjsFunctionsFalse ?? 0) + 1;
      }
    }
    const bytes = ser.dumps({ effect: Effect });
    const before = seen.mpjsFunctionsFalse ?? 0;
    expect(() => ser.loads(bytes, strict)).toThrow(ser.SerializationError);
    expect(seen.mpjsFunctionsFalse ?? 0).toBe(before);
    ser.loads(bytes); // the control: the default compiles it, and its static block runs
    expect(seen.mpjsFunctionsFalse).toBe(before + 1);
  });

  it('refuses what a peer could craft: a table no value reaches, a getter, a module not loaded here', () => {
    const record = { s: '(() => { globalThis.mpjsCrafted = 1 })()', f: 0, t: false, c: -1 };
    expect(() => ser.loads(graph({ plain: 1 }, [record]), strict)).toThrow(/^loads: value is a message carrying functions/);
    const getter = { [format.MARK]: 1, a: ['g', 10, undefined, { [format.MARK]: 4, r: ['g', ['eval']] }, undefined] };
    expect(() => ser.loads(graph({ o: getter }), strict)).toThrow(expect.objectContaining({ path: 'value.o.g<getter>' }));

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-functions-false-'));
    const module = path.join(dir, 'side-effect.cjs');
    const marker = path.join(dir, 'imported');
    fs.writeFileSync(module, `require('fs').writeFileSync(${JSON.stringify(marker)}, '1'); exports.value = 1;`);
    try {
      const bytes = graph({ v: { [format.MARK]: 4, r: ['f', module, ['value']] } });
      expect(() => ser.loads(bytes, strict)).toThrow(/value\.v is a reference to module .*side-effect\.cjs", which is not loaded here/);
      const asBuiltin = graph({ v: { [format.MARK]: 4, r: ['m', module, ['value']] } });
      expect(() => ser.loads(asBuiltin, strict)).toThrow(/value\.v is a reference to module .*side-effect\.cjs", which is not loaded here/);
      expect(fs.existsSync(marker)).toBe(false);
      expect(ser.loads(bytes)).toEqual({ v: 1 }); // the control: the default imports it
      expect(fs.existsSync(marker)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect((globalThis as { mpjsCrafted?: number }).mpjsCrafted).toBeUndefined();
  });

  it('rejects an option that is not a boolean', () => {
    expect(() => ser.loads(ser.dumps(1), { functions: 'no' as unknown as boolean })).toThrow(/loads: options.functions must be a boolean, got 'no'/);
  });
});
