// A child this process started itself (fork, spawn) and alone reaps: waitpid on its pid, with a
// pidfd (or a pipe the child holds) as the sentinel that the event loop and wait() can watch.
import { native } from '../native';
import { Popen } from './index';

export class ChildPopen extends Popen {
  poll(): number | null {
    if (this._code === null && !this._closed) this._code = native.reap(this.pid);
    return this._code;
  }

  wait(timeoutMs: number): number | null {
    if (this._code !== null || this._closed) return this._code;
    this._code = native.waitChild(this.pid, this.sentinel, timeoutMs);
    return this._code;
  }
}
