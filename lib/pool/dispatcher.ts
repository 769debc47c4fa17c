// The pool's dispatcher: worker slots, the queue of jobs, timers, and the three ways of waiting
// (the event loop, a blocking pump of its own, and any other blocking call of this thread through
// blocking.ts). The public Pool holds one; jobs see it as their JobHost.

import { setBusy, untilReadable, type Background } from '../blocking';
import { BrokenPoolError, InvalidStateError, ProcessError, TimeoutError } from '../errors';
import { native, type NativeFdWatcher } from '../native';
import { dumps, loads } from '../serializer/index';
import { SpinPolicy } from '../spin';
import { objectList, randomBytes, shown } from '../util';
import type { Drive } from './async-result';
import { IMapJob, type Chunk, type FnEntry, type Job, type JobHost } from './jobs';
import { AbortReason, answerTakesDecoding, decodeFrame, encodeBare, encodeDumped, encodeList, FrameType, renamePath, resultsOf, sendEncoded, type Encoded, type Frame } from './protocol';
import { trackFd, untrackFd, type WorkerHandle, type WorkerTransport } from './transport';

/** Thrown into every pending result by `terminate()` (CPython leaves them pending forever). */
export class PoolTerminatedError extends ProcessError {
  static override readonly code = 'ERR_MP_POOL_TERMINATED';
}

interface Timer {
  at: number;
  run: () => void;
  live: boolean;
}

const enum SlotState {
  Starting,
  Ready,
  Retired,
  Dead,
}

class Slot {
  state = SlotState.Starting;
  chunk: Chunk | null = null;
  done = 0;
  readonly known = new Set<number>();
  watcher: NativeFdWatcher | null = null;
  watching = false;
  sentinelWatch: { close(): void } | null = null;
  escalation: Timer | null = null;
  /** The running chunk's time limit (its `timeout` option). */
  deadline: Timer | null = null;
  /** Whether this worker's answers come fast enough to spin for them. */
  readonly spin = new SpinPolicy();
  /** Chunks sent behind the running one, which the worker starts the moment it answers (see queueBehind). */
  readonly queued: Chunk[] = objectList();
  /** When the running chunk was sent or reached the front, and how long the last one took (ms). */
  startedAt = 0;
  lastChunkMs = Infinity;
  constructor(
    readonly handle: WorkerHandle,
    readonly token: string,
  ) {}
}

const FUNCTIONS_PER_WORKER = 256;
// The largest serialized function whose form is looked up (see functionEntry).
const FORM_KEY_BYTES = 4096;
// A worker whose last chunk took at most this long gets its next chunk before it answers: it never
// waits for the parent's turn between chunks. Longer chunks are not queued, so that no chunk waits
// behind a long one while another worker idles (a queued chunk costs at most this much balance).
const QUEUE_BEHIND_MS = 1;
// Chunks this short (one small task each) get several queued: the worker then finds its next one
// waiting however late the parent's turn comes, and spins less for it (on 2 cores, the parent's CPU).
const QUEUE_DEEP_MS = 0.1;
const QUEUE_DEEP = 3;
// Workers that die before connecting this many times in a row cannot start (a bad execArgv, a
// crashing preload): the pool breaks instead of starting them forever.
const MAX_START_FAILURES = 5;
// How a worker ends when someone else stops it: no sign that workers cannot start.
const STOPPED_FROM_OUTSIDE = /^signal SIG(KILL|TERM|INT|HUP)$/;

/** The Task frame of a chunk. */
function encodeTask(chunk: Chunk): Encoded {
  const job = chunk.job;
  return encodeList(FrameType.Task, job.kind, chunk.seq, job.fn.id, chunk.items, 'args', chunk.from, chunk.to);
}

/** A job whose chunks may wait in a worker behind another: nothing can abort it mid-way. */
function plainJob(job: Job): boolean {
  return job.options.timeout == null && job.options.signal == null;
}

export const enum PoolState {
  Run,
  Close,
  Terminate,
}

