// The receiver's walk over a GRAPH message: rebuilds functions through the factory, replaces
// markers in place, then fills captured variables once the whole graph exists.
import { SerializationError } from '../errors';
import { resolve } from './byref';
import { MARK, Tag, type FunctionRecord, type Ref, type ScopeRecord } from './format';
import { reducerNamed } from './registry';
import { instantiate, memberOf } from './rebuild';

type Rec = Record<string, unknown>;

function malformed(what: string): never {
  throw new SerializationError(`loads: malformed message (${what})`);
}

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null;
}

function asArray(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) malformed(what);
  return v;
}

export class Decoder {
  private readonly memo = new Map<unknown, unknown>();
  private readonly functions: unknown[];
  private readonly records: FunctionRecord[];
  private readonly ready: boolean[];

  constructor(records: unknown, private readonly scopes: ScopeRecord[]) {
    this.records = asArray(records, 'function table') as FunctionRecord[];
    for (const r of this.records)
      if (!isRecord(r) || typeof r.s !== 'string' || typeof r.c !== 'number' || r.c >= scopes.length || ![0, 1, 2, 3].includes(r.f) || (r.n !== undefined && typeof r.n !== 'string')) malformed('function record');
    for (const s of scopes) if (!isRecord(s) || !Array.isArray(s.n) || !Array.isArray(s.v) || typeof s.u !== 'number' || s.u >= scopes.indexOf(s)) malformed('scope record');
    const { values, setters } = this.records.length === 0 ? { values: [], setters: [] } : instantiate(
      this.records.map((r) => ({ source: r.s, form: r.f, strict: r.t === true, scope: r.c, name: r.n })),
      scopes.map((s) => ({ parent: s.u, names: s.n.map(String) })),
    );
    this.holders = values;
    this.functions = values.map((v, i) => (this.records[i]!.f === 0 ? v : memberOf(v as object, this.records[i]!.f)));
    this.setters = setters;
    this.ready = this.records.map(() => false);
  }

  private readonly holders: unknown[];
  private readonly setters: ((values: unknown[]) => void)[];

  /** Decodes the root, then gives every scope its captured values. */
  run(root: unknown): unknown {
    const result = this.decode(root);
    this.scopes.forEach((scope, i) => this.setters[i]!(this.decode(scope.v) as unknown[]));
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
        for (let i = 0; i < v.length; i++) if (typeof v[i] === 'object' && v[i] !== null) v[i] = this.decode(v[i]);
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
      for (const [k, x] of entries) v.set(this.decode(k), this.decode(x));
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
    const decoded = this.decode(x);
    if (k === '__proto__') Object.defineProperty(o, k, { value: decoded, writable: true, enumerable: true, configurable: true });
    else o[k] = decoded;
  }

  private marker(m: Rec): unknown {
    switch (m[MARK]) {
      case Tag.Symbol:
        if (typeof m.k !== 'string') malformed('symbol');
        return Symbol.for(m.k);
      case Tag.Ref:
        return this.remember(m, resolve(asArray(m.r, 'reference') as Ref));
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
        const elements = asArray(m.e, 'array');
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
    if (typeof i !== 'number' || !(i in this.functions)) malformed('function index');
    const fn = this.functions[i] as Function & { prototype?: object };
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
}
