// Conformance: every case is dumped here and loaded in a REAL fresh node process (one child for
// the whole batch), which answers util.inspect of the case's probe; refusals are checked at the sender.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as util from 'node:util';
import * as vm from 'node:vm';
import ts from 'typescript';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadBuilt, requireHelper, roundTrip, type Answer } from './helpers/serializer-harness';

const ser = loadBuilt();
const helperTypes = requireHelper('./serializer-types.cjs') as {
  Temperature: new (c: number) => { celsius: number };
  double: (x: number) => number;
  Shape: new (side: number) => { side: number; area(): number };
  Oops: new (message: string) => TypeError;
};
const packageErrors = requireHelper('../../dist/errors.js') as typeof import('../../lib/errors');

interface Case {
  name: string;
  value: unknown;
  probe: (v: any) => unknown;
  expect: unknown;
  options?: Parameters<typeof ser.dumps>[1];
}

const cases: Case[] = [];
const add = (name: string, value: unknown, probe: Case['probe'], expected: unknown, options?: Case['options']): void => {
  cases.push({ name, value, probe, expect: expected, options });
};

// --- structured-clone data, with full fidelity ---
const shared = { n: 1 } as { n: number; self?: unknown };
shared.self = shared;
const sparse: number[] = [];
sparse[1_000_000] = 7;
add('Map with object keys', new Map<unknown, unknown>([[{ k: 1 }, 'a'], ['b', [1, 2]]]), (v) => [v instanceof Map, [...v]], [true, [[{ k: 1 }, 'a'], ['b', [1, 2]]]]);
add('Set', new Set([1, 'a', { x: 1 }]), (v) => [v instanceof Set, [...v]], [true, [1, 'a', { x: 1 }]]);
add('Date', new Date(Date.UTC(2020, 1, 2)), (v) => [v instanceof Date, v.toISOString()], [true, '2020-02-02T00:00:00.000Z']);
add('RegExp with flags', /a+b/dgimsy, (v) => [v instanceof RegExp, v.source, v.flags], [true, 'a+b', 'dgimsy']);
add('BigInt', 2n ** 70n, (v) => [typeof v, v], ['bigint', 2n ** 70n]);
add('typed arrays', [new Float64Array([1.5, NaN, -0]), new BigInt64Array([-1n]), new Uint8ClampedArray([300])], (v) => v, [new Float64Array([1.5, NaN, -0]), new BigInt64Array([-1n]), new Uint8ClampedArray([255])]);
add('DataView and ArrayBuffer', (() => { const b = new ArrayBuffer(4); new DataView(b).setUint16(0, 513); return [new DataView(b), b]; })(), (v) => [v[0] instanceof DataView, v[0].getUint16(0), v[1] instanceof ArrayBuffer, v[1].byteLength], [true, 513, true, 4]);
add('Buffer stays Buffer', Buffer.from('héllo'), (v) => [Buffer.isBuffer(v), v.toString()], [true, 'héllo']);
add('cycles and shared references', { a: shared, b: shared }, (v) => [v.a === v.b, v.a.self === v.a, v.a.n], [true, true, 1]);
add('undefined vs holes', [undefined, , 3], (v) => [0 in v, 1 in v, v.length, v[0]], [true, false, 3, undefined]); // eslint-disable-line no-sparse-arrays
add('-0 and NaN', [-0, NaN, Infinity], (v) => [Object.is(v[0], -0), Number.isNaN(v[1]), v[2]], [true, true, Infinity]);
add('sparse array stays sparse', sparse, (v) => [v.length, Object.keys(v)], [1_000_001, ['1000000']]);
add('boxed primitives', [Object(1), Object('s'), Object(true), Object(1n)], (v) => v.map((x: object) => `${typeof x}:${String(x.valueOf())}`), ['object:1', 'object:s', 'object:true', 'object:1']);
add('null-prototype object', Object.assign(Object.create(null) as object, { a: 1 }), (v) => [Object.getPrototypeOf(v), v.a], [null, 1]);
add('Symbol.for keys and values', { [Symbol.for('k')]: 1, s: Symbol.for('v') }, (v) => [v[Symbol.for('k')], v.s === Symbol.for('v')], [1, true]);
add('accessors, non-enumerable, frozen', Object.freeze(Object.defineProperties({ base: 2 }, { twice: { get() { return (this as { base: number }).base * 2; }, enumerable: true }, hidden: { value: 'h' } })), (v) => [v.twice, v.hidden, Object.keys(v), Object.isFrozen(v)], [4, 'h', ['base', 'twice'], true]);
add('an object holding the marker key', { '\u0000mp': 1, x: () => 2 }, (v) => [v['\u0000mp'], v.x()], [1, 2]);

