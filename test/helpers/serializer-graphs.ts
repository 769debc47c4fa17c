// Random closure graphs for the serializer's property test: a program of nested scopes (closures,
// blocks, loops) whose functions share and mutate captured state and call one another, classes whose
// static initializers and computed keys read captured state (as esbuild's keepNames output does), plus
// the calls that compare an original with its rebuilt copy.

/** An integer in [0, bound). */
export type Pick = (bound: number) => number;

type VarType = 'num' | 'str' | 'obj' | 'arr';
type FnKind = 'decl' | 'arrow' | 'method' | 'class' | 'staticClass' | 'generator';

interface Binding {
  name: string;
  /** A hook is a `let` that a nested scope points at one of its functions; a table holds a function as `.g`. */
  type: VarType | 'hook' | 'table';
  mutable: boolean;
}

interface Fn {
  name: string;
  kind: FnKind;
}

interface Scope {
  bindings: Binding[];
  fns: Fn[];
  parent?: Scope;
  /** The scope's own distinguishing term: a loop counter or a const id, read by its first function. */
  idTerm: string;
}

export interface Program {
  /** An expression that runs the program and evaluates to its exports: [kind, value] pairs. */
  source: string;
  /** [export index, argument] calls made on the original before dumps. */
  before: [number, number][];
  /** Calls made on both the original (after dumps) and the rebuilt copy; results must agree. */
  after: [number, number][];
}

const VAR_NAMES = ['a', 'b', 'c', 'd'];
const FN_KINDS: FnKind[] = ['decl', 'arrow', 'arrow', 'method', 'class', 'staticClass', 'generator'];
const MAX_DEPTH = 3;