/** @internal The machinery behind a Pool, shared by its blocking and async forms. */
export class Dispatcher implements Background, JobHost {
  private readonly slots = new Set<Slot>();
  private readonly idle: Slot[] = objectList();
  private readonly starting = new Map<string, Slot>();
  /** Workers let go and not yet reaped: each is reaped when it ends (its sentinel), or at join(). */
  private readonly retired = new Set<WorkerHandle>();
  private readonly jobs: Job[] = objectList();
  /** Jobs not yet settled (results the pool still owes). */
  private pending = 0;
  private readonly fns = new WeakMap<Function, FnEntry>();
  /** The entries of the functions sent lately, by serialized form. */
  private readonly fnsByForm = new Map<string, FnEntry>();
  private fnCounter = 0;
  private seqCounter = 0;
  private timers: Timer[] = objectList();
  private timerHandle: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private acceptWatcher: NativeFdWatcher | null = null;
  private disarmQueued = false;
  private accepting = false;
  private armed = false;
  /** Registered with blocking.ts as busy: other blocking calls of this thread serve it. */
  private registered = false;
  private broken: BrokenPoolError | null = null;
  private initBytes: Buffer | null = null;
  state = PoolState.Run;
  private joinWaiters: Array<() => void> = objectList();
  private startFailures = 0;
  /** Until when (performance.now()) a blocking wait spins for a result before it sleeps. */
  private spinUntil = 0;

  constructor(
    readonly transport: WorkerTransport,
    readonly size: number,
    initializer: ((...args: never[]) => unknown) | null,
    initargs: unknown[],
    readonly maxtasks: number | null,
    readonly graceMs: number,
  ) {
    if (initializer) this.initBytes = dumps([initializer, initargs], { root: 'initializer' });
    try {
      for (let i = 0; i < size; i++) this.startSlot();
    } catch (error) {
      // A worker that cannot start (a forkserver that cannot serve) fails the Pool, leaving nothing behind.
      this.terminate();
      this.join();
      throw error;
    }
  }

  /** pumpUntil, bound: what a result hands its blocking get to drive the pool. */
  readonly drive: Drive = (done, timeoutMs) => this.pumpUntil(done, timeoutMs);

  nextSeq(): number {
    this.seqCounter = (this.seqCounter + 1) >>> 0 || 1;
    return this.seqCounter;
  }

  /**
   * The id under which workers know `fn`; serialized once per pool. A function written in the
   * call is a new object each time but the same serialized form: that form keeps its id, so a
   * worker builds it once and reuses it, as it does a hoisted function.
   */
  functionEntry(fn: Function): FnEntry {
    if (typeof fn !== 'function') throw new TypeError(`Pool: func must be a function, got ${shown(fn)}`);
    let entry = this.fns.get(fn);
    if (entry === undefined) {
      const bytes = dumps(fn, { root: 'func' });
      // A large form (a closure over a big table) is not kept as a key: the table would hold its copy.
      const form = bytes.length <= FORM_KEY_BYTES ? bytes.toString('latin1') : null;
      entry = form === null ? undefined : this.fnsByForm.get(form);
      if (entry === undefined) {
        entry = { id: ++this.fnCounter, bytes };
        // Closures over ever-changing values make ever-new forms: their ids are not kept for good.
        if (this.fnsByForm.size >= FUNCTIONS_PER_WORKER) this.fnsByForm.clear();
        if (form !== null) this.fnsByForm.set(form, entry);
      }
      this.fns.set(fn, entry);
    }
    return entry;
  }

  checkRunning(call: string): void {
    if (this.state !== PoolState.Run) throw new InvalidStateError(`Pool.${call}(): the pool is not running (it was closed or terminated)`);
    if (this.broken) throw this.broken;
  }

  submit(job: Job): void {
    this.pending++;
    if (!job.watchSignal()) return;
    this.jobs.push(job);
    this.schedule();
  }

  /** A job settled: drop its queued chunks; abort its running ones when asked. */
  jobEnded(job: Job, abort?: AbortReason): void {
    this.pending--;
    const at = this.jobs.indexOf(job);
    if (at >= 0) this.jobs.splice(at, 1);
    for (const chunk of job.running) {
      for (const slot of this.slots) {
        if (slot.chunk !== chunk) continue;
        this.clearTimer(slot.deadline);
        if (abort !== undefined) this.escalate(slot, chunk, abort);
      }
    }
    this.maybeReleaseWorkers();
    this.updateArming();
  }

  // --- workers ---------------------------------------------------------------------------