// --- functions ---
let base = 10;
const addBase = (x: number) => x + base;
add('arrow closure (snapshot of a free variable)', addBase, (f) => f(1), 11);
function fact(n: number): number {
  return n <= 1 ? 1 : n * fact(n - 1);
}
add('function declaration with recursion', fact, (f) => f(5), 120);
const fibExpr = function fibo(n: number): number {
  return n < 2 ? n : fibo(n - 1) + fibo(n - 2);
};
add('named function expression recursion', fibExpr, (f) => f(10), 55);
add('async function', async (x: number) => (await Promise.resolve(x)) * 3, async (f) => [f.constructor.name, await f(2)], ['AsyncFunction', 6]);
add('generator', function* (n: number) { for (let i = 0; i < n; i++) yield i; }, (f) => [...f(3)], [0, 1, 2]);
add('async generator', async function* () { yield 1; yield 2; }, async (f) => { const out = []; for await (const x of f()) out.push(x); return out; }, [1, 2]);
const greeter = { hi() { return 'base'; } };
add('method using super', { __proto__: greeter, hi() { return `${super.hi()}!`; } }, (o) => o.hi(), 'base!');
add('getter and setter', { v_: 1, get v() { return this.v_; }, set v(x: number) { this.v_ = x * 10; } }, (o) => { o.v = 5; return o.v; }, 50);
add('bound function', function (this: { v: number }, a: number, b: number) { return this.v + a + b; }.bind({ v: 1 }, 2), (f) => [f(3), f.name], [6, 'bound ']);
function Person(this: { name: string }, name: string) { this.name = name; }
Person.prototype.hello = function (this: { name: string }) { return `hi ${this.name}`; };
add('ES5 constructor with prototype', { P: Person, p: new (Person as any)('ann') }, (v) => [v.p.hello(), v.p instanceof v.P, new v.P('bo').hello()], ['hi ann', true, 'hi bo']);
function makeCounter() {
  let count = 0;
  return { inc: () => ++count, get: () => count };
}
const counter = makeCounter();
counter.inc();
add('two closures share their scope again', counter, (c) => { c.inc(); c.inc(); return c.get(); }, 3);
add('opt-out: shareScopes false', counter, (c) => { c.inc(); return c.get(); }, 1, { shareScopes: false });
const awkward = { neg: -0, nan: NaN, big: 2n ** 64n, undef: undefined, when: new Date(0), holes: [1, , 3] }; // eslint-disable-line no-sparse-arrays
const twice = { x: 1 };
add('closure over values JSON cannot carry (v8 codec)', () => [awkward, twice, twice], (f) => { const [a, t1, t2] = f(); return [Object.is(a.neg, -0), Number.isNaN(a.nan), a.big, 'undef' in a, a.when instanceof Date, 1 in a.holes, t1 === t2]; }, [true, true, 2n ** 64n, true, true, false, true]);
const texts = { 'clé': 'ü\u{1F600}', lone: '\ud800', ['__proto__']: 'own', nested: [{ deep: 'x' }] };
add('closure over text JSON carries exactly (JSON codec)', () => texts, (f) => { const t = f(); return [Object.keys(t), t['clé'], t.lone === '\ud800', Object.getPrototypeOf(t) === Object.prototype, t.nested[0].deep]; }, [['clé', 'lone', '__proto__', 'nested'], 'ü\u{1F600}', true, true, 'x']);
const renamed = Object.defineProperty(function original() { return 1; }, 'name', { value: 'renamed', configurable: true });
add('function names: inferred, anonymous, redefined', { inferred: () => 1, anon: [() => 2][0], renamed }, (v) => [v.inferred.name, v.anon.name, v.renamed.name, Object.getOwnPropertyNames(v.renamed).includes('name')], ['inferred', '', 'renamed', true]);
const withProps = Object.assign((x: number) => x, { meta: { tag: 'm' } });
add('function own properties', withProps, (f) => f.meta.tag, 'm');
const outerFn = (x: number) => x * 2;
const inner = { outerFn, table: [1, 2] };
add('closure over another closure and an object', (i: number) => inner.outerFn(inner.table[i]!), (f) => f(1), 4);

// --- modules and globals by reference ---
const usesFs = () => fs;
add('captured module namespace is a namespace over the receiver module', usesFs, (f) => [f().readFileSync === process.getBuiltinModule('fs').readFileSync, f().default === process.getBuiltinModule('fs'), f() === f()], [true, true, true]);
add('captured builtin export is the receiver function', () => readFileSync, (f) => f() === process.getBuiltinModule('fs').readFileSync, true);
add('globals by reference', [Math.max, JSON, Array.prototype.map], (v) => [v[0] === Math.max, v[1] === JSON, v[2] === Array.prototype.map], [true, true, true]);
const hostGlobal = ((globalThis as Record<string, unknown>).mpHostDefined = { set: 'by the host' });
const globalObject = globalThis;
add("a host's own global travels by value (the receiver lacks it), the global object by reference", () => [hostGlobal, globalObject], (f) => [f()[0], f()[1] === globalThis, 'mpHostDefined' in globalThis], [{ set: 'by the host' }, true, false]);
add('export of an importable module by reference', helperTypes.double, (f) => [f(21), f.name], [42, 'double']);

