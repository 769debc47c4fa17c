// The sender's pre-pass: decides whether a value is plain data (v8 alone carries it), and otherwise
// rewrites the graph into v8-serializable form with markers for functions, prototypes and references.
import * as types from 'node:util/types';
import { analyze, type ComputedMember, type FunctionAnalysis } from './analyze';
import { lookup, NAMESPACE, namespaceRef, symbolRef, type FunctionOrigin } from './byref';
import { CODEC_PLAIN, CODEC_PLAIN_JSON, MARK, Tag, type FunctionRecord, type Ref, type ScopeRecord } from './format';
import { keyStep, Refusal } from './paths';
import { reducerFor } from './registry';
import { capturedScopes } from './captures';
import { scriptIdOf } from '../park';
import { readBound, readProxyTarget, readScopes, type ScopeEntry, type ScopeRead } from './scopes';

export interface EncodeOptions {
  /**
   * Closures whose captured scopes look identical (same kind, same names, identical values) share
   * one scope on the receiver, as they did on the sender. Set false to give every function its own
   * copy (sharing cannot be observed directly, only inferred). Default true.
   */
  shareScopes?: boolean;
}

const FORMS = { expression: 0, method: 1, get: 2, set: 3 } as const;
// `name` travels as FunctionRecord.n, or with the other own properties when it is unusual.
const FUNCTION_SKIP = new Set(['length', 'prototype', 'arguments', 'caller']);
const PLAIN_LEAF_PROTOS = new Set<object>([
  Date.prototype, RegExp.prototype, ArrayBuffer.prototype, DataView.prototype, Buffer.prototype,
  Number.prototype, String.prototype, Boolean.prototype, BigInt.prototype,
  ...[Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array,
    Float64Array, BigInt64Array, BigUint64Array].map((c) => c.prototype),
]);
const GENERATOR_PROTOS = new Set<object>([
  Object.getPrototypeOf(function* () {}), Object.getPrototypeOf(async function* () {}),
]);

/** Whether for-in lists any key of `object` (its own or inherited enumerable string keys). */
export function hasEnumerableKey(object: object): boolean {
  for (const _ in object) return true;
  return false;
}

/** True when v8.serialize alone reproduces `value` exactly (no functions, classes, accessors...). */
export function isPlain(value: unknown): boolean {
  return plainCodec(value) !== null;
}

/**
 * How plain data travels: null when it is not plain; CODEC_PLAIN_JSON when JSON also reproduces it
 * exactly (a tree of strings, finite numbers, booleans, null, plain objects and dense arrays: JSON's
 * fixed cost per message is several times below v8.Serializer's); else CODEC_PLAIN.
 */
export function plainCodec(value: unknown): number | null {
  const seen = new Set<object>();
  let json = true;
  // for-in also lists inherited enumerable keys: it counts own keys only while Object.prototype has none.
  const bareObjectPrototype = !hasEnumerableKey(Object.prototype);
  const check = (v: unknown): boolean => {
    if (typeof v !== 'object') {
      if (json && (v === undefined || typeof v === 'bigint' || (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))))) json = false;
      return typeof v !== 'function' && typeof v !== 'symbol';
    }
    if (v === null) return true;
    if (seen.has(v)) {
      json = false; // JSON would duplicate a shared or cyclic reference
      return true;
    }
    seen.add(v);
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype) {
      // Accessors are not looked for here (reading descriptors would cost more than v8 itself):
      // as with structuredClone, plain data carries a getter's current value.
      if (types.isProxy(v) || !Object.isExtensible(v) || Object.getOwnPropertySymbols(v).length > 0) return false;
      const record = v as Record<string, unknown>;
      let count = 0;
      if (bareObjectPrototype) {
        // for-in reads V8's enum cache and makes no key list (~80 ns an object less than Object.keys).
        for (const key in record) {
          count++;
          if (!check(record[key])) return false;
        }
      } else {
        const keys = Object.keys(record);
        count = keys.length;
        for (const key of keys) if (!check(record[key])) return false;
      }
      return Object.getOwnPropertyNames(v).length === count; // no hidden own keys
    }
    if (proto === Array.prototype) {
      if (types.isProxy(v)) return false;
      const a = v as unknown[];
      const keys = Object.keys(a);
      if (keys.length === a.length) {
        for (let i = 0; i < a.length; i++) if (!check(a[i])) return false;
      } else {
        json = false; // holes and extra keys
        for (const k of keys) if (!check(a[k as unknown as number])) return false;
      }
      return Object.getOwnPropertySymbols(a).length === 0;
    }
    json = false; // everything below is beyond JSON
    if (proto === Map.prototype) {
      if (Reflect.ownKeys(v).length > 0) return false;
      for (const [k, x] of v as Map<unknown, unknown>) if (!check(k) || !check(x)) return false;
      return true;
    }
    if (proto === Set.prototype) {
      if (Reflect.ownKeys(v).length > 0) return false;
      for (const k of v as Set<unknown>) if (!check(k)) return false;
      return true;
    }
    return PLAIN_LEAF_PROTOS.has(proto) && !types.isProxy(v) && (!types.isDate(v) || Reflect.ownKeys(v).length === 0);
  };
  if (!check(value)) return null;
  return json ? CODEC_PLAIN_JSON : CODEC_PLAIN;
}

