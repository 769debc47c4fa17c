// Process objects and the identity of the running process (CPython's process.py): start, join,
// exit codes, names Process-1:2, daemon rules, and the at-exit join of children.
import * as fs from 'node:fs';
import { constants } from 'node:os';
import { inspect, types } from 'node:util';

import { untilReadable } from './blocking';
import { ProcessError } from './errors';
import type { Launchable, Popen, PopenClass, StartMethod } from './popen/index';
import { native } from './native';
import { randomBytes, thisProcess, timeoutArg, type AbortOptions } from './util';

export interface ProcessOptions<A extends unknown[] = unknown[]> {
  /** The function run() calls in the child with `args`; it may be async (not under fork) and may capture variables. */
  target?: ((...args: A) => unknown) | null;
  args?: A;
  /** Default 'Process-N' (with the parent's numbers before it: 'Process-1:2'). */
  name?: string;
  /** A daemon is terminated when its parent exits, and may not start children. */
  daemon?: boolean;
}

export interface ProcessIdentity {
  readonly name: string;
  readonly pid: number;
}

// The running process's own Process object (CPython's _current_process): the main process's
// below, replaced by the child's own in _bootstrap. Unset only while the main one is being made.
let current: AnyProcess;
let parent: ProcessIdentity | null = null;
let counter = 1;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- children of any argument types
type AnyProcess = Process<any>;
const children = new Set<AnyProcess>();
// Set by the static block of Process.
let bootstrapInFork: (child: AnyProcess) => number;
let becomeCurrent: (child: AnyProcess) => void;

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(require('node:os').constants.signals as Record<string, number>).map(([name, n]) => [n, name]),
);

/** A signal number's name (`SIGKILL`), or the number when the platform has no name for it. */
export function signalName(signal: number): string {
  return SIGNAL_NAMES.get(signal) ?? String(signal);
}

/** How a child ended, for messages: `exit code 1`, `signal SIGKILL`. */
export function describeExit(code: number | null): string {
  if (code === null) return 'an unknown cause';
  if (code < 0) return `signal ${signalName(-code)}`;
  return `exit code ${code}`;
}

// Set by context.ts, which imports this module: the strategy that starts a Process, and how a child
// adopts the start method it was started with.
let popenFor: (process: AnyProcess) => PopenClass = () => {
  throw new Error('multiprocess: no start method registered');
};
let adoptStartMethod: (method: StartMethod) => void = () => {};
export function _bindStartMethods(resolve: (process: AnyProcess) => PopenClass, adopt: (method: StartMethod) => void): void {
  popenFor = resolve;
  adoptStartMethod = adopt;
}

/**
 * A child process that runs `target(...args)`, or run() of a subclass (CPython's Process, on the
 * start method of its context: fork, spawn or forkserver).
 */
/** A target typed as a method, whose parameters TypeScript checks bivariantly: so `Process<[Lock]>` is still a `Process`. */
type Target<A extends unknown[]> = { method(...args: A): unknown }['method'];

export class Process<A extends unknown[] = unknown[]> implements Launchable {
  protected _target: Target<A> | null;
  protected _args: A;
  private _name: string;
  private _daemon: boolean;
  private _identity: number[];
  private _parentPid: number | null;
  private _parentName: string | null;
  private _popen: Popen | null = null;
  private _closed = false;
  // Recorded by start() and travelling with the object, so the child adopts it.
  private _startMethod: StartMethod | null = null;
  // The main process's is made on first use: a child's arrives with its object, and the main
  // object a child makes at import never needs one.
  private _authkey: Buffer | null;
  /** Set by the pool's transport (Launchable._poolWorker); declared only, so it never travels unset. */
  declare _poolWorker?: true;

  constructor(options: ProcessOptions<A> = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('Process(options): options must be an object');
    if (options.target != null && typeof options.target !== 'function')
      throw new TypeError(`Process: target must be a function, got ${typeof options.target}`);
    // Each Process inherits from the running one; only the main process's own object has none.
    const creator = current as AnyProcess | undefined;
    this._target = options.target ?? null;
    this._args = (options.args ?? []) as A;
    this._identity = creator ? [...creator._identity, counter++] : [];
    this._daemon = options.daemon ?? creator?._daemon ?? false;
    this._parentPid = creator ? process.pid : null;
    this._parentName = creator?._name ?? null;
    this._authkey = creator ? creator.authkey : null;
    this._name = options.name ?? (creator ? `${new.target.name}-${this._identity.join(':')}` : 'MainProcess');
  }

  /** The key Listener/Client authenticate with by default; children inherit their parent's. */
  get authkey(): Buffer {
    return (this._authkey ??= randomBytes(32));
  }
  set authkey(key: Buffer) {
    this._authkey = key;
  }