// --- classes and instances ---
function makeShape(k: number) {
  class Shape {
    static made = 0;
    constructor(readonly side: number) {
      Shape.made++;
    }
    area() { return this.side * this.side * k; }
    static unit() { return new Shape(1); }
  }
  class Square extends Shape {
    override area() { return super.area() + 1; }
    get label() { return `square ${this.side}`; }
  }
  return { Shape, Square };
}
const { Square } = makeShape(2);
const sq = new Square(3);
add('class defined in a function: instance, chain, statics, no constructor call', sq, (s) => [s.area(), s.label, Object.getPrototypeOf(s.constructor).made, Object.getPrototypeOf(s.constructor).unit().area(), s.constructor.name], [19, 'square 3', 1, 2, 'Square']);
add('a class itself', Square, (C) => [new C(2).area(), C.name, Object.getPrototypeOf(C).name], [9, 'Square', 'Shape']);
class ValidationError extends Error {
  field = 'email';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ValidationError';
  }
}
const err = new ValidationError('bad email', { cause: new RangeError('too long') });
add('Error subclass with message, stack, cause, own props', err, (e) => [e instanceof Error, e.constructor.name, e.message, e.field, e.cause instanceof RangeError, e.cause.message, typeof e.stack === 'string' && e.stack.includes('conformance')], [true, 'ValidationError', 'bad email', 'email', true, 'too long', true]);
class Registry extends Map<string, number> { total() { let t = 0; for (const v of this.values()) t += v; return t; } }
class Tags extends Set<string> { joined() { return [...this].join(','); } }
class Stack extends Array<number> { top() { return this[this.length - 1]; } }
const stack = new Stack();
stack.push(1, 2, 3);
add('Map, Set and Array subclasses', [new Registry([['a', 1], ['b', 2]]), new Tags(['x', 'y']), stack], (v) => [v[0].total(), v[0] instanceof Map, v[1].joined(), v[2].top(), Array.isArray(v[2]), v[2].length], [3, true, 'x,y', 3, true, 3]);
add('instance of a class that travels by reference is of that class', new helperTypes.Shape(3), (s) => [s instanceof helperTypes.Shape, s.area()], [true, 9]);
add('errors of classes that travel by reference are of those classes', [new helperTypes.Oops('o'), new packageErrors.Empty('e'), new packageErrors.Full('f'), new ser.SerializationError('s')], (v) => [v[0] instanceof helperTypes.Oops, v[0] instanceof TypeError, v[1] instanceof packageErrors.Empty, v[2] instanceof packageErrors.Full, v[3] instanceof ser.SerializationError, v.map((e: Error) => e.message)], [true, true, true, true, true, ['o', 'e', 'f', 's']]);
add('registered reducer', new helperTypes.Temperature(21.5), (t) => [t.constructor.name, t.celsius], ['Temperature', 21.5]);

// --- compiled output ---
function compiled(source: string, target: ts.ScriptTarget): Record<string, any> {
  const js = ts.transpileModule(source, { compilerOptions: { target, module: ts.ModuleKind.CommonJS } }).outputText;
  const exports: Record<string, any> = {};
  vm.runInThisContext(`(function (exports, require) {${js}\n})`)(exports, requireHelper);
  return exports;
}
const tsSource = `
  const scale = 3;
  export const later = async (x: number) => { await null; return x * scale; };
  export class Base { constructor(public v: number) {} twice() { return this.v * 2; } }
  export class Derived extends Base { twice() { return super.twice() + scale; } }
`;
for (const [label, target] of [['ES5', ts.ScriptTarget.ES5], ['ES2015', ts.ScriptTarget.ES2015]] as const) {
  const m = compiled(tsSource, target);
  add(`tsc ${label} output: __awaiter async arrow and class with super`, { later: m.later, d: new m.Derived(4) }, async (v) => [await v.later(2), v.d.twice()], [6, 11]);
}
// esbuild/tsx keep-names and lowered-async helpers.
const esbuildOut = vm.runInThisContext(`(() => {
  var __defProp = Object.defineProperty;
  var __name = (target, value) => __defProp(target, "name", { value, configurable: true });
  var __async = (__this, __arguments, generator) => new Promise((resolve, reject) => {
    var step = (x) => x.done ? resolve(x.value) : Promise.resolve(x.value).then((v) => step(generator.next(v)), reject);
    step((generator = generator.apply(__this, __arguments)).next());
  });
  const k = 5;
  const work = /* @__PURE__ */ __name((x) => __async(this, null, function* () { return (yield x) + k; }), "work");
  return work;
})()`);
add('esbuild/tsx output: __name and __async helpers', esbuildOut, async (f) => [f.name, await f(1)], ['work', 6]);

