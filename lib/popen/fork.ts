// The fork start method: a real fork(2) of this process; the child runs the Process in the same heap,
// nothing serialized. Parks the V8 platform threads around the fork when the park addon loads.
//
// A fork child wakes up inside start(), with the caller's JavaScript stack above it. It cannot
// return to the event loop without running the rest of the parent's code, and a nested loop would
// run the parent's timers, sockets and servers, which are live copies in the child. So the target
// must be synchronous: it runs, then the child _exits. Async targets need spawn or forkserver, whose
// children return to a loop that holds nothing of anyone else's (forkHere and exitWhenIdle below
// serve the forkserver's children too).

import { native } from '../native';
import { loadPark, type ParkBinding } from '../park';
import { thisProcess } from '../util';
import { ChildPopen } from './child';
import { loaderFlags, startFlags } from './flags';
import type { Launchable, Popen } from './index';

let warned = false;

function warnUnparked(): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    'multiprocess: the platform-parking addon is not available for this Node version, so fork children ' +
      'that allocate heavily (major GCs) may hang; prefer the spawn or forkserver start method',
    { code: 'MPJS_FORK_UNPARKED' },
  );
}

// V8 runs --single-threaded (the forkserver and its children): it posts no task to its platform's
// worker threads, which then need no parking around a fork.
const v8SingleThreaded = startFlags().includes('--single-threaded');

// Set in a fork child: its V8 platform threads and the inspector's signal thread do not exist there.
let inForkChild = false;

/** V8 platform threads (workers plus the delayed-task scheduler) Node starts with. */
function platformThreads(park: ParkBinding | null): number {
  if (park) return park.workerThreads() + 1;
  const sized = startFlags().map((flag) => /^--v8-pool-size=(\d+)$/.exec(flag)).find(Boolean);
  const size = sized ? Number(sized[1]) : 4;
  return (size > 0 ? size : 4) + 1;
}

function expectedThreads(park: ParkBinding | null): number {
  if (inForkChild) return 1 + (park?.childThreads() ?? 0);
  return 1 + platformThreads(park) + (process.features.inspector ? 1 : 0);
}

/**
 * Ends a fork child at once: no exit handlers, no joins of platform threads it does not have. What
 * it wrote to stdout/stderr is already the kernel's (Node writes files and pipes synchronously on
 * Linux), so nothing is lost; an fsync here only waited for the disk, 0.2–0.6 ms per child.
 */
export function exitChild(code: number): never {
  return native.exitNow(code);
}

/** A refused fork in a process whose loader flags explain the extra thread: the message says so, and what to do. */
function withLoaderHint(error: unknown): unknown {
  const loaders = loaderFlags();
  if ((error as NodeJS.ErrnoException).code !== 'ERR_MP_FORK_UNSAFE' || loaders.length === 0) return error;
  (error as Error).message +=
    `. This process runs with ${loaders.join(' ')}: a module loader (tsx, ts-node/esm and the like) that ` +
    `runs its hooks on a thread of its own, which rules out fork. Use the default 'forkserver' or 'spawn' ` +
    `start method (getContext('forkserver')), or run TypeScript with Node's own type stripping (node file.ts, ` +
    `Node >= 22.18), whose loader needs no thread`;
  return error;
}

/** Throws as forkHere would refuse (ERR_MP_FORK_UNSAFE), without forking. */
export function auditFork(): void {
  try {
    native.auditForkThreads(expectedThreads(loadPark()));
  } catch (error) {
    throw withLoaderHint(error);
  }
}

/**
 * fork(2) with every remedy (thread audit, parking, DOFORK pass): the child's pid and sentinel in
 * the parent, null in the child, whose process.pid is then its own.
 */
export function forkHere(): { pid: number; sentinel: number } | null {
  const park = loadPark();
  if (!park) warnUnparked();
  const expected = expectedThreads(park);
  // In a fork child this holds still the threads of the child's own platform (Node's are the parent's).
  park?.park(1000, v8SingleThreaded);
  let forked: { pid: number; sentinel?: number } | undefined;
  try {
    forked = native.forkProcess(expected);
  } catch (error) {
    throw withLoaderHint(error);
  } finally {
    if (forked?.pid !== 0) park?.release();
  }
  if (forked.pid !== 0) return { pid: forked.pid, sentinel: forked.sentinel ?? -1 };
  inForkChild = true;
  park?.forgetInChild();
  thisProcess.forkedBy = thisProcess.pid;
  thisProcess.pid = native.getpid();
  Object.defineProperty(process, 'pid', { value: thisProcess.pid, writable: false, enumerable: true, configurable: true });
  return null;
}

/**
 * In a fork child that returns to its event loop (a forkserver child): the loop must never end by
 * itself (Node's last DrainTasks would wait for the parked platform tasks forever, and its exit
 * would join platform threads the child does not have). So the child exits through process.exit
 * once nothing else is pending — after 'beforeExit' and 'exit' ran, as at the end of a Node
 * script — and every exit, also a fatal exception's, ends in _exit.
 */
export function exitWhenIdle(): void {
  const park = loadPark();
  if (park) park.exitWithoutPlatform();
  else (process as unknown as { reallyExit(code: number): never }).reallyExit = exitChild;
  const exitCode = (): number => Number(process.exitCode ?? 0);
  new native.IdleWatch(
    () => process.emit('beforeExit', exitCode()),
    () => process.exit(exitCode()),
  );
}

export const ForkPopenClass = {
  method: 'fork' as const,
  start(launchable: Launchable): Popen {
    const forked = forkHere();
    if (forked === null) exitChild(launchable._bootstrap());
    return new ChildPopen(forked.pid, forked.sentinel);
  },
};
