// The receiver's walk over a GRAPH message: rebuilds functions through the factory, replaces
// markers in place, then fills captured variables once the whole graph exists.
import { SerializationError } from '../errors';
import { resolve, resolvesWithoutLoading } from './byref';
import { MARK, Tag, type FunctionRecord, type Ref, type ScopeRecord } from './format';
import { keyStep } from './paths';
import { reducerNamed } from './registry';
import { evaluatesCode, instantiate, memberOf, type FunctionShape } from './rebuild';

type Rec = Record<string, unknown>;

function malformed(what: string): never {
  throw new SerializationError(`loads: malformed message (${what})`);
}

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null;
}

/**
 * An array with every index present. v8 carries a sparse array's length (billions) in a few bytes:
 * the lists of the format must not be walked hole by hole (a 211-byte message took 10 s).
 */
function isDense(v: unknown): v is unknown[] {
  if (!Array.isArray(v) || Object.keys(v).length < v.length) return false;
  for (let i = 0; i < v.length; i++) if (!(i in v)) return false;
  return true;
}

function asArray(v: unknown, what: string): unknown[] {
  if (!isDense(v)) malformed(what);
  return v;
}

/** For the walks that only look ahead: what is malformed is reported by the decoding that follows. */
function elementsOf(v: unknown): unknown[] {
  return isDense(v) ? v : [];
}

const isStrings = (v: unknown): v is string[] => isDense(v) && v.every((x) => typeof x === 'string');

function asRef(v: unknown): Ref {
  const r = asArray(v, 'reference');
  const ok = r[0] === 'g' ? isStrings(r[1]) : r[0] === 'm' || r[0] === 'f' ? typeof r[1] === 'string' && isStrings(r[2]) : r[0] === 'r' && typeof r[1] === 'string';
  if (!ok) malformed('reference');
  return r as Ref;
}

/**
 * For `loads(bytes, { functions: false })`: walks the undecoded graph (plain data, nothing rebuilt
 * yet) and refuses the first code-carrying record with its path. Code is a function or class by
 * value (compiled on decoding), a bound function (a bound `eval` as a getter runs its argument), a
 * function by reference and a file module not loaded yet (importing it runs it). A function by
 * reference may stand where it only names a prototype (an instance of a built-in or loaded class).
 */
export function refuseCode(root: unknown, functions: unknown[], rootPath: string): void {
  const seen = new Set<object>();
  const refuse = (path: string, what: string): never => {
    throw new SerializationError(`loads: ${path} is ${what}, refused by { functions: false }`, { path });
  };
  const properties = (m: Rec, path: string): void => {
    const data = elementsOf(m.d);
    for (let i = 0; i + 1 < data.length; i += 2) visit(data[i + 1], path + keyOf(data[i]), false);
    const rest = elementsOf(m.a);
    for (let i = 0; i + 4 < rest.length; i += 5) {
      const at = path + keyOf(rest[i]);
      visit(rest[i + 2], at, false);
      visit(rest[i + 3], `${at}<getter>`, false);
      visit(rest[i + 4], `${at}<setter>`, false);
    }
  };
  const keyOf = (k: unknown): string => (typeof k === 'string' ? keyStep(k) : '[<symbol>]');
  function visit(v: unknown, path: string, namesPrototype: boolean): void {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) return Object.keys(v).forEach((k) => visit(v[k as unknown as number], path + keyStep(k), false));
    if (v instanceof Map) return [...v].forEach(([k, x], i) => (visit(k, `${path}<key ${i}>`, false), visit(x, `${path}<value ${i}>`, false)));
    if (v instanceof Set) return [...v].forEach((x, i) => visit(x, `${path}<item ${i}>`, false));
    if (Object.getPrototypeOf(v) !== Object.prototype) return;
    const m = v as Rec;
    if (!Object.hasOwn(m, MARK)) return Object.keys(m).forEach((k) => visit(m[k], path + keyStep(k), false));
    switch (m[MARK]) {
      case Tag.Function:
        return refuse(path, 'a function or class sent by value (its code would be compiled)');
      case Tag.Bound:
        return refuse(path, 'a bound function');
      case Tag.Ref: {
        const ref = asRef(m.r);
        if (!resolvesWithoutLoading(ref)) return refuse(path, `a reference to module ${JSON.stringify(ref[1])}, which is not loaded here (importing it would run it)`);
        if (!namesPrototype && typeof resolve(ref) === 'function') return refuse(path, 'a function sent by reference');
        return;
      }
      case Tag.Prototype:
        return visit(m.f, `${path}.constructor`, true);
      case Tag.Reduced:
        return visit(m.s, `${path}<reduced ${String(m.n)}>`, false);
      case Tag.Wrapped:
        visit(m.v, path, false);
        break;
      case Tag.Array:
        visit(m.e, path, false);
        break;
      default:
        elementsOf(m.e).forEach((x, i) => visit(x, `${path}<entry ${i}>`, false));
    }
    visit(m.p, `${path}.__proto__`, true);
    properties(m, path);
  }
  visit(root, rootPath, false);
  // Functions reach values only through the root: a table with nothing reaching it is still code.
  if (functions.length > 0) refuse(rootPath, 'a message carrying functions');
}