describe('conformance: round trips into a fresh node process', () => {
  let answers: Answer[] = [];
  beforeAll(async () => {
    answers = await roundTrip(cases.map((c) => ser.dumps({ value: c.value, probe: c.probe }, c.options)));
  });

  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
    const c = cases[i]!;
    expect(answers[i]).toEqual({ ok: util.inspect(c.expect, { depth: 6, sorted: true }) });
  });

  it('sends snapshot values: a later change on the sender does not travel back', async () => {
    const bytes = ser.dumps({ value: addBase, probe: (f: (x: number) => number) => f(0) });
    base = 100;
    const [answer] = await roundTrip([bytes, ser.dumps({ value: addBase, probe: (f: (x: number) => number) => f(0) })]);
    expect(answer).toEqual({ ok: '10' });
    base = 10;
  });

  it('sends module exports by reference, not their source', () => {
    const bytes = ser.dumps(helperTypes.double).toString('latin1');
    expect(bytes).toContain('serializer-types.cjs');
    expect(bytes).not.toContain('x * 2');
  });

  it('sends a graph JSON carries exactly as JSON, anything else through v8', () => {
    const k = 2;
    expect(ser.dumps((x: number) => x * k)[1]).toBe(2);
    expect(ser.dumps(() => awkward)[1]).toBe(1);
    const fn = () => 1;
    expect(ser.dumps([fn, fn])[1]).toBe(1); // a shared reference
  });

  it('keeps a sparse array small on the wire', () => {
    expect(ser.dumps(sparse).length).toBeLessThan(64);
  });

  it('tells a receiver started with --disallow-code-generation-from-strings what is wrong', async () => {
    const [fn, data] = await roundTrip(
      [ser.dumps({ value: (x: number) => x, probe: () => 1 }), ser.dumps({ value: 1, probe: Math.abs })],
      ['--disallow-code-generation-from-strings'],
    );
    expect(fn!.error).toMatch(/SerializationError: .*--disallow-code-generation-from-strings/);
    expect(data).toEqual({ ok: '1' });
  });
});

describe('repeated dumps of one closure: cached reads of never-reassigned bindings stay snapshots', () => {
  const scopes = requireHelper('../../dist/serializer/scopes.js') as typeof import('../../lib/serializer/scopes');
  const probe = (f: () => unknown) => f();

  /** Dumps `fn` once per step (after `step(i)`), counting the scope reads of the last two dumps. */
  async function sendRepeatedly(fn: () => unknown, step: (i: number) => void, steps = 4): Promise<{ answers: Answer[]; laterReads: number }> {
    const spy = vi.spyOn(scopes, 'readScopes');
    const messages: Buffer[] = [];
    let laterReads = 0;
    try {
      for (let i = 0; i < steps; i++) {
        step(i);
        const before = spy.mock.calls.length;
        messages.push(ser.dumps({ value: fn, probe }));
        if (i >= steps - 2) laterReads += spy.mock.calls.length - before;
      }
    } finally {
      spy.mockRestore();
    }
    return { answers: await roundTrip(messages), laterReads };
  }
  const oks = (...values: unknown[]): Answer[] => values.map((v) => ({ ok: util.inspect(v) }));

  it('a const object whose contents change carries the new contents (read once, then cached)', async () => {
    const box = { n: 0, tags: ['a'] };
    const readBox = () => [box.n, box.tags.length];
    const { answers, laterReads } = await sendRepeatedly(readBox, (i) => {
      box.n = i;
      box.tags.push('x');
    });
    expect(answers).toEqual(oks([0, 2], [1, 3], [2, 4], [3, 5]));
    expect(laterReads).toBe(0);
  });

  it('a let reassigned between dumps carries the new value (read at every dumps)', async () => {
    let level = 0;
    const readLevel = () => level;
    const { answers, laterReads } = await sendRepeatedly(readLevel, (i) => (level = i * 10));
    expect(answers).toEqual(oks(0, 10, 20, 30));
    expect(laterReads).toBe(2);
  });

  it('a let never reassigned is cached like a const', async () => {
    let fixed = { v: 'a' }; // eslint-disable-line prefer-const
    const readFixed = () => fixed.v;
    const { answers, laterReads } = await sendRepeatedly(readFixed, (i) => (fixed.v = 'abcd'[i]!));
    expect(answers).toEqual(oks('a', 'b', 'c', 'd'));
    expect(laterReads).toBe(0);
  });

  it('a var initialised in a loop carries the value of the current iteration', async () => {
    const readCurrent = () => current;
    const messages: Buffer[] = [];
    for (const n of [1, 2, 3, 4]) {
      var current = n * 100; // eslint-disable-line no-var
      messages.push(ser.dumps({ value: readCurrent, probe }));
    }
    expect(await roundTrip(messages)).toEqual(oks(100, 200, 300, 400));
  });

  it('a closure dumped before its const is initialised is not cached with the TDZ value', async () => {
    const readLate = () => late;
    const messages = [ser.dumps({ value: readLate, probe: (f: () => unknown) => [f()] }), ser.dumps({ value: readLate, probe: (f: () => unknown) => [f()] })];
    const late = 'ready';
    messages.push(ser.dumps({ value: readLate, probe: (f: () => unknown) => [f()] }));
    expect(await roundTrip(messages)).toEqual(oks([undefined], [undefined], ['ready']));
  });

  it('an import binding is live (read at every dumps); a namespace import is a fixed object (cached)', async () => {
    const exporter = requireHelper('./serializer-live-export.mjs') as { bump: () => void };
    const { makeReaders } = requireHelper('./serializer-live-import.mjs') as { makeReaders: () => { named: () => number; namespace: () => number } };
    const { named, namespace } = makeReaders();
    const viaNamed = await sendRepeatedly(named, (i) => i > 0 && exporter.bump());
    expect(viaNamed.answers).toEqual(oks(0, 1, 2, 3));
    expect(viaNamed.laterReads).toBe(2);
    const viaNamespace = await sendRepeatedly(namespace, (i) => i > 0 && exporter.bump());
    // The namespace of an importable module travels by reference: the receiver's own module.
    expect(viaNamespace.answers).toEqual(oks(0, 0, 0, 0));
    expect(viaNamespace.laterReads).toBe(0);
  });
});

