// multiprocess/dummy's Process: a worker_threads thread with Process's shape (CPython's
// DummyProcess, a threading.Thread). The target travels by the serializer, like a spawn child's.
import { inspect } from 'node:util';
import { isMainThread, threadId, Worker, workerData } from 'node:worker_threads';

import { ProcessError } from '../errors';
import { dumps, loads } from '../serializer/index';
import { awaitThreadGone, deadlineOf, remainingMs, sayThreadId, timeoutArg, type AbortOptions } from '../util';

export interface ThreadProcessOptions<A extends unknown[] = unknown[]> {
  target?: ((...args: A) => unknown) | null;
  args?: A;
  name?: string;
  daemon?: boolean;
}

const KEY = 'multiprocess.dummyProcess';
let counter = 0;
const running = new Set<Process<unknown[]>>();

interface ThreadData {
  bytes: Uint8Array;
  /** [0]: 1 once the thread's JS ended; [THREAD_ID_WORD]: its kernel thread id (see sayThreadId). */
  state: Int32Array;
}
const THREAD_ID_WORD = 1;

export class Process<A extends unknown[] = unknown[]> {
  name: string;
  daemon: boolean;
  private readonly target: ((...args: A) => unknown) | null;
  private readonly args: A;
  private worker: Worker | null = null;
  private state: Int32Array | null = null;
  private ended: Promise<void> | null = null;

  constructor(options: ThreadProcessOptions<A> = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('Process(options): options must be an object');
    if (options.target != null && typeof options.target !== 'function') throw new TypeError(`Process: target must be a function, got ${typeof options.target}`);
    this.target = options.target ?? null;
    this.args = (options.args ?? []) as A;
    this.name = options.name ?? `Thread-${++counter}`;
    this.daemon = options.daemon ?? false;
  }

  start(): void {
    if (this.worker) throw new ProcessError('cannot start a process twice');
    const data: ThreadData = { bytes: dumps([this.target, this.args], { root: 'args' }), state: new Int32Array(new SharedArrayBuffer(8)) };
    this.state = data.state;
    this.worker = new Worker(__filename, { workerData: { [KEY]: data } });
    if (this.daemon) this.worker.unref();
    running.add(this as Process<unknown[]>);
    this.ended = new Promise((resolve) =>
      this.worker!.once('exit', () => {
        Atomics.store(data.state, 0, 1);
        Atomics.notify(data.state, 0);
        running.delete(this as Process<unknown[]>);
        resolve();
      }),
    );
  }

  join(timeoutMs?: number | null): void {
    if (!this.state) throw new ProcessError('can only join a started process');
    const deadline = deadlineOf(timeoutArg(timeoutMs, 'Process.join'));
    Atomics.wait(this.state, 0, 0, remainingMs(deadline));
    this.gone(deadline);
  }

  /** Whether the thread has exited, waiting for it until `deadline` once its JS ended. */
  private gone(deadline: number | undefined): boolean {
    return this.state !== null && Atomics.load(this.state, 0) === 1 && awaitThreadGone(this.state, THREAD_ID_WORD, deadline);
  }

  async joinAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<void> {
    if (!this.ended) throw new ProcessError('can only join a started process');
    const timeout = timeoutArg(timeoutMs, 'Process.joinAsync');
    const signal = options?.signal;
    signal?.throwIfAborted();
    const waits: Promise<unknown>[] = [this.ended];
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    if (timeout >= 0) waits.push(new Promise((resolve) => (timer = setTimeout(resolve, timeout))));
    if (signal) waits.push(new Promise((_, reject) => signal.addEventListener('abort', (onAbort = () => reject(signal.reason)), { once: true })));
    try {
      await Promise.race(waits);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal!.removeEventListener('abort', onAbort);
    }
  }

  isAlive(): boolean {
    return this.state !== null && !this.gone(performance.now());
  }

  /** CPython's DummyProcess: 0 once the thread ended, else null. */
  get exitcode(): number | null {
    return this.state !== null && !this.isAlive() ? 0 : null;
  }

  get ident(): number | null {
    return this.worker?.threadId ?? null;
  }

  toString(): string {
    return `<DummyProcess(${this.name}, ${this.state === null ? 'initial' : this.isAlive() ? 'started' : 'stopped'}${this.daemon ? ' daemon' : ''})>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** The running thread, named as CPython's threading does. */
export function currentProcess(): { name: string; ident: number } {
  return { name: isMainThread ? 'MainThread' : `Thread-${threadId}`, ident: threadId };
}

export function activeChildren(): Process<unknown[]>[] {
  return [...running];
}

if (!isMainThread && (workerData as Record<string, unknown> | null)?.[KEY]) {
  const data = (workerData as Record<string, ThreadData>)[KEY]!;
  sayThreadId(data.state, THREAD_ID_WORD);
  // The thread says it is done itself: a blocking join() keeps the main thread's loop from seeing 'exit'.
  process.on('exit', () => {
    Atomics.store(data.state, 0, 1);
    Atomics.notify(data.state, 0);
  });
  const [target, args] = loads(data.bytes) as [((...args: unknown[]) => unknown) | null, unknown[]];
  void (async () => {
    try {
      await target?.(...args);
    } catch (error) {
      process.stderr.write(`Exception in thread ${threadId}:\n${error instanceof Error ? error.stack : inspect(error)}\n`);
    }
    // As CPython's thread, it ends when its target returns, whatever timers or handles it left.
    process.exit();
  })();
}