  private startSlot(): void {
    const token = randomBytes(16).toString('hex');
    const handle = this.transport.start(token, this.initBytes !== null);
    const slot = new Slot(handle, token);
    this.slots.add(slot);
    if (handle.fd >= 0) this.connected(slot);
    else this.starting.set(token, slot);
  }

  private connected(slot: Slot): void {
    slot.state = SlotState.Ready;
    this.startFailures = 0;
    trackFd(slot.handle.fd);
    if (this.initBytes) {
      try {
        sendEncoded(slot.handle.fd, encodeDumped(FrameType.Init, 0, 0, 0, this.initBytes));
      } catch {
        return this.lost(slot);
      }
    }
    // Idle once it says it is ready (FrameType.Ready).
  }

  private acceptConnections(): void {
    for (const { token, fd } of this.transport.accept()) {
      const slot = this.starting.get(token);
      if (!slot) {
        native.closeFd(fd);
        continue;
      }
      this.starting.delete(token);
      slot.handle.fd = fd;
      this.connected(slot);
      // A fork worker says it is ready right behind its token: no poll needed to read that.
      if (slot.state === SlotState.Ready) this.drain(slot);
    }
  }

  /** The worker ended (EOF or its sentinel): its chunk fails, and a new worker takes its place. */
  private lost(slot: Slot): void {
    if (slot.state === SlotState.Dead) return;
    const wasRetired = slot.state === SlotState.Retired;
    const wasStarted = slot.state !== SlotState.Starting;
    slot.state = SlotState.Dead;
    this.slots.delete(slot);
    this.starting.delete(slot.token);
    const at = this.idle.indexOf(slot);
    if (at >= 0) this.idle.splice(at, 1);
    this.closeSlot(slot);
    this.inside++;
    let how: string;
    try {
      how = slot.handle.reap();
    } finally {
      this.inside--;
    }
    const chunk = slot.chunk;
    slot.chunk = null;
    // Never started: they go to other workers, in their order (requeue puts each in front).
    for (const queued of slot.queued.splice(0).reverse()) {
      queued.job.running.delete(queued);
      this.requeue(queued);
    }
    this.clearTimer(slot.escalation);
    if (chunk) {
      chunk.job.running.delete(chunk);
      this.clearTimer(slot.deadline);
      chunk.job.chunkFailed(
        chunk,
        new BrokenPoolError(`a pool worker ${this.transport.noun} (${this.transport.noun === 'thread' ? 'id' : 'pid'} ${slot.handle.pid}) ended with ${how} while running a task; the pool replaced it`),
      );
    }
    if (!wasStarted && !STOPPED_FROM_OUTSIDE.test(how) && ++this.startFailures >= MAX_START_FAILURES) {
      return this.breakPool(new BrokenPoolError(`pool workers keep ending before they connect (the last with ${how}); see their stderr`));
    }
    if (!wasRetired && this.wantsWorkers()) this.startSlot();
    this.schedule();
  }

  private wantsWorkers(): boolean {
    return this.broken === null && (this.state === PoolState.Run || (this.state === PoolState.Close && this.pending > 0));
  }

  private closeSlot(slot: Slot): void {
    slot.watcher?.close();
    slot.watcher = null;
    slot.watching = false;
    slot.sentinelWatch?.close();
    slot.sentinelWatch = null;
    if (slot.handle.fd >= 0) {
      untrackFd(slot.handle.fd);
      native.closeFd(slot.handle.fd);
      slot.handle.fd = -1;
    }
  }

  /** Lets a worker go (maxtasksperchild, close): closing its socket ends it. */
  private retire(slot: Slot): void {
    slot.state = SlotState.Retired;
    this.slots.delete(slot);
    const at = this.idle.indexOf(slot);
    if (at >= 0) this.idle.splice(at, 1);
    this.closeSlot(slot);
    // Reaped as soon as it ends, not at join(): a pool with maxtasksperchild that runs for days
    // retires workers without end (CPython's _join_exited_workers). The event loop reaps it; a caller
    // that keeps the loop blocked reaps those that ended at each retire.
    const handle = slot.handle;
    for (const ended of this.retired) if (ended.join(0)) this.retired.delete(ended);
    this.retired.add(handle);
    void handle.joinAsync().then(() => this.retired.delete(handle));
  }