const marker = (tag: Tag, fields: object): Record<string, unknown> => ({ [MARK]: tag, ...fields });

/** A Symbol.for() symbol travels by its key, a well-known one by reference; undefined for a unique symbol. */
function symbolMarker(symbol: symbol): Record<string, unknown> | undefined {
  const key = Symbol.keyFor(symbol);
  if (key !== undefined) return marker(Tag.Symbol, { k: key });
  const ref = symbolRef(symbol);
  return ref && marker(Tag.Ref, { r: ref });
}

const sources = new WeakMap<Function, string>();

/** A function's source text, kept per function (it never changes): the same string also hashes once in analyze(). */
function sourceOf(fn: Function): string {
  let source = sources.get(fn);
  if (source === undefined) sources.set(fn, (source = Function.prototype.toString.call(fn)));
  return source;
}

function nativeSource(source: string): boolean {
  return source.endsWith('{ [native code] }');
}

/** One message's pre-pass: memo of encoded objects, the function table and the scope table. */
/** Whether each script is an ES module, learned from the first function read from it. */
const scriptIsModule = new Map<number, boolean>();

/**
 * Where fn was compiled (is it an ES module's, which byref then indexes?). With the per-ABI addon a
 * function of a script already seen costs no inspector round trip: a closure written inline in a
 * task call is a new function every time, and reading its scopes costs ~70 µs. Otherwise its
 * scopes are read, and handed to `keep` for its captured values.
 */
function originOf(fn: Function, keep: (scopes: ScopeRead) => void): FunctionOrigin | undefined {
  const scriptId = scriptIdOf(fn);
  const known = scriptId === undefined ? undefined : scriptIsModule.get(scriptId);
  if (known !== undefined) return { scriptId: String(scriptId), inModule: known };
  let scopes: ScopeRead;
  try {
    scopes = readScopes(fn);
  } catch {
    return undefined; // an inspector that answers late: only a function that captures needs it
  }
  keep(scopes);
  if (!scopes.location) return undefined;
  const inModule = scopes.entries.at(-1)?.description === 'Module';
  scriptIsModule.set(Number(scopes.location.scriptId), inModule);
  return { scriptId: scopes.location.scriptId, inModule };
}

export class Encoder {
  readonly functions: FunctionRecord[] = [];
  readonly scopes: ScopeRecord[] = [];
  /** The output holds only what JSON reproduces exactly: a tree of strings, finite numbers, booleans and null. */
  jsonSafe = true;
  private readonly memo = new Map<unknown, unknown>();
  private readonly shareScopes: boolean;
  /** Scope identity inference: sender scope entries already given a record, by description+names. */
  private readonly scopeCandidates = new Map<string, { entry: ScopeEntry; index: number }[]>();

  constructor(options: EncodeOptions = {}) {
    this.shareScopes = options.shareScopes ?? true;
  }

