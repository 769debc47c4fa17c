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

describe('manager examples', () => {
  it("manager: the seed's list reversed in the server, printed here, appended to by a child", async () => {
    const { main } = await import('../examples/manager');
    const { printed, repr, afterChild } = await main({ quiet: true });
    expect(printed).toBe('[ 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 ]');
    expect(repr).toMatch(/^<ListProxy object, typeid 'list' at 0x[0-9a-f]+>$/);
    expect(afterChild).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10]);
  });

  it("newtype: CPython's ex_newtype — AutoProxy, exposed, a generator proxied from the server", async () => {
    const { main } = await import('../examples/newtype');
    expect(await main({ quiet: true })).toEqual([
      '--------------------', 'you called Foo.f()', 'you called Foo.g()', 'false',
      '--------------------', 'you called Foo.g()', 'you called Foo._h()', 'false',
      '--------------------', '[0,1,4,9,16,25,36,49,64,81]',
    ]);
  });
});
