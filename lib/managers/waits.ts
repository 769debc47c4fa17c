// Waiting inside the manager server: a request that cannot be answered yet (Lock.acquire, Queue.get,
// Event.wait …) parks as a Deferred and is answered when it settles, so one waiting client never
// stalls the others. The server's poll loop runs the timers below (it has no event loop to lean on:
// a fork child's server runs synchronously).

type Settle = (ok: boolean, value: unknown) => void;

/** The answer to a request, later. The server sets onSettle; the referent settles it. */
export class Deferred {
  private _settled = false;
  onSettle: Settle | undefined;
  /** Undoes the wait (takes it off the referent's wait list); set by whoever parked it. */
  onCancel: (() => void) | undefined;
  /** Stops the timeout of a timed wait. */
  clearTimer: (() => void) | undefined;

  get settled(): boolean {
    return this._settled;
  }

  resolve(value: unknown): void {
    this._finish(true, value);
  }

  reject(error: unknown): void {
    this._finish(false, error);
  }

  /** The client gave up (AbortSignal): leave the wait list, then fail with `reason`. */
  cancel(reason: unknown): void {
    if (this._settled) return;
    const undo = this.onCancel;
    this.onCancel = undefined;
    if (undo) undo();
    this.reject(reason);
  }

  private _finish(ok: boolean, value: unknown): void {
    if (this._settled) return;
    this._settled = true;
    this.onCancel = undefined;
    this.clearTimer?.();
    this.onSettle?.(ok, value);
  }
}

interface Timer {
  at: number;
  run: () => void;
}

const timers = new Set<Timer>();

/** Runs `run` after `ms` (driven by the server loop); returns the cancel function. */
export function addTimer(ms: number, run: () => void): () => void {
  const timer = { at: performance.now() + ms, run };
  timers.add(timer);
  return () => timers.delete(timer);
}

/** ms until the next timer is due: -1 when none. */
export function nextTimerMs(): number {
  let at = Infinity;
  for (const timer of timers) at = Math.min(at, timer.at);
  return at === Infinity ? -1 : Math.max(0, Math.ceil(at - performance.now()));
}

export function runDueTimers(): void {
  const now = performance.now();
  for (const timer of [...timers])
    if (timer.at <= now && timers.delete(timer)) timer.run();
}

/**
 * A wait of at most timeoutMs (undefined/null: forever). `enlist` puts the Deferred on the
 * referent's wait list and returns how to take it off; `onTimeout` settles it when time is up
 * (it is off the list by then).
 */
export function park(timeoutMs: number | null | undefined, enlist: (deferred: Deferred) => () => void, onTimeout: (deferred: Deferred) => void): Deferred {
  const deferred = new Deferred();
  const delist = enlist(deferred);
  if (timeoutMs !== undefined && timeoutMs !== null)
    deferred.clearTimer = addTimer(Math.max(0, timeoutMs), () => {
      deferred.clearTimer = undefined;
      deferred.onCancel = undefined;
      delist();
      onTimeout(deferred);
    });
  deferred.onCancel = delist;
  return deferred;
}

// The client whose request runs now: locks are owned per client (a process's thread), as CPython's
// server threads own them per connection.
let caller = '';

export function setCaller(client: string): void {
  caller = client;
}

/** The client making the request being served. */
export function currentCaller(): string {
  return caller;
}