  encode(value: unknown): unknown {
    switch (typeof value) {
      case 'object':
        return value === null ? null : this.encodeObject(value);
      case 'function':
        return this.encodeFunction(value);
      case 'symbol': {
        const out = symbolMarker(value);
        if (!out) throw new Refusal(`${String(value)} is a unique symbol; only Symbol.for() and well-known symbols can be sent`);
        return out;
      }
      case 'number':
        if (!Number.isFinite(value) || Object.is(value, -0)) this.jsonSafe = false;
        return value;
      case 'undefined':
      case 'bigint':
        this.jsonSafe = false;
        return value;
      default:
        return value;
    }
  }

  /** A value met again (a shared reference, a cycle): JSON would copy it. */
  private again(encoded: unknown): unknown {
    this.jsonSafe = false;
    return encoded;
  }

  /** Encodes a child, adding its step to the path of a refusal raised below it. */
  private child(value: unknown, step: string | (() => string), home?: object): unknown {
    try {
      return typeof value === 'function' && home ? this.encodeFunction(value, home) : this.encode(value);
    } catch (error) {
      if (error instanceof Refusal) error.steps.push(typeof step === 'string' ? step : step());
      throw error;
    }
  }

  private encodeObject(o: object): unknown {
    const done = this.memo.get(o);
    if (done !== undefined) return this.again(done);
    // A registered reducer speaks for its class first: this package's SharedArray and
    // ShareableList are Proxies over shared memory and travel by name.
    const reducer = reducerFor(o);
    if (reducer) {
      const out = marker(Tag.Reduced, { n: reducer.name });
      this.memo.set(o, out);
      out.s = this.child(reducer.reducer.reduce(o), `<reduced ${reducer.name}>`);
      return out;
    }
    if (types.isProxy(o)) return this.remember(o, marker(Tag.Ref, { r: proxiedModule(o) }));
    refuseObject(o);
    const ref = lookup(o);
    if (ref) return this.remember(o, marker(Tag.Ref, { r: ref }));
    // A class's prototype stands for its class (by reference or rebuilt), whatever it looks like:
    // a base class's is a plain object, an Error subclass's passes for an error.
    const ctor = Object.hasOwn(o, 'constructor') ? (o as { constructor: unknown }).constructor : undefined;
    if (typeof ctor === 'function' && ctor.prototype === o) {
      const out = marker(Tag.Prototype, {});
      this.memo.set(o, out);
      out.f = this.child(ctor, '.constructor');
      return out;
    }
    const proto = Object.getPrototypeOf(o) as object | null;
    if (Array.isArray(o)) return this.encodeArray(o, proto);
    if (proto === Object.prototype && !Object.hasOwn(o, MARK)) return this.encodePlainObject(o);
    if (types.isMap(o) || types.isSet(o)) return this.encodeCollection(o as Map<unknown, unknown> | Set<unknown>, proto);
    if (types.isNativeError(o) || o instanceof Error) return this.encodeError(o as Error, proto);
    if (types.isDate(o) || types.isRegExp(o) || types.isBoxedPrimitive(o) || types.isAnyArrayBuffer(o) || types.isArrayBufferView(o)) {
      if (types.isSharedArrayBuffer(o)) throw new Refusal('a SharedArrayBuffer cannot be copied between processes (use SharedMemory)');
      this.jsonSafe = false;
      if (proto !== null && PLAIN_LEAF_PROTOS.has(proto) && (!types.isDate(o) || Reflect.ownKeys(o).length === 0)) return this.remember(o, o);
      const out = marker(Tag.Wrapped, { v: structuredClone(o) });
      this.memo.set(o, out);
      out.p = this.child(proto, '.__proto__');
      if (!types.isArrayBufferView(o)) Object.assign(out, this.encodeProperties(o));
      return out;
    }
    refuseInstance(proto);
    const out = marker(Tag.Object, {});
    this.memo.set(o, out);
    out.p = this.child(proto, '.__proto__');
    Object.assign(out, this.encodeProperties(o));
    if (!Object.isExtensible(o)) out.x = Object.isFrozen(o) ? 3 : Object.isSealed(o) ? 2 : 1;
    return out;
  }

  private remember<T>(o: unknown, out: T): T {
    this.memo.set(o, out);
    return out;
  }

