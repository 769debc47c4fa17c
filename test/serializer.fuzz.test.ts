// Fuzz: random and mutated buffers into loads must only ever throw SerializationError.
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
  it('100k random and mutated buffers give only SerializationError', () => {
    const rand = xorshift(0x5eed);
    const k = 3;
    const seeds = [
      ser.dumps({ a: [1, 'x', { b: new Map([[1, 2]]) }], d: new Date(0) }),
      ser.dumps({ f: (x: number) => x * k, e: new RangeError('r'), s: new Set([Symbol.for('s')]) }),
      ser.dumps(new Float64Array(16)),
      ser.dumps([Object.create(null), class A { m() { return 1; } }, Math.max]),
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
      try {
        ser.loads(bytes);
      } catch (error) {
        threw++;
        if (!(error instanceof ser.SerializationError) && unexpected.length < 5) unexpected.push(`${bytes.toString('hex')}: ${String(error)}`);
      }
    }
    expect(unexpected).toEqual([]);
    expect(threw).toBeGreaterThan(50_000);
  }, 30_000);
});
