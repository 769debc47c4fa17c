// Reads what V8 keeps hidden from JavaScript — a closure's [[Scopes]] and a bound function's parts —
// through an in-process node:inspector session, whose replies arrive synchronously in practice.
import type * as inspector from 'node:inspector';
import { SerializationError } from '../errors';

/** One entry of a function's scope chain, innermost first; `object` is a copy of the bindings. */
export interface ScopeEntry {
  readonly description: string;
  readonly object: Record<string, unknown>;
}

/** A function's scope chain (innermost first, without the global scope) and where it was compiled. */
export interface ScopeRead {
  readonly entries: ScopeEntry[];
  readonly location?: FunctionLocation;
}

/** Where V8 compiled a function: its script and the 0-based line/column of its start. */
export interface FunctionLocation {
  readonly scriptId: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

/** A script's text exactly as V8 compiled it, and how it was compiled. */
export interface ScriptText {
  readonly source: string;
  readonly url: string;
  readonly isModule: boolean;
}

export interface BoundParts {
  readonly target: Function;
  readonly boundThis: unknown;
  readonly boundArgs: unknown[];
}

type RemoteObject = inspector.Runtime.RemoteObject;

const SLOT = Symbol.for('multiprocess.serializer.slot');
const slots = globalThis as unknown as Record<symbol, unknown>;
const GROUP = 'multiprocess-serializer';
let session: inspector.Session | undefined;

function post<T>(method: string, params: object): T {
  session ??= connect();
  let done = false;
  let result: T | undefined;
  let failure: Error | null = null;
  session.post(method, params, (error: Error | null, value?: unknown) => {
    done = true;
    failure = error;
    result = value as T;
  });
  if (!done)
    throw new SerializationError(
      `the inspector answered ${method} asynchronously, so closures cannot be read synchronously here; use dumpsAsync()`,
    );
  if (failure) throw failure;
  return result!;
}

// node:inspector loads with the first session: a process that only decodes never needs it.
function connect(): inspector.Session {
  const s = new (require('node:inspector') as typeof inspector).Session();
  s.connect();
  return s;
}

/** Brings a remote object back as the live value (objects keep their identity). */
function materialize(remote: RemoteObject): unknown {
  if (remote.objectId === undefined && remote.unserializableValue === undefined) return remote.value;
  if (remote.objectId !== undefined && remote.type === 'object') {
    post('Runtime.callFunctionOn', { objectId: remote.objectId, functionDeclaration: 'function () { globalThis[Symbol.for("multiprocess.serializer.slot")] = this; }' });
    return take();
  }
  const argument = remote.objectId !== undefined ? { objectId: remote.objectId } : { unserializableValue: remote.unserializableValue };
  post('Runtime.callFunctionOn', {
    objectId: remoteOf(globalThis),
    functionDeclaration: 'function (value) { this[Symbol.for("multiprocess.serializer.slot")] = value; }',
    arguments: [argument],
  });
  return take();
}

function take(): unknown {
  const value = slots[SLOT];
  delete slots[SLOT];
  return value;
}

function remoteOf(value: unknown): string {
  slots[SLOT] = value;
  try {
    const { result } = post<{ result: RemoteObject }>('Runtime.evaluate', {
      expression: 'globalThis[Symbol.for("multiprocess.serializer.slot")]',
      objectGroup: GROUP,
    });
    return result.objectId!;
  } finally {
    delete slots[SLOT];
  }
}

function internals(fn: Function): Map<string, RemoteObject> {
  const { internalProperties } = post<{ internalProperties?: inspector.Runtime.InternalPropertyDescriptor[] }>(
    'Runtime.getProperties',
    { objectId: remoteOf(fn), ownProperties: true },
  );
  return new Map((internalProperties ?? []).map((p) => [p.name, p.value!]));
}

function withGroup<T>(read: () => T): T {
  try {
    return read();
  } finally {
    post('Runtime.releaseObjectGroup', { objectGroup: GROUP });
  }
}

/**
 * The function's scope chain without the global scope (globals are looked up on the receiver),
 * and where the function was compiled (read in the same round, it is free).
 */
export function readScopes(fn: Function): ScopeRead {
  return withGroup(() => {
    const parts = internals(fn);
    const location = parts.get('[[FunctionLocation]]')?.value as FunctionLocation | undefined;
    const scopes = parts.get('[[Scopes]]');
    if (!scopes) return { entries: [], location };
    const list = materialize(scopes) as ArrayLike<ScopeEntry>;
    const entries: ScopeEntry[] = [];
    for (let i = 0; i < list.length; i++) if (list[i]!.description !== 'Global') entries.push(list[i]!);
    return { entries, location };
  });
}

/** A script V8 has compiled: its id, its URL, and whether it is an ES module. */
export interface ParsedScript {
  readonly scriptId: string;
  readonly url: string;
  readonly isModule: boolean;
}

/**
 * Runs `read` with the Debugger domain enabled for this call only: `Debugger.enable` replays a
 * scriptParsed event per loaded script (milliseconds, growing with their number), handed to
 * `onScript`, and while it is on a `debugger` statement would pause; after disabling it, other code
 * runs as fast as before (measured). Undefined when the inspector cannot answer synchronously.
 */
function withDebugger<T>(onScript: (script: ParsedScript) => void, read: () => T): T | undefined {
  session ??= connect();
  const onParsed = ({ params }: inspector.InspectorNotification<inspector.Debugger.ScriptParsedEventDataType>): void =>
    onScript({ scriptId: params.scriptId, url: params.url, isModule: params.isModule === true });
  session.on('Debugger.scriptParsed', onParsed);
  try {
    post('Debugger.enable', {});
    return read();
  } catch {
    return undefined;
  } finally {
    session.off('Debugger.scriptParsed', onParsed);
    // Not through post(): even if enable was answered late, disable is queued after it.
    session.post('Debugger.disable');
  }
}

/** The text of script `scriptId` and how it was compiled (costs a replay, see withDebugger). */
export function readScript(scriptId: string): ScriptText | undefined {
  let parsed: ParsedScript | undefined;
  const text = withDebugger(
    (script) => {
      if (script.scriptId === scriptId) parsed = script;
    },
    () => post<{ scriptSource: string }>('Debugger.getScriptSource', { scriptId }).scriptSource,
  );
  return parsed && text !== undefined ? { source: text, url: parsed.url, isModule: parsed.isModule } : undefined;
}

/** Every script V8 has compiled so far (empty when the inspector cannot answer synchronously). */
export function parsedScripts(): ParsedScript[] {
  const scripts: ParsedScript[] = [];
  return withDebugger((script) => scripts.push(script), () => scripts) ?? [];
}

export function readBound(fn: Function): BoundParts | undefined {
  return withGroup(() => {
    const parts = internals(fn);
    const target = parts.get('[[TargetFunction]]');
    if (!target) return undefined;
    return {
      target: materialize(target) as Function,
      boundThis: materialize(parts.get('[[BoundThis]]')!),
      boundArgs: [...(materialize(parts.get('[[BoundArgs]]')!) as unknown[])],
    };
  });
}

/** The target of a Proxy (module namespaces of some loaders are proxies over the real module). */
export function readProxyTarget(proxy: object): unknown {
  return withGroup(() => {
    const target = internals(proxy as Function).get('[[Target]]');
    return target ? materialize(target) : undefined;
  });
}
