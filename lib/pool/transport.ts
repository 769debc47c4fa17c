// How pool workers start and connect, behind a small interface the dispatcher drives: processes
// here (one Unix socket each, accepted by token), threads in multiprocess/dummy.
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { native } from '../native';
import { describeExit, type Process } from '../process';
import { dumps } from '../serializer/index';
import { randomBytes, thisProcess } from '../util';
import { parentPoolFds, poolWorkerMain } from './worker';


/** One started worker, seen from the dispatcher. */
export interface WorkerHandle {
  /** The process id, or the thread id. */
  readonly pid: number;
  /** An fd readable once the worker ended, or -1 (a thread: its socket's EOF tells). */
  readonly sentinel: number;
  /** The socket to the worker; -1 until it connects (processes connect to the transport). */
  fd: number;
  /** The second step of an escalation: SIGINT for a process. */
  interrupt(): void;
  /** The last step: SIGKILL, or terminating the thread. */
  kill(): void;
  /** After its end (EOF or sentinel): reaps it and says how it ended ('exit code 3', 'signal SIGKILL'). */
  reap(): string;
  /** Waits up to timeoutMs for a worker told to stop (its socket closed); true once it ended. */
  join(timeoutMs: number): boolean;
  joinAsync(): Promise<void>;
}

export interface WorkerTransport {
  /** What a worker is called in messages ('process', 'thread'). */
  readonly noun: string;
  /** Readable when a started worker connects; -1 when workers are connected at start. */
  readonly acceptFd: number;
  /** initializer: the pool sends one, which the worker runs before it says it is ready. */
  start(token: string, initializer: boolean): WorkerHandle;
  /** The connections that arrived, by the token each presented. */
  accept(): Array<{ token: string; fd: number }>;
  close(): void;
}

class ProcessHandle implements WorkerHandle {
  fd = -1;
  readonly pid: number;
  readonly sentinel: number;
  private exitcode: number | null = null;
  constructor(private readonly process: Process<unknown[]>) {
    this.pid = process.pid!;
    this.sentinel = process.sentinel;
  }
  private signal(signal: NodeJS.Signals): void {
    if (this.exitcode !== null) return;
    try {
      globalThis.process.kill(this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  interrupt(): void {
    this.signal('SIGINT');
  }
  kill(): void {
    this.signal('SIGKILL');
  }
  reap(): string {
    if (!this.join(1000)) {
      this.kill();
      this.join(-1);
    }
    return describeExit(this.exitcode);
  }
  join(timeoutMs: number): boolean {
    if (this.exitcode === null) {
      this.process.join(timeoutMs < 0 ? null : timeoutMs);
      this.settle();
    }
    return this.exitcode !== null;
  }
  async joinAsync(): Promise<void> {
    if (this.exitcode !== null) return;
    await this.process.joinAsync();
    this.settle();
  }
  /** Once the worker ended: keeps its exit code and closes its sentinel (a pool outlives many workers). */
  private settle(): void {
    if (this.exitcode !== null || this.process.exitcode === null) return;
    this.exitcode = this.process.exitcode;
    this.process.close();
  }
}

const WORKER_NAMES: Record<string, string> = { fork: 'ForkPoolWorker', spawn: 'SpawnPoolWorker', forkserver: 'ForkServerPoolWorker' };
let workerCounter = 0;

let serializerLoaded = false;

/**
 * Loads the serializer's parser, as the pool's first function will, before the first fork: loaded
 * after it, each page it writes is a copy-on-write fault (a program's first apply took ~38 ms, not
 * ~7 after a ~21 ms load here), and fork workers inherit it loaded.
 */
function loadSerializerBeforeFork(): void {
  if (serializerLoaded) return;
  serializerLoaded = true;
  try {
    dumps((x: unknown) => x);
  } catch {
    // Only a speed-up: the pool's first function meets the same failure and reports it.
  }
}

export class ProcessTransport implements WorkerTransport {
  readonly noun = 'process';
  readonly acceptFd: number;
  private readonly address: string;

  /** ProcessClass: a context's Process, which starts workers by its start method (`method`). */
  constructor(
    private readonly ProcessClass: typeof Process,
    private readonly method: string,
  ) {
    const name = `mpjs-${process.pid}-pool-${randomBytes(6).toString('hex')}`;
    // Linux's abstract namespace leaves no file behind; elsewhere a socket file in tmpdir.
    this.address = process.platform === 'linux' ? `\0${name}` : join(tmpdir(), name);
    this.acceptFd = native.listenSocket('AF_UNIX', this.address, 0, 128)[0];
    trackFd(this.acceptFd);
    if (method === 'fork') loadSerializerBeforeFork();
  }

  start(token: string, initializer: boolean): WorkerHandle {
    const worker = new this.ProcessClass({
      target: poolWorkerMain,
      args: [this.address, token, this.method === 'fork', initializer],
      name: `${WORKER_NAMES[this.method] ?? 'PoolWorker'}-${++workerCounter}`,
      daemon: true,
    });
    worker._poolWorker = true;
    worker.start();
    return new ProcessHandle(worker as Process<unknown[]>);
  }

  accept(): Array<{ token: string; fd: number }> {
    const arrived: Array<{ token: string; fd: number }> = [];
    for (;;) {
      const accepted = native.acceptSocket(this.acceptFd, 0);
      if (accepted === null) return arrived;
      const fd = accepted[0];
      // A worker sends its token right after connecting; anything else is not ours.
      const token = native.pollFd(fd, 2000) ? native.recvFrame(fd, 64) : null;
      if (token === null) native.closeFd(fd);
      else arrived.push({ token: token.toString('hex'), fd });
    }
  }

  close(): void {
    untrackFd(this.acceptFd);
    native.closeFd(this.acceptFd);
    if (process.platform !== 'linux') require('node:fs').rmSync(this.address, { force: true });
  }
}

/** A pool fd of this process, which a fork child closes (see parentPoolFds). */
export function trackFd(fd: number): void {
  if (parentPoolFds.pid !== thisProcess.pid) {
    parentPoolFds.pid = thisProcess.pid;
    parentPoolFds.fds.clear();
  }
  parentPoolFds.fds.add(fd);
}

export function untrackFd(fd: number): void {
  parentPoolFds.fds.delete(fd);
}