  /** The child's work; subclasses override it, as in CPython. */
  run(): unknown {
    if (this._target) return this._target(...this._args);
    return undefined;
  }

  /** Starts the child; a Process starts once. */
  start(): void {
    this._checkClosed();
    if (this._popen !== null) throw new ProcessError('cannot start a process twice');
    if (this._parentPid !== process.pid) throw new ProcessError('can only start a process object created by the current process');
    if (current._daemon) throw new ProcessError('daemonic processes are not allowed to have children');
    reapChildren();
    const popenClass = popenFor(this);
    this._startMethod = popenClass.method;
    this._popen = popenClass.start(this);
    children.add(this);
    installExitHook();
  }

  /**
   * Runs in a fork child, inside start() with the caller's stack above it: the target must be
   * synchronous, and process.exit(n) unwinds back here. Returns the exit code.
   */
  _bootstrap(): number {
    return bootstrapInFork(this);
  }

  static {
    // The code a fork child compiles dies with it, so code that only children run was compiled
    // anew in every child (0.1-0.2 ms of each start). V8 compiles a parenthesized function with the
    // code around it: these are compiled here, once, in the parent.
    bootstrapInFork = (function (child: AnyProcess): number {
      becomeCurrent(child);
      let code = 0;
      const exit = process.exit;
      process.exit = ((code?: number | string | null) => {
        throw new ChildExit(Number(code ?? process.exitCode ?? 0));
      }) as typeof process.exit;
      try {
        // An async function is refused before it starts: its steps up to the first await would
        // run here, and the rest never.
        const defaultRun = child.run === Process.prototype.run;
        if (isAsync(child.run) || (defaultRun && isAsync(child._target))) throw child._asyncInFork();
        if (isThenable(child.run())) throw child._asyncInFork();
        code = Number(process.exitCode ?? 0);
      } catch (error) {
        if (error instanceof ChildExit) code = error.code;
        else code = child._reportFailure(error);
      } finally {
        process.exit = exit;
      }
      try {
        exitFunction();
      } catch (error) {
        writeStderr(`Process ${child._name}: error at exit: ${String(error)}\n`);
      }
      return code;
    });
    becomeCurrent = (function (child: AnyProcess): void {
      if (child._daemon) dieWithParent(thisProcess.forkedBy ?? child._parentPid!);
      if (child._startMethod !== null) adoptStartMethod(child._startMethod);
      current = child;
      parent = { name: child._parentName ?? 'MainProcess', pid: child._parentPid! }; // a child's object always has its parent's
      counter = 1;
      children.clear();
    });
  }

  private _asyncInFork(): ProcessError {
    const what = this.run === Process.prototype.run ? `the async target ${this._target?.name || '(anonymous)'}` : `${this.constructor.name}.run(), which returns a Promise,`;
    return new ProcessError(
      `${what} cannot run in a fork child: the child runs inside start() and never returns to the event loop, so it could not await it; ` +
        "start this process with the 'spawn' or 'forkserver' start method (e.g. new (getContext('forkserver').Process)({ target })), which await it, or make it synchronous",
    );
  }

  /**
   * Runs in a spawn or forkserver child, from its own event loop: awaits run(); then the child
   * exits when its loop is empty, like a Node script (exit code 1 if run() threw or rejected).
   * process.exit(n) is Node's own; the 'exit' event joins this child's children.
   */
  async _bootstrapAsync(): Promise<void> {
    becomeCurrent(this);
    try {
      await this.run();
    } catch (error) {
      process.exitCode = this._reportFailure(error);
    }
  }

  /** Prints what run() threw, as CPython prints the traceback; the exit code that follows. */
  private _reportFailure(error: unknown): number {
    const text = error instanceof Error ? (error.stack ?? String(error)) : inspect(error);
    writeStderr(`Process ${this._name}:\n${text}\n`);
    return 1;
  }

  /** Blocks until the child ends or timeoutMs passes (then check exitcode, null while it runs). */
  join(timeoutMs?: number | null): void {
    this._checkClosed();
    if (this._parentPid !== process.pid) throw new ProcessError('can only join a child process');
    if (this._popen === null) throw new ProcessError('can only join a started process');
    if (this._popen.wait(untilReadable(this._popen.sentinel, timeoutArg(timeoutMs, 'Process.join'))) !== null) children.delete(this);
  }

  /** The Async twin of join(): resolves when the child ends or timeoutMs passes. */
  async joinAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<void> {
    this._checkClosed();
    if (this._popen === null) throw new ProcessError('can only join a started process');
    if ((await this._popen.waitAsync(timeoutArg(timeoutMs, 'Process.joinAsync'), options)) !== null) children.delete(this);
  }

