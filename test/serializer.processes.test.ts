// The serializer as users meet it, under every start method: scripts in test/helpers/programs run as
// `node <script> <method>`, sending their functions, classes and errors into Process children and
// pool workers and printing what came back as JSON lines; and targets written in this (vitest) file.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import util, { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
// The BUILT package, as a user loads it; this file itself is transformed by vitest, as a user's
// test file would be (its imports of builtins become vitest's module records).
const mp = createRequire(import.meta.url)('../dist/index.js') as typeof import('../lib/index');

/** Runs `target(queue, ...args)` in a child started by `method` and returns what it put. */
function fromChild(method: 'fork' | 'spawn' | 'forkserver', target: (queue: InstanceType<typeof mp.Queue>, ...args: never[]) => void, args: unknown[] = []): unknown {
  const queue = new mp.Queue();
  try {
    const child = new (mp.getContext(method).Process)({ target: target as (...args: unknown[]) => void, args: [queue, ...args] });
    child.start();
    const value = queue.get(true, 30_000);
    child.join();
    return value;
  } finally {
    queue.close();
  }
}

async function runProgram(script: string, method: string): Promise<unknown[]> {
  const { stdout } = await run(process.execPath, [path.join(__dirname, 'helpers/programs', script), method], { timeout: 120_000 });
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown);
}

describe.each(['fork', 'spawn', 'forkserver'] as const)('%s', (method) => {
  it("a target capturing builtin modules imported in a test runner's file finds them by reference, not through the runner's globals", () => {
    const target = (queue: InstanceType<typeof mp.Queue>) => queue.put(util.format('%s!', path.basename('/a/b.txt')));
    expect(fromChild(method, target)).toBe('b.txt!');
  });

  it('well-known symbols travel: as values, as method keys of objects and ES5 prototypes, a module namespace', () => {
    const bag = { items: [1, 2], *[Symbol.iterator]() { yield* this.items; } };
    function Countdown(this: { from: number }, from: number) { this.from = from; }
    Countdown.prototype[Symbol.iterator] = function* (this: { from: number }) { for (let i = this.from; i > 0; i--) yield i; };
    Countdown.prototype[Symbol.toStringTag] = 'Countdown';
    const namespace = createRequire(import.meta.url)('./helpers/programs/module-state.mjs') as Record<string, unknown>;
    const names = ['iterator', 'asyncIterator', 'toStringTag', 'hasInstance', 'dispose'] as const;
    const target = (queue: InstanceType<typeof mp.Queue>, symbols: symbol[], b: typeof bag, c: Iterable<number>, ns: Record<string, unknown>) =>
      queue.put([symbols.map((s, i) => s === Symbol[names[i]!]), [...b], [...c], String(c), Object.prototype.toString.call(ns), Object.keys(ns)]);
    const symbols = names.map((name) => Symbol[name]);
    expect(fromChild(method, target, [symbols, bag, new (Countdown as unknown as new (n: number) => Iterable<number>)(3), namespace])).toEqual([
      [true, true, true, true, true],
      [1, 2],
      [3, 2, 1],
      '[object Countdown]',
      '[object Module]',
      ['recall', 'remember', 'whoAmI'],
    ]);
  });

  it('module-level functions sharing their module scope each keep their own bindings (main calls helper, not basename)', async () => {
    expect(await runProgram('scope-slots.mjs', method)).toEqual([
      { label: 'main script', fromProcess: 'helper:b.txt', fromPool: 'helper:b.txt' },
      { label: 'imported module', fromProcess: 'helper:b.txt', fromPool: 'helper:b.txt' },
    ]);
  });

  it('instances and task errors of classes that travel by reference are of those classes (child, get, errorCallback, await)', async () => {
    const [byClass] = (await runProgram('class-identity.mjs', method)) as Record<string, boolean[]>[];
    const everywhere = [true, true, true, true];
    expect(byClass).toEqual({
      'cjs Base': everywhere,
      'cjs Failure': everywhere,
      'cjs RangeFailure': everywhere,
      'esm Base': everywhere,
      'esm Failure': everywhere,
      'esm RangeFailure': everywhere,
      Empty: everywhere,
      Full: everywhere,
      SerializationError: everywhere,
    });
  });

  it("exports of an ES module run in the worker's instance of their module (synchronous dumps): threadId, initializer state", async () => {
    const [seen] = (await runProgram('esm-exports.mjs', method)) as { mainThread: number; threadOfTask: number; stateOfTask: string }[];
    expect(seen!.mainThread).toBe(0);
    expect(seen!.threadOfTask).toBeGreaterThan(0);
    expect(seen!.stateOfTask).toBe('set by the initializer');
  });

  it('a Process subclass and an instance whose classes run static blocks, static fields and computed keys using captured helpers', async () => {
    expect(await runProgram('static-init.mjs', method)).toEqual([
      { label: 'step2', step: '5ms', sameClass: true, names: ['Timer', 'Reporter'] },
      { exitcode: 0 },
    ]);
  });

  it("esbuild's `using` helpers captured by a target and a task (tsx output)", async () => {
    expect(await runProgram('esbuild-using.mjs', method)).toEqual([{ fromProcess: 'target:b.txt', fromPool: 'b.txt,disposed', exitcode: 0 }]);
  });
});