  private encodePlainObject(o: object): unknown {
    const descriptors = Object.getOwnPropertyDescriptors(o);
    let simple = Object.isExtensible(o) && Object.getOwnPropertySymbols(o).length === 0;
    if (simple)
      for (const key in descriptors) {
        const d = descriptors[key]!;
        if (!d.enumerable || !d.writable || !d.configurable || !('value' in d)) simple = false;
      }
    if (!simple) {
      const out = marker(Tag.Object, {});
      this.memo.set(o, out);
      out.p = this.child(Object.prototype, '.__proto__');
      Object.assign(out, this.encodeProperties(o, undefined, descriptors));
      if (!Object.isExtensible(o)) out.x = Object.isFrozen(o) ? 3 : Object.isSealed(o) ? 2 : 1;
      return out;
    }
    const out: Record<string, unknown> = {};
    this.memo.set(o, out);
    for (const key in descriptors) {
      const encoded = this.child(descriptors[key]!.value, () => keyStep(key), o);
      if (key === '__proto__') Object.defineProperty(out, key, { value: encoded, writable: true, enumerable: true, configurable: true });
      else out[key] = encoded;
    }
    return out;
  }

  private encodeArray(a: unknown[], proto: object | null): unknown {
    const copy: unknown[] = new Array(a.length);
    let result: unknown = copy;
    if (proto !== Array.prototype) {
      result = marker(Tag.Array, { e: copy });
      this.memo.set(a, result);
      (result as Record<string, unknown>).p = this.child(proto, '.__proto__');
    } else this.memo.set(a, copy);
    const keys = Object.keys(a);
    if (keys.length === a.length) {
      for (let i = 0; i < a.length; i++) copy[i] = this.child(a[i], () => `[${i}]`);
    } else {
      this.jsonSafe = false; // holes
      for (const key of keys) (copy as unknown as Record<string, unknown>)[key] = this.child(a[key as unknown as number], () => keyStep(key));
    }
    return result;
  }

  private encodeCollection(c: Map<unknown, unknown> | Set<unknown>, proto: object | null): unknown {
    const isSet = types.isSet(c);
    const standard = proto === (isSet ? Set.prototype : Map.prototype) && Reflect.ownKeys(c).length === 0;
    if (standard) {
      this.jsonSafe = false;
      const out = isSet ? new Set<unknown>() : new Map<unknown, unknown>();
      this.memo.set(c, out);
      let i = 0;
      for (const [k, v] of c.entries()) {
        const key = this.child(k, () => `<key ${i}>`);
        if (isSet) (out as Set<unknown>).add(key);
        else (out as Map<unknown, unknown>).set(key, this.child(v, () => (typeof k === 'object' || typeof k === 'function' ? `<value ${i}>` : `.get(${JSON.stringify(typeof k === 'bigint' ? `${k}n` : k) ?? String(k)})`)));
        i++;
      }
      return out;
    }
    const entries: unknown[] = [];
    const out = marker(Tag.Collection, { s: isSet ? 1 : 0, e: entries });
    this.memo.set(c, out);
    out.p = this.child(proto, '.__proto__');
    let i = 0;
    for (const [k, v] of c.entries()) {
      entries.push(this.child(k, () => `<key ${i}>`));
      if (!isSet) entries.push(this.child(v, () => `<value ${i}>`));
      i++;
    }
    Object.assign(out, this.encodeProperties(c));
    return out;
  }

  private encodeError(e: Error, proto: object | null): unknown {
    const out = marker(Tag.Error, {});
    this.memo.set(e, out);
    out.p = this.child(proto, '.__proto__');
    // On Node 22+ `stack` is an own accessor: send the string it shows.
    const descriptors = Object.getOwnPropertyDescriptors(e) as Record<string | symbol, PropertyDescriptor>;
    if (descriptors.stack && !('value' in descriptors.stack)) descriptors.stack = { value: e.stack, writable: true, enumerable: false, configurable: true };
    Object.assign(out, this.encodeProperties(e, undefined, descriptors));
    return out;
  }

