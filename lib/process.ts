// Process objects and the identity of the running process (CPython's process.py): start, join,
// exit codes, names Process-1:2, daemon rules, and the at-exit join of children.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { inspect } from 'node:util';

import { ProcessError } from './errors';
import type { Launchable, Popen, PopenClass } from './popen/index';
import { timeoutArg, type AbortOptions } from './util';

export interface ProcessOptions<A extends unknown[] = unknown[]> {
  target?: ((...args: A) => unknown) | null;
  args?: A;
  name?: string;
  daemon?: boolean;
}

export interface ProcessIdentity {
  readonly name: string;
  readonly pid: number;
}

// The running process's own state, replaced in a fork child (CPython's _current_process & co).
let current: { name: string; identity: number[]; daemon: boolean; authkey: Buffer; parentPid: number | null; parentName: string | null } = {
  name: 'MainProcess',
  identity: [],
  daemon: false,
  authkey: randomBytes(32),
  parentPid: null,
  parentName: null,
};
let counter = 1;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- children of any argument types
type AnyProcess = Process<any>;
const children = new Set<AnyProcess>();

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

/** Resolves the strategy of a Process subclass; set by context.ts (breaks the import cycle). */
export let popenFor: (process: AnyProcess) => PopenClass = () => {
  throw new Error('multiprocess: no start method registered');
};
export function _setPopenResolver(resolve: (process: AnyProcess) => PopenClass): void {
  popenFor = resolve;
}

export class Process<A extends unknown[] = unknown[]> implements Launchable {
  protected _target: ((...args: A) => unknown) | null;
  protected _args: A;
  private _name: string;
  private _daemon: boolean;
  private _identity: number[];
  private _parentPid = process.pid;
  private _parentName = current.name;
  private _popen: Popen | null = null;
  private _closed = false;
  authkey: Buffer = current.authkey;

  constructor(options: ProcessOptions<A> = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('Process(options): options must be an object');
    if (options.target != null && typeof options.target !== 'function')
      throw new TypeError(`Process: target must be a function, got ${typeof options.target}`);
    this._target = options.target ?? null;
    this._args = (options.args ?? []) as A;
    this._identity = [...current.identity, counter++];
    this._daemon = options.daemon ?? current.daemon;
    this._name = options.name ?? `${new.target.name}-${this._identity.join(':')}`;
  }

  /** The child's work; subclasses override it, as in CPython. */
  run(): unknown {
    if (this._target) return this._target(...this._args);
    return undefined;
  }

  start(): void {
    this._checkClosed();
    if (this._popen !== null) throw new ProcessError('cannot start a process twice');
    if (this._parentPid !== process.pid) throw new ProcessError('can only start a process object created by the current process');
    if (current.daemon) throw new ProcessError('daemonic processes are not allowed to have children');
    reapChildren();
    this._popen = popenFor(this).start(this);
    children.add(this);
    installExitHook();
  }

  /**
   * Runs in a fork child, inside start() with the caller's stack above it: the target must be
   * synchronous, and process.exit(n) unwinds back here. Returns the exit code.
   */
  _bootstrap(): number {
    this._becomeCurrent();
    let code = 0;
    const exit = process.exit;
    process.exit = ((code?: number | string | null) => {
      throw new ChildExit(Number(code ?? process.exitCode ?? 0));
    }) as typeof process.exit;
    try {
      const result = this.run();
      if (isThenable(result))
        throw new ProcessError(
          "an async target (or run() returning a Promise) cannot run in a fork child: the child runs inside start() and cannot return to the event loop; use the 'spawn' or 'forkserver' start method, or a synchronous target",
        );
      code = Number(process.exitCode ?? 0);
    } catch (error) {
      if (error instanceof ChildExit) code = error.code;
      else code = this._reportFailure(error);
    } finally {
      process.exit = exit;
    }
    try {
      exitFunction();
    } catch (error) {
      writeStderr(`Process ${this._name}: error at exit: ${String(error)}\n`);
    }
    return code;
  }

