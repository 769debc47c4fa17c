// What keeps user code in a Pool worker as fast as in a plain process, checked by its mechanism
// rather than by timing: integers cross the pool as V8 keeps integer literals (Smis), not as boxed
// doubles that turn a task's arithmetic into float arithmetic; and a fork child gets the
// TurboFan code it asks for, from worker threads of its own. The package is the BUILT one (dist/).
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as v8 from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const load = createRequire(import.meta.url);
const mp = load(path.join(root, 'dist/index.js')) as typeof import('../lib/index');
const { ThreadPool } = load(path.join(root, 'dist/dummy/index.js')) as typeof import('../lib/dummy/index');

// v8.serialize writes a Smi with the int32 tag and a heap number with the double tag: it tells
// which representation a number has, which nothing else in the language shows.
const SMI = 'I'.charCodeAt(0);
const HEAP_NUMBER = 'N'.charCodeAt(0);
const representation = (value: number): number => v8.serialize(value)[2]!;
const representations = (...values: number[]): number[] => values.map((value) => v8.serialize(value)[2]!);

type AnyPool = InstanceType<typeof mp.Pool>;
const pools: Array<[string, () => AnyPool]> = [
  ['fork', () => new (mp.getContext('fork').Pool)(1)],
  ['spawn', () => new (mp.getContext('spawn').Pool)(1)],
  ['forkserver', () => new (mp.getContext('forkserver').Pool)(1)],
  ['ThreadPool', () => new ThreadPool(1) as unknown as AnyPool],
];

describe.each(pools)('numbers in a Pool (%s)', (_name, make) => {
  const pool = make();
  afterAll(() => {
    pool.close();
    pool.join();
  });

  it('a task gets integer arguments as Smis, other numbers as they are', async () => {
    expect(pool.apply(representations, [28, 0, -7, 2 ** 31 - 1])).toEqual([SMI, SMI, SMI, SMI]);
    // A double beside them must not turn the integers back into doubles.
    expect(await pool.applyAsync(representations, [28, 0.5, -0, 2 ** 40])).toEqual([SMI, HEAP_NUMBER, HEAP_NUMBER, HEAP_NUMBER]);
    expect(pool.map(representation, [1, 2, 3])).toEqual([SMI, SMI, SMI]);
    const exact = pool.apply((...values: number[]) => values, [-0, 0.5, NaN, 2 ** 53]);
    expect(Object.is(exact[0], -0)).toBe(true);
    expect(exact.slice(1)).toEqual([0.5, NaN, 2 ** 53]);
  });

  it('the caller gets integer results as Smis', async () => {
    const doubled = await pool.applyAsync((x: number) => x * 2, [21]);
    expect(doubled).toBe(42);
    expect(representation(doubled)).toBe(SMI);
    expect(representation(pool.apply((x: number) => x + 1, [0.5]))).toBe(HEAP_NUMBER);
    // imap hands out the decoded list itself (map copies it into its own array first).
    expect(Array.from(pool.imap((x: number) => x, [7, 2.5, 8]), representation)).toEqual([SMI, HEAP_NUMBER, SMI]);
  });
});

// A child platform reaches TurboFan's jobs in V8 11 (Node 20) only (native/park/child_platform.h).
const childPlatform = Number(process.versions.node.split('.')[0]) === 20;

describe.skipIf(!childPlatform).each(['process', 'pool', 'nested'])('a fork child (%s)', (mode) => {
  it('gets the TurboFan code a concurrent compile makes', async () => {
    const program = path.join(__dirname, 'helpers/programs/fork-turbofan.cjs');
    const { stdout } = await promisify(execFile)(process.execPath, ['--allow-natives-syntax', program, mode], { timeout: 60_000 });
    expect(JSON.parse(stdout)).toMatchObject({ turbofanned: true });
  });
});

// V8's memory reducer collects an idle heap ~8 s after its last GC, and such a GC drops the maps
// the server's rehearsed task path was compiled against: that code was thrown away, and each worker
// of the next pool recompiled it on its main thread (--single-threaded), ~6 ms per worker.
describe('a forkserver and its children', () => {
  const pool = new (mp.getContext('forkserver').Pool)(1);
  const spawned = new (mp.getContext('spawn').Pool)(1);
  afterAll(() => {
    for (const p of [pool, spawned]) {
      p.close();
      p.join();
    }
  });

  it('run without the memory reducer; spawn children keep it', () => {
    const flags = (): string[] => process.execArgv;
    expect(pool.apply(flags, [])).toContain('--no-memory-reducer');
    expect(spawned.apply(flags, [])).not.toContain('--no-memory-reducer');
  });
});

