// Fuzz: random and mutated buffers into loads (with and without { functions: false }) must only
// ever throw SerializationError. The longer, structure-aware run is test/fuzz/fuzz.mjs (npm run fuzz).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBuilt, requireHelper } from './helpers/serializer-harness';

const ser = loadBuilt();

/** Deterministic PRNG so a failure can be replayed. */
function xorshift(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

describe('loads fuzz', () => {
  it('100k random and mutated buffers (from the committed corpus too) give only SerializationError', () => {
    const rand = xorshift(0x5eed);
    const k = 3;
    const corpus = path.join(__dirname, 'fuzz/corpus/loads');
    const seeds = [
      ser.dumps({ a: [1, 'x', { b: new Map([[1, 2]]) }], d: new Date(0) }),
      ser.dumps({ f: (x: number) => x * k, e: new RangeError('r'), s: new Set([Symbol.for('s')]) }),
      ser.dumps(new Float64Array(16)),
      ser.dumps([Object.create(null), class A { m() { return 1; } }, Math.max]),
      ...fs.readdirSync(corpus).map((name) => fs.readFileSync(path.join(corpus, name))),
    ];
    const unexpected: string[] = [];
    let threw = 0;
    for (let i = 0; i < 100_000; i++) {
      let bytes: Buffer;
      if (i % 4 === 0) {
        bytes = Buffer.alloc(Math.floor(rand() * 64));
        for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
        if (rand() < 0.5 && bytes.length > 2) (bytes[0] = 1), (bytes[1] = Math.floor(rand() * 2));
      } else {
        const seed = seeds[i % seeds.length]!;
        bytes = Buffer.from(seed.subarray(0, rand() < 0.3 ? Math.floor(rand() * seed.length) : seed.length));
        const flips = 1 + Math.floor(rand() * 4);
        for (let j = 0; j < flips && bytes.length > 2; j++) bytes[2 + Math.floor(rand() * (bytes.length - 2))] = Math.floor(rand() * 256);
      }
      for (const options of [{}, { functions: false }]) {
        try {
          ser.loads(bytes, options);
        } catch (error) {
          threw++;
          if (!(error instanceof ser.SerializationError) && unexpected.length < 5) unexpected.push(`${bytes.toString('hex')} ${JSON.stringify(options)}: ${String(error)}`);
        }
      }
    }
    expect(unexpected).toEqual([]);
    expect(threw).toBeGreaterThan(100_000);
  }, 120_000);
});

// Found by test/fuzz/fuzz.mjs: v8 carries a sparse array's length in a few bytes, and loads walked
// the lists of the format hole by hole (a 211-byte message took 10 s); and the scope table check
// was quadratic. Each of these must be refused at once (the timeout is the detector).
describe('loads of crafted lists', () => {
  const format = requireHelper('../../dist/serializer/format.js') as typeof import('../lib/serializer/format');
  const { MARK } = format;
  const graph = (root: unknown, functions: unknown = [], scopes: unknown = []): Buffer => format.frame(format.CODEC_GRAPH, [root, functions, scopes]);
  const sparse = (): unknown[] => {
    const list: unknown[] = [];
    list.length = 2 ** 32 - 1;
    list[0] = 'x';
    return list;
  };
  const record = { s: 'x => x', f: 0, t: false, c: 0 };
  const cases: Record<string, Buffer> = {
    'a reference path': graph({ [MARK]: 4, r: ['g', sparse()] }),
    'collection entries': graph({ [MARK]: 8, s: 1, e: sparse() }),
    'bound arguments': graph({ [MARK]: 6, t: { [MARK]: 4, r: ['g', ['Math', 'max']] }, h: null, a: sparse() }),
    'properties': graph({ [MARK]: 1, d: sparse() }),
    'the function table': graph(1, sparse()),
    'scope names': graph({ [MARK]: 2, i: 0 }, [record], [{ u: -1, n: sparse(), v: [] }]),
    'scope values': graph({ [MARK]: 2, i: 0 }, [record], [{ u: -1, n: [], v: sparse() }]),
    '200k scopes': graph(1, [], Array.from({ length: 200_000 }, (_, i) => ({ u: i - 1, n: [], v: [] }))),
  };
  for (const [what, bytes] of Object.entries(cases))
    it(`${what}: a SerializationError at once, with and without { functions: false }`, () => {
      for (const options of [{}, { functions: false }]) expect(() => ser.loads(bytes, options)).toThrow(ser.SerializationError);
    }, 20_000);
});