  private maybeReleaseWorkers(): void {
    if (this.state !== PoolState.Close || this.pending > 0) return;
    for (const slot of [...this.slots]) if (slot.chunk === null && slot.escalation === null && slot.state === SlotState.Ready) this.retire(slot);
  }

  // --- scheduling ------------------------------------------------------------------------

  /** Gives chunks to idle workers, first job first, then one more to each worker whose chunks run fast. */
  schedule(): void {
    while (this.idle.length > 0) {
      const chunk = this.takeChunk();
      if (chunk === null) break;
      this.dispatch(this.idle.pop()!, chunk);
    }
    if (this.idle.length === 0) {
      this.queueBehind();
      this.encodeAhead();
    }
    this.updateArming();
    if (this.joinWaiters.length > 0 && this.quiet()) for (const wake of this.joinWaiters.splice(0)) wake();
  }

  /** Nothing owed and nothing running: join may proceed. */
  private quiet(): boolean {
    return !this.busy();
  }

  /**
   * Sends a second chunk to each busy worker whose last chunk ran fast (CPython's workers take
   * their next task from a shared queue the same way). Only chunks without a timeout or signal:
   * an abort reaches the running chunk only.
   */
  private queueBehind(): void {
    // A worker still starting runs the next chunk once it is ready: none waits behind a running
    // one meanwhile (two tasks that wait for each other, at a Barrier, would wait for good).
    for (const slot of this.slots) if (slot.chunk === null) return;
    for (const slot of this.slots) {
      if (slot.state !== SlotState.Ready || slot.chunk === null || slot.escalation !== null) continue;
      if (slot.lastChunkMs > QUEUE_BEHIND_MS || !plainJob(slot.chunk.job)) continue;
      const depth = slot.lastChunkMs <= QUEUE_DEEP_MS ? QUEUE_DEEP : 1;
      while (slot.queued.length < depth && (this.maxtasks === null || slot.done + slot.queued.length + 2 <= this.maxtasks)) {
        const chunk = this.takeChunk();
        if (chunk === null) return;
        if (!plainJob(chunk.job)) return this.requeue(chunk);
        this.dispatch(slot, chunk);
        if (slot.state !== SlotState.Ready) break;
      }
    }
  }

  /**
   * Makes the next chunk's Task frame while every worker runs: the first to answer gets it at once,
   * instead of waiting while the parent encodes it (~2 ms for 12.5k small objects). The chunk stays
   * in its job's queue, for whichever worker is free first. Only while chunks run too long to queue
   * behind: fast ones already wait in their worker.
   */
  private encodeAhead(): void {
    let slow = false;
    for (const slot of this.slots) {
      if (slot.lastChunkMs <= QUEUE_BEHIND_MS) continue;
      slow = true;
      break;
    }
    if (!slow) return;
    const chunk = this.takeChunk();
    if (chunk === null) return;
    if (chunk.encoded === undefined) {
      try {
        chunk.encoded = encodeTask(chunk);
      } catch {
        chunk.encoded = null; // send() encodes it again and fails the chunk with the error
      }
    }
    this.requeue(chunk);
  }

  /** A chunk that never started goes back to the front of its job, and its job back to the list (takeChunk drops jobs it took everything from). */
  private requeue(chunk: Chunk): void {
    chunk.job.requeue(chunk);
    if (!this.jobs.includes(chunk.job)) this.jobs.unshift(chunk.job);
  }

  private takeChunk(): Chunk | null {
    for (let i = 0; i < this.jobs.length; i++) {
      const job = this.jobs[i]!;
      const chunk = job.nextChunk();
      if (chunk !== null) return chunk;
      if (job.exhausted && !(job instanceof IMapJob)) {
        this.jobs.splice(i--, 1);
      }
    }
    return null;
  }

  private dispatch(slot: Slot, chunk: Chunk): void {
    if (this.send(slot, chunk)) return;
    // The worker is gone before the chunk reached it: the chunk waits for another worker. The
    // answers it sent before it ended are read first (drain ends at its EOF), or they would fail.
    this.drain(slot);
    this.lost(slot);
  }