describe('a closure capturing only primitives: whole-message memos on both sides', () => {
  const scopes = requireHelper('../../dist/serializer/scopes.js') as typeof import('../../lib/serializer/scopes');

  it('the sender reuses the bytes (no scope read) and hands out a fresh copy each time', () => {
    const k = 3;
    const times = (x: number) => x * k;
    const first = [ser.dumps(times), ser.dumps(times)];
    const spy = vi.spyOn(scopes, 'readScopes');
    let again: Buffer;
    let reads: number;
    try {
      again = ser.dumps(times);
    } finally {
      reads = spy.mock.calls.length; // mockRestore() clears the record
      spy.mockRestore();
    }
    expect(reads).toBe(0);
    expect(again.equals(first[1]!)).toBe(true);
    again.fill(0);
    expect((ser.loads(ser.dumps(times)) as typeof times)(5)).toBe(15);
  });

  it('a property added or a renaming after memoization travels', () => {
    const k = 2;
    const twice = (x: number) => x * k;
    for (let i = 0; i < 3; i++) ser.dumps(twice);
    Object.assign(twice, { label: 'doubler' });
    expect((ser.loads(ser.dumps(twice)) as { label?: string }).label).toBe('doubler');
    Object.defineProperty(twice, 'name', { value: 'renamed' });
    expect((ser.loads(ser.dumps(twice)) as typeof twice).name).toBe('renamed');
  });

  it('a reassigned capture is never memoized: each message carries the current value', () => {
    let level = 1;
    const readLevel = () => level;
    const seen = [1, 2, 3, 4].map((i) => {
      level = i;
      return (ser.loads(ser.dumps(readLevel)) as typeof readLevel)();
    });
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('the receiver rebuilds a fresh function with its own scope from the same bytes every time', () => {
    let n = 10;
    const bump = () => ++n;
    const bytes = ser.dumps(bump);
    const [a, b] = [ser.loads(bytes), ser.loads(bytes)] as (typeof bump)[];
    expect([a!(), a!(), b!()]).toEqual([11, 12, 11]);
    expect(a).not.toBe(b);
  });
});

describe("a function's origin, learned once per script", () => {
  const scopes = requireHelper('../../dist/serializer/scopes.js') as typeof import('../../lib/serializer/scopes');
  const { scriptIdOf } = requireHelper('../../dist/park.js') as typeof import('../../lib/park');

  it.runIf(scriptIdOf(() => 0) !== undefined)('a new closure per call that captures nothing is sent without a scope read once its script is known', () => {
    const fresh = () => (x: number) => x + 1;
    ser.dumps(fresh());
    const spy = vi.spyOn(scopes, 'readScopes');
    const results: number[] = [];
    let reads: number;
    try {
      for (let i = 0; i < 5; i++) results.push((ser.loads(ser.dumps(fresh())) as (x: number) => number)(i));
    } finally {
      reads = spy.mock.calls.length; // mockRestore() clears the record
      spy.mockRestore();
    }
    expect(reads).toBe(0);
    expect(results).toEqual([1, 2, 3, 4, 5]);
  });

  it.runIf(scriptIdOf(() => 0) !== undefined)("a new closure per call that captures a module's fixed top-level bindings is sent without a scope read; a reassigned one is read every time", () => {
    const made = requireHelper('./serializer-script-wide.cjs') as { fixed: () => (x: number) => number; mutable: () => (x: number) => number; bump: () => void };
    const send = (fn: (x: number) => number): number => (ser.loads(ser.dumps(fn)) as (x: number) => number)(1);
    for (let i = 0; i < 3; i++) send(made.fixed()); // the script is analysed at its third read
    const spy = vi.spyOn(scopes, 'readScopes');
    const answers: number[] = [];
    let reads: number;
    try {
      for (let i = 0; i < 5; i++) answers.push(send(made.fixed()));
      reads = spy.mock.calls.length;
      for (let i = 0; i < 2; i++) {
        made.bump();
        answers.push(send(made.mutable()));
      }
    } finally {
      spy.mockRestore();
    }
    expect(reads).toBe(0);
    expect(answers).toEqual([7, 7, 7, 7, 7, 2, 3]);
  });

  it('an ES module that awaits at top level is tried with require once, not for each new function made in it', () => {
    const program = path.join(__dirname, 'helpers/programs/tla-closures.mjs');
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(program).href)})`], { encoding: 'utf8', timeout: 60_000 });
    expect([out.stderr, out.stdout]).toEqual(['', '1']);
  });

  it('an export of an ES module met after a closure made in that module still goes by reference', () => {
    const origin = requireHelper('./serializer-esm-origin.mjs') as { makeIncrement: () => (x: number) => number; triple: (x: number) => number };
    expect((ser.loads(ser.dumps(origin.makeIncrement())) as (x: number) => number)(1)).toBe(2);
    const bytes = ser.dumps(origin.triple).toString('latin1');
    expect(bytes).toContain('serializer-esm-origin.mjs');
    expect(bytes).not.toContain('3 * x');
  });

  const park = requireHelper('../../dist/park.js') as typeof import('../../lib/park');
  it.runIf(park.scriptNamesKnown())("an ES module's export is found by the file the addon names for its script, without replaying every loaded script", () => {
    // A program of its own: an ES module imported natively, not through require (whose cache is indexed as it is).
    const serializer = pathToFileURL(path.join(__dirname, '../dist/esm/serializer.mjs')).href;
    const named = pathToFileURL(path.join(__dirname, 'helpers/serializer-esm-named.mjs')).href;
    const program = `
      import inspector from 'node:inspector';
      import { dumps } from ${JSON.stringify(serializer)};
      import { quadruple } from ${JSON.stringify(named)};
      const methods = [];
      const post = inspector.Session.prototype.post;
      inspector.Session.prototype.post = function (method, ...rest) { methods.push(method); return post.call(this, method, ...rest); };
      const bytes = dumps(quadruple).toString('latin1');
      console.log(JSON.stringify({ byReference: bytes.includes('serializer-esm-named.mjs') && !bytes.includes('4 * x'), methods }));`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 60_000 });
    expect(out.stderr).toBe('');
    const { byReference, methods } = JSON.parse(out.stdout) as { byReference: boolean; methods: string[] };
    expect(byReference).toBe(true);
    // Debugger.enable replays a scriptParsed event for every loaded script (~30 ms in a program).
    expect(methods).not.toContain('Debugger.enable');
  });
});

describe('which captured bindings count as never reassigned (analysis of the defining script)', () => {
  const scopes = requireHelper('../../dist/serializer/scopes.js') as typeof import('../../lib/serializer/scopes');
  const { immutableBindings } = requireHelper('../../dist/serializer/bindings.js') as typeof import('../../lib/serializer/bindings');
  const classify = (fn: Function, names: string[]): string[] => [...immutableBindings(scopes.readScopes(fn).location!, fn.toString(), names)].sort();

  it('const, unassigned let/var, declarations: yes; assigned let, a loop counter: no', () => {
    const fn = new Function('const c = {}; let l = 1; let w = 1; w = 2; var v = 1; for (var i = 0; i < 1; i++) {} function d() {} class K {} return () => [c, l, w, v, i, d, K];')();
    expect(classify(fn, ['c', 'l', 'w', 'v', 'i', 'd', 'K'])).toEqual(['K', 'c', 'd', 'l', 'v']);
  });
  it('a var initialised inside a loop: no', () => {
    const fn = new Function('const fns = []; for (const n of [1]) { var cur = n; fns.push(() => cur); } return fns[0];')();
    expect(classify(fn, ['cur'])).toEqual([]);
  });
  it('under a with, or beside a direct eval: no', () => {
    expect(classify(new Function('o', 'const c = 1; with (o) { return () => c; }')({}), ['c'])).toEqual([]);
    expect(classify(new Function('const c = 1; eval(""); return () => c;')(), ['c'])).toEqual([]);
  });
  it('a parameter: yes, unless its function uses arguments', () => {
    expect(classify(new Function('a', 'return () => a;')(1), ['a'])).toEqual(['a']);
    expect(classify(new Function('a', 'arguments[0] = 2; return () => a;')(1), ['a'])).toEqual([]);
  });
  it('top level of a classic script: only a const (other scripts may assign the rest)', () => {
    const fn = vm.runInThisContext('let mpTopLet = 1; const mpTopConst = 2; (() => [mpTopLet, mpTopConst])');
    expect(classify(fn, ['mpTopLet', 'mpTopConst'])).toEqual(['mpTopConst']);
  });
});

describe('refusals at the sender, with the path from the named root', () => {
  const refuse = (value: unknown, path: string, reason: RegExp, root?: string): void => {
    let error: unknown;
    try {
      ser.dumps(value, root ? { root } : {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ser.SerializationError);
    expect((error as { path: string }).path).toBe(path);
    expect((error as Error).message).toMatch(reason);
  };
  it('unique Symbol()', () => refuse({ a: { b: [1, 2, Symbol('x')] } }, 'value.a.b[2]', /unique symbol/));
  it('unique symbol key', () => refuse({ o: { [Symbol('k')]: 1 } }, 'value.o', /unique symbol/));
  it('WeakMap, WeakSet, WeakRef, FinalizationRegistry', () => {
    refuse({ w: new WeakMap() }, 'value.w', /WeakMap/);
    refuse([new WeakSet()], 'value[0]', /WeakSet/);
    refuse({ r: new WeakRef({}) }, 'value.r', /WeakRef/);
    refuse({ f: new FinalizationRegistry(() => {}) }, 'value.f', /FinalizationRegistry/);
  });
  it('Promise', () => refuse({ p: Promise.resolve(1) }, 'value.p', /Promise/));
  it('in-flight iterators', () => {
    refuse({ it: new Map([[1, 2]]).entries() }, 'value.it', /iterator/);
    refuse({ g: (function* () { yield 1; })() }, 'value.g', /iterator/);
    refuse({ a: [1, 2][Symbol.iterator]() }, 'value.a', /iterator/);
  });
  it('Proxy', () => refuse({ p: new Proxy({}, {}) }, 'value.p', /Proxy/));
  it('sockets and streams, under the caller root', () => {
    const socket = new net.Socket();
    refuse([{ client: { socket } }], 'args[0].client.socket', /Socket handle/, 'args');
    socket.destroy();
    refuse({ s: process.stdout }, 'value.s', /handle/);
  });
  it('FileHandle', async () => {
    const handle = await fs.promises.open(__filename_or_self(), 'r');
    try {
      refuse({ h: handle }, 'value.h', /FileHandle/);
    } finally {
      await handle.close();
    }
  });
  it('unreachable native functions', () => refuse({ g: Object.getOwnPropertyDescriptor(Object.prototype, '__proto__')!.get }, 'value.g', /native function/));
  it("arrows using lexical this, arguments, super, new.target", () => {
    const o = { v: 1, f() { return () => this.v; } };
    refuse({ f: o.f() }, 'value.f', /lexical 'this'/);
    function outer(this: unknown, ..._a: unknown[]) { return () => arguments[0]; }
    refuse({ f: outer(1) }, 'value.f', /lexical 'arguments'/);
    const s = { __proto__: greeter, f() { return () => super.hi(); } };
    refuse({ f: s.f() }, 'value.f', /lexical 'super'/);
    function Ctor(this: unknown) { return { f: () => new.target }; }
    refuse((new (Ctor as any)() as { f: unknown }).f, 'value', /new\.target/);
  });
  it('#private fields without a reducer', () => {
    class Secret { #key = 1; peek() { return this.#key; } }
    refuse({ list: [new Secret()] }, 'value.list[0]', /#private fields.*register/);
  });
  it('import.meta outside by-reference (analysis)', () => {
    const { analyze } = requireHelper('../../dist/serializer/analyze.js') as typeof import('../../lib/serializer/analyze');
    expect(analyze('() => import.meta.url').refusal).toMatch(/import\.meta/);
  });
  it('a closure path names the captured variable', () => {
    const secret = new WeakMap();
    refuse({ job: () => secret }, 'value.job<closure secret>', /WeakMap/);
  });
});

function __filename_or_self(): string {
  return requireHelper.resolve('./serializer-types.cjs');
}

describe('plain data: JSON when JSON reproduces it exactly, v8 otherwise', () => {
  it('picks codec 3 only for JSON-exact trees, and every value round-trips exactly', async () => {
    const { dumps, loads } = await import('../lib/serializer/index');
    const shared = { s: 1 };
    const cases: [unknown, number][] = [
      [{ i: 0, text: 'small message', nested: [1, 'two', null, true, { 'é\u{1F600}': '\ud800' }] }, 3],
      ['just a string', 3],
      [1, 3],
      [true, 3],
      [[1, undefined, 3], 0],
      [{ a: undefined }, 0],
      [-0, 0],
      [[NaN, Infinity], 0],
      [[shared, shared], 0],
      [[1, , 3], 0], // eslint-disable-line no-sparse-arrays
      [{ d: new Date(0) }, 0],
      [{ n: 10n }, 0],
    ];
    for (const [value, codec] of cases) {
      const bytes = dumps(value);
      expect(bytes[1]).toBe(codec);
      const back = loads(bytes);
      expect(back).toStrictEqual(value);
      if (Array.isArray(value) && value[0] === shared) expect((back as unknown[])[0]).toBe((back as unknown[])[1]);
    }
    expect(Object.is(loads(dumps(-0)), -0)).toBe(true);
  });

  it('counts own keys right while Object.prototype has an enumerable key (a polluted prototype)', async () => {
    const { dumps, loads } = await import('../lib/serializer/index');
    const hidden = Object.defineProperty({ a: 1 }, 'b', { value: 2, enumerable: false });
    (Object.prototype as Record<string, unknown>).polluted = 1;
    try {
      expect(dumps({ a: 1, b: { c: 2 } })[1]).toBe(3);
      // Own enumerable a plus inherited polluted is 2 keys, as many as a and b own: a key count by for-in alone would say JSON.
      const bytes = dumps(hidden);
      expect(bytes[1]).not.toBe(3);
      expect(Object.getOwnPropertyDescriptor(loads(bytes) as object, 'b')).toEqual({ value: 2, writable: false, enumerable: false, configurable: false });
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
    expect(dumps(hidden)[1]).not.toBe(3);
  });
});

describe('classes whose evaluation reads captured variables: rebuilt with those variables set', () => {
  // Defined by a script, as a user's file defines them: captured variables live in the function scope.
  const define = (body: string): Record<string, any> => vm.runInThisContext(`(() => {\n${body}\n})()`) as Record<string, any>;
  const copy = (value: unknown): any => ser.loads(ser.dumps(value));

  it("esbuild's keepNames block (tsx): static { __name(this, 'X') } calls a captured helper", () => {
    const { Worker } = define(`
      var __defProp = Object.defineProperty;
      var __name = (target, value) => __defProp(target, "name", { value, configurable: true });
      class Worker { static { __name(this, "Worker"); } work() { return 'worked'; } }
      return { Worker };`);
    const Rebuilt = copy(Worker);
    expect(Rebuilt).not.toBe(Worker);
    expect([Rebuilt.name, new Rebuilt().work()]).toEqual(['Worker', 'worked']);
  });

  it('a computed method key and a static field initializer that call captured functions', () => {
    const { Steps, instance } = define(`
      const key = (n) => 'step' + n;
      const helper = () => 40 + 2;
      class Steps { static answer = helper(); [key(1)]() { return 'one'; } next() { return key(2); } }
      return { Steps, instance: new Steps() };`);
    const { Steps: Rebuilt, instance: rebuiltInstance } = copy({ Steps, instance });
    expect([Rebuilt.answer, new Rebuilt().step1(), rebuiltInstance instanceof Rebuilt, rebuiltInstance.step1()]).toEqual([42, 'one', true, 'one']);
  });

  it('computed keys reading a variable V8 keeps in no closure (nothing else reads it) travel as the keys they gave', () => {
    const { Steps, holder } = define(`
      const key = (n) => 'step' + n;
      const tag = Symbol.for('tag');
      const pick = (s) => s;
      class Steps {
        [key(1)]() { return 'one'; }
        static get [key(2)]() { return 'two'; }
        [pick(Symbol.iterator)]() { return [3][Symbol.iterator](); }
        [pick(tag)]() { return 'tagged'; }
      }
      return { Steps, holder: { [key(3)]() { return 'three'; } } };`);
    const rebuilt = copy({ Steps, holder });
    const instance = new rebuilt.Steps();
    expect([instance.step1(), rebuilt.Steps.step2, [...instance], instance[Symbol.for('tag')](), rebuilt.holder.step3()]).toEqual(['one', 'two', [3], 'tagged', 'three']);
  });

  it('a computed field key reading a variable V8 keeps in no closure is refused at the sender, naming the class', () => {
    const { Fields } = define(`
      const key = (n) => 'field' + n;
      class Fields { [key(1)] = 1; }
      return { Fields };`);
    expect(() => ser.dumps(Fields)).toThrow(/^cannot serialize value: class Fields computes a member key with 'key', which V8 keeps in no closure when only computed keys read it/);
  });

  it('a static block registering the class in a captured array and Map that already hold it', () => {
    const { Plugin, registry, byName } = define(`
      const registry = [];
      const byName = new Map();
      class Plugin { static { registry.push(this); byName.set(this.name, this); } count() { return registry.length; } }
      return { Plugin, registry, byName };`);
    const rebuilt = copy({ Plugin, registry, byName });
    // The static block ran again on the receiver, over a registry that already held the class.
    expect(rebuilt.registry.length).toBe(2);
    expect(rebuilt.registry.every((c: unknown) => c === rebuilt.Plugin)).toBe(true);
    expect(rebuilt.byName.get('Plugin')).toBe(rebuilt.Plugin);
    expect(new rebuilt.Plugin().count()).toBe(2);
  });

  it('captured variables holding the class itself, or an instance of it, are set once the class exists', () => {
    const { Point } = define(`
      const scale = () => 10;
      class Point {
        static unit = scale();
        constructor(x) { this.x = x; }
        origin() { return origin; }
        same() { return Point; }
        kind() { return kinds.point === Point; }
      }
      const origin = new Point(0);
      const kinds = { point: Point };
      return { Point };`);
    const Rebuilt = copy(Point);
    const p = new Rebuilt(3);
    expect([Rebuilt.unit, p.same() === Rebuilt, p.origin() instanceof Rebuilt, p.origin().x, p.kind()]).toEqual([10, true, true, 0, true]);
  });

  it('a derived class whose static block uses a captured helper, its base class sent with it', () => {
    const { Derived } = define(`
      const tag = (s) => '<' + s + '>';
      class Base { static { this.baseTag = tag('base'); } hello() { return 'base'; } }
      class Derived extends Base { static { this.ownTag = tag('derived'); } hello() { return super.hello() + '+derived'; } }
      return { Derived };`);
    const Rebuilt = copy(Derived);
    expect([Rebuilt.ownTag, Rebuilt.baseTag, new Rebuilt().hello()]).toEqual(['<derived>', '<base>', 'base+derived']);
  });

  it('an object-literal method with a computed key that calls a captured function', () => {
    const { holder } = define(`
      const key = (n) => 'm' + n;
      return { holder: { [key(7)]() { return 7; }, next: () => key(8) } };`);
    expect(copy(holder).m7()).toBe(7);
  });

  it('a static initializer that throws on the receiver fails loads with a message naming the class', () => {
    const { Once } = define(`
      const runs = { count: 0 };
      class Once { static { if (++runs.count > 1) throw new Error('initialised twice'); } }
      return { Once };`);
    expect(() => copy(Once)).toThrow(/^loads: rebuilding class Once ran its initializers, which threw: initialised twice$/);
  });
});
