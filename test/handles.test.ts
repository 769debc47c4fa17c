// Every handle type decodes in every receiver, whatever that process imported itself: a child of
// every start method (args and Connection messages), a program that imported only the root or only
// one subpath (by the package's name, with require and with import), a ThreadPool's worker thread
// and a dummy Process's thread. The package is the built one (dist/), as a user loads it.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const load = createRequire(import.meta.url);
const mp = load(path.join(root, 'dist/index.js')) as typeof import('../lib/index');
const { ShareableList, SharedMemory } = load(path.join(root, 'dist/shared-memory.js')) as typeof import('../lib/shared-memory');
const { Process: ThreadProcess, ThreadPool } = load(path.join(root, 'dist/dummy/index.js')) as typeof import('../lib/dummy/index');
const { dumps } = load(path.join(root, 'dist/serializer/index.js')) as typeof import('../lib/serializer/index');

type SharedMemoryT = InstanceType<typeof SharedMemory>;
type ShareableListT = InstanceType<typeof ShareableList>;

const created: SharedMemoryT[] = [];
afterEach(() => {
  for (const mem of created.splice(0)) {
    mem.close();
    mem.unlink();
  }
});
function segment(size: number): SharedMemoryT {
  const mem = new SharedMemory({ create: true, size });
  created.push(mem);
  return mem;
}
function list(items: (number | string)[]): ShareableListT {
  const made = new ShareableList(items);
  created.push(made.shm);
  return made;
}

describe.each(['fork', 'spawn', 'forkserver'] as const)('%s', (method) => {
  it('a SharedMemory and a ShareableList in args and in a Connection message reach a child that never imported shared-memory', () => {
    const inArgs = segment(4);
    const listInArgs = list([0, 'x']);
    const inMessage = segment(4);
    const listInMessage = list([0]);
    const [ours, theirs] = mp.Pipe();
    const child = new (mp.getContext(method).Process)({
      target: (mem: SharedMemoryT, items: ShareableListT, conn: typeof theirs) => {
        mem.buf[0] = 11;
        items[0] = 12;
        const [sent, sentItems] = conn.recv() as [SharedMemoryT, ShareableListT];
        sent.buf[0] = 13;
        sentItems[0] = 14;
        conn.send([sent, sentItems]); // and back: the parent decodes what the child re-encoded
      },
      args: [inArgs, listInArgs, theirs],
    });
    child.start();
    ours.send([inMessage, listInMessage]);
    expect(ours.poll(20_000)).toBe(true);
    const [back, backItems] = ours.recv() as [SharedMemoryT, ShareableListT];
    child.join(20_000);
    expect(child.exitcode).toBe(0);
    expect([inArgs.buf[0], listInArgs[0], inMessage.buf[0], listInMessage[0]]).toEqual([11, 12, 13, 14]);
    expect(back).toBeInstanceOf(SharedMemory);
    expect(backItems).toBeInstanceOf(ShareableList);
    expect(back.name).toBe(inMessage.name);
    ours.close();
    theirs.close();
  });

  // A child loads the module of a handle when its decoder meets one (serializer/registry.ts): each
  // kind must arrive and work in a child whose own start loaded none of them.
  it('a child uses every kind of handle in its args: locks, semaphores, Condition, Event, Barrier, shared ctypes, queues, Pipe ends, a Manager proxy, shared memory', () => {
    const manager = new (mp.getContext(method).Manager)();
    try {
      const handles = {
        lock: new mp.Lock(), rlock: new mp.RLock(), sem: new mp.Semaphore(0), bounded: new mp.BoundedSemaphore(1),
        cond: new mp.Condition(), event: new mp.Event(), barrier: new mp.Barrier(2),
        value: new mp.Value('i', 0), array: new mp.Array('i', 3), rawValue: new mp.RawValue('i', 0), rawArray: mp.RawArray('i', 2),
        queue: new mp.Queue(), simple: new mp.SimpleQueue(), joinable: new mp.JoinableQueue(),
        pipe: mp.Pipe(), list: manager.list([1]), mem: segment(1), items: list([0, 'x']),
      };
      type Handles = typeof handles;
      const child = new (mp.getContext(method).Process)({
        target: (h: Handles) => {
          h.barrier.wait(20_000);
          h.lock.acquire();
          h.rlock.acquire();
          h.rlock.acquire();
          h.rlock.release();
          h.rlock.release();
          h.bounded.acquire();
          h.bounded.release();
          h.array[2] = 7;
          h.rawValue.value = 8;
          h.rawArray[1] = 9;
          h.mem.buf[0] = 10;
          h.items[1] = 'y';
          h.list.append(2);
          h.lock.release();
          h.queue.put('queue');
          h.simple.put('simple');
          h.joinable.put('joinable');
          h.pipe[1].send('pipe');
          h.event.set();
          h.sem.release();
          h.cond.acquire();
          h.value.value = 1;
          h.cond.notifyAll();
          h.cond.release();
          h.joinable.join();
        },
        args: [handles],
      });
      handles.cond.acquire();
      child.start();
      handles.barrier.wait(20_000);
      while (handles.value.value !== 1) expect(handles.cond.wait(20_000)).toBe(true);
      handles.cond.release();
      expect(handles.event.wait(20_000)).toBe(true);
      expect(handles.sem.acquire(true, 20_000)).toBe(true);
      expect([handles.queue.get(true, 20_000), handles.simple.get(), handles.joinable.get(true, 20_000)]).toEqual(['queue', 'simple', 'joinable']);
      handles.joinable.taskDone();
      expect(handles.pipe[0].poll(20_000) && handles.pipe[0].recv()).toBe('pipe');
      child.join(20_000);
      expect(child.exitcode).toBe(0);
      expect(handles.lock.acquire(false)).toBe(true);
      expect([handles.array[2], handles.rawValue.value, handles.rawArray[1], handles.mem.buf[0], handles.items[1]]).toEqual([7, 8, 9, 10, 'y']);
      expect(handles.list.slice()).toEqual([1, 2]);
      for (const end of handles.pipe) end.close();
    } finally {
      manager.shutdown();
    }
  });

  it('a program that imported only the root decodes the shared memory its child sends', () => {
    const out = execFileSync(process.execPath, [path.join(__dirname, 'helpers/root-only-receiver.cjs'), method], { encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out)).toEqual(['SharedMemory', 42, 'ShareableList', 7, 'seven']);
  });

  // The child of a program that loaded the root sends them; the receiver and that child both use them.
  it.each([
    ['subpath-receiver.cjs', 'multiprocess/connection'],
    ['subpath-receiver.mjs', 'multiprocess/connection'],
    ['subpath-receiver.cjs', 'multiprocess/serializer'],
    ['subpath-receiver.mjs', 'multiprocess/serializer'],
  ])('%s importing only %s receives a SharedMemory, a Lock and a Queue and uses them', (program, specifier) => {
    const out = execFileSync(process.execPath, [path.join(__dirname, 'helpers', program), specifier, method], { encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out)).toEqual({
      received: ['SharedMemory', 'Lock', 'Queue'],
      acquired: true,
      sender: { got: 'from the receiver', seen: 42 },
      exitcode: 0,
    });
  });
});

