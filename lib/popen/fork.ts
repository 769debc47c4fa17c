// The fork start method: a real fork(2) of this process; the child runs the Process in the same heap,
// nothing serialized. Parks the V8 platform threads around the fork when the park addon loads.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { thisProcess, type AbortOptions } from '../util';
import { native } from '../native';
import type { Launchable, Popen } from './index';

// Native pieces of native/fork.cc (typed here until lib/native.ts takes them over).
interface ForkBinding {
  forkProcess(expectedThreads: number): { pid: number; sentinel?: number };
  threadCount(): number;
  getpid(): number;
  exitNow(code: number): never;
  reap(pid: number): number | null;
  waitChild(pid: number, sentinel: number, timeoutMs: number): number | null;
  closeFd(fd: number): void;
  SentinelWatch: new (fd: number, onReady: () => void) => { close(): void };
}

interface ParkBinding {
  workerThreads(): number;
  park(timeoutMs: number): boolean;
  release(): void;
  forgetInChild(): void;
}

export const forkBinding = native as unknown as ForkBinding;

let parkBinding: ParkBinding | null | undefined;
let warned = false;

// Optional: built per Node ABI from native/park; fork works without it, less safely.
function loadPark(): ParkBinding | null {
  if (parkBinding !== undefined) return parkBinding;
  parkBinding = null;
  for (const dir of ['build/Release', 'build/Debug']) {
    const file = path.join(__dirname, '..', '..', dir, 'multiprocess_park.so');
    if (!fs.existsSync(file)) continue;
    try {
      const module = { exports: {} as ParkBinding };
      process.dlopen(module, file);
      parkBinding = module.exports;
      break;
    } catch {
      // wrong ABI or a failed build: fall through to the warning
    }
  }
  return parkBinding;
}

function warnUnparked(): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    'multiprocess: the platform-parking addon is not available for this Node version, so fork children ' +
      'that allocate heavily (major GCs) may hang; prefer the spawn or forkserver start method',
    { code: 'MPJS_FORK_UNPARKED' },
  );
}

// Set in a fork child: its V8 platform threads and the inspector's signal thread do not exist there.
let inForkChild = false;

/** V8 platform threads (workers plus the delayed-task scheduler) Node starts with. */
function platformThreads(park: ParkBinding | null): number {
  if (park) return park.workerThreads() + 1;
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const sized = flags.map((flag) => /^--v8-pool-size=(\d+)$/.exec(flag)).find(Boolean);
  const size = sized ? Number(sized[1]) : 4;
  return (size > 0 ? size : 4) + 1;
}

function expectedThreads(park: ParkBinding | null): number {
  if (inForkChild) return 1;
  return 1 + platformThreads(park) + (process.features.inspector ? 1 : 0);
}

/** Flushes what this process wrote to stdout/stderr (sync on Linux for files, pipes, TTYs). */
function flushStdio(): void {
  for (const fd of [1, 2]) {
    try {
      fs.fsyncSync(fd);
    } catch {
      // pipes and TTYs cannot be fsync'ed and need not be: their writes were synchronous
    }
  }
}

/** Ends a fork child at once: no exit handlers, no joins of platform threads it does not have. */
export function exitChild(code: number): never {
  flushStdio();
  return forkBinding.exitNow(code);
}

class ForkPopen implements Popen {
  private _code: number | null = null;
  private _closed = false;

  constructor(
    readonly pid: number,
    readonly sentinel: number,
  ) {}

  poll(): number | null {
    if (this._code === null && !this._closed) this._code = forkBinding.reap(this.pid);
    return this._code;
  }

  wait(timeoutMs: number): number | null {
    if (this._code !== null || this._closed) return this._code;
    this._code = forkBinding.waitChild(this.pid, this.sentinel, timeoutMs);
    return this._code;
  }

  waitAsync(timeoutMs: number, options?: AbortOptions): Promise<number | null> {
    if (this.poll() !== null || timeoutMs === 0) return Promise.resolve(this._code);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (settle: () => void): void => {
        watch.close();
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const onAbort = (): void => finish(() => reject(signal?.reason));
      const watch = new forkBinding.SentinelWatch(this.sentinel, () => finish(() => resolve(this.wait(-1))));
      if (timeoutMs > 0) timer = setTimeout(() => finish(() => resolve(this.poll())), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  sendSignal(signal: NodeJS.Signals): void {
    if (this.poll() !== null) return;
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    forkBinding.closeFd(this.sentinel);
  }
}

export const ForkPopenClass = {
  method: 'fork' as const,
  start(launchable: Launchable): Popen {
    const park = loadPark();
    if (!park) warnUnparked();
    const expected = expectedThreads(park);
    // Parking needs platform threads, which a fork child does not have.
    const parked = park && !inForkChild ? park.park(1000) : false;
    let forked: { pid: number; sentinel?: number } | undefined;
    try {
      forked = forkBinding.forkProcess(expected);
    } finally {
      if (parked && forked?.pid !== 0) park!.release();
    }
    if (forked.pid === 0) {
      inForkChild = true;
      park?.forgetInChild();
      thisProcess.pid = forkBinding.getpid();
      Object.defineProperty(process, 'pid', { value: thisProcess.pid, writable: false, enumerable: true, configurable: true });
      exitChild(launchable._bootstrap());
    }
    return new ForkPopen(forked.pid, forked.sentinel ?? -1);
  },
};