describe("a fork pool's parent", () => {
  it('loads the serializer before it forks its workers (pages written after the fork are copied)', async () => {
    // A fresh program: this test process loaded the serializer long ago.
    const script = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const parserLoaded = () => Object.keys(require.cache).some((file) => file.includes('acorn'));
      const before = parserLoaded();
      const pool = new (mp.getContext('fork').Pool)(1);
      const atFork = parserLoaded();
      pool.terminate();
      pool.join();
      console.log(JSON.stringify({ before, atFork }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({ before: false, atFork: true });
  });
});

// Representations V8 tells apart and a program cannot see, checked with --allow-natives-syntax: a
// map's result list, which a million boxed numbers made cost the parent's GC more than the map; a
// Buffer's map; whether the forkserver's rehearsal left the records decoder compiled.
describe('what a pool hands over, and what its server compiled ahead', () => {
  it('results beyond small integers unboxed (in every later pool too), small ones as Smis; large payloads as plain Buffers; the records decoder compiled', async () => {
    const script = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      // v8.serialize's tag of each number: I for a Smi, N for a heap number.
      const tags = (numbers) => numbers.map((x) => String.fromCharCode(require('node:v8').serialize(x)[2])).join('');
      const pool = new (mp.getContext('fork').Pool)(2);
      const big = pool.map((x) => x * 2 ** 32, [1, 2, 3, 4], 2);
      const small = pool.map((x) => x * 2, [1, 2, 3, 4], 2);
      const mixed = pool.map((x) => (x === 3 ? 'three' : x / 2), [1, 2, 3, 4], 2);
      // Chunks in order (one worker): doubles, then strings (the list turns generic), then small
      // integers, which must land as Smis there.
      const ordered = new (mp.getContext('fork').Pool)(1);
      const interleaved = ordered.map((x) => x, [1.5, 2.5, 'a', 'b', 3, 4], 2);
      ordered.close();
      ordered.join();
      // A payload too large to ride behind its header comes as a frame of its own, which the addon
      // made: the decoders get a Buffer of the usual map, as they were compiled on.
      const sameMap = new Function('x', 'y', 'return %HaveSameMap(x, y)');
      const buffers = [
        pool.apply((b) => new Function('x', 'y', 'return %HaveSameMap(x, y)')(b, Buffer.alloc(1)), [Buffer.alloc(100_000)]),
        sameMap(pool.apply((n) => Buffer.alloc(n), [100_000]), Buffer.alloc(1)),
      ];
      pool.close();
      pool.join();
      // Pools one after another, an apply() (a generic list) beside the maps: the store that fills
      // double lists once turned them generic after V8 recompiled it for both kinds.
      const million = Array.from({ length: 1e6 }, (_, i) => i);
      const later = [];
      const load = require;
      let decoderCompiled;
      for (let round = 0; round < 2; round++) {
        const next = new (mp.getContext('forkserver').Pool)(2);
        next.apply((x) => x, [1]);
        // The server rehearsed the records decoder until V8 compiled it (TurboFan: status bit 64).
        decoderCompiled ??= next.apply((file) => (new Function('f', 'return %GetOptimizationStatus(f)')(load(file).decodeRecords) & 64) !== 0, [${JSON.stringify(path.join(root, 'dist/pool/columns.js'))}]);
        for (let i = 0; i < 4; i++) later.push(%HasDoubleElements(next.map((x) => x * x, million)));
        next.close();
        next.join();
      }
      console.log(JSON.stringify({
        big: [%HasDoubleElements(big), big],
        small: [%HasDoubleElements(small), tags(small)],
        mixed,
        interleaved: [interleaved, tags(interleaved.slice(4))],
        buffers,
        decoderCompiled,
        later,
      }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--allow-natives-syntax', '-e', script], { timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({
      big: [true, [2 ** 32, 2 ** 33, 3 * 2 ** 32, 2 ** 34]],
      small: [false, 'IIII'],
      mixed: [0.5, 1, 'three', 2],
      interleaved: [[1.5, 2.5, 'a', 'b', 3, 4], 'II'],
      buffers: [true, true],
      decoderCompiled: true,
      later: new Array(8).fill(true),
    });
  });
});