  /**
   * Own properties as `d` (keys and values of ordinary data properties, flattened) and `a`
   * (key, flags, value, get, set for the rest; flags: 1 writable, 2 enumerable, 4 configurable, 8 accessor).
   */
  private encodeProperties(o: object, skip?: (key: string | symbol, d: PropertyDescriptor) => boolean, all?: Record<string | symbol, PropertyDescriptor>): { d?: unknown[]; a?: unknown[] } {
    const descriptors = all ?? (Object.getOwnPropertyDescriptors(o) as Record<string | symbol, PropertyDescriptor>);
    const d: unknown[] = [];
    const a: unknown[] = [];
    for (const key of Reflect.ownKeys(descriptors)) {
      const descriptor = descriptors[key]!;
      if (skip?.(key, descriptor)) continue;
      let wireKey: unknown = key;
      if (typeof key === 'symbol') {
        wireKey = symbolMarker(key);
        if (!wireKey) throw new Refusal(`its property key ${String(key)} is a unique symbol; only Symbol.for() and well-known symbol keys can be sent`);
      }
      const step = (): string => keyStep(key);
      if ('value' in descriptor && descriptor.writable && descriptor.enumerable && descriptor.configurable) {
        d.push(wireKey, this.child(descriptor.value, step, o));
        continue;
      }
      const flags = (descriptor.writable ? 1 : 0) | (descriptor.enumerable ? 2 : 0) | (descriptor.configurable ? 4 : 0) | ('value' in descriptor ? 0 : 8);
      a.push(
        wireKey,
        flags,
        this.child(descriptor.value, step, o),
        this.child(descriptor.get, () => `${step()}<get>`, o),
        this.child(descriptor.set, () => `${step()}<set>`, o),
      );
    }
    return a.length > 0 ? { d, a } : { d };
  }

  private encodeFunction(fn: Function, home?: object): unknown {
    const done = this.memo.get(fn);
    if (done !== undefined) return this.again(done);
    // A function met for the first time may have its scopes read to learn its origin; the same
    // read then serves its captured values.
    let scopes: ScopeRead | undefined;
    const ref = lookup(fn, () => originOf(fn, (read) => (scopes = read)));
    if (ref) return this.remember(fn, marker(Tag.Ref, { r: ref }));
    const requireOf = requireFunctionRef(fn);
    if (requireOf) return this.remember(fn, marker(Tag.Ref, { r: requireOf }));
    const source = sourceOf(fn);
    if (nativeSource(source)) return this.encodeNative(fn);
    const analysis = analyze(source);
    const name = (): string => (fn.name ? ` ${fn.name}` : ''); // only for refusals: not built per message
    if (analysis.refusal) throw new Refusal(`function${name()} cannot be sent: ${analysis.refusal}`);
    const index = this.functions.length;
    const record: FunctionRecord = { s: analysis.source, f: FORMS[analysis.form], t: isStrict(fn, analysis), c: -1 };
    this.functions.push(record);
    const out = marker(Tag.Function, { i: index });
    this.memo.set(fn, out);
    if (analysis.free.length > 0) {
      const chain = capturedScopes(fn, source, analysis.free, scopes);
      const lost = analysis.computed.filter((member) => member.reads.some((name) => !(name in globalThis) && !chain.some((entry) => name in entry.object)));
      if (lost.length > 0) record.s = withLiteralKeys(fn, home, source, analysis, lost);
      record.c = this.encodeScopes(chain, analysis);
    }
    if (analysis.isClass && analysis.source !== source) record.sp = this.child(Object.getPrototypeOf(fn), '<superclass>');
    const nameProperty = Object.getOwnPropertyDescriptor(fn, 'name');
    if (typeof nameProperty?.value === 'string' && !nameProperty.writable && !nameProperty.enumerable && nameProperty.configurable) record.n = nameProperty.value;
    const skipped = (key: string | symbol): boolean => typeof key === 'string' && (FUNCTION_SKIP.has(key) || (key === 'name' && record.n !== undefined));
    // Most functions own nothing else: skip reading every descriptor then.
    if (!Reflect.ownKeys(fn).every(skipped)) {
      const fromBody = analysis.isClass ? (d: PropertyDescriptor) => definedInBody(source, d) : () => false;
      const own = this.encodeProperties(fn, (key, d) => skipped(key) || fromBody(d));
      if (own.d!.length > 0 || own.a) record.p = own;
    }
    this.encodePrototype(fn, record, analysis, source);
    if (analysis.usesSuper && analysis.form !== 'expression') {
      if (!home) throw new Refusal(`method${name()} uses 'super' and was not reached through the object that holds it`);
      record.hp = this.child(Object.getPrototypeOf(home), '<home>.__proto__');
    }
    return out;
  }