  /** True from start() until the child has ended. */
  isAlive(): boolean {
    this._checkClosed();
    if (this === current) return true;
    if (this._popen === null) return false;
    if (this._parentPid !== process.pid) return false;
    if (this._popen.poll() === null) return true;
    children.delete(this);
    return false;
  }

  /** Sends SIGTERM. */
  terminate(): void {
    this._checkClosed();
    this._popen?.sendSignal('SIGTERM');
  }

  /** Sends SIGKILL. */
  kill(): void {
    this._checkClosed();
    this._popen?.sendSignal('SIGKILL');
  }

  /** Releases the resources of an ended child; most members throw afterwards. */
  close(): void {
    if (this._popen !== null) {
      if (this._popen.poll() === null) throw new ProcessError('Cannot close a process while it is still running. You should first call join() or terminate().');
      this._popen.close();
      this._popen = null;
    }
    children.delete(this);
    this._closed = true;
  }

  get name(): string {
    return this._name;
  }
  set name(name: string) {
    if (typeof name !== 'string') throw new TypeError('name must be a string');
    this._name = name;
  }

  get daemon(): boolean {
    return this._daemon;
  }
  set daemon(daemonic: boolean) {
    if (this._popen !== null) throw new ProcessError('process has already started');
    this._daemon = Boolean(daemonic);
  }

  /** The child's pid once started, else null. */
  get pid(): number | null {
    this._checkClosed();
    if (this === current) return process.pid;
    return this._popen?.pid ?? null;
  }
  get ident(): number | null {
    return this.pid;
  }

  /** null while the child runs; 0 on success, 1 if run() threw, -N if signal N ended it, or the code it exited with. */
  get exitcode(): number | null {
    this._checkClosed();
    return this._popen?.poll() ?? null;
  }

  /** A descriptor that becomes readable when the child ends, for wait() from multiprocess/connection. */
  get sentinel(): number {
    this._checkClosed();
    if (this._popen === null) throw new ProcessError('process not started');
    return this._popen.sentinel;
  }

  private _checkClosed(): void {
    if (this._closed) throw new ProcessError('process object is closed');
  }

  toString(): string {
    let status: string;
    const parts = [`name='${this._name}'`];
    if (this === current) status = 'started';
    else if (this._closed) status = 'closed';
    else if (this._popen === null) status = 'initial';
    else {
      parts.push(`pid=${this._popen.pid}`);
      const code = this._popen.poll();
      status = code === null ? 'started' : `stopped exitcode=${code < 0 ? `-${signalName(-code)}` : code}`;
    }
    parts.push(`parent=${this._parentPid ?? 'None'}`, status);
    if (this._daemon) parts.push('daemon');
    return `<${this.constructor.name} ${parts.join(' ')}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

// An async function (not an async generator's): its steps past the first await never run in a fork
// child. Parenthesized, as isThenable and exitFunction: compiled in the parent (see the static
// block of Process).
const isAsync = (function (fn: unknown): boolean {
  return types.isAsyncFunction(fn) && !types.isGeneratorFunction(fn);
});

const isThenable = (function (value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof (value as PromiseLike<unknown>)?.then === 'function';
});

// process.exit(n) inside a fork child's target: unwinds to _bootstrap, which exits with n (a Pool
// worker lets it pass).
export class ChildExit {
  constructor(readonly code: number) {}
}

function writeStderr(text: string): void {
  try {
    fs.writeSync(2, text);
  } catch {
    // stderr closed: nothing left to tell
  }
}

/** The main process's own Process object; CPython's class name, which the repr shows. */
class _MainProcess extends Process {
  override close(): void {}
}
current = new _MainProcess();

/** The running process's live Process object: `MainProcess` at the top of the tree, `Process-1:2` … below. */
export function currentProcess(): Process {
  return current;
}

/** The parent of a child process, or null in the main process. */
export function parentProcess(): ProcessIdentity | null {
  return parent;
}

function reapChildren(): void {
  for (const child of children) if (child.exitcode !== null) children.delete(child);
}

/** Children of this process that are still running (finished ones are reaped). */
export function activeChildren(): AnyProcess[] {
  reapChildren();
  return [...children];
}

/**
 * A daemonic child (a Pool worker too) ends with the process that started it, even one SIGKILLed
 * and unable to terminate it at exit as CPython's parent does. parentPid is the process that forked
 * or spawned this one: the forkserver for its children (the forkserver itself ends with the parent).
 */
function dieWithParent(parentPid: number): void {
  if (!native.dieWithParent(constants.signals.SIGKILL, parentPid)) process.kill(thisProcess.pid, 'SIGKILL');
}

// CPython's util._exit_function: terminate daemonic children, then join the others.
const exitFunction = (function (): void {
  for (const child of activeChildren()) if (child.daemon) child.terminate();
  for (const child of activeChildren()) child.join();
});

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', exitFunction);
}