  /** Gives the chunk to the slot's worker; false when the worker is gone (the chunk is requeued). */
  private send(slot: Slot, chunk: Chunk): boolean {
    const job = chunk.job;
    const fd = slot.handle.fd;
    let task = chunk.encoded;
    chunk.encoded = undefined;
    try {
      task ??= encodeTask(chunk);
    } catch (error) {
      if (slot.chunk === null) this.idle.push(slot);
      job.chunkFailed(chunk, renamePath(error, job.kind, 'args'));
      return true;
    }
    try {
      if (!slot.known.has(job.fn.id)) {
        let forget = 0;
        if (slot.known.size >= FUNCTIONS_PER_WORKER) {
          forget = slot.known.values().next().value!;
          slot.known.delete(forget);
        }
        sendEncoded(fd, encodeDumped(FrameType.Function, forget, job.fn.id, 0, job.fn.bytes));
        slot.known.add(job.fn.id);
      }
      sendEncoded(fd, task);
    } catch {
      this.requeue(chunk);
      return false;
    }
    job.running.add(chunk);
    if (slot.chunk !== null) {
      slot.queued.push(chunk);
      return true;
    }
    slot.chunk = chunk;
    this.runsFromNow(slot);
    return true;
  }

  /** The slot's chunk runs from now: its answer is spun for when answers come fast, and its timeout starts. */
  private runsFromNow(slot: Slot): void {
    const now = performance.now();
    slot.startedAt = now;
    const spinMs = slot.spin.started();
    if (spinMs > 0) {
      native.spinLoop(spinMs);
      this.spinUntil = now + spinMs;
    }
    const job = slot.chunk!.job;
    const timeout = job.options.timeout;
    slot.deadline = null;
    if (timeout != null) slot.deadline = this.addTimer(timeout, () => job.fail(new TimeoutError(`a Pool task ran longer than its timeout of ${timeout} ms`), AbortReason.TimedOut));
  }

  /** Tells the running chunk to stop, then SIGINT, then SIGKILL (the worker is replaced). */
  private escalate(slot: Slot, chunk: Chunk, reason: AbortReason): void {
    if (slot.escalation !== null || slot.chunk !== chunk) return;
    try {
      sendEncoded(slot.handle.fd, encodeBare(FrameType.Abort, reason, chunk.seq));
    } catch {
      // already gone: its sentinel tells
    }
    slot.escalation = this.addTimer(this.graceMs, () => {
      slot.handle.interrupt();
      slot.escalation = this.addTimer(this.graceMs, () => {
        slot.escalation = null;
        slot.handle.kill();
      });
    });
  }

  // --- receiving -------------------------------------------------------------------------

  /** Reads the frames the worker has sent, until it owes none; handles its end. */
  private drain(slot: Slot): void {
    while (slot.state === SlotState.Ready) {
      let frame: Frame | null = null;
      let decodeError: unknown;
      try {
        const fds: number[] = [];
        const head = native.tryRecvFrame(slot.handle.fd, -1, fds);
        if (head === undefined) return;
        if (head === null) return this.lost(slot);
        if (slot.queued.length === 0 && slot.chunk !== null && answerTakesDecoding(head)) this.feed(slot);
        frame = this.decode(slot.handle.fd, head, fds);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ERR_MP_SERIALIZATION' && !(error instanceof Error && error.name === 'SerializationError')) return this.lost(slot);
        decodeError = error;
      }
      this.received(slot, frame, decodeError);
      // An idle worker owes nothing: its end (or a stray frame) shows at the next poll, with no
      // read that finds nothing after every answer.
      if (slot.chunk === null) return;
    }
  }

  /**
   * decodeFrame, which may run user code (a class's static block, as it is rebuilt): a blocking call
   * there must not drain this pool again, or the next answer would be taken for this one's chunk.
   */
  private decode(fd: number, head: Buffer, fds: number[]): Frame {
    this.inside++;
    try {
      return decodeFrame(fd, head, fds);
    } finally {
      this.inside--;
    }
  }