  private encodePrototype(fn: Function, record: FunctionRecord, analysis: FunctionAnalysis, source: string): void {
    if (!Object.hasOwn(fn, 'prototype') || analysis.form !== 'expression' || GENERATOR_PROTOS.has(Object.getPrototypeOf(fn))) return;
    const prototype = (fn as { prototype?: unknown }).prototype;
    if (typeof prototype !== 'object' || prototype === null) return;
    if (!Object.hasOwn(prototype, 'constructor') || (prototype as { constructor: unknown }).constructor !== fn) {
      record.po = this.child(prototype, '.prototype');
      return;
    }
    // The receiver's rebuilt F has its own F.prototype: references to it become Prototype markers.
    if (!this.memo.has(prototype)) this.memo.set(prototype, marker(Tag.Prototype, { f: this.memo.get(fn) }));
    const fromBody = analysis.isClass ? (d: PropertyDescriptor) => definedInBody(source, d) : () => false;
    const props = this.encodePropertiesAt(prototype, (key, d) => key === 'constructor' || fromBody(d));
    if (props.d!.length > 0 || props.a) record.pp = props;
    const parent = Object.getPrototypeOf(prototype);
    if (!analysis.isClass && parent !== Object.prototype) record.ppp = this.child(parent, '.prototype.__proto__');
  }

  private encodePropertiesAt(o: object, skip: (key: string | symbol, d: PropertyDescriptor) => boolean): { d?: unknown[]; a?: unknown[] } {
    try {
      return this.encodeProperties(o, skip);
    } catch (error) {
      if (error instanceof Refusal) error.steps.push('.prototype');
      throw error;
    }
  }

  private encodeNative(fn: Function): unknown {
    if (fn.name.startsWith('bound ')) {
      const parts = readBound(fn);
      if (parts) {
        const out = marker(Tag.Bound, {});
        this.memo.set(fn, out);
        out.t = this.child(parts.target, '<bound target>');
        out.h = this.child(parts.boundThis, '<bound this>');
        out.a = this.child(parts.boundArgs, '<bound args>');
        return out;
      }
    }
    throw new Refusal(`native function ${fn.name || '<anonymous>'} cannot be found by reference on the receiver (it is not a global, a builtin module export or an export of an importable module)`);
  }

  /**
   * Reads the captured free variables and returns the innermost scope record index. Every scope
   * from the innermost captured one outward gets a record, also those it captures nothing from:
   * a scope is recognised by its parents too, so that two instances of one block (two loop
   * iterations) stay apart and one scope reached by two functions is one record.
   */
  private encodeScopes(chain: readonly ScopeEntry[], analysis: FunctionAnalysis): number {
    const needed = new Map<number, string[]>();
    let innermost = chain.length;
    for (const name of analysis.free) {
      const at = chain.findIndex((entry) => name in entry.object);
      if (at < 0) continue;
      needed.set(at, [...(needed.get(at) ?? []), name]);
      innermost = Math.min(innermost, at);
    }
    let parent = -1;
    for (let at = chain.length - 1; at >= innermost; at--) {
      const entry = chain[at]!;
      const index = this.scopeFor(entry, parent);
      const record = this.scopes[index]!;
      parent = index;
      for (const name of needed.get(at) ?? []) {
        if (record.n.includes(name)) continue;
        // The slot is taken before the value is encoded: encoding it can reach a sibling function
        // of this same scope, which appends its own names and values to this record meanwhile.
        const slot = record.n.push(name) - 1;
        record.v.push(undefined);
        let value: unknown;
        try {
          value = entry.object[name];
        } catch {
          record.v[slot] = marker(Tag.Uninitialized, {});
          continue;
        }
        record.v[slot] = this.child(value, () => `<closure ${name}>`);
      }
    }
    return parent;
  }

