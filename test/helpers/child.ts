// Starts test/helpers/child.cjs with handles and a function body; the test talks to it with events.
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { afterEach } from 'vitest';
import '../../lib/index';
import '../../lib/shared-memory';
import { dumps, loads } from '../../lib/serializer/index';

// Values (handles included) cross the IPC channel as serializer bytes in base64.
const toWire = (value: unknown): string => dumps(value).toString('base64');
const fromWire = (text: unknown): unknown => loads(Buffer.from(text as string, 'base64'));

export interface Child {
  readonly process: ChildProcess;
  /** Resolves with the next value the child passed to send(). */
  next(): Promise<unknown>;
  /** Delivers a value to the child's receive(). */
  post(data: unknown): void;
  /** Resolves with the body's return value; rejects with the child's error. */
  result(): Promise<unknown>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ChildOptions {
  /** File descriptors handed to the child as fds 4, 5, … */
  fds?: number[];
}

export function startChild(handles: Record<string, unknown>, body: string, options: ChildOptions = {}): Child {
  const stdio = ['ignore', 'inherit', 'inherit', 'ipc', ...(options.fds ?? [])] as const;
  const child = fork(path.join(__dirname, 'child.cjs'), [], { stdio: [...stdio] });
  const messages: unknown[] = [];
  const readers: Array<(value: unknown) => void> = [];
  let settle: { resolve(value: unknown): void; reject(error: Error): void };
  const result = new Promise<unknown>((resolve, reject) => (settle = { resolve, reject }));
  result.catch(() => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      settle.reject(new Error(`child exited (code ${code}, signal ${signal}) before finishing`));
      resolve({ code, signal });
    }),
  );
  child.on('message', (message: { data?: unknown; done?: unknown; error?: string }) => {
    if ('error' in message) settle.reject(new Error(`child failed: ${message.error}`));
    else if ('done' in message) settle.resolve(fromWire(message.done));
    else {
      const data = fromWire(message.data);
      const reader = readers.shift();
      if (reader) reader(data);
      else messages.push(data);
    }
  });
  child.send({ handles: toWire(handles), body });
  return {
    process: child,
    next: () => (messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((resolve) => readers.push(resolve))),
    post: (data) => child.send({ data: toWire(data) }),
    result: () => result,
    exited,
  };
}

const started: Child[] = [];

// Every child a test starts through child() is gone before the next test: killed if still running.
afterEach(async () => {
  for (const c of started.splice(0)) {
    if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    await c.exited;
  }
});

/** startChild, with the child killed and reaped after the current test. */
export function child(handles: Record<string, unknown>, body: string, options?: ChildOptions): Child {
  const c = startChild(handles, body, options);
  started.push(c);
  return c;
}