/** What decoding a captured value meets of a function still being evaluated (see Decoder.reach). */
const enum Reach {
  None = 0,
  /** Only as an element of an array, a plain object's value or a Map's value: filled in afterwards. */
  Slot = 1,
  /** Where its value is used at once (a prototype, a property, a variable): set after it exists. */
  Direct = 2,
}

/** Decoded in a slot in place of a function still being evaluated; the slot is filled once it exists. */
class Pending {
  constructor(readonly index: number) {}
}

type Fill = (fn: Function) => void;

export class Decoder {
  private readonly memo = new Map<unknown, unknown>();
  private readonly functions: (Function | undefined)[];
  private readonly records: FunctionRecord[];
  private readonly ready: boolean[];
  private readonly holders: unknown[];
  private readonly setters: ((values: unknown[]) => void)[];
  /** Functions whose evaluation runs code, and the slots waiting for each while it runs. */
  private readonly evaluating = new Map<number, Fill[]>();
  /** Scopes up to this index have all their values (a class evaluated later leaves them be). */
  private settled = -1;
  /** Per scope, the values set before a class evaluation and whether each is set. */
  private readonly early: { values: unknown[]; set: boolean[] }[] = [];

  constructor(records: unknown, private readonly scopes: ScopeRecord[]) {
    this.records = asArray(records, 'function table') as FunctionRecord[];
    for (const r of this.records)
      if (!isRecord(r) || typeof r.s !== 'string' || typeof r.c !== 'number' || r.c >= scopes.length || ![0, 1, 2, 3].includes(r.f) || (r.n !== undefined && typeof r.n !== 'string')) malformed('function record');
    asArray(scopes, 'scope table').forEach((s, i) => {
      if (!isRecord(s) || !isStrings(s.n) || !isDense(s.v) || s.v.length !== s.n.length || typeof s.u !== 'number' || s.u >= i) malformed('scope record');
    });
    const shapes = this.records.map((r): FunctionShape => ({ source: r.s, form: r.f, strict: r.t === true, scope: r.c, name: r.n }));
    const { values, setters } = this.records.length === 0 ? { values: [], setters: [] } : instantiate(shapes, scopes.map((s) => ({ parent: s.u, names: s.n.map(String) })));
    this.holders = values;
    this.functions = values.map((v, i) => (evaluatesCode(shapes[i]!) ? undefined : this.records[i]!.f === 0 ? (v as Function) : memberOf(v as object, this.records[i]!.f)));
    this.setters = setters;
    this.ready = this.records.map(() => false);
  }

  /** Decodes the root, then gives every scope its captured values. */
  run(root: unknown): unknown {
    const result = this.decode(root);
    this.scopes.forEach((scope, i) => {
      this.setters[i]!(this.decode(scope.v) as unknown[]);
      this.settled = i;
    });
    return result;
  }

