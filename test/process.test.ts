// Process under every start method: real children, exit codes, signals, joins, names, handles,
// async targets (spawn, forkserver), subclasses and closures that travel by value. The package is
// the BUILT one (dist/), as a user loads it: what a target captures from it goes by reference.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const mp = createRequire(import.meta.url)(path.join(root, 'dist/index.js')) as typeof import('../lib/index');
const { activeChildren, currentProcess, getContext, getAllStartMethods, Array: SharedArray, Barrier, Event, Lock, ProcessError, Semaphore, Value } = mp;

const { wait } = createRequire(import.meta.url)(path.join(root, 'dist/connection.js')) as typeof import('../lib/connection');

type Method = 'fork' | 'spawn' | 'forkserver';

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe.each<Method>(['fork', 'spawn', 'forkserver'])('%s', (method) => {
  const { Process } = getContext(method);
  const byValue = method !== 'fork';

  function run(target: (...args: never[]) => unknown, args: unknown[] = []): number | null {
    const p = new Process({ target: target as (...args: unknown[]) => unknown, args });
    p.start();
    p.join(20_000);
    return p.exitcode;
  }

  it('exit codes: 0, 1 on a throw, process.exit(n)', () => {
    expect(run(() => undefined)).toBe(0);
    expect(run(() => { throw new Error('boom (expected on stderr)'); })).toBe(1);
    const exited = new Process({ target: () => process.exit(7) });
    exited.start();
    exited.join();
    expect(exited.exitcode).toBe(7);
    expect(String(exited)).toMatch(/^<Process name='Process-\d+' pid=\d+ parent=\d+ stopped exitcode=7>$/);
  });

  it('terminate, kill, join timeouts and joinAsync', async () => {
    const p = new Process({ target: busy, args: [10_000] });
    p.start();
    p.join(50);
    expect(p.exitcode).toBeNull();
    expect(p.isAlive()).toBe(true);
    expect(wait([p.sentinel], 0)).toEqual([]);
    p.terminate();
    expect(wait([p.sentinel], 20_000)).toEqual([p.sentinel]);
    p.join();
    expect(p.exitcode).toBe(-15);
    expect(String(p)).toMatch(/stopped exitcode=-SIGTERM>$/);
    const q = new Process({ target: busy, args: [10_000] });
    q.start();
    await q.joinAsync(20);
    expect(q.exitcode).toBeNull();
    q.kill();
    await q.joinAsync();
    expect(q.exitcode).toBe(-9);
    expect(activeChildren()).not.toContain(q);
  });

  // The soak found this: a supervisor awaiting a child while the code that killed it awaited it too.
  it('several joinAsync of one process wait together, each with its own timeout and signal', async () => {
    const p = new Process({ target: busy, args: [10_000] });
    p.start();
    const aborts = new AbortController();
    const waiting = [p.joinAsync(), p.joinAsync(), p.joinAsync(undefined, { signal: aborts.signal }), p.joinAsync(30)];
    await waiting[3];
    expect(p.exitcode).toBeNull();
    aborts.abort(new Error('no longer wanted'));
    await expect(waiting[2]).rejects.toThrow('no longer wanted');
    const another = p.joinAsync();
    p.kill();
    await Promise.all([waiting[0], waiting[1], another]);
    expect(p.exitcode).toBe(-9);
  });

  it('names, current and parent process, a subclass with run(), nested children', () => {
    const seen = new Event();
    const parentPid = process.pid;
    class Mine extends Process {
      extra = 'field';
      override run(): void {
        const me = mp.currentProcess();
        if (me.name !== this.name || this.extra !== 'field') process.exit(3);
        if (mp.parentProcess()?.pid !== parentPid || mp.parentProcess()?.name !== 'MainProcess') process.exit(4);
        const inner = new (mp.getContext('fork').Process)({ target: () => process.exit(/^Process-\d+:1$/.test(mp.currentProcess().name) ? 0 : 5) });
        inner.start();
        inner.join();
        seen.set();
        process.exit(inner.exitcode ?? 6);
      }
    }
    const p = new Mine();
    expect(p.name).toMatch(/^Mine-\d+$/);
    p.start();
    p.join(20_000);
    expect(p.exitcode).toBe(0);
    expect(seen.isSet()).toBe(true);
    expect(currentProcess().name).toBe('MainProcess');
  });

  it('daemons may not have children', () => {
    const p = new Process({
      daemon: true,
      target: () => {
        try {
          new (mp.getContext('fork').Process)({ target() {} }).start();
        } catch (error) {
          process.exit(error instanceof mp.ProcessError ? 0 : 2);
        }
        process.exit(3);
      },
    });
    expect(p.daemon).toBe(true);
    p.start();
    p.join(20_000);
    expect(p.exitcode).toBe(0);
    expect(() => (p.daemon = false)).toThrow(ProcessError);
  });

  it('handles in args: Lock, Value, Array, Event, Barrier, Semaphore; a closure over locals', () => {
    const lock = new Lock();
    const value = new Value('i', 0);
    // A synchronized Array is a Proxy, which the serializer refuses before it consults the reducer
    // registry (a gap between lib/serializer and lib/sharedctypes): by value, the raw one travels.
    const array = byValue ? new SharedArray('d', 3, { lock: false }) : new SharedArray('d', 3);
    const event = new Event();
    const barrier = new Barrier(2);
    const sem = new Semaphore(0);
    const factor = 3;
    const p = new Process({
      target: (l: typeof lock, v: typeof value, a: typeof array, e: typeof event, b: typeof barrier, s: typeof sem) => {
        b.wait(10_000);
        l.acquire();
        v.value += 10 * factor;
        l.release();
        a[1] = factor + 0.5;
        s.release();
        e.wait(10_000);
      },
      args: [lock, value, array, event, barrier, sem],
    });
    p.start();
    barrier.wait(20_000);
    expect(sem.acquire(true, 20_000)).toBe(true);
    expect(value.value).toBe(30);
    expect(array[1]).toBe(3.5);
    expect(p.isAlive()).toBe(true);
    event.set();
    p.join(20_000);
    expect(p.exitcode).toBe(0);
  });

  it.runIf(byValue)('async targets: awaited, a rejection exits 1, the child waits for its event loop', async () => {
    const value = new Value('i', 0);
    const p = new Process({
      target: async (v: typeof value) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        v.value = 1;
        setTimeout(() => (v.value = 2), 50); // runs after the target returned: the loop is not empty yet
      },
      args: [value],
    });
    p.start();
    await p.joinAsync(20_000);
    expect(p.exitcode).toBe(0);
    expect(value.value).toBe(2);
    const rejected = new Process({ target: async () => Promise.reject(new Error('later')) });
    rejected.start();
    await rejected.joinAsync(20_000);
    expect(rejected.exitcode).toBe(1);
  });

  it.runIf(byValue)('ends like a Node script: exitCode, beforeExit work, a late uncaught exception', () => {
    const value = new Value('i', 0);
    expect(
      run(
        (v: typeof value) => {
          process.exitCode = 3;
          process.once('beforeExit', () => setTimeout(() => (v.value = 1), 10));
        },
        [value],
      ),
    ).toBe(3);
    expect(value.value).toBe(1);
    expect(run(() => void setTimeout(() => { throw new Error('late (expected on stderr)'); }, 10))).toBe(1);
  });

  it.runIf(byValue)('what cannot travel is refused at start(), with its path in args', () => {
    const p = new Process({ target: () => undefined, args: [1, { sock: new net.Socket() }] });
    expect(() => p.start()).toThrow(expect.objectContaining({ name: 'SerializationError', path: 'args[1].sock' }));
    expect(p.pid).toBeNull();
  });

  it.runIf(method !== 'spawn')('a GC-heavy child completes', () => {
    expect(
      run(() => {
        let keep: unknown[] = [];
        for (let i = 0; i < 2_000_000; i++) {
          keep.push({ i, s: `x${i}` });
          if (keep.length > 400_000) keep = [];
        }
      }),
    ).toBe(0);
  });

  it.runIf(!byValue)('an async target is refused in a fork child before it starts, with the alternative named', () => {
    const started = new Value('i', 0);
    expect(run(async (v: { value: number }) => { v.value += 1; await null; }, [started])).toBe(1);
    expect(run((v: { value: number }) => { v.value += 10; return Promise.resolve(); }, [started])).toBe(1);
    class AsyncRun extends Process {
      override async run(): Promise<void> {
        started.value += 100;
      }
    }
    const subclassed = new AsyncRun();
    subclassed.start();
    subclassed.join(20_000);
    expect(subclassed.exitcode).toBe(1);
    // An async function never began; a function that returned a Promise had run (it could not be known before).
    expect(started.value).toBe(10);
  });
});