  /**
   * The worker has answered its chunk: it gets the next one now, before the parent decodes that
   * answer (~1 ms for 12.5k small objects), so it does not wait for the parent between chunks.
   * received() then starts it, as a chunk queued behind.
   */
  private feed(slot: Slot): void {
    if (slot.state !== SlotState.Ready || slot.escalation !== null) return;
    if (this.maxtasks !== null && slot.done + 2 > this.maxtasks) return;
    const chunk = this.takeChunk();
    // A worker gone meanwhile: drain() reads its answers on to its end, then replaces it.
    if (chunk !== null) this.send(slot, chunk);
  }

  private received(slot: Slot, frame: Frame | null, decodeError: unknown): void {
    if (frame?.type === FrameType.InitError) {
      let cause: unknown;
      try {
        cause = loads(frame.bytes!);
      } catch (error) {
        cause = error;
      }
      const message = cause instanceof Error ? cause.message : String(cause);
      return this.breakPool(new BrokenPoolError(`the pool's initializer failed in worker pid ${slot.handle.pid}: ${message}`, { cause }));
    }
    if (frame?.type === FrameType.Ready) {
      if (slot.state === SlotState.Ready && slot.chunk === null && !this.idle.includes(slot)) this.becameIdle(slot);
      return;
    }
    const chunk = slot.chunk;
    if (chunk === null) return;
    slot.spin.ended();
    slot.lastChunkMs = performance.now() - slot.startedAt;
    slot.chunk = null;
    slot.done++;
    const job = chunk.job;
    job.running.delete(chunk);
    this.clearTimer(slot.deadline);
    this.clearTimer(slot.escalation);
    slot.escalation = null;
    if (slot.queued.length > 0) {
      slot.chunk = slot.queued.shift()!;
      this.runsFromNow(slot);
    }
    if (!job.settled) {
      if (frame === null) job.chunkFailed(chunk, decodeError);
      else if (frame.type === FrameType.Result) job.chunkDone(chunk, resultsOf(frame));
      else {
        let error: unknown;
        try {
          error = loads(frame.bytes!);
        } catch (failure) {
          error = failure;
        }
        job.chunkFailed(chunk, error);
      }
    }
    if (slot.state !== SlotState.Ready) return;
    // A worker still running its queued chunk is neither idle nor done with its tasks.
    if (slot.chunk === null) return this.becameIdle(slot);
    this.schedule();
  }

  /** A worker with nothing to run: it takes the next chunk, or is retired. */
  private becameIdle(slot: Slot): void {
    if (this.maxtasks !== null && slot.done >= this.maxtasks) {
      this.retire(slot);
      if (this.wantsWorkers()) this.startSlot();
    } else {
      this.idle.push(slot);
    }
    if (this.state === PoolState.Close) this.maybeReleaseWorkers();
    this.schedule();
  }

  private breakPool(error: BrokenPoolError): void {
    if (this.broken) return;
    this.broken = error;
    for (const job of [...this.jobs]) job.fail(error);
    for (const slot of [...this.slots]) for (const chunk of [slot.chunk, ...slot.queued]) chunk?.job.fail(error);
    for (const slot of [...this.slots]) this.retire(slot);
  }

  // --- waiting: blocking ------------------------------------------------------------------

  /** Drives the workers from this thread until done() or the timeout (-1: none); true if done. */
  pumpUntil(done: () => boolean, timeoutMs: number): boolean {
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    const fds: number[] = [];
    const owners: Array<Slot | null> = [];
    while (!done()) {
      this.runDueTimers();
      if (done()) break;
      this.collect(fds, owners);
      const now = performance.now();
      if (now >= deadline) return false;
      const until = Math.min(deadline, this.nextTimerAt());
      if (fds.length === 0 && until === Infinity) throw new InvalidStateError('Pool: waiting for a result the pool can no longer produce (it has no workers)');
      const waitMs = untilReadable(fds, until === Infinity ? -1 : Math.max(0, until - now), this);
      this.handleReady(native.pollMany(fds, waitMs, this.spinUntil - performance.now()), fds, owners);
      this.schedule();
    }
    return true;
  }

  /** What a blocking wait watches: the accept socket while workers start, each worker's socket and sentinel. */
  private collect(fds: number[], owners: Array<Slot | null>): void {
    fds.length = 0;
    owners.length = 0;
    if (this.starting.size > 0 && this.transport.acceptFd >= 0) {
      fds.push(this.transport.acceptFd);
      owners.push(null);
    }
    for (const slot of this.slots) {
      if (slot.handle.fd >= 0) {
        fds.push(slot.handle.fd);
        owners.push(slot);
      }
      if (slot.handle.sentinel >= 0) {
        fds.push(slot.handle.sentinel);
        owners.push(slot);
      }
    }
  }

