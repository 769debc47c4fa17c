// SharedMemoryManager under every start method: blocks and ShareableLists made by its server, used
// from children, unlinked at shutdown (also through `using`, and when the manager's owner is
// SIGKILLed), refused before start(). The package is the BUILT one (dist/), as a user loads it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

import { until } from './helpers/until';

const root = path.resolve(__dirname, '..');
const load = createRequire(import.meta.url);
const mp = load(path.join(root, 'dist/index.js')) as typeof import('../lib/index');
const shared = load(path.join(root, 'dist/shared-memory.js')) as typeof import('../lib/shared-memory');
const { SharedMemoryManager } = shared;
type Method = 'fork' | 'spawn' | 'forkserver';
type Manager = InstanceType<typeof SharedMemoryManager>;

const open: Manager[] = [];
afterEach(() => {
  for (const manager of open.splice(0)) manager.shutdown();
});

const inShm = (name: string): boolean => existsSync(`/dev/shm/${name}`);

/** Alive and not a zombie waiting for a parent that is gone. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe.each(mp.getAllStartMethods() as Method[])('SharedMemoryManager under %s', (method) => {
  const ctx = mp.getContext(method);
  const start = (): Manager => {
    const manager = new SharedMemoryManager({ ctx });
    open.push(manager);
    manager.start();
    return manager;
  };

  it('makes blocks and ShareableLists that children use, and unlinks them all at shutdown', () => {
    const manager = start();
    const shm = manager.SharedMemory(64);
    const list = manager.ShareableList([1, 'two', null, true, 5n]);
    expect([shm.size >= 64, inShm(shm.name), inShm(list.shm.name)]).toEqual([true, true, true]);
    expect(manager._listSegments().sort()).toEqual([shm.name, list.shm.name].sort());
    shm.buf[0] = 7;
    const child = new ctx.Process({
      target: (shm, list) => {
        shm.buf[1] = shm.buf[0] + 1;
        list[1] = 'dos';
        list[0] = (list[0] as number) * 10;
      },
      args: [shm, list] as const,
    });
    child.start();
    child.join();
    expect(child.exitcode).toBe(0);
    expect([shm.buf[1], [...list]]).toEqual([8, [10, 'dos', null, true, 5n]]);
    manager.shutdown();
    expect([inShm(shm.name), inShm(list.shm.name)]).toEqual([false, false]);
    // The mappings here outlive the names, as CPython's do.
    expect(shm.buf[1]).toBe(8);
    shm.close();
    list.shm.close();
  });

  it('Async twins make blocks without blocking the event loop', async () => {
    const manager = start();
    const [shm, list] = await Promise.all([manager.SharedMemoryAsync(16), manager.ShareableListAsync(['a', 2])]);
    expect([shm.size >= 16, [...list]]).toEqual([true, ['a', 2]]);
    await manager.shutdownAsync();
    expect([inShm(shm.name), inShm(list.shm.name)]).toEqual([false, false]);
    shm.close();
    list.shm.close();
  });

  it('using: the blocks are unlinked when the scope ends; a block unlinked by its user is skipped', () => {
    let names: string[];
    {
      using manager = new SharedMemoryManager({ ctx });
      manager.start();
      const kept = manager.SharedMemory(8);
      const gone = manager.SharedMemory(8);
      gone.unlink();
      names = [kept.name, gone.name];
      kept.close();
      gone.close();
    }
    expect(names.map(inShm)).toEqual([false, false]);
  });

  it('unlinks everything it made when the manager’s owner is SIGKILLed', async () => {
    const program = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const { SharedMemoryManager } = require(${JSON.stringify(path.join(root, 'dist/shared-memory.js'))});
      const manager = new SharedMemoryManager({ ctx: mp.getContext(${JSON.stringify(method)}) });
      manager.start();
      const names = [manager.SharedMemory(32).name, manager.ShareableList([1, 2]).shm.name];
      console.log(JSON.stringify({ names, server: manager._process.pid }));
      setInterval(() => {}, 1000);
    `;
    const owner = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => owner.once('exit', resolve));
    const line = await new Promise<string>((resolve) => createInterface({ input: owner.stdout }).once('line', resolve));
    const { names, server } = JSON.parse(line) as { names: string[]; server: number };
    expect(names.map(inShm)).toEqual([true, true]);
    owner.kill('SIGKILL');
    await exited;
    await until(() => !names.some(inShm), 'blocks unlinked');
    await until(() => !running(server), 'server gone');
  });

  it('refuses work before start() and after shutdown(), naming the state', async () => {
    const manager = new SharedMemoryManager({ ctx });
    expect(() => manager.SharedMemory(8)).toThrow(/SharedMemoryManager\.SharedMemory\(\): the manager is not started: call start\(\)/);
    expect(() => manager.ShareableList([1])).toThrow(/not started/);
    await expect(manager.SharedMemoryAsync(8)).rejects.toThrow(/not started/);
    manager.start();
    expect(() => manager.SharedMemory(0)).toThrow(new RangeError('SharedMemoryManager.SharedMemory(size): size must be a positive integer, got 0 (number)'));
    expect(() => manager.ShareableList([{} as never])).toThrow(TypeError);
    manager.shutdown();
    expect(() => manager.SharedMemory(8)).toThrow(/shut down/);
  });
});