// Entry points that cannot receive anything themselves (shared-memory, managers) must still make the
// program able to: each is loaded alone, then the serializer's own module (not its entry) decodes.
const entries = Object.keys((JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports)
  .filter((key) => key !== './package.json')
  .map((key) => path.posix.join('multiprocess', key));
describe.each(entries)('%s alone', (specifier) => {
  it.each(['require', 'import'] as const)('decodes every handle that needs no descriptor (loaded with %s)', (how) => {
    const handles = [
      segment(1), list([1]), new mp.Lock(), new mp.RLock(), new mp.Semaphore(), new mp.BoundedSemaphore(), new mp.Condition(),
      new mp.Event(), new mp.Barrier(2), new mp.Queue(), new mp.JoinableQueue(), new mp.SimpleQueue(),
      new mp.Value('i', 1), new mp.Array('i', 2), new mp.RawValue('i', 3), mp.RawArray('i', 4),
    ];
    const decoder = JSON.stringify(path.join(root, 'dist/serializer/index.js'));
    const decode = `const { loads } = process.getBuiltinModule('node:module').createRequire(${decoder})(${decoder});
      const handles = loads(Buffer.from(process.argv.at(-1), 'base64'));
      process.stdout.write(JSON.stringify(handles.map((handle) => handle.constructor.name)));`;
    const script = how === 'require' ? `require('${specifier}'); ${decode}` : `import '${specifier}'; ${decode}`;
    const args = how === 'require' ? ['-e', script] : ['--input-type=module', '-e', script];
    const out = execFileSync(process.execPath, [...args, dumps(handles).toString('base64')], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(JSON.parse(out)).toEqual(handles.map((handle) => handle.constructor.name));
  });
});

it("a ThreadPool's worker thread decodes a SharedMemory in a task's arguments", async () => {
  const mem = segment(4);
  mem.buf[0] = 21;
  const pool = new ThreadPool(1);
  try {
    expect(await pool.applyAsync((m: SharedMemoryT) => m.buf[0]! * 2, [mem])).toBe(42);
  } finally {
    pool.terminate();
    await pool.joinAsync();
  }
});

it("a dummy Process's thread decodes a SharedMemory and a ShareableList in its args", async () => {
  const mem = segment(4);
  const items = list([0]);
  const thread = new ThreadProcess({
    target: (m: SharedMemoryT, l: ShareableListT) => {
      m.buf[0] = 31;
      l[0] = 32;
    },
    args: [mem, items],
  });
  thread.start();
  await thread.joinAsync();
  expect([mem.buf[0], items[0]]).toEqual([31, 32]);
});
