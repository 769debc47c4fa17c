// Per-source analysis of a by-value function (cached by source text): how to re-create it, which
// free variables it reads (acorn + eslint-scope), and what makes it impossible to send.
import type * as acorn from 'acorn';
import type * as eslintScope from 'eslint-scope';
import type * as ESTree from 'estree';

// Required on the first analysis, not at import: a child that only decodes (most spawn and
// forkserver children) never pays the ~25 ms of loading the parsers.
let loaded: { acorn: typeof acorn; eslintScope: typeof eslintScope } | undefined;
export function parsers(): { acorn: typeof acorn; eslintScope: typeof eslintScope } {
  return (loaded ??= { acorn: require('acorn') as typeof acorn, eslintScope: require('eslint-scope') as typeof eslintScope });
}

export type FunctionForm = 'expression' | 'method' | 'get' | 'set';

/** A member with a computed key (positions in the function's own source text). */
export interface ComputedMember {
  readonly kind: 'value' | 'get' | 'set' | 'field';
  readonly isStatic: boolean;
  /** The key expression, inside its brackets. */
  readonly keyStart: number;
  readonly keyEnd: number;
  /** The member as its function's source text shows it (without `static`). */
  readonly text: string;
  /** Enclosing variables the key expression reads. */
  readonly reads: readonly string[];
}

export interface FunctionAnalysis {
  /** How the source becomes a value: `(src)`, or `({ src })` and take the one property. */
  readonly form: FunctionForm;
  readonly isClass: boolean;
  readonly isArrow: boolean;
  /** Names the function reads from enclosing scopes (globals included). */
  readonly free: readonly string[];
  /**
   * Members whose computed key reads enclosing variables. The key runs only where the class or
   * literal is defined: V8 keeps a variable in no closure when only such keys read it.
   */
  readonly computed: readonly ComputedMember[];
  /** The source to compile: for a class, its `extends` clause is replaced by `extends null`. */
  readonly source: string;
  /** Where that `extends` expression was in the original source. */
  readonly heritage?: { readonly start: number; readonly end: number };
  readonly usesSuper: boolean;
  /** A class declaring #private members: its instances need a reducer. */
  readonly hasPrivate: boolean;
  /** Why this function cannot travel by value, if it cannot. */
  readonly refusal?: string;
}

const cache = new Map<string, FunctionAnalysis>();
const CACHE_LIMIT = 4096;

type Node = acorn.Node & Record<string, unknown>;

function parse(text: string, sourceType: 'script' | 'module'): acorn.Program {
  return parsers().acorn.parse(text, { ecmaVersion: 'latest', sourceType, ranges: true, allowSuperOutsideMethod: true });
}

/** Parses `source` as an expression, then as an object-literal member; returns the function node. */
function parseFunction(source: string): { program: acorn.Program; fn: Node; form: FunctionForm; offset: number; sourceType: 'script' | 'module' } {
  let lastError: unknown;
  for (const sourceType of ['script', 'module'] as const) {
    try {
      const program = parse(`(${source}\n)`, sourceType);
      const expr = (program.body[0] as unknown as ESTree.ExpressionStatement).expression as unknown as Node;
      return { program, fn: expr, form: 'expression', offset: 1, sourceType };
    } catch (error) {
      lastError = error;
    }
    try {
      const program = parse(`({${source}\n})`, sourceType);
      const object = (program.body[0] as unknown as ESTree.ExpressionStatement).expression as ESTree.ObjectExpression;
      const property = object.properties[0] as ESTree.Property;
      const form: FunctionForm = property.kind === 'init' ? 'method' : property.kind;
      return { program, fn: property.value as unknown as Node, form, offset: 2, sourceType };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** Visits every node below `node`; `enter` returns false to skip a subtree. */
export function visit(node: unknown, enter: (node: Node, parent: Node | null) => boolean, parent: Node | null = null): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const child of node) visit(child, enter, parent);
    return;
  }
  const n = node as Node;
  if (typeof n.type !== 'string') return;
  if (!enter(n, parent)) return;
  for (const key of Object.keys(n)) {
    if (key !== 'type' && key !== 'start' && key !== 'end' && key !== 'loc') visit(n[key], enter, n);
  }
}

const isNonArrowFunction = (n: Node): boolean =>
  n.type === 'FunctionExpression' || n.type === 'FunctionDeclaration';