  decode(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    const done = this.memo.get(v);
    if (done !== undefined) return done;
    if (Array.isArray(v)) {
      this.memo.set(v, v);
      const keys = Object.keys(v);
      if (keys.length === v.length) {
        for (let i = 0; i < v.length; i++) if (typeof v[i] === 'object' && v[i] !== null) v[i] = this.slot(this.decode(v[i]), (fn) => (v[i] = fn));
      } else for (const k of keys) this.decodeSlot(v as unknown as Rec, k);
      return v;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype) {
      if (Object.hasOwn(v, MARK)) return this.marker(v as Rec);
      this.memo.set(v, v);
      for (const k of Object.keys(v)) this.decodeSlot(v as Rec, k);
      return v;
    }
    if (v instanceof Map) {
      this.memo.set(v, v);
      const entries = [...v];
      v.clear();
      for (const [k, x] of entries) {
        const key = this.decode(k);
        v.set(key, this.slot(this.decode(x), (fn) => v.set(key, fn)));
      }
      return v;
    }
    if (v instanceof Set) {
      this.memo.set(v, v);
      const items = [...v];
      v.clear();
      for (const x of items) v.add(this.decode(x));
      return v;
    }
    return v;
  }

  private decodeSlot(o: Rec, k: string): void {
    const x = o[k];
    if (typeof x !== 'object' || x === null) return;
    const put = (value: unknown): void => {
      if (k === '__proto__') Object.defineProperty(o, k, { value, writable: true, enumerable: true, configurable: true });
      else o[k] = value;
    };
    put(this.slot(this.decode(x), put));
  }

  /** A slot holding a function still being evaluated stays undefined until `fill` gives it the function. */
  private slot(decoded: unknown, fill: Fill): unknown {
    if (!(decoded instanceof Pending)) return decoded;
    this.evaluating.get(decoded.index)!.push(fill);
    return undefined;
  }

  private marker(m: Rec): unknown {
    switch (m[MARK]) {
      case Tag.Symbol:
        if (typeof m.k !== 'string') malformed('symbol');
        return Symbol.for(m.k);
      case Tag.Ref:
        return this.remember(m, resolve(asRef(m.r)));
      case Tag.Uninitialized:
        return undefined;
      case Tag.Function:
        return this.decodeFunction(m);
      case Tag.Prototype: {
        const fn = this.decode(m.f);
        if (typeof fn !== 'function') malformed('prototype of a non-function');
        return this.remember(m, (fn as { prototype: unknown }).prototype);
      }
      case Tag.Bound: {
        const target = this.decode(m.t);
        if (typeof target !== 'function') malformed('bound target');
        const bound = Function.prototype.bind.apply(target, [this.decode(m.h), ...(this.decode(asArray(m.a, 'bound args')) as unknown[])]);
        return this.remember(m, bound);
      }
      case Tag.Object: {
        const out = Object.create(this.protoOf(m, null)) as object;
        this.memo.set(m, out);
        this.defineProperties(out, m);
        if (m.x === 1) Object.preventExtensions(out);
        else if (m.x === 2) Object.seal(out);
        else if (m.x === 3) Object.freeze(out);
        return out;
      }
      case Tag.Error: {
        const out = new Error();
        this.memo.set(m, out);
        Object.setPrototypeOf(out, this.protoOf(m, Error.prototype));
        this.defineProperties(out, m);
        return out;
      }
      case Tag.Array: {
        // An array's own elements may be sparse: decode() walks only those present.
        const elements = Array.isArray(m.e) ? (m.e as unknown[]) : malformed('array');
        this.memo.set(m, elements);
        Object.setPrototypeOf(elements, this.protoOf(m, Array.prototype));
        this.decode(elements);
        return elements;
      }
      case Tag.Collection: {
        const isSet = m.s === 1;
        const out: Map<unknown, unknown> | Set<unknown> = isSet ? new Set() : new Map();
        this.memo.set(m, out);
        Object.setPrototypeOf(out, this.protoOf(m, isSet ? Set.prototype : Map.prototype));
        const entries = asArray(m.e, 'collection');
        if (isSet) for (const x of entries) Set.prototype.add.call(out, this.decode(x));
        else for (let i = 0; i + 1 < entries.length; i += 2) Map.prototype.set.call(out, this.decode(entries[i]), this.decode(entries[i + 1]));
        this.defineProperties(out, m);
        return out;
      }
      case Tag.Wrapped: {
        const value = m.v;
        if (!isRecord(value)) malformed('wrapped value');
        this.memo.set(m, value);
        Object.setPrototypeOf(value, this.protoOf(m, Object.getPrototypeOf(value)));
        this.defineProperties(value, m);
        return value;
      }
      case Tag.Reduced: {
        const entry = typeof m.n === 'string' ? reducerNamed(m.n) : undefined;
        if (!entry)
          throw new SerializationError(`loads: type '${String(m.n)}' is not registered in this process; import the module that calls register() for it before loading`);
        return this.remember(m, entry.reducer.restore(this.decode(m.s)));
      }
      default:
        return malformed(`unknown marker ${String(m[MARK])}`);
    }
  }

