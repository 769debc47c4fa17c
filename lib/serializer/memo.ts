// Whole-message memos for the commonest repeated message: one closure that captures only primitives
// (`pool.map(x => x * k, …)`, a Process target). Such a message depends on nothing that can change
// unseen, so the sender reuses its bytes and the receiver reuses its parsed (never mutated) graph.
import { MARK, Tag, type FunctionRecord, type ScopeRecord } from './format';

interface Sent {
  bytes: Buffer;
  /** What could change the encoding of the function itself: its own keys and name. */
  keys: (string | symbol)[];
  name: string;
}

const sent = new WeakMap<Function, Sent>();

const RECORD_FIELDS = new Set(['s', 'f', 't', 'c', 'n']);

/** One by-value function record with nothing to overlay, whose scopes hold only primitives. */
function standalone(root: unknown, functions: unknown, scopes: unknown): boolean {
  if (typeof root !== 'object' || root === null || (root as Record<string, unknown>)[MARK] !== Tag.Function || Object.keys(root).length !== 2) return false;
  if (!Array.isArray(functions) || functions.length !== 1 || !Array.isArray(scopes)) return false;
  const record = functions[0] as FunctionRecord;
  if (typeof record !== 'object' || record === null || !Object.keys(record).every((key) => RECORD_FIELDS.has(key))) return false;
  return (scopes as ScopeRecord[]).every((scope) => Array.isArray(scope?.v) && scope.v.every((v) => typeof v !== 'object' || v === null));
}

/** A copy of the bytes last sent for `fn`, when nothing that shapes them can have changed since. */
export function resend(fn: Function): Buffer | undefined {
  const entry = sent.get(fn);
  if (entry === undefined) return undefined;
  const keys = Reflect.ownKeys(fn);
  if (keys.length !== entry.keys.length || keys.some((key, i) => key !== entry.keys[i]) || fn.name !== entry.name) {
    sent.delete(fn);
    return undefined;
  }
  const copy = Buffer.allocUnsafe(entry.bytes.length);
  entry.bytes.copy(copy);
  return copy;
}

/**
 * Keeps `bytes` for the next dumps of `fn` when they can only ever come out the same: captured
 * bindings never reassigned (`settled`, see captures.ts) and holding primitives, no `prototype`
 * object whose contents may change.
 */
export function rememberSent(fn: Function, settled: boolean, root: unknown, functions: FunctionRecord[], scopes: ScopeRecord[], bytes: Buffer): void {
  if (Object.hasOwn(fn, 'prototype') || !standalone(root, functions, scopes)) return;
  if (functions[0]!.c >= 0 && !settled) return;
  sent.set(fn, { bytes: Buffer.from(bytes), keys: Reflect.ownKeys(fn), name: fn.name });
}

const received = new Map<string, unknown>();
const RECEIVED_LIMIT = 256;
/** Longer messages are rarely repeated verbatim, and hashing their text would cost more than it saves. */
const RECEIVED_MAX_TEXT = 4096;
/** How a message whose root is function 0 begins. */
const FUNCTION_MESSAGE_PREFIX = `[${JSON.stringify({ [MARK]: Tag.Function, i: 0 })},[`;

/**
 * JSON.parse with a memo for standalone function messages, whose parsed graph the decoder never
 * mutates and so can be decoded again. Only short texts that begin as such a message are looked up.
 */
export function parseGraph(text: string): unknown {
  const candidate = text.length <= RECEIVED_MAX_TEXT && text.startsWith(FUNCTION_MESSAGE_PREFIX);
  if (candidate) {
    const before = received.get(text);
    if (before !== undefined) return before;
  }
  const graph: unknown = JSON.parse(text);
  if (candidate && Array.isArray(graph) && graph.length === 3 && standalone(graph[0], graph[1], graph[2])) {
    if (received.size >= RECEIVED_LIMIT) received.delete(received.keys().next().value!);
    received.set(text, graph);
  }
  return graph;
}
