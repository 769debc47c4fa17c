import { describe, expect, it } from 'vitest';

import { main as poolTour } from '../examples/pool';
import { main as progress } from '../examples/progress';
import { main as quickstart } from '../examples/quickstart';

describe('examples', () => {
  it('quickstart: four forked processes count to 40,000 under the lock; a closure travels; a Queue; the seed\'s Pool.map', async () => {
    expect(await quickstart()).toEqual({ count: 40_000, added: 15, greeting: { from: 'child' }, mapped: [0, 2, 6, 12, 20, 30, 42, 56, 72, 90] });
  });

  it('progress: imapUnordered drives a cli-progress bar; every prime count arrives', async () => {
    const counts = await progress({ quiet: true });
    expect(counts).toHaveLength(40);
    expect(counts[0]).toBe(303); // primes below 2000
    expect(counts.at(-1)).toBe(2412); // primes below 21,500
  });
});

// The seed's examples (CPython's Doc/includes/mp_*.py as the multiprocess package ships them).
describe("the seed's ex_pool", () => {
  it('every way of running the same tasks gives the same lines, errors and timeouts reach the caller, close/terminate/scope end free the workers', async () => {
    const tour = await poolTour({ quiet: true, maxDelayMs: 20, size: 10_000 });
    const expected = [
      ...Array.from({ length: 10 }, (_, i) => `mul(${i}, 7) = ${i * 7}`),
      ...Array.from({ length: 10 }, (_, i) => `plus(${i}, 8) = ${i + 8}`),
    ];
    const lineOf = /^ForkServerPoolWorker-\d+ says that (.*)$/;
    const claims = (lines: string[]): string[] => lines.map((line) => lineOf.exec(line)?.[1] ?? `unexpected line: ${line}`);
    expect(claims(tour.applyAsync)).toEqual(expected);
    expect(claims(tour.imap)).toEqual(expected);
    expect(claims(tour.map)).toEqual(expected);
    expect(claims(tour.nextWithTimeout)).toEqual(expected);
    expect(claims(tour.imapUnordered).sort()).toEqual([...expected].sort());
    expect(claims([tour.afterTimeouts])).toEqual([expected[0]]);
    expect(tour.benchmarksAgree).toBe(true);
    expect(tour.errors).toEqual(['pool.apply()', 'pool.map()', '[...pool.imap()]', 'await pool.applyAsync()']);
    expect(tour.imapNextFailedAt).toEqual([5]);
    expect(tour.callbacks).toEqual([56, 0, 1, 8, 27, 64, 125, 216, 343, 512, 729]);
    expect(tour.childrenWhileOpen).toBe(4);
    expect(tour.childrenAfterJoin).toBe(0);
    expect(tour.closeResult).toBeUndefined(); // CPython's None: the task ran to its end after close()
    expect(tour.terminated).toEqual(Array(10).fill('ERR_MP_POOL_TERMINATED'));
    expect(tour.scopeEnded).toEqual(Array(10).fill('ERR_MP_POOL_TERMINATED'));
  });
});
