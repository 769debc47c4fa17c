// The captured-values cache. Reading a closure's scopes through the inspector costs 100–600 µs per
// dumps; when every binding a function captures can never be reassigned (bindings.ts), the values
// read once are the values forever, so they are kept per function object. They are live objects:
// their current contents are serialized at each dumps, so every message is still a snapshot.
// Functions that capture a mutable binding are read again at every dumps.
import { immutableBindings } from './bindings';
import { readScopes, type ScopeEntry, type ScopeRead } from './scopes';

interface Capture {
  /** How many dumps have read this function's scopes (most functions travel once: no analysis for them). */
  reads: number;
  /** Every captured binding is never reassigned (decided on the second read, then fixed). */
  immutable?: boolean;
  /** The scope chain reduced to the captured variables, once all of them hold a value. */
  entries?: ScopeEntry[];
}

const captures = new WeakMap<Function, Capture>();

/**
 * The scope chain of `fn` (innermost first) holding at least its captured free variables.
 * `source` is the function's source text and `free` its free variables (globals included);
 * `fresh` is a read of its scopes made for this same dumps, if there is one.
 */
export function capturedScopes(fn: Function, source: string, free: readonly string[], fresh?: ScopeRead): ScopeEntry[] {
  let capture = captures.get(fn);
  if (capture?.entries) return capture.entries;
  if (!capture) captures.set(fn, (capture = { reads: 0 }));
  const { entries, location } = fresh ?? readScopes(fn);
  capture.reads++;
  if (capture.reads >= 2 && capture.immutable === undefined) {
    const captured = free.filter((name) => entries.some((entry) => name in entry.object));
    capture.immutable = location !== undefined && immutableBindings(location, source, captured).size === captured.length;
  }
  if (capture.immutable) capture.entries = settled(entries, free);
  return entries;
}

/** True once `fn`'s captured values are read for good (every captured binding is never reassigned). */
export function capturesSettled(fn: Function): boolean {
  return captures.get(fn)?.entries !== undefined;
}

/**
 * The chain reduced to the free variables, or undefined while one of them reads as undefined: a
 * `var` before its initialiser runs, or a binding still in its TDZ (Node 20 reads it as undefined,
 * 22+ throws). A binding that really holds undefined is simply read at every dumps.
 */
function settled(chain: readonly ScopeEntry[], free: readonly string[]): ScopeEntry[] | undefined {
  const reduced: ScopeEntry[] = [];
  const taken = new Set<string>();
  for (const entry of chain) {
    const object = Object.create(null) as Record<string, unknown>;
    let holds = false;
    for (const name of free) {
      if (taken.has(name) || !(name in entry.object)) continue;
      taken.add(name);
      let value: unknown;
      try {
        value = entry.object[name];
      } catch {
        return undefined;
      }
      if (value === undefined) return undefined;
      object[name] = value;
      holds = true;
    }
    if (holds) reduced.push({ description: entry.description, object });
  }
  return reduced;
}
