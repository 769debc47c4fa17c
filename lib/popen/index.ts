// The start-method strategies behind one small interface (CPython's Popen classes): a Process
// holds one Popen per started child and asks it about the child's life.
import type { AbortOptions } from '../util';

/** What a Process needs from a start method once the child runs. */
export interface Popen {
  readonly pid: number;
  /** An fd that becomes readable when the child ends (a pidfd, or a pipe only the child holds). */
  readonly sentinel: number;
  /** The exit code if the child ended (reaping it), else null. */
  poll(): number | null;
  /** Blocks up to timeoutMs (< 0: forever); the exit code, or null on timeout. */
  wait(timeoutMs: number): number | null;
  /** Resolves when the child ended or the time is up; never parks a thread. */
  waitAsync(timeoutMs: number, options?: AbortOptions): Promise<number | null>;
  sendSignal(signal: NodeJS.Signals): void;
  close(): void;
}

/** The object a start method launches: the Process, seen from the strategy. */
export interface Launchable {
  /** Runs in the child; returns its exit code. */
  _bootstrap(): number;
}

export type StartMethod = 'fork' | 'spawn' | 'forkserver';

export interface PopenClass {
  readonly method: StartMethod;
  start(process: Launchable): Popen;
}
