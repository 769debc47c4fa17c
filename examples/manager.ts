// The seed's manager example (multiprocess README, "Basic Usage"): a list held by a manager's
// server process, reversed there, printed here; a child appends to it through its proxy.
import { inspect } from 'node:util';
import { pathToFileURL } from 'node:url';

import { Manager, Process } from 'multiprocess';

export async function main({ quiet = false } = {}): Promise<{ printed: string; repr: string; afterChild: number[] }> {
  await using manager = new Manager();
  const l = manager.list(Array.from({ length: 10 }, (_, i) => i));
  l.reverse();
  const printed = String(l);
  const repr = inspect(l);
  if (!quiet) console.log(printed, '\n' + repr);
  const child = new Process({ target: (l: typeof list) => l.append(10), args: [l] });
  const list = l;
  child.start();
  await child.joinAsync();
  return { printed, repr, afterChild: l._getvalue() };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