  private remember(m: Rec, value: unknown): unknown {
    this.memo.set(m, value);
    return value;
  }

  private protoOf(m: Rec, fallback: object | null): object | null {
    const proto = m.p === undefined ? fallback : this.decode(m.p);
    if (proto !== null && typeof proto !== 'object' && typeof proto !== 'function') malformed('prototype');
    return proto as object | null;
  }

  private defineProperties(o: object, m: Rec): void {
    const data = m.d === undefined ? [] : asArray(m.d, 'properties');
    for (let i = 0; i + 1 < data.length; i += 2)
      Object.defineProperty(o, this.key(data[i]), { value: this.decode(data[i + 1]), writable: true, enumerable: true, configurable: true });
    const rest = m.a === undefined ? [] : asArray(m.a, 'properties');
    for (let i = 0; i + 4 < rest.length; i += 5) {
      const flags = Number(rest[i + 1]);
      const descriptor: PropertyDescriptor = { enumerable: (flags & 2) !== 0, configurable: (flags & 4) !== 0 };
      if (flags & 8) {
        descriptor.get = this.decode(rest[i + 3]) as (() => unknown) | undefined;
        descriptor.set = this.decode(rest[i + 4]) as ((v: unknown) => void) | undefined;
      } else {
        descriptor.value = this.decode(rest[i + 2]);
        descriptor.writable = (flags & 1) !== 0;
      }
      Object.defineProperty(o, this.key(rest[i]), descriptor);
    }
  }

  private key(k: unknown): string | symbol {
    if (typeof k === 'string') return k;
    const decoded = this.decode(k);
    if (typeof decoded !== 'symbol') malformed('property key');
    return decoded;
  }

  private decodeFunction(m: Rec): unknown {
    const i = m.i;
    if (typeof i !== 'number' || !(i in this.records)) malformed('function index');
    if (this.evaluating.has(i)) return new Pending(i);
    const fn = (this.functions[i] ??= this.evaluate(i)) as Function & { prototype?: object };
    this.memo.set(m, fn);
    if (this.ready[i]) return fn;
    this.ready[i] = true;
    const r = this.records[i]!;
    if (r.po !== undefined) fn.prototype = this.decode(r.po) as object;
    if (r.sp !== undefined) {
      const parent = this.decode(r.sp) as (Function & { prototype?: object }) | null;
      Object.setPrototypeOf(fn, parent === null ? Function.prototype : parent);
      Object.setPrototypeOf(fn.prototype!, parent === null ? null : parent.prototype ?? null);
    }
    if (r.ppp !== undefined) Object.setPrototypeOf(fn.prototype!, this.decode(r.ppp) as object | null);
    if (r.pp !== undefined) this.defineProperties(fn.prototype!, r.pp as Rec);
    // The factory named anonymous functions; a function whose own name differs is renamed here.
    if (r.n !== undefined && fn.name !== r.n) Object.defineProperty(fn, 'name', { value: r.n, configurable: true });
    if (r.p !== undefined) this.defineProperties(fn, r.p as Rec);
    if (r.hp !== undefined) Object.setPrototypeOf(this.holders[i] as object, this.decode(r.hp) as object | null);
    return fn;
  }