/** Builds one random program; `pick` draws every choice, so a seed (or fast-check) replays it. */
export function generateProgram(pick: Pick): Program {
  let fnCount = 0;
  let hookCount = 0;
  let scopeCount = 0;
  const exported: string[] = [];
  const chance = (percent: number): boolean => pick(100) < percent;
  const oneOf = <T>(items: readonly T[]): T => items[pick(items.length)]!;

  const visible = (scope: Scope): Binding[] => {
    const seen = new Map<string, Binding>();
    for (let s: Scope | undefined = scope; s; s = s.parent) for (const b of s.bindings) if (!seen.has(b.name)) seen.set(b.name, b);
    return [...seen.values()];
  };
  const visibleFns = (scope: Scope): Fn[] => {
    const fns: Fn[] = [];
    for (let s: Scope | undefined = scope; s; s = s.parent) fns.push(...s.fns);
    return fns;
  };
  const call = (fn: Fn, arg: string): string => {
    switch (fn.kind) {
      case 'method':
        return `${fn.name}.m(${arg})`;
      case 'class':
      case 'staticClass':
        return `new ${fn.name}().m(${arg})`;
      case 'generator':
        return `${fn.name}(${arg}).next().value`;
      default:
        return `${fn.name}(${arg})`;
    }
  };

  const term = (scope: Scope, calls: { left: number }): string => {
    const bindings = visible(scope);
    const fns = visibleFns(scope);
    const choice = pick(10);
    if (choice < 4 && bindings.length > 0) {
      const b = oneOf(bindings);
      switch (b.type) {
        case 'num':
          return b.mutable && chance(40) ? `(${b.name} += ${1 + pick(5)})` : b.name;
        case 'str':
          return `${b.name}.length`;
        case 'obj':
          return chance(40) ? `(${b.name}.v += ${1 + pick(5)})` : `${b.name}.v`;
        case 'arr':
          return chance(40) ? `${b.name}.push(${pick(9)})` : `${b.name}.length`;
        case 'hook':
          if (calls.left-- <= 0) return '1';
          return `(n > 0 && ${b.name} ? ${b.name}(n - 1) : -1)`;
        case 'table':
          if (calls.left-- <= 0) return '2';
          return `(n > 0 ? ${b.name}.g(n - 1) : 0)`;
      }
    }
    if (choice < 8 && fns.length > 0 && calls.left-- > 0) return `(n > 0 ? ${call(oneOf(fns), 'n - 1')} : 0)`;
    return chance(50) ? 'n' : String(pick(100));
  };

  const body = (scope: Scope, first: boolean): string => {
    const calls = { left: 2 };
    const terms = Array.from({ length: 1 + pick(4) }, () => term(scope, calls));
    if (first) terms.push(scope.idTerm);
    return `(${terms.join(' + ')}) % 100003`;
  };

  const literal = (type: VarType): string => {
    switch (type) {
      case 'num':
        return String(pick(50));
      case 'str':
        return JSON.stringify('s'.repeat(pick(6)));
      case 'obj':
        return `{ v: ${pick(50)} }`;
      case 'arr':
        return `[${Array.from({ length: pick(3) }, () => pick(9)).join(', ')}]`;
    }
  };

  /**
   * A read of captured state without side effects: static initializers run again on the receiver
   * (over the snapshot), so one that changed captured state would make the copy differ.
   */
  const read = (scope: Scope): string => {
    const readable = visible(scope).filter((b) => b.type !== 'hook' && b.type !== 'table');
    if (readable.length === 0) return String(pick(9));
    const b = oneOf(readable);
    return b.type === 'num' ? b.name : b.type === 'obj' ? `${b.name}.v` : `${b.name}.length`;
  };

  const defineFn = (fn: Fn, scope: Scope, first: boolean): string => {
    const expr = body(scope, first);
    if (fn.kind === 'staticClass') {
      // The key's read is also made by the static field: V8 keeps a variable only computed keys read in no closure.
      const key = read(scope);
      return `class ${fn.name} { static { __name(this, ${JSON.stringify(fn.name)}); } static s = ${key} + ${read(scope)}; static { this.t = ${read(scope)}; } [(${key}, 'm')](n) { return (${expr} + ${fn.name}.s + ${fn.name}.t) % 100003; } }`;
    }
    switch (fn.kind) {
      case 'decl':
        return `function ${fn.name}(n) { return ${expr}; }`;
      case 'arrow':
        return `const ${fn.name} = (n) => ${expr};`;
      case 'method':
        return `const ${fn.name} = { m(n) { return ${expr}; } };`;
      case 'class':
        return `class ${fn.name} { m(n) { return ${expr}; } }`;
      case 'generator':
        return `function* ${fn.name}(n) { yield ${expr}; }`;
    }
  };

  /** The statements of one scope; `loop` gives it the loop counter `i` (one scope per iteration). */
  const genScope = (parent: Scope | undefined, depth: number, loop: boolean): string[] => {
    const id = scopeCount++;
    const scope: Scope = { bindings: [], fns: [], parent, idTerm: loop ? `i * 1000` : `id${id}` };
    const lines: string[] = [];
    if (loop) scope.bindings.push({ name: 'i', type: 'num', mutable: false });
    else lines.push(`const id${id} = ${id + 1};`);
    const names = VAR_NAMES.filter(() => chance(45));
    for (const name of names) {
      const type = oneOf<VarType>(['num', 'num', 'str', 'obj', 'arr']);
      const mutable = chance(60);
      scope.bindings.push({ name, type, mutable });
      lines.push(`${mutable ? 'let' : 'const'} ${name} = ${literal(type)};`);
    }
    if (chance(30)) {
      const name = `h${hookCount++}`;
      scope.bindings.push({ name, type: 'hook', mutable: true });
      lines.push(`let ${name} = null;`);
    }
    const count = 1 + pick(3);
    for (let k = 0; k < count; k++) scope.fns.push({ name: `f${fnCount++}`, kind: oneOf(FN_KINDS) });
    // A captured object holding a function: defined after the functions, read by them at call time.
    const tableTargets = visibleFns(scope).filter((fn) => fn.kind === 'decl' || fn.kind === 'arrow');
    const table = tableTargets.length > 0 && chance(35) ? { name: `t${id}`, target: oneOf(tableTargets) } : undefined;
    if (table) scope.bindings.push({ name: table.name, type: 'table', mutable: false });
    scope.fns.forEach((fn, k) => lines.push(defineFn(fn, scope, k === 0)));
    if (table) lines.push(`const ${table.name} = { g: ${table.target.name} };`);
    const children = depth < MAX_DEPTH ? pick(3) : 0;
    for (let k = 0; k < children; k++) {
      const kind = pick(4);
      const inner = genScope(scope, depth + 1, kind === 3).join('\n');
      if (kind === 0) lines.push(`{\n${inner}\n}`);
      else if (kind === 1) lines.push(`(() => {\n${inner}\n})();`);
      else if (kind === 2) lines.push(`(function () {\n${inner}\n})();`);
      else lines.push(`for (let i = 0; i < ${1 + pick(3)}; i++) {\n${inner}\n}`);
    }
    // Hooks of this scope and its ancestors may point at a function of this scope: references upward.
    const callable = scope.fns.filter((fn) => fn.kind === 'decl' || fn.kind === 'arrow');
    for (const hook of visible(scope).filter((b) => b.type === 'hook'))
      if (callable.length > 0 && chance(50)) lines.push(`${hook.name} = ${oneOf(callable).name};`);
    for (const fn of scope.fns)
      if (chance(50) || exported.length === 0) {
        lines.push(`__out.push([${JSON.stringify(fn.kind)}, ${fn.name}]);`);
        exported.push(fn.name);
      }
    return lines;
  };

  const strict = chance(50) ? "'use strict';\n" : '';
  const root = genScope(undefined, 0, false).join('\n');
  // esbuild's keepNames helper, as tsx emits it: classes' static blocks call it.
  const keepNames = 'var __name = (target, value) => Object.defineProperty(target, "name", { value, configurable: true });';
  const source = `(() => {\n${strict}${keepNames}\nconst __out = [];\n${root}\nreturn __out;\n})()`;
  const calls = (count: number): [number, number][] => Array.from({ length: count }, () => [pick(exported.length), pick(5)]);
  return { source, before: calls(pick(3)), after: calls(1 + pick(6)) };
}

/**
 * Calls each [index, n] on the exports and returns what each call gave (or threw). Self-contained:
 * it also travels by value into a child process as the probe.
 */
export function runCalls(exports: [string, any][], calls: [number, number][]): string[] {
  return calls.map(([index, n]) => {
    const [kind, value] = exports[index]!;
    try {
      const result = kind === 'method' ? value.m(n) : kind === 'class' || kind === 'staticClass' ? new value().m(n) : kind === 'generator' ? value(n).next().value : value(n);
      return String(result);
    } catch (error) {
      return `throws ${(error as Error).name}: ${(error as Error).message}`;
    }
  });
}
