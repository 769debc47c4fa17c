import { describe, expect, it } from 'vitest';

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
