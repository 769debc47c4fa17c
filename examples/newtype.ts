// A port of CPython's ex_newtype (Doc/includes/mp_newtype.py): a registered class proxied with its
// public methods (AutoProxy), one with `exposed` chosen, and a method whose result (a generator)
// stays in the server and comes back as a proxy of another typeid (methodToTypeid).
import { pathToFileURL } from 'node:url';

import { BaseManager, BaseProxy } from 'multiprocess/managers';

class Foo {
  f(): string {
    return 'you called Foo.f()';
  }
  g(): string {
    return 'you called Foo.g()';
  }
  _h(): string {
    return 'you called Foo._h()';
  }
}

function* baz(): Generator<number> {
  for (let i = 0; i < 10; i++) yield i * i;
}

/** Proxy of a generator in the server: iterating it asks the server for each step. */
class GeneratorProxy extends BaseProxy implements Iterable<number> {
  next(): IteratorResult<number> {
    return this._callmethod('next') as IteratorResult<number>;
  }
  *[Symbol.iterator](): Iterator<number> {
    for (let step = this.next(); !step.done; step = this.next()) yield step.value;
  }
}

class MyManager extends BaseManager {
  declare Foo1: () => BaseProxy & { f(): string; g(): string };
  declare Foo2: () => BaseProxy & { g(): string; _h(): string };
  declare baz: () => GeneratorProxy;
}
MyManager.register('Foo1', Foo);
MyManager.register('Foo2', Foo, { exposed: ['g', '_h'] });
MyManager.register('baz', baz, { proxytype: GeneratorProxy });

export async function main({ quiet = false } = {}): Promise<string[]> {
  const lines: string[] = [];
  const say = (line: string): void => {
    lines.push(line);
    if (!quiet) console.log(line);
  };
  await using manager = new MyManager();
  manager.start();

  say('-'.repeat(20));
  const f1 = manager.Foo1();
  say(f1.f());
  say(f1.g());
  say(String('_h' in f1));

  say('-'.repeat(20));
  const f2 = manager.Foo2();
  say(f2.g());
  say(f2._h());
  say(String('f' in f2));

  say('-'.repeat(20));
  say(JSON.stringify([...manager.baz()]));
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
