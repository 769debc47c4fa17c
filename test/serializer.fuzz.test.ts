// Fuzz: random and mutated buffers into loads (with and without { functions: false }) must only
// ever throw SerializationError. The longer, structure-aware run is test/fuzz/fuzz.mjs (npm run fuzz).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBuilt } from './helpers/serializer-harness';

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
