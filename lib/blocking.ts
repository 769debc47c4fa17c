// Every blocking wait of the package goes through here, so that a busy Pool keeps feeding its
// workers, collecting results and running callbacks while this thread waits on something else (as
// CPython's pool does on its own threads). With no pool busy, a wait costs nothing extra.
import { native, Take, type NativeBell } from './native';
import { deadlineOf, remainingMs, thisProcess } from './util';

/** Work that must go on while this thread blocks: a Pool that owes results. */
export interface Background {
  /** Appends the descriptors it waits on to fds; returns when (performance.now()) its next timer is due, or Infinity. */
  watch(fds: number[]): number;
  /** Serves what is ready now (results, ended or connecting workers, due timers) without blocking. */
  serve(): void;
}

const busy = new Set<Background>();
let busyIn = 0;
// > 0 while a pool callback runs: a callback that blocks holds up result handling, as it holds up
// CPython's result thread, instead of re-entering the pool that called it.
let callbacksRunning = 0;
let bell: NativeBell | null = null;

/** Registers (or drops) background work that blocking waits on this thread must serve. */
export function setBusy(background: Background, isBusy: boolean): void {
  if (!isBusy) {
    busy.delete(background);
    return;
  }
  if (busyIn !== thisProcess.pid) {
    // A fork child inherits the parent's set: those pools are not its own.
    busy.clear();
    busyIn = thisProcess.pid;
  }
  busy.add(background);
}

/** Runs a pool callback; the blocking waits it makes do not serve pools. */
export function asCallback<T>(run: () => T): T {
  callbacksRunning++;
  try {
    return run();
  } finally {
    callbacksRunning--;
  }
}

/** Whether a wait must serve busy backgrounds (besides `waiter`, a pool that waits on its own fds). */
function serving(waiter?: Background): boolean {
  return busy.size > (waiter !== undefined && busy.has(waiter) ? 1 : 0) && callbacksRunning === 0 && busyIn === thisProcess.pid;
}

/** Serves every busy background but `waiter` once; refills fds with what they wait on; the time of their next timer. */
function serveAll(fds: number[], waiter?: Background): number {
  for (const background of [...busy]) if (background !== waiter) background.serve();
  fds.length = 0;
  let nextTimer = Infinity;
  for (const background of busy) if (background !== waiter) nextTimer = Math.min(nextTimer, background.watch(fds));
  return nextTimer;
}

/** ms until `at` (performance.now() time) for a native wait: -1 for never. */
function until(at: number): number {
  return at === Infinity ? -1 : Math.max(0, at - performance.now());
}

/**
 * A futex wait (semAcquire, ringWait) of at most timeoutMs (< 0: forever). While a pool is busy,
 * the bell ends the wait (Take.Interrupted) whenever the pool needs serving: it is served, and the
 * wait goes on with the time left.
 */
export function park<T>(wait: (timeoutMs: number) => T | Take.Interrupted, timeoutMs: number): T {
  if (!serving()) return wait(timeoutMs) as T;
  const deadline = deadlineOf(timeoutMs);
  const fds: number[] = [];
  bell ??= new native.Bell();
  for (;;) {
    const nextTimer = serveAll(fds);
    const left = remainingMs(deadline) ?? -1;
    if (!serving()) return wait(left) as T;
    bell.arm(fds, until(nextTimer));
    let result: T | Take.Interrupted;
    try {
      result = wait(left);
    } finally {
      bell.disarm();
    }
    if (result !== Take.Interrupted) return result;
  }
}

/**
 * Waits, serving busy pools, until one of fds is readable or timeoutMs passed (< 0: forever).
 * Returns the timeout for the native wait on those fds that follows: timeoutMs itself when no pool
 * is busy, else 0 (the fds are ready, or the time is up). A pool waiting on its own workers passes
 * itself as `waiter`: it serves itself.
 */
export function untilReadable(fds: number | number[], timeoutMs: number, waiter?: Background): number {
  if (timeoutMs === 0 || !serving(waiter)) return timeoutMs;
  const own = typeof fds === 'number' ? [fds] : fds;
  const deadline = deadlineOf(timeoutMs);
  const watched: number[] = [];
  for (;;) {
    const nextTimer = serveAll(watched, waiter);
    const left = remainingMs(deadline);
    if (!serving(waiter)) return left ?? -1;
    if (left === 0) return 0;
    const timerMs = until(nextTimer);
    const ready = native.pollMany(own.concat(watched), left === undefined ? timerMs : timerMs < 0 ? left : Math.min(left, timerMs));
    if (ready.some((index) => index < own.length)) return 0;
  }
}