  /**
   * Runs in a spawn or forkserver child, from its own event loop: awaits run(); then the child
   * exits when its loop is empty, like a Node script (exit code 1 if run() threw or rejected).
   * process.exit(n) is Node's own; the 'exit' event joins this child's children.
   */
  async _bootstrapAsync(): Promise<void> {
    this._becomeCurrent();
    try {
      await this.run();
    } catch (error) {
      process.exitCode = this._reportFailure(error);
    }
  }

  private _becomeCurrent(): void {
    current = { name: this._name, identity: this._identity, daemon: this._daemon, authkey: this.authkey, parentPid: this._parentPid, parentName: this._parentName };
    counter = 1;
    children.clear();
  }

  /** Prints what run() threw, as CPython prints the traceback; the exit code that follows. */
  private _reportFailure(error: unknown): number {
    const text = error instanceof Error ? (error.stack ?? String(error)) : inspect(error);
    writeStderr(`Process ${this._name}:\n${text}\n`);
    return 1;
  }

  join(timeoutMs?: number | null): void {
    this._checkClosed();
    if (this._parentPid !== process.pid) throw new ProcessError('can only join a child process');
    if (this._popen === null) throw new ProcessError('can only join a started process');
    if (this._popen.wait(timeoutArg(timeoutMs, 'Process.join')) !== null) children.delete(this);
  }

  async joinAsync(timeoutMs?: number | null, options?: AbortOptions): Promise<void> {
    this._checkClosed();
    if (this._popen === null) throw new ProcessError('can only join a started process');
    if ((await this._popen.waitAsync(timeoutArg(timeoutMs, 'Process.joinAsync'), options)) !== null) children.delete(this);
  }

  isAlive(): boolean {
    this._checkClosed();
    if (this._popen === null) return false;
    if (this._parentPid !== process.pid) return false;
    if (this._popen.poll() === null) return true;
    children.delete(this);
    return false;
  }

  terminate(): void {
    this._checkClosed();
    this._popen?.sendSignal('SIGTERM');
  }

  kill(): void {
    this._checkClosed();
    this._popen?.sendSignal('SIGKILL');
  }

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

  get pid(): number | null {
    this._checkClosed();
    return this._popen?.pid ?? null;
  }
  get ident(): number | null {
    return this.pid;
  }

  get exitcode(): number | null {
    this._checkClosed();
    return this._popen?.poll() ?? null;
  }

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
    if (this._closed) status = 'closed';
    else if (this._popen === null) status = 'initial';
    else {
      parts.push(`pid=${this._popen.pid}`);
      const code = this._popen.poll();
      status = code === null ? 'started' : `stopped exitcode=${code < 0 ? `-${signalName(-code)}` : code}`;
    }
    parts.push(`parent=${this._parentPid}`, status);
    if (this._daemon) parts.push('daemon');
    return `<${this.constructor.name} ${parts.join(' ')}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof (value as PromiseLike<unknown>)?.then === 'function';
}

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

/** The running process: `MainProcess` at the top of the tree, `Process-1:2` … below. */
export function currentProcess(): ProcessIdentity & { readonly daemon: boolean; readonly authkey: Buffer; toString(): string } {
  const self = current;
  return {
    name: self.name,
    pid: process.pid,
    daemon: self.daemon,
    authkey: self.authkey,
    toString: () => `<_MainProcess name='${self.name}' parent=${self.parentPid ?? 'None'} started>`,
  };
}

/** The parent of a child process, or null in the main process. */
export function parentProcess(): ProcessIdentity | null {
  if (current.parentPid === null) return null;
  return { name: current.parentName ?? 'MainProcess', pid: current.parentPid };
}

function reapChildren(): void {
  for (const child of children) if (child.exitcode !== null) children.delete(child);
}

/** Children of this process that are still running (finished ones are reaped). */
export function activeChildren(): AnyProcess[] {
  reapChildren();
  return [...children];
}

// CPython's util._exit_function: terminate daemonic children, then join the others.
function exitFunction(): void {
  for (const child of activeChildren()) if (child.daemon) child.terminate();
  for (const child of activeChildren()) child.join();
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', exitFunction);
}