  private handleReady(ready: number[], fds: number[], owners: Array<Slot | null>): void {
    for (const index of ready) {
      const owner = owners[index]!;
      if (owner === null) this.acceptConnections();
      else if (owner.state === SlotState.Ready) {
        if (fds[index] === owner.handle.fd) this.drain(owner);
        else {
          this.drain(owner);
          this.lost(owner);
        }
      } else if (owner.state === SlotState.Starting && fds[index] === owner.handle.sentinel) this.lost(owner);
    }
  }

  // --- waiting: another blocking call of this thread (blocking.ts) ---------------------------

  private readonly scratchFds: number[] = [];
  private readonly scratchOwners: Array<Slot | null> = objectList();
  /** > 0 while serve() or a reap runs: a blocking wait below them must not serve this pool again. */
  private inside = 0;

  watch(fds: number[]): number {
    if (this.inside > 0) return Infinity;
    this.collect(this.scratchFds, this.scratchOwners);
    for (const fd of this.scratchFds) fds.push(fd);
    return this.nextTimerAt();
  }

  serve(): void {
    // Reaping a worker joins it, and a blocking join serves every pool: not this one again while
    // it is in the middle of its own work (its scratch lists and slots are being changed).
    if (this.inside > 0) return;
    this.inside++;
    try {
      this.runDueTimers();
      const fds = this.scratchFds;
      const owners = this.scratchOwners;
      this.collect(fds, owners);
      if (fds.length > 0) this.handleReady(native.pollMany(fds, 0), fds, owners);
      this.schedule();
    } finally {
      this.inside--;
    }
  }

  // --- waiting: the event loop --------------------------------------------------------------

  /** Watches the workers from the event loop while something waits on the pool. */
  updateArming(): void {
    const busy = this.busy();
    if (busy !== this.registered) setBusy(this, (this.registered = busy));
    if (busy) return this.arm();
    // Lazily: back-to-back tasks keep their watchers instead of re-creating them per task.
    if (!this.armed || this.disarmQueued) return;
    this.disarmQueued = true;
    setImmediate(() => {
      this.disarmQueued = false;
      if (!this.busy() && this.armed) this.disarm();
    });
  }

  /** Results owed or workers busy: the event loop must watch the workers (and stay alive). */
  private busy(): boolean {
    return this.pending > 0 || this.runningCount() > 0 || this.escalating();
  }

  private runningCount(): number {
    let count = 0;
    for (const slot of this.slots) if (slot.chunk !== null) count++;
    return count;
  }

  private escalating(): boolean {
    for (const slot of this.slots) if (slot.escalation !== null) return true;
    return false;
  }

  private arm(): void {
    this.armed = true;
    for (const slot of this.slots) {
      if (slot.handle.fd >= 0 && !slot.watching) {
        slot.watcher ??= new native.FdWatcher(slot.handle.fd, () => this.onReadable(slot));
        slot.watching = true;
        // Armed until disarm(): no epoll change per result.
        slot.watcher.waitReadable(true);
      }
      if (slot.handle.sentinel >= 0 && slot.sentinelWatch === null) slot.sentinelWatch = new native.SentinelWatch(slot.handle.sentinel, () => this.onSentinel(slot));
    }
    if (this.starting.size > 0 && this.transport.acceptFd >= 0 && !this.accepting) {
      this.acceptWatcher ??= new native.FdWatcher(this.transport.acceptFd, () => {
        this.accepting = false;
        this.acceptConnections();
        this.schedule();
      });
      this.accepting = true;
      this.acceptWatcher.waitReadable();
    }
  }

  private disarm(): void {
    this.armed = false;
    for (const slot of this.slots) {
      if (slot.watching) slot.watcher?.cancel();
      slot.watching = false;
      slot.sentinelWatch?.close();
      slot.sentinelWatch = null;
    }
    if (this.accepting) this.acceptWatcher?.cancel();
    this.accepting = false;
  }

  private onReadable(slot: Slot): void {
    if (slot.state === SlotState.Ready) this.drain(slot);
    this.schedule();
  }

