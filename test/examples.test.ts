import { describe, expect, it } from 'vitest';

import { main as quickstart } from '../examples/quickstart';

describe('examples', () => {
  it('quickstart: four forked processes count to 40,000 under the lock; a closure travels', async () => {
    expect(await quickstart()).toEqual({ count: 40_000, added: 15 });
  });
});
