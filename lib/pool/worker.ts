// The worker side of a Pool: connects to its pool, runs chunks of calls and answers with their
// results. Under the fork start method it is a blocking loop (a fork child cannot return to the
// event loop); under spawn, forkserver and in threads it reads from the event loop, so async
// tasks are awaited and an abort reaches the running task through taskSignal().
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread, workerData } from 'node:worker_threads';

import { InvalidStateError, ProcessError } from '../errors';
import { native } from '../native';
import { AbortReason, decodeFrame, encodeBare, encodeList, encodeValue, FrameType, renamePath, sendEncoded, takeParcelBytesReceived, TaskKind, viewParcelsWithoutLoop, type Encoded, type Frame } from './protocol';
import { ChildExit } from '../process';
import { loads } from '../serializer/index';
import { SpinPolicy } from '../spin';
import { sayThreadId, thisProcess } from '../util';

type Callable = (...args: unknown[]) => unknown;

let running: AbortController | null = null;

/**
 * The AbortSignal of the task running in this Pool worker: it aborts when the caller's signal
 * aborts or the task's `timeout` passes (the reason is a DOMException named AbortError or
 * TimeoutError). Call it from the task function, before or after an await. A task that ignores it
 * is interrupted (SIGINT), then killed and its worker replaced.
 */
export function taskSignal(): AbortSignal {
  if (running === null) throw new InvalidStateError('taskSignal(): no Pool task is running here; call it from a function a Pool runs');
  return running.signal;
}

/**
 * Pool fds the parent held when it forked this worker: a fork child closes its copies, or the
 * parent's death (or a sibling's) would never reach the workers as EOF.
 */
export const parentPoolFds: { pid: number; fds: Set<number> } = { pid: 0, fds: new Set() };