  private onSentinel(slot: Slot): void {
    slot.sentinelWatch?.close();
    slot.sentinelWatch = null;
    if (slot.state === SlotState.Ready) this.drain(slot);
    if (slot.state === SlotState.Ready || slot.state === SlotState.Starting) this.lost(slot);
    this.schedule();
  }

  // --- timers: run by the event loop, and by a blocking pump --------------------------------

  private addTimer(delayMs: number, run: () => void): Timer {
    const timer: Timer = { at: performance.now() + Math.max(0, delayMs), run, live: true };
    this.timers.push(timer);
    this.timers.sort((a, b) => a.at - b.at);
    this.syncTimer();
    return timer;
  }

  private clearTimer(timer: Timer | null): void {
    if (timer === null) return;
    timer.live = false;
  }

  private nextTimerAt(): number {
    while (this.timers.length > 0 && !this.timers[0]!.live) this.timers.shift();
    return this.timers[0]?.at ?? Infinity;
  }

  private runDueTimers(): void {
    const now = performance.now();
    while (this.nextTimerAt() <= now) {
      const timer = this.timers.shift()!;
      timer.live = false;
      timer.run();
    }
    this.syncTimer();
  }

  private syncTimer(): void {
    const at = this.nextTimerAt();
    if (at === this.timerAt) return;
    if (this.timerHandle) clearTimeout(this.timerHandle);
    this.timerHandle = null;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timerHandle = setTimeout(() => {
      this.timerHandle = null;
      this.timerAt = Infinity;
      this.runDueTimers();
      this.schedule();
    }, Math.max(0, at - performance.now()));
    // Timers matter only while chunks run, and then the armed socket watchers hold the loop.
    this.timerHandle.unref();
  }

  // --- ending ------------------------------------------------------------------------------

  get closing(): boolean {
    return this.state === PoolState.Close;
  }

  close(): void {
    if (this.state === PoolState.Run) this.state = PoolState.Close;
    this.schedule(); // imap inputs held back by their window now run to their end
    this.maybeReleaseWorkers();
    this.updateArming();
  }

  terminate(): void {
    if (this.state === PoolState.Terminate) return;
    this.state = PoolState.Terminate;
    const error = new PoolTerminatedError('the pool was terminated before this task finished');
    for (const job of [...this.jobs]) job.fail(error);
    for (const slot of [...this.slots]) for (const chunk of [slot.chunk, ...slot.queued]) chunk?.job.fail(error);
    for (const slot of [...this.slots]) {
      slot.handle.kill();
      this.retire(slot);
    }
    this.starting.clear();
    setBusy(this, (this.registered = false));
    this.disarm();
    this.clearAllTimers();
    this.closeTransport();
  }

  // The watcher goes before its fd: libuv aborts on a watched fd that was closed under it.
  private closeTransport(): void {
    this.acceptWatcher?.close();
    this.acceptWatcher = null;
    this.accepting = false;
    this.transport.close();
  }

  private clearAllTimers(): void {
    for (const timer of this.timers) timer.live = false;
    this.timers = objectList();
    this.syncTimer();
  }

  /** Blocks until every job settled and every worker ended. */
  join(): void {
    this.pumpUntil(() => this.quiet(), -1);
    this.finishJoin();
    for (const handle of this.retired) handle.join(-1);
    this.retired.clear();
  }

  async joinAsync(): Promise<void> {
    while (!this.quiet()) {
      await new Promise<void>((resolve) => {
        this.joinWaiters.push(resolve);
        this.updateArming();
      });
    }
    this.finishJoin();
    await Promise.all([...this.retired].map((handle) => handle.joinAsync()));
  }

  private finishJoin(): void {
    for (const slot of [...this.slots]) this.retire(slot);
    setBusy(this, (this.registered = false));
    this.disarm();
    this.clearAllTimers();
    if (this.state !== PoolState.Terminate) {
      this.closeTransport();
      this.state = PoolState.Terminate;
    }
  }

  get stateName(): string {
    return ['RUN', 'CLOSE', 'TERMINATE'][this.state]!;
  }

  get workerPids(): number[] {
    return [...this.slots].map((slot) => slot.handle.pid);
  }
}