/** Lexical this/arguments/super/new.target of an arrow, and import.meta anywhere. */
function findRefusal(fn: Node, isArrow: boolean, free: readonly string[]): string | undefined {
  let refusal: string | undefined;
  visit(fn, (n) => {
    if (refusal) return false;
    if (n.type === 'MetaProperty') {
      const meta = (n as unknown as ESTree.MetaProperty).meta.name;
      if (meta === 'import') refusal = 'it uses import.meta, which only exists in its own module (export the function to send it by reference)';
    }
    return true;
  });
  if (refusal || !isArrow) return refusal;
  if (free.includes('arguments')) return "it is an arrow function using the lexical 'arguments' of its enclosing function";
  visit((fn as unknown as ESTree.ArrowFunctionExpression).body, (n, parent) => {
    if (refusal || isNonArrowFunction(n) || n.type === 'ClassBody') return false;
    if (n.type === 'ThisExpression') {
      // tsc's and esbuild's lowered async arrows pass the lexical this to __awaiter/__async even when unused.
      const call = parent as unknown as ESTree.CallExpression | null;
      const awaiter = call?.type === 'CallExpression' && call.callee.type === 'Identifier' && (call.callee.name === '__awaiter' || call.callee.name === '__async') && call.arguments[0] === (n as unknown);
      if (!awaiter) refusal = "it is an arrow function using the lexical 'this' of its enclosing scope";
    } else if (n.type === 'Super') refusal = "it is an arrow function using the lexical 'super' of its enclosing method";
    else if (n.type === 'MetaProperty' && (n as unknown as ESTree.MetaProperty).meta.name === 'new') refusal = "it is an arrow function using the lexical 'new.target'";
    return true;
  });
  return refusal;
}

function analyzeUncached(source: string): FunctionAnalysis {
  let parsed: ReturnType<typeof parseFunction>;
  try {
    parsed = parseFunction(source);
  } catch (error) {
    // acorn only rejects new.target where no function encloses it: an arrow's lexical new.target.
    const refusal = /\bnew\s*\.\s*target\b/.test(source)
      ? "it is an arrow function using the lexical 'new.target'"
      : `its source could not be parsed (${(error as Error).message})`;
    return { form: 'expression', isClass: false, isArrow: true, free: [], computed: [], source, usesSuper: false, hasPrivate: false, refusal };
  }
  const { program, fn, form, offset, sourceType } = parsed;
  const manager = parsers().eslintScope.analyze(program as unknown as ESTree.Program, { ecmaVersion: 2022, sourceType });
  const free = [...new Set(manager.globalScope!.through.map((ref) => ref.identifier.name))];
  const isClass = fn.type === 'ClassExpression';
  const isArrow = fn.type === 'ArrowFunctionExpression';
  let usesSuper = false;
  let hasPrivate = false;
  visit(fn, (n) => {
    if (n.type === 'Super') usesSuper = true;
    return true;
  });
  let text = source;
  let heritageRange: { start: number; end: number } | undefined;
  if (isClass) {
    const cls = fn as unknown as ESTree.ClassExpression & { start: number; end: number };
    for (const member of cls.body.body) if (member.type !== 'StaticBlock' && member.key?.type === 'PrivateIdentifier') hasPrivate = true;
    const heritage = cls.superClass as (ESTree.Expression & { start: number; end: number }) | null;
    // The live superclass is spliced in on the receiver: `extends` names are usually in no scope.
    if (heritage) {
      heritageRange = { start: heritage.start - offset, end: heritage.end - offset };
      text = `${source.slice(0, heritageRange.start)}null${source.slice(heritageRange.end)}`;
    }
  }
  const refusal = findRefusal(fn, isArrow, free);
  const computed = computedMembers(program, fn, isClass, source, offset, manager.globalScope!.through);
  return { form, isClass, isArrow, free: isClass ? free.filter((name) => !isHeritageOnly(fn, name)) : free, computed, source: text, heritage: heritageRange, usesSuper, hasPrivate, refusal };
}

/** Members of the class or method-holding literal itself with computed keys (not nested code's). */
function computedMembers(program: acorn.Program, fn: Node, isClass: boolean, source: string, offset: number, through: eslintScope.Reference[]): ComputedMember[] {
  const holder = (program.body[0] as unknown as ESTree.ExpressionStatement).expression;
  const members = isClass ? (fn as unknown as ESTree.ClassExpression).body.body : holder.type === 'ObjectExpression' ? holder.properties : [];
  const out: ComputedMember[] = [];
  for (const member of members) {
    if (!('computed' in member) || !member.computed) continue;
    const key = member.key as unknown as { start: number; end: number };
    const node = member as unknown as { start: number; end: number };
    const reads = through.filter((ref) => ref.identifier.range![0] >= key.start && ref.identifier.range![1] <= key.end).map((ref) => ref.identifier.name);
    if (reads.length === 0) continue;
    const kind = member.type === 'PropertyDefinition' ? 'field' : member.kind === 'get' || member.kind === 'set' ? member.kind : 'value';
    const isStatic = 'static' in member && member.static === true;
    const text = source.slice(node.start - offset, node.end - offset);
    out.push({ kind, isStatic, keyStart: key.start - offset, keyEnd: key.end - offset, text: isStatic ? text.replace(/^static\s*/, '') : text, reads: [...new Set(reads)] });
  }
  return out;
}

/** A name used only in the `extends` clause is not read from scope (the superclass is sent itself). */
function isHeritageOnly(cls: Node, name: string): boolean {
  let inBody = false;
  visit((cls as unknown as ESTree.ClassExpression).body, (n) => {
    if (n.type === 'Identifier' && (n as unknown as ESTree.Identifier).name === name) inBody = true;
    return !inBody;
  });
  return !inBody;
}

export function analyze(source: string): FunctionAnalysis {
  let result = cache.get(source);
  if (!result) {
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    result = analyzeUncached(source);
    cache.set(source, result);
  }
  return result;
}