  private scopeFor(entry: ScopeEntry, parent: number): number {
    const names = Object.keys(entry.object);
    const key = `${parent}\u0000${entry.description}\u0000${names.join('\u0000')}`;
    const candidates = this.scopeCandidates.get(key) ?? [];
    if (this.shareScopes) {
      const same = candidates.find((c) => names.every((n) => Object.is(readSafe(c.entry.object, n), readSafe(entry.object, n))));
      if (same) return same.index;
    }
    const index = this.scopes.length;
    this.scopes.push({ u: parent, n: [], v: [] });
    candidates.push({ entry, index });
    this.scopeCandidates.set(key, candidates);
    return index;
  }
}

/**
 * The source with the given computed keys replaced by the keys they gave: V8 keeps a variable
 * that only computed keys read in no closure, so the keys cannot be evaluated again. Each member
 * is found on the class, its prototype or the holding literal by its function's source text.
 */
function withLiteralKeys(fn: Function, home: object | undefined, source: string, analysis: FunctionAnalysis, members: readonly ComputedMember[]): string {
  const what = `${analysis.isClass ? 'class' : 'method'} ${fn.name || '<anonymous>'}`;
  const edits: { start: number; end: number; text: string }[] = analysis.heritage ? [{ ...analysis.heritage, text: 'null' }] : [];
  const taken = new Set<string | symbol>();
  for (const member of members) {
    const holder = analysis.isClass ? (member.isStatic ? fn : (fn as { prototype?: object }).prototype) : home;
    const key = member.kind === 'field' || !holder ? undefined : Reflect.ownKeys(holder).find((k) => {
      if (taken.has(k)) return false;
      const d = Object.getOwnPropertyDescriptor(holder, k)!;
      const f = member.kind === 'value' ? d.value : member.kind === 'get' ? d.get : d.set;
      return typeof f === 'function' && (analysis.isClass ? sourceOf(f) === member.text : f === fn);
    });
    const literal = key === undefined ? undefined : typeof key === 'string' ? JSON.stringify(key) : symbolSource(key);
    if (key === undefined || literal === undefined)
      throw new Refusal(
        `${what} computes a member key with '${member.reads.join("', '")}', which V8 keeps in no closure when only computed keys read it, and the key it gave cannot be found${key === undefined ? '' : ' (a unique symbol)'}; read it in a method too, or give the member a literal key`,
      );
    taken.add(key);
    edits.push({ start: member.keyStart, end: member.keyEnd, text: literal });
  }
  edits.sort((a, b) => b.start - a.start);
  return edits.reduce((text, edit) => `${text.slice(0, edit.start)}${edit.text}${text.slice(edit.end)}`, source);
}

/** Source that gives a Symbol.for or well-known symbol on the receiver. */
function symbolSource(symbol: symbol): string | undefined {
  const key = Symbol.keyFor(symbol);
  if (key !== undefined) return `Symbol.for(${JSON.stringify(key)})`;
  const ref = symbolRef(symbol);
  return ref && ref[0] === 'g' ? ref[1].join('.') : undefined;
}

function readSafe(object: Record<string, unknown>, name: string): unknown {
  try {
    return object[name];
  } catch {
    return readSafe; // a TDZ binding: equal only to another TDZ binding
  }
}

/** Sloppy plain functions carry own `caller`/`arguments`; strict ones and classes do not. */
function isStrict(fn: Function, analysis: FunctionAnalysis): boolean {
  if (analysis.isClass) return true;
  if (analysis.isArrow || analysis.form !== 'expression') return false;
  const plain = Object.getPrototypeOf(fn) === Function.prototype;
  return plain ? !Object.hasOwn(fn, 'caller') : false;
}

function definedInBody(classSource: string, d: PropertyDescriptor): boolean {
  const inBody = (f: unknown): boolean => typeof f === 'function' && classSource.includes(sourceOf(f as Function));
  return 'value' in d ? inBody(d.value) : (d.get === undefined || inBody(d.get)) && (d.set === undefined || inBody(d.set));
}