describe('start methods', () => {
  it('fork waits for a thread on its way out (a Worker terminated, its end not awaited) instead of refusing', () => {
    const script = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const { Worker } = require('node:worker_threads');
      const forks = [];
      const once = () => {
        const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
        worker.on('online', () => {
          void worker.terminate(); // its thread ends in the background
          try {
            const p = new (mp.getContext('fork').Process)({ target: () => {} });
            p.start();
            p.join();
            forks.push(p.exitcode);
          } catch (error) {
            forks.push(error.code);
          }
          if (forks.length < 5) once();
          else console.log(JSON.stringify(forks));
        });
      };
      once();`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual([0, 0, 0, 0, 0]);
  });

  it("a context's Process class travels by reference, so a program's first pool worker is encoded without loading the parser", () => {
    // A fresh program: this test process loaded the parser long ago.
    const script = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const { encodeProcess } = require(${JSON.stringify(path.join(root, 'dist/popen/payload.js'))});
      const { poolWorkerMain } = require(${JSON.stringify(path.join(root, 'dist/pool/worker.js'))});
      const worker = new (mp.getContext('spawn').Process)({ target: poolWorkerMain, args: ['address', 'token', false, false], daemon: true });
      const bytes = encodeProcess(worker, []).toString('latin1');
      const parserLoaded = Object.keys(require.cache).some((file) => file.includes('acorn'));
      console.log(JSON.stringify({ byReference: bytes.includes('__multiprocess') && !bytes.includes('class Process'), parserLoaded }));`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual({ byReference: true, parserLoaded: false });
  });

  it("spawn starts Node before it encodes the process object (a program's first encode loads the serializer meanwhile)", () => {
    const order = createRequire(import.meta.url)('./helpers/spawn-order.cjs') as { Probe: new () => object; childrenAtEncode: number[][]; target: (probe: object) => void };
    const p = new (getContext('spawn').Process)({ target: order.target, args: [new order.Probe()] });
    p.start();
    p.join();
    expect(order.childrenAtEncode).toEqual([expect.arrayContaining([p.pid])]);
    expect(p.exitcode).toBe(0);
  });

  it('fork refuses an async target saying why and what to use, on stderr', () => {
    const script = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const { Process } = mp.getContext('fork');
      for (const target of [async function fetchAll() {}, function later() { return Promise.resolve(); }]) {
        const p = new Process({ target });
        p.start(); p.join();
        console.log(p.exitcode);
      }`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(out.stdout.trim().split('\n')).toEqual(['1', '1']);
    for (const name of ['fetchAll', 'later'])
      expect(out.stderr).toMatch(
        new RegExp(`Process Process-\\d+:\\nProcessError: the async target ${name} cannot run in a fork child: .* start this process with the 'spawn' or 'forkserver' start method .*getContext\\('forkserver'\\)`),
      );
  });

  it('forkserver is the default on Linux, and the root Process follows it', () => {
    expect(getAllStartMethods()).toEqual(['forkserver', 'spawn', 'fork']);
    expect(mp.getStartMethod()).toBe('forkserver');
    const p = new mp.Process({ target: async (n: number) => process.exit(n), args: [5] });
    p.start();
    p.join(20_000);
    expect(p.exitcode).toBe(5);
  });

  it('spawn runs the executable given to setExecutable', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-exe-'));
    const marker = path.join(dir, 'used');
    const wrapper = path.join(dir, 'node-wrapper');
    fs.writeFileSync(wrapper, `#!/bin/sh\necho "$@" > '${marker}'\nexec '${process.execPath}' "$@"\n`, { mode: 0o755 });
    try {
      mp.setExecutable(wrapper);
      const p = new (getContext('spawn').Process)({ target: () => process.exit(4) });
      p.start();
      p.join(20_000);
      expect(p.exitcode).toBe(4);
      expect(fs.readFileSync(marker, 'utf8')).toMatch(/bootstrap\.js/);
    } finally {
      mp.setExecutable(process.execPath);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // One script run per assertion about a parent's exit, stderr and /dev/shm: a fresh parent.
  it('stderr has the stack; daemons are terminated and others joined at exit; nothing left in /dev/shm', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-exit-'));
    const script = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const fs = require('fs');
      const lock = new mp.Lock(), value = new mp.Value('i', 0);
      for (const method of ['fork', 'spawn', 'forkserver']) {
        const { Process } = mp.getContext(method);
        const p = new Process({ target: (v) => { v.value += 1; throw new Error('boom-' + method); }, args: [value] });
        p.start(); p.join();
        const daemon = new Process({ daemon: true, target: () => { for (;;); } });
        daemon.start();
        console.log('daemon', daemon.pid);
        new Process({ target: (l) => { const end = Date.now() + 300; while (Date.now() < end); l.acquire(); fs.writeFileSync(${JSON.stringify(dir)} + '/' + method, 'joined'); }, args: [lock] }).start();
      }
      console.log('value', value.value);`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    try {
      for (const method of ['fork', 'spawn', 'forkserver'])
        expect(out.stderr).toMatch(new RegExp(`Process Process-\\d+:\\nError: boom-${method}\\n\\s+at `));
      expect(out.stdout).toMatch(/value 3/);
      expect(fs.readdirSync(dir).sort()).toEqual(['fork', 'forkserver', 'spawn']);
      for (const [, pid] of out.stdout.matchAll(/daemon (\d+)/g)) expect(() => process.kill(Number(pid), 0)).toThrow();
      expect(fs.readdirSync('/dev/shm').filter((entry) => entry.startsWith(`mpjs-${out.pid}-`))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('after SIGKILL of a whole process tree that used Values, Arrays and Locks, /dev/shm holds nothing of it', async () => {
    const script = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const lock = new mp.Lock(), value = new mp.Value('i', 0), array = new mp.Array('d', 4);
      const ready = new mp.Semaphore(0), never = new mp.Semaphore(0);
      for (const method of ['fork', 'spawn', 'forkserver']) {
        const { Process } = mp.getContext(method);
        const target = (l, v, a, r, n) => { l.acquire(); v.value += 1; a[0] += 1; l.release(); r.release(); n.acquire(); };
        new Process({ target, args: [lock, value, array, ready, never] }).start();
      }
      // Not ready in time: end the whole group at once (an exit would join the blocked children).
      for (let i = 0; i < 3; i++) if (!ready.acquire(true, 40000)) { console.log('not ready'); process.kill(0, 'SIGKILL'); }
      console.log('ready', value.value);
      never.acquire();`;
    // Its own process group: one kill reaches the parent, its children and the forkserver.
    const parent = spawn(process.execPath, ['-e', script], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    const ours = (): string[] => fs.readdirSync('/dev/shm').filter((entry) => entry.startsWith(`mpjs-${parent.pid}-`));
    const watcher = fs.watch('/dev/shm');
    try {
      const line = await new Promise<string>((resolve, reject) => {
        parent.stdout.setEncoding('utf8').on('data', (text: string) => resolve(text));
        parent.on('exit', (code) => reject(new Error(`the parent exited (${code}) before it was ready`)));
      });
      expect(line).toMatch(/^ready 3/);
      expect(ours().length).toBeGreaterThanOrEqual(5);
      process.kill(-parent.pid!, 'SIGKILL');
      // The trackers unlink once every process of the tree is gone: wait for /dev/shm to change.
      await new Promise<void>((resolve) => {
        const check = (): void => void (ours().length === 0 && resolve());
        watcher.on('change', check);
        check();
      });
      expect(ours()).toEqual([]);
    } finally {
      watcher.close();
      try {
        process.kill(-parent.pid!, 'SIGKILL'); // the group may outlive its leader
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
  }, 60_000);

  it('fork is refused inside a worker_threads Worker', () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker("const mp = require('${path.join(root, 'dist/index.js')}'); try { new (mp.getContext('fork').Process)({ target() {} }).start(); console.log('forked'); } catch (e) { console.log('refused:', e.message); }", { eval: true });
      w.on('exit', () => {});`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.stdout).toMatch(/refused: fork is not possible from a worker_threads Worker/);
  });

  it('a Worker that loaded the per-ABI addon and ended leaves it mapped', () => {
    // Node unloads an addon with the environment that loaded it, but the addon's fork handler and
    // its tasks on V8's threads may still run its code: a fork refused in a Worker crashed the
    // process now and then (SIGSEGV in a V8 thread) once the Worker ended.
    const script = `
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      const w = new Worker("require('${path.join(root, 'dist/park.js')}').loadPark()", { eval: true });
      w.on('exit', () => console.log(fs.readFileSync('/proc/self/maps', 'utf8').includes('multiprocess_park') ? 'mapped' : 'unmapped'));`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.stdout.trim()).toBe('mapped');
  });
});

describe("a fresh forkserver's first child", () => {
  it("uses libuv's thread pool (async fs, dns.lookup) like any later one: the first used to abort in uv__fs_done", () => {
    const program = path.join(__dirname, 'helpers/programs/forkserver-first-child.cjs');
    const result = spawnSync(process.execPath, [program], { encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).not.toMatch(/Assertion/);
    expect(JSON.parse(result.stdout)).toEqual([0, 0, 0]);
  });
});

describe("a program's first forkserver start", () => {
  it('whose process object cannot travel fails with SerializationError; the server it started serves the next start', () => {
    const script = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const { Process } = mp.getContext('forkserver');
      let refused = '';
      try {
        new Process({ target: (s) => s, args: [Symbol('local')] }).start();
      } catch (error) {
        refused = error.name;
      }
      const q = new mp.Queue();
      const child = new Process({ target: (queue) => queue.put(process.pid), args: [q] });
      child.start();
      const pid = q.get(30000);
      child.join();
      process.stdout.write(JSON.stringify([refused, pid === child.pid, child.exitcode]));
    `;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual(['SerializationError', true, 0]);
  });

  it("forks its first child while serving the request: that child keeps no inherited copy of the request's descriptors", () => {
    // The child closes the Pipe end it was given and lives on: EOF reaches the other end only if
    // the copy it inherited from the server (forked with the request read) was closed too.
    const script = `
      const mp = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const [ours, theirs] = mp.Pipe();
      const done = new mp.Event();
      const child = new (mp.getContext('forkserver').Process)({ target: (conn, ev) => { conn.close(); ev.wait(); }, args: [theirs, done] });
      child.start();
      theirs.close();
      const eof = ours.poll(30000);
      let error = 'no EOF within 30 s';
      if (eof) try { ours.recv(); } catch (e) { error = e.name; }
      done.set();
      child.join();
      process.stdout.write(JSON.stringify([eof, error, child.exitcode]));
    `;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual([true, 'EOFError', 0]);
  });
});

describe('fork beside async lock waits', () => {
  it('counts the lock watcher thread as known, and the child still uses the lock', async () => {
    const { Process } = getContext('fork');
    const lock = new Lock();
    lock.acquire();
    const waiting = lock.acquireAsync(50); // contended: starts this lock's watcher thread
    expect(await waiting).toBe(false);
    lock.release();
    const child = new Process({ target: () => process.exit(lock.acquire(true, 5000) ? 0 : 9) });
    child.start();
    child.join();
    expect(child.exitcode).toBe(0);
    // The child exited holding it: the parent takes it over, as from any dead holder.
    const silence = (): void => undefined;
    process.on('warning', silence);
    try {
      expect(lock.acquire(false)).toBe(true);
      expect(lock.ownerDied).toBe(true);
    } finally {
      process.off('warning', silence);
    }
  });
});

describe('fork after the heap grew', () => {
  it('the child reads every page V8 mapped since the previous fork (the quick MADV_DOFORK pass)', () => {
    const { Process } = getContext('fork');
    const first = new Process({ target: () => undefined });
    first.start(); // a first fork: the full pass over /proc/self/maps
    first.join();
    // New regular heap pages and large-object pages, each mapped by V8 with MADV_DONTFORK.
    const grown = Array.from({ length: 400 }, (_, i) => Array.from({ length: 2000 }, (_, j) => ({ i, j })));
    const large = new Array<number>(200_000).fill(3);
    const sum = (): number => grown.reduce((total, row) => total + row.reduce((s, o) => s + o.i + o.j, 0), 0) + large.reduce((s, x) => s + x, 0);
    const expected = sum();
    const child = new Process({ target: () => process.exit(sum() === expected ? 0 : 3) });
    child.start();
    child.join(20_000);
    expect(child.exitcode).toBe(0);
  });
});

describe('fork from a forkserver child (V8 --single-threaded: the server forks without parking)', () => {
  it('starts GC-heavy fork children of its own, each of which exits 0', () => {
    const q = new mp.Queue<number[]>();
    const child = new (getContext('forkserver').Process)({
      target: (out: typeof q) => {
        const codes: number[] = [];
        for (let i = 0; i < 3; i++) {
          const grandchild = new (mp.getContext('fork').Process)({
            target: () => {
              let keep: number[][] = [];
              for (let round = 0; round < 200; round++) keep = [Array.from({ length: 5_000 }, (_, j) => j + round), ...keep.slice(0, 3)];
              process.exit(keep.length === 4 ? 0 : 7);
            },
          });
          grandchild.start();
          grandchild.join(30_000);
          codes.push(grandchild.exitcode ?? -1);
        }
        out.put(codes);
      },
      args: [q],
    });
    child.start();
    expect(q.get(true, 60_000)).toEqual([0, 0, 0]);
    child.join(20_000);
    expect(child.exitcode).toBe(0);
  });
});

describe("a fork child's hot code", () => {
  it('is optimized by TurboFan, on worker threads of the child (no flag needed, on every Node major)', () => {
    const q = new mp.Queue<[number, number]>();
    const child = new (getContext('fork').Process)({
      target: (out: typeof q) => {
        // The test's own window on V8: natives syntax for code compiled from here on.
        v8.setFlagsFromString('--allow-natives-syntax');
        const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: Function) => number;
        const hot = (n: number): number => {
          let s = 0;
          for (let i = 0; i < n; i++) s += i % 7;
          return s;
        };
        const TURBOFANNED = 1 << 6;
        let calls = 0;
        // Bounded by calls, not time: without worker threads TurboFan's jobs never run, at any count.
        // Generous (~2 s unoptimized): on 2 loaded cores the compile thread may wait its turn.
        while (calls < 200_000 && (status(hot) & TURBOFANNED) === 0) {
          hot(2000);
          calls++;
        }
        out.put([status(hot) & TURBOFANNED, calls]);
      },
      args: [q],
    });
    child.start();
    const [turbofanned, calls] = q.get(true, 60_000);
    child.join(20_000);
    expect(child.exitcode).toBe(0);
    expect({ turbofanned: turbofanned !== 0, calls: calls < 200_000 }).toEqual({ turbofanned: true, calls: true });
  });
});