function closeInheritedPoolFds(): void {
  if (parentPoolFds.pid === 0 || parentPoolFds.pid === thisProcess.pid) return;
  for (const fd of parentPoolFds.fds) {
    try {
      native.closeFd(fd);
    } catch {
      // already closed in this process
    }
  }
  parentPoolFds.fds.clear();
  parentPoolFds.pid = thisProcess.pid;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

const FORK_AWAIT =
  "a Pool worker started with the 'fork' method cannot await a Promise (a fork child never returns to the event loop); use the 'forkserver' or 'spawn' start method for async functions";

function abortReason(reason: number): DOMException {
  return reason === AbortReason.TimedOut
    ? new DOMException('the Pool task timed out', 'TimeoutError')
    : new DOMException('the Pool task was aborted', 'AbortError');
}

// A task's large typed arrays arrive as parcels (native/memfd.cc): views of the pool's pages, which
// the pool may fill again once V8 collected the view. A worker waiting for tasks allocates too little
// to collect soon, and the pool would fill fresh parcels (fresh pages) for most payloads. So a worker
// process collects its young generation (~0.15 ms) after each 4 MiB of parcels it was sent.
const COLLECT_AFTER_PARCEL_BYTES = 4 << 20;

type Collector = (options: { type: 'minor' }) => void;
let collector: Collector | undefined;

/** V8's gc: the process's own under --expose-gc, else one from a context made while the flag is on (no global of the tasks'; ~1 ms, once a process: the forkserver's before it forks workers). */
function youngCollector(): Collector {
  if (collector !== undefined) return collector;
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return (collector = own as Collector);
  setFlagsFromString('--expose-gc');
  collector = runInNewContext('gc') as Collector;
  setFlagsFromString('--no-expose-gc');
  return collector;
}

/** One worker's state: its functions by id and the chunk it runs. */
class Worker {
  private readonly fns = new Map<number, Callable>();
  private runningSeq = -1;
  private backlog: Frame[] = [];
  private busy = false;
  /** Set once the worker must stop (its initializer failed). */
  stopped = false;
  private readonly spin = new SpinPolicy();
  /** How long a blocking read spins for the next frame (the fork worker). */
  spinMs = 0;
  /** Bytes of parcels received since the last collection. */
  private parcelBytes = 0;
  // A thread shares the user's process: collections there are not ours to add.
  private readonly collectsViews: boolean;

  /** fd: the socket to the pool; canAwait: async tasks may be awaited (not in a fork worker); views: parcels are viewed (always, in an evented worker). */
  constructor(
    private readonly fd: number,
    private readonly canAwait: boolean,
    views = canAwait,
  ) {
    this.collectsViews = views && isMainThread;
  }

  /** Tells the pool this worker waits for tasks (FrameType.Ready): at its start, or after its initializer. */
  sayReady(): void {
    try {
      sendEncoded(this.fd, encodeBare(FrameType.Ready, 0, 0));
    } catch (error) {
      if (!poolGone(error)) throw error; // the read that follows sees the end
    }
  }

  /** Handles one frame; frames that arrive while an async step runs wait their turn (aborts excepted). */
  receive(frame: Frame): void {
    this.spin.ended();
    if (frame.type === FrameType.Abort) {
      if (frame.seq === this.runningSeq) running?.abort(abortReason(frame.kind));
      return;
    }
    if (this.busy) {
      this.backlog.push(frame);
      return;
    }
    const pending = this.handle(frame);
    if (pending) {
      this.busy = true;
      void pending.then(() => {
        this.busy = false;
        const queued = this.backlog;
        this.backlog = [];
        for (const next of queued) if (!this.stopped) this.receive(next);
      });
    }
  }

  /** A function under `fnId`, as a Function frame gives one (the rehearsal's, which need no serializer). */
  define(fnId: number, fn: Callable): void {
    this.fns.set(fnId, fn);
  }

  private handle(frame: Frame): Promise<void> | void {
    switch (frame.type) {
      case FrameType.Init:
        return this.init(frame);
      case FrameType.Function:
        if (frame.seq !== 0) this.fns.delete(frame.seq);
        this.fns.set(frame.fnId, loads(frame.bytes!) as Callable);
        return;
      case FrameType.Task:
        return this.run(frame);
      default:
        throw new ProcessError(`pool worker: unexpected frame type ${frame.type}`);
    }
  }

  private init(frame: Frame): Promise<void> | void {
    try {
      const [initializer, initargs] = loads(frame.bytes!) as [Callable, unknown[]];
      const result = initializer(...initargs);
      if (isThenable(result)) {
        if (!this.canAwait) throw new ProcessError(FORK_AWAIT);
        return Promise.resolve(result).then(
          () => this.sayReady(),
          (error: unknown) => this.initFailed(error),
        );
      }
      this.sayReady();
    } catch (error) {
      this.initFailed(error);
    }
  }

  private initFailed(error: unknown): void {
    this.stopped = true;
    this.send(FrameType.InitError, 0, 0, error);
  }

  private run(frame: Frame): Promise<void> | void {
    const fn = this.fns.get(frame.fnId);
    const list = frame.list!;
    const kind = frame.kind as TaskKind;
    const results: unknown[] = new Array(kind === TaskKind.Apply ? 1 : list.length);
    const controller = new AbortController();
    running = controller;
    this.runningSeq = frame.seq;
    let i = 0;
    try {
      if (fn === undefined) throw new ProcessError(`pool worker: function ${frame.fnId} was never sent to this worker`);
      for (; i < results.length; i++) {
        const value = kind === TaskKind.Apply ? fn(...list) : kind === TaskKind.Map ? fn(list[i]) : fn(...(list[i] as unknown[]));
        if (isThenable(value)) {
          if (!this.canAwait) throw new ProcessError(FORK_AWAIT);
          return this.finish(frame, fn, list, results, i, value);
        }
        results[i] = value;
      }
    } catch (error) {
      this.end();
      if (error instanceof ChildExit) throw error;
      return this.send(FrameType.Error, frame.seq, i, error);
    }
    this.end();
    this.reply(frame.seq, kind, results);
  }

  private async finish(frame: Frame, fn: Callable, list: unknown[], results: unknown[], from: number, first: PromiseLike<unknown>): Promise<void> {
    const kind = frame.kind as TaskKind;
    let i = from;
    try {
      results[i] = await first;
      for (i++; i < results.length; i++) {
        const value = kind === TaskKind.Map ? fn(list[i]) : fn(...(list[i] as unknown[]));
        results[i] = isThenable(value) ? await value : value;
      }
    } catch (error) {
      this.end();
      return this.send(FrameType.Error, frame.seq, i, error);
    }
    this.end();
    this.reply(frame.seq, kind, results);
  }

  private end(): void {
    running = null;
    this.runningSeq = -1;
  }

  private reply(seq: number, kind: TaskKind, results: unknown[]): void {
    let encoded;
    try {
      encoded = encodeList(FrameType.Result, kind, seq, 0, results, 'result');
    } catch (error) {
      return this.send(FrameType.Error, seq, 0, renamePath(error, kind, 'result'));
    }
    this.sent(encoded);
  }

  /** Sends an error; one that cannot travel goes as a plain Error with its text and stack. */
  private send(type: FrameType, seq: number, index: number, error: unknown): void {
    let encoded;
    try {
      encoded = encodeValue(type, seq, 0, index, error, 'error');
    } catch (refusal) {
      const plain = new Error(error instanceof Error ? error.message : String(error), { cause: String(refusal) });
      if (error instanceof Error) {
        plain.stack = error.stack;
        Object.defineProperty(plain, 'name', { value: error.name, configurable: true, writable: true });
      }
      encoded = encodeValue(type, seq, 0, index, plain, 'error');
    }
    this.sent(encoded);
  }

  /** Sends an answer; the next task is awaited from now, spinning for it while tasks come fast. */
  private sent(encoded: Encoded): void {
    sendEncoded(this.fd, encoded);
    if (this.collectsViews && (this.parcelBytes += takeParcelBytesReceived()) >= COLLECT_AFTER_PARCEL_BYTES) {
      this.parcelBytes = 0;
      youngCollector()({ type: 'minor' });
    }
    this.spinMs = this.spin.started();
    if (this.canAwait && this.spinMs > 0) native.spinLoop(this.spinMs);
  }
}

// The pool closed its listening socket (or its end) before this worker reached it: it has let
// this worker go, as CPython's pool does with its sentinel, so the worker ends quietly.
const POOL_GONE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE']);

function poolGone(error: unknown): boolean {
  return POOL_GONE.has((error as NodeJS.ErrnoException).code ?? '');
}

/** Reads a frame's head and the descriptors that came with it; null at EOF, also when the pool reset the connection. */
function receiveHead(fd: number, fds: number[], spinMs: number): Buffer | null {
  try {
    return native.recvFrame(fd, -1, fds, spinMs);
  } catch (error) {
    if (poolGone(error)) return null;
    throw error;
  }
}

// A worker is given tasks once it says it is ready: one that connected while still starting (on a
// busy machine, milliseconds before it reads), or still running its initializer, would hold chunks
// another worker could run. With an initializer, it says so once that returned (as CPython's
// workers take no task before theirs ran).

/** The fork worker: reads, runs and answers until the pool closes its end. */
function runBlocking(fd: number, initializer: boolean): void {
  // Node's finalizers never run here: a parcel is viewed only when V8 lets it go itself.
  const worker = new Worker(fd, false, viewParcelsWithoutLoop());
  if (!initializer) worker.sayReady();
  for (;;) {
    const fds: number[] = [];
    const head = receiveHead(fd, fds, worker.spinMs);
    if (head === null) return;
    worker.receive(decodeFrame(fd, head, fds));
    if (worker.stopped) {
      process.exitCode = 1;
      return;
    }
  }
}

/** The evented worker: frames arrive from the event loop; resolves at EOF or after a failed init. */
function runEvented(fd: number, initializer: boolean): Promise<void> {
  const worker = new Worker(fd, true);
  return new Promise<void>((resolve) => {
    const watcher = new native.FdWatcher(fd, (error, head, fds) => {
      if (error || head === null || head === true) {
        for (const passed of fds) native.closeFd(passed);
        watcher.close();
        return resolve();
      }
      worker.receive(decodeFrame(fd, head, fds));
      if (worker.stopped) {
        process.exitCode = 1;
        watcher.close();
        return resolve();
      }
    });
    // Armed once for every frame: no epoll change per task.
    watcher.readFrame(-1, true, true);
    // From the loop's check phase: the worker's start is over.
    if (!initializer) setImmediate(() => worker.sayReady());
  });
}

// More functions than V8 tells apart at one call site: the rehearsed call site stays generic, so
// the first real function does not throw its compiled code away. Each takes any item. (Written
// out: closures of one literal would count as one function.)
const REHEARSAL_FNS: Callable[] = [(x) => x, (x) => typeof x, (x) => [x], (x) => String(x), (x) => ({ x })];
// Async tasks take the path that awaits (finish()), with as many functions, for the same reason.
const REHEARSAL_ASYNC_FNS: Callable[] = [async (x) => x, async (x) => typeof x, async (x) => [x], async (x) => String(x), async (x) => ({ x })];
const REHEARSAL_ITEMS = 1250;
const REHEARSAL_ASYNC_ITEMS = 50;
// Enough rounds for V8 to compile each step (measured: 10k-int maps 2–5 of a new pool ran in 1.4–4.5 ms
// instead of 5–8); each round costs the server's start ~6 ms, most of it compiling.
const REHEARSAL_ROUNDS = 10;
const REHEARSAL_RECORD_DECODES = 5;
/** Task lists by kind, each codec among them: code V8 compiled without feedback for a branch is thrown away when a task takes it. */
const REHEARSAL_TASKS: Array<[TaskKind, () => unknown[]]> = [
  [TaskKind.Map, () => Array.from({ length: REHEARSAL_ITEMS }, (_, i) => i)],
  [TaskKind.Map, () => Array.from({ length: REHEARSAL_ITEMS }, (_, i) => i + 0.5)],
  [TaskKind.Map, () => Array.from({ length: REHEARSAL_ITEMS }, (_, i) => `item-${i}`)],
  [TaskKind.Map, () => Array.from({ length: REHEARSAL_ITEMS / 4 }, (_, i) => ({ id: i, name: 'x', ok: true }))],
  [TaskKind.Map, () => [new Float64Array(8), Buffer.alloc(8)]],
  [TaskKind.Map, () => [undefined, undefined]],
  [TaskKind.Map, () => [1n, new Map([[1, 2]])]],
  [TaskKind.Starmap, () => Array.from({ length: REHEARSAL_ITEMS / 4 }, (_, i) => [i, i + 1])],
  [TaskKind.Apply, () => [1]],
  [TaskKind.Apply, () => ['a']],
];

/**
 * Runs the worker's task path (read, decode, call, encode, send) and the pool's result decoding
 * over a socket pair until V8 has compiled them. The forkserver does so before it forks: it runs
 * --single-threaded, so each child would otherwise compile that code on its main thread during its
 * first maps, stopping for ~10 ms each time; forked from here, every worker starts with it compiled
 * (and with its young-generation collector made).
 */
export async function rehearseWorker(rounds = REHEARSAL_ROUNDS): Promise<void> {
  youngCollector();
  const [pool, worker] = native.socketPair();
  const answered = (kind: TaskKind): void => {
    const answer = decodeFrame(pool, native.recvFrame(pool, -1)!);
    if (answer.type !== FrameType.Result) throw new ProcessError(`pool worker rehearsal: a task of kind ${kind} was answered with frame type ${answer.type}`);
  };
  try {
    const fns = [...REHEARSAL_FNS, ...REHEARSAL_ASYNC_FNS];
    const tasks = REHEARSAL_TASKS.map(([kind, make]) => [kind, make()] as const);
    // Short lists: each item of an async task costs a turn of the microtask queue.
    const asyncTasks = tasks.slice(0, 2).map(([kind, list]) => [kind, list.slice(0, REHEARSAL_ASYNC_ITEMS)] as const);
    let rehearsed: Worker;
    const deliver = (encoded: Encoded): void => {
      sendEncoded(pool, encoded);
      rehearsed.receive(decodeFrame(worker, native.recvFrame(worker, -1)!));
    };
    let seq = 0;
    for (let round = 0; round < rounds; round++) {
      // A Worker per round, as the evented worker makes it: V8 settles the layout of a class after
      // its first few instances, and code compiled before that is thrown away.
      rehearsed = new Worker(worker, true);
      // A Function frame as the pool sends one; the functions themselves need no serializer.
      for (let fnId = 0; fnId < fns.length; fnId++) {
        deliver(encodeValue(FrameType.Function, 0, fnId, 0, fnId, 'function'));
        rehearsed.define(fnId, fns[fnId]!);
      }
      for (const [kind, list] of tasks) {
        deliver(encodeList(FrameType.Task, kind, ++seq, seq % REHEARSAL_FNS.length, list, 'args'));
        answered(kind);
      }
      for (const [kind, list] of asyncTasks) {
        deliver(encodeList(FrameType.Task, kind, ++seq, REHEARSAL_FNS.length + (seq % REHEARSAL_ASYNC_FNS.length), list, 'args'));
        // It answers once its awaits ran: after the microtasks, which an immediate follows.
        await new Promise((resolve) => setImmediate(resolve));
        answered(kind);
      }
    }
    // The records decoder runs once per frame, too few times above for V8 to compile its loop, which
    // each worker then did on its main thread during its first map (~10 ms): a few direct decodes
    // of a longer list compile it here (~9 ms, once). Its payload rides behind the header (well
    // under 64 KiB), so decodeFrame reads nothing from the descriptor it is given.
    const records = encodeList(FrameType.Result, TaskKind.Map, 0, 0, Array.from({ length: REHEARSAL_ITEMS }, (_, i) => ({ id: i, name: 'x', ok: true })), 'result');
    for (let decode = 0; decode < REHEARSAL_RECORD_DECODES; decode++) decodeFrame(-1, records.head);
  } finally {
    native.closeFd(pool);
    native.closeFd(worker);
  }
}

/** The target of a pool's worker processes: connect, prove who we are, then serve. */
export function poolWorkerMain(address: string, token: string, blocking: boolean, initializer = false): Promise<void> | void {
  closeInheritedPoolFds();
  let fd: number;
  try {
    [fd] = native.connectSocket('AF_UNIX', address, 0, true);
  } catch (error) {
    if (poolGone(error)) return;
    throw error;
  }
  try {
    native.sendFrame(fd, Buffer.from(token, 'hex'));
  } catch (error) {
    native.closeFd(fd);
    if (poolGone(error)) return;
    throw error;
  }
  if (blocking) {
    runBlocking(fd, initializer);
    native.closeFd(fd);
    return;
  }
  return runEvented(fd, initializer).then(() => {
    native.closeFd(fd);
    // A worker whose tasks left timers or sockets behind still ends when its pool lets it go.
    process.exit();
  });
}

// A global finds the worker's entry in every child, also when the parent runs lib/*.ts under a
// loader or a test runner (as context.ts does for Process): by reference, never by value.
if (!Object.hasOwn(globalThis, '__multiprocessPoolWorker')) Object.defineProperty(globalThis, '__multiprocessPoolWorker', { value: poolWorkerMain });

/** What a pool thread receives: its socket and a word the first of it and the pool to close it sets. */
export interface PoolThreadData {
  fd: number;
  /** The pool has an initializer: the thread says it is ready once that returned. */
  initializer: boolean;
  /** [0]: 1 once the fd is closed; [1]: the thread's exit code; [2]: ThreadLife; [3]: its kernel thread id (see sayThreadId). */
  state: Int32Array;
}

/** The words a pool thread's state has, and the one it says its kernel thread id in. */
export const POOL_THREAD_WORDS = 4;
export const POOL_THREAD_ID_WORD = 3;

export const POOL_THREAD_KEY = 'multiprocess.poolThread';

/**
 * state[2] of a pool thread. Terminating a thread while it still loads the native addon is fatal
 * to the process, so a kill before Ready is a request the thread honours once loaded.
 */
export const enum ThreadLife {
  Loading = 0,
  Ready = 1,
  KillRequested = 2,
}

/** Closes a pool thread's fd exactly once, whichever of the thread and the pool gets there first. */
export function closeThreadFd(data: PoolThreadData): void {
  if (Atomics.compareExchange(data.state, 0, 0, 1) !== 0) return;
  try {
    native.closeFd(data.fd);
  } catch {
    // nothing left to close
  }
  Atomics.notify(data.state, 0);
}

if (!isMainThread && (workerData as Record<string, unknown> | null)?.[POOL_THREAD_KEY]) {
  const data = (workerData as Record<string, PoolThreadData>)[POOL_THREAD_KEY]!;
  sayThreadId(data.state, POOL_THREAD_ID_WORD); // before Ready: a kill from then on finds it said
  process.on('exit', (code) => {
    Atomics.store(data.state, 1, code);
    closeThreadFd(data);
  });
  if (Atomics.compareExchange(data.state, 2, ThreadLife.Loading, ThreadLife.Ready) !== ThreadLife.Loading) process.exit();
  else void runEvented(data.fd, data.initializer).then(() => process.exit());
}