/** A CommonJS `require` captured by a closure: the receiver makes its own for the same directory. */
function requireFunctionRef(fn: Function): Ref | undefined {
  const r = fn as Partial<NodeJS.Require>;
  if (fn.name !== 'require' || r.cache !== require.cache || typeof r.resolve !== 'function') return undefined;
  const main = r.main?.filename;
  return ['r', main ?? `${process.cwd()}/`];
}

/**
 * A Proxy is refused unless it wraps a module that goes by reference: test runners proxy imports,
 * over a namespace of their own whose `default` is a CommonJS module's exports.
 */
function proxiedModule(proxy: object): Ref {
  const target = readProxyTarget(proxy);
  if (typeof target === 'object' && target !== null) {
    const ref = lookup(target) ?? namespaceRef(lookup((target as { default?: object }).default ?? {}));
    if (ref && (ref[0] === 'm' || ref[0] === 'f') && (ref[2].length === 0 || ref[2][0] === NAMESPACE)) return ref;
  }
  throw new Refusal('it is a Proxy, whose handler cannot be read');
}

// Classes of Node's handles; their modules load with the first object checked, not with the
// serializer (a spawn child that only decodes its process object never loads them).
let handleClasses: Function[] | undefined;
function nodeHandleClasses(): Function[] {
  return (handleClasses ??= [
    (require('node:stream') as typeof import('node:stream')).Stream,
    (require('node:net') as typeof import('node:net')).Server,
    (require('node:dgram') as typeof import('node:dgram')).Socket,
    (require('node:child_process') as typeof import('node:child_process')).ChildProcess,
    (require('node:worker_threads') as typeof import('node:worker_threads')).Worker,
    (require('node:worker_threads') as typeof import('node:worker_threads')).MessagePort,
  ]);
}

/** Values that hold live state of this process and have no meaning elsewhere. */
function refuseObject(o: object): void {
  if (types.isPromise(o)) throw new Refusal('it is a Promise; await it and send the result');
  if (types.isWeakMap(o) || types.isWeakSet(o)) throw new Refusal(`it is a ${types.isWeakMap(o) ? 'WeakMap' : 'WeakSet'}, whose entries cannot be enumerated`);
  if (o instanceof WeakRef || o instanceof FinalizationRegistry) throw new Refusal(`it is a ${o instanceof WeakRef ? 'WeakRef' : 'FinalizationRegistry'}, tied to this process's garbage collector`);
  if (types.isGeneratorObject(o) || types.isMapIterator(o) || types.isSetIterator(o) || /Iterator\]$/.test(Object.prototype.toString.call(o)))
    throw new Refusal('it is an in-flight iterator or generator, whose position cannot be copied; send the remaining items instead');
  if (types.isExternal(o)) throw new Refusal('it is a native external pointer');
  if (types.isModuleNamespaceObject(o)) return;
  if (nodeHandleClasses().some((cls) => o instanceof cls))
    throw new Refusal(`it is a ${o.constructor?.name ?? 'native'} handle (socket, stream, server, child process or worker), which only exists in this process`);
  if ((o as { constructor?: { name?: string } }).constructor?.name === 'FileHandle' && typeof (o as { fd?: unknown }).fd === 'number')
    throw new Refusal('it is a FileHandle, which only exists in this process (send the path instead)');
}

/** Instances of native classes (handles) and of classes with #private fields cannot be rebuilt. */
function refuseInstance(proto: object | null): void {
  for (let p = proto; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    const ctor = Object.hasOwn(p, 'constructor') ? (p as { constructor: unknown }).constructor : undefined;
    if (typeof ctor !== 'function') continue;
    if (lookup(p)) return;
    const source = sourceOf(ctor);
    if (nativeSource(source))
      throw new Refusal(`it is a native object (class ${ctor.name || '<anonymous>'}) that only exists in this process`);
    if (source.startsWith('class') && analyze(source).hasPrivate)
      throw new Refusal(`it is an instance of class ${ctor.name || '<anonymous>'} with #private fields, which cannot be read; register a reducer for the class (register(${ctor.name || 'Class'}, { reduce, restore }))`);
  }
}
