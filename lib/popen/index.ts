// The start-method strategies behind one small interface (CPython's Popen classes): a Process
// holds one Popen per started child and asks it about the child's life.
import { native } from '../native';
import type { AbortOptions } from '../util';

/**
 * What a Process needs from a start method once the child runs: a child known by its pid, whose
 * end its sentinel shows. Start methods differ only in how they learn the exit code (poll, wait).
 */
export abstract class Popen {
  protected _code: number | null = null;
  protected _closed = false;
  private _sentinelWatch: InstanceType<typeof native.SentinelWatch> | undefined;
  private readonly _endListeners = new Set<() => void>();

  constructor(
    readonly pid: number,
    /** An fd that becomes readable when the child ends (a pidfd, a pipe only the child holds, a status socket). */
    readonly sentinel: number,
  ) {}

  /** The exit code if the child ended (reaping it), else null. */
  abstract poll(): number | null;

  /** Blocks up to timeoutMs (< 0: forever); the exit code, or null on timeout. */
  abstract wait(timeoutMs: number): number | null;

  /** Resolves when the child ended or the time is up; never parks a thread: the event loop watches the sentinel. */
  waitAsync(timeoutMs: number, options?: AbortOptions): Promise<number | null> {
    const now = this.poll();
    if (now !== null || timeoutMs === 0) return Promise.resolve(now);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (settle: () => void): void => {
        this._endListeners.delete(onEnd);
        if (this._endListeners.size === 0) this._stopWatching();
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const onAbort = (): void => finish(() => reject(signal?.reason));
      const onEnd = (): void => finish(() => resolve(this.wait(-1)));
      this._endListeners.add(onEnd);
      // One watch per sentinel, shared by every waiter: libuv refuses a second poll of one fd (EEXIST).
      this._sentinelWatch ??= new native.SentinelWatch(this.sentinel, () => {
        this._stopWatching();
        for (const listener of [...this._endListeners]) listener();
      });
      if (timeoutMs > 0) timer = setTimeout(() => finish(() => resolve(this.poll())), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private _stopWatching(): void {
    this._sentinelWatch?.close();
    this._sentinelWatch = undefined;
  }

  sendSignal(signal: NodeJS.Signals): void {
    if (this.poll() !== null) return;
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** Only once the child ended: a waitAsync() still pending resolves now, before its watched fd closes. */
  close(): void {
    if (this._closed) return;
    for (const listener of [...this._endListeners]) listener();
    this._stopWatching();
    this._closed = true;
    native.closeFd(this.sentinel);
  }
}

/** The object a start method launches: the Process, seen from the strategy. */
export interface Launchable {
  /** Runs in a fork child, inside start(): sync only; returns the exit code. */
  _bootstrap(): number;
  /** Runs in a spawn or forkserver child, from its event loop; the loop's end decides the exit. */
  _bootstrapAsync(): Promise<void>;
  /** Set on a pool worker: a forkserver rehearses the pool's task path before it forks one. */
  readonly _poolWorker?: true;
}

export type StartMethod = 'fork' | 'spawn' | 'forkserver';

export interface PopenClass {
  readonly method: StartMethod;
  start(process: Launchable): Popen;
}