  /**
   * Evaluates a class (or a method holder with a computed key) once the variables it captures are
   * set, as they were when it was defined on the sender. A variable holding this function only in
   * slots (`registry = [X]`) is set before, those slots filled once it exists; one needing it
   * directly (the class's own outer binding, an instance of it) is set after it, as the outer
   * binding is unset while a class's static initializers run.
   */
  private evaluate(i: number): Function {
    const fills: Fill[] = [];
    this.evaluating.set(i, fills);
    for (let s = this.records[i]!.c; s > this.settled; s = this.scopes[s]!.u) {
      const scope = this.scopes[s]!;
      const early = (this.early[s] ??= { values: new Array(scope.v.length), set: new Array(scope.v.length).fill(false) });
      scope.v.forEach((raw, j) => {
        if (early.set[j] || this.reach(raw, Reach.Direct, new Set()) === Reach.Direct) return;
        early.values[j] = this.decode(raw);
        early.set[j] = true;
      });
      this.setters[s]!(early.values);
    }
    const r = this.records[i]!;
    let value: unknown;
    try {
      value = (this.holders[i] as () => unknown)();
    } catch (error) {
      const what = r.f === 0 ? `class ${r.n || /^class\s+(?!extends\b)([\w$]+)/.exec(r.s)?.[1] || '<anonymous>'}` : 'a method with a computed key';
      throw new SerializationError(`loads: rebuilding ${what} ran its initializers, which threw: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    this.holders[i] = value;
    const fn = r.f === 0 ? (value as Function) : memberOf(value as object, r.f);
    this.evaluating.delete(i);
    for (const fill of fills) fill(fn);
    return fn;
  }

  /**
   * How decoding `v` would meet a function being evaluated: mirrors decode()'s walk without
   * running it. `at` is how the value of `v` is used by what holds it.
   */
  private reach(v: unknown, at: Reach, seen: Set<object>): Reach {
    if (typeof v !== 'object' || v === null || this.memo.has(v)) return Reach.None;
    // Met again elsewhere, a marker of a function being evaluated may be used differently.
    if (isRecord(v) && (v as Rec)[MARK] === Tag.Function && this.evaluating.has((v as Rec).i as number)) return at;
    if (seen.has(v)) return Reach.None;
    seen.add(v);
    let found = Reach.None;
    const visit = (x: unknown, how: Reach): void => {
      if (found !== Reach.Direct) found = Math.max(found, this.reach(x, how, seen));
    };
    const properties = (p: unknown): void => {
      if (!isRecord(p)) return;
      for (const x of elementsOf(p.d)) visit(x, Reach.Direct);
      for (const x of elementsOf(p.a)) visit(x, Reach.Direct);
    };
    if (Array.isArray(v)) for (const k of Object.keys(v)) visit(v[k as unknown as number], Reach.Slot);
    else if (v instanceof Map)
      for (const [k, x] of v) {
        visit(k, Reach.Direct);
        visit(x, Reach.Slot);
      }
    else if (v instanceof Set) for (const x of v) visit(x, Reach.Direct);
    else if (Object.getPrototypeOf(v) !== Object.prototype) return Reach.None;
    else if (!Object.hasOwn(v, MARK)) for (const k of Object.keys(v)) visit((v as Rec)[k], Reach.Slot);
    else {
      const m = v as Rec;
      switch (m[MARK]) {
        case Tag.Function: {
          const i = m.i as number;
          if (this.ready[i] || !(i in this.records)) return Reach.None;
          const r = this.records[i]!;
          for (const x of [r.po, r.sp, r.ppp, r.hp]) visit(x, Reach.Direct);
          properties(r.pp);
          properties(r.p);
          break;
        }
        case Tag.Array:
          visit(m.p, Reach.Direct);
          if (Array.isArray(m.e)) {
            seen.add(m.e);
            for (const k of Object.keys(m.e)) visit((m.e as unknown[])[k as unknown as number], Reach.Slot);
          }
          properties(m);
          break;
        case Tag.Bound:
          for (const x of [m.t, m.h, ...elementsOf(m.a)]) visit(x, Reach.Direct);
          break;
        case Tag.Reduced:
          // restore() may copy what it is given: nothing in it can wait to be filled.
          if (this.reach(m.s, Reach.Direct, seen) !== Reach.None) return Reach.Direct;
          break;
        default:
          visit(m.p, Reach.Direct);
          visit(m.f, Reach.Direct);
          for (const x of elementsOf(m.e)) visit(x, Reach.Direct);
          properties(m);
      }
    }
    return found;
  }
}
