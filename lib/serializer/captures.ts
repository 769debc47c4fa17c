// The captured-values cache. Reading a closure's scopes through the inspector costs 100–600 µs per
// dumps; when every binding a function captures can never be reassigned (bindings.ts), the values
// read once are the values forever, so they are kept per function object. They are live objects:
// their current contents are serialized at each dumps, so every message is still a snapshot.
// Functions that capture a mutable binding are read again at every dumps.
//
// A closure written inline in a task call is a new function object every time, so the cache above
// never serves it. For those, a module's never-reassigned top-level bindings are kept per script
// (scriptWide below), once a few of its functions were read: such a closure then costs no read.
import { scriptIdOf, scriptNameOf } from '../park';
import { immutableBindings, scriptBindings, type ScriptBindings } from './bindings';
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
  if (!capture) {
    const shared = fresh ? undefined : scriptWide(fn, free);
    if (shared) return shared;
    captures.set(fn, (capture = { reads: 0 }));
  }
  const { entries, location } = fresh ?? readScopes(fn);
  if (location) learnScriptWide(fn, Number(location.scriptId), entries, free);
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

/** What is known of one script's top-level bindings, for functions not read one by one. */
interface ScriptCapture {
  /** Scope reads of its functions so far; the script is analysed at the READS_BEFORE_ANALYSIS-th. */
  reads: number;
  bindings?: ScriptBindings | null;
  /** The top-level scope as read: values of fixed bindings seen so far (never undefined). */
  scope?: ScopeEntry;
}

// Analysing a script parses all of it (once): worth it only for a script whose functions keep coming.
const READS_BEFORE_ANALYSIS = 3;
const scriptCaptures = new Map<number, ScriptCapture>();

/**
 * The scope chain of a function met for the first time, from what its script's other functions
 * showed, or undefined when it must be read: each free name is a global or a fixed top-level
 * binding whose value is known.
 */
function scriptWide(fn: Function, free: readonly string[]): ScopeEntry[] | undefined {
  const scriptId = scriptIdOf(fn);
  const script = scriptId === undefined ? undefined : scriptCaptures.get(scriptId);
  const { bindings, scope } = script ?? {};
  if (!bindings) return undefined;
  let captures = false;
  for (const name of free) {
    // Not declared in the script and a property of the global object: a global (a lexical
    // declaration of some classic script could be one too, and is read as before).
    if (!bindings.declared.has(name) && name in globalThis) continue;
    if (!scope || !bindings.fixed.has(name) || !(name in scope.object)) return undefined;
    captures = true;
  }
  return captures ? [scope!] : [];
}

/** A module's file: code compiled from strings (eval, vm, new Function) is never analysed. */
const FILE_NAME = /^(file:|\/)/;

/** Keeps the values of fixed top-level bindings a read of one of the script's functions showed. */
function learnScriptWide(fn: Function, scriptId: number, entries: readonly ScopeEntry[], free: readonly string[]): void {
  let script = scriptCaptures.get(scriptId);
  if (!script) {
    // Reading a script's text replays every script V8 holds: only modules' files are worth it.
    const name = scriptNameOf(fn);
    scriptCaptures.set(scriptId, (script = { reads: 0, bindings: name !== undefined && FILE_NAME.test(name) ? undefined : null }));
  }
  if (script.bindings === undefined && ++script.reads >= READS_BEFORE_ANALYSIS) script.bindings = scriptBindings(String(scriptId)) ?? null;
  if (!script.bindings) return;
  for (const name of free) {
    if (!script.bindings.fixed.has(name) || (script.scope && name in script.scope.object)) continue;
    // Declared once, at the top level: the innermost scope that has it is the top-level one.
    const top = entries.find((entry) => name in entry.object);
    let value: unknown;
    try {
      value = top?.object[name];
    } catch {
      continue; // still in its temporal dead zone
    }
    if (top === undefined || value === undefined) continue;
    script.scope ??= { description: top.description, object: Object.create(null) as Record<string, unknown> };
    script.scope.object[name] = value;
  }
}
