// Progress bars come free with imapUnordered: each result arrives as soon as its task is done, so a
// cli-progress bar advances once per result while the pool works through the input.
import { pathToFileURL } from 'node:url';

import { Presets, SingleBar } from 'cli-progress';

import { getContext } from 'multiprocess';

/** Counts the primes below each limit in a pool of 2, drawing a progress bar; returns the counts. */
export async function main(options: { quiet?: boolean } = {}): Promise<number[]> {
  const limits = Array.from({ length: 40 }, (_, i) => 2_000 + i * 500);
  const countPrimes = (limit: number): number => {
    let count = 0;
    for (let n = 2; n < limit; n++) {
      let prime = true;
      for (let d = 2; d * d <= n; d++) if (n % d === 0) {
        prime = false;
        break;
      }
      if (prime) count++;
    }
    return count;
  };
  const bar = new SingleBar({ format: 'primes [{bar}] {value}/{total}', noTTYOutput: !options.quiet, stream: process.stderr }, Presets.shades_classic);
  if (!options.quiet) bar.start(limits.length, 0);
  const counts: number[] = [];
  // fork: the tasks are synchronous, and it runs from lib/*.ts as the tests load it.
  await using pool = new (getContext('fork').Pool)(2);
  for await (const count of pool.imapUnordered(countPrimes, limits)) {
    counts.push(count);
    if (!options.quiet) bar.increment();
  }
  if (!options.quiet) bar.stop();
  return counts.sort((a, b) => a - b);
}

// Run as a program (npx tsx, or node's type stripping in an ES module project), not imported by the tests.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main().then((counts) => console.log(`largest count: ${counts.at(-1)}`));
