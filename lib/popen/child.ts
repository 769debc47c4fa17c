// A child this process started itself (fork, spawn) and alone reaps: waitpid on its pid, with a
// pidfd (or a pipe the child holds) as the sentinel that the event loop and wait() can watch.
import { native } from '../native';
import type { AbortOptions } from '../util';
import { waitSentinelAsync, type Popen } from './index';

export class ChildPopen implements Popen {
  private _code: number | null = null;
  private _closed = false;

  constructor(
    readonly pid: number,
    readonly sentinel: number,
  ) {}

  poll(): number | null {
    if (this._code === null && !this._closed) this._code = native.reap(this.pid);
    return this._code;
  }

  wait(timeoutMs: number): number | null {
    if (this._code !== null || this._closed) return this._code;
    this._code = native.waitChild(this.pid, this.sentinel, timeoutMs);
    return this._code;
  }

  waitAsync(timeoutMs: number, options?: AbortOptions): Promise<number | null> {
    return waitSentinelAsync(this, timeoutMs, options);
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
    native.closeFd(this.sentinel);
  }
}
