// Which captured bindings of a function can never be reassigned, decided by a scope analysis of the
// whole script that defines it (acorn + eslint-scope, once per script). Such a binding holds the
// same value — the same object — for as long as the function lives, so reading it once is enough.
// Anything the analysis cannot prove counts as mutable: correctness first.
import type * as eslintScope from 'eslint-scope';
import type * as ESTree from 'estree';
import { fileURLToPath } from 'node:url';
import { parsers, visit } from './analyze';
import { readScript, type FunctionLocation, type ScriptText } from './scopes';

type Ranged = ESTree.Node & { start: number; end: number };

interface ParsedScript {
  readonly text: string;
  readonly manager: eslintScope.ScopeManager;
  /** Function and class nodes by end offset: a function's source text ends where its node ends. */
  readonly byEnd: Map<number, Ranged[]>;
  /** Loop statements: a `var` initialised inside one is written once per iteration. */
  readonly loops: Ranged[];
  lineStarts?: number[];
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression', 'ClassDeclaration', 'ClassExpression']);
const LOOP_TYPES = new Set(['ForStatement', 'ForInStatement', 'ForOfStatement', 'WhileStatement', 'DoWhileStatement']);

// Parsed scripts are large (a bundle's AST): keep the last few, per-function answers are cached by the caller.
const scripts = new Map<string, ParsedScript | null>();
const SCRIPT_LIMIT = 4;

/** A CommonJS module's script is the file's text compiled as a function body (its top level is function-scoped). */
function isCommonJs(url: string): boolean {
  if (!url.startsWith('file:')) return false;
  try {
    return require.cache[fileURLToPath(url)] !== undefined;
  } catch {
    return false;
  }
}

function parseScript(script: ScriptText): ParsedScript | null {
  const commonJs = !script.isModule && isCommonJs(script.url);
  const sourceType = script.isModule ? 'module' : 'script';
  try {
    const { acorn, eslintScope } = parsers();
    const program = acorn.parse(script.source, { ecmaVersion: 'latest', sourceType, ranges: true, allowHashBang: true, allowReturnOutsideFunction: commonJs });
    const manager = eslintScope.analyze(program as unknown as ESTree.Program, { ecmaVersion: 2022, sourceType, nodejsScope: commonJs });
    const byEnd = new Map<number, Ranged[]>();
    const loops: Ranged[] = [];
    visit(program, (node) => {
      const n = node as unknown as Ranged;
      if (FUNCTION_TYPES.has(n.type)) {
        const ending = byEnd.get(n.end);
        if (ending) ending.push(n);
        else byEnd.set(n.end, [n]);
      } else if (LOOP_TYPES.has(n.type)) loops.push(n);
      return true;
    });
    return { text: script.source, manager, byEnd, loops };
  } catch {
    return null; // syntax acorn does not know yet: every binding of this script counts as mutable
  }
}

function scriptFor(scriptId: string): ParsedScript | null {
  if (scripts.has(scriptId)) return scripts.get(scriptId)!;
  const text = readScript(scriptId);
  const parsed = text ? parseScript(text) : null;
  if (scripts.size >= SCRIPT_LIMIT) scripts.delete(scripts.keys().next().value!);
  scripts.set(scriptId, parsed);
  return parsed;
}

/** V8's line ends: \n, \u2028, \u2029, and \r unless followed by \n. */
function offsetOf(script: ParsedScript, { lineNumber, columnNumber }: FunctionLocation): number {
  if (!script.lineStarts) {
    const starts = [0];
    const text = script.text;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 0x2028 || c === 0x2029 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
    }
    script.lineStarts = starts;
  }
  return (script.lineStarts[lineNumber] ?? Number.NaN) + columnNumber;
}

/** The node of the function whose source is `source`: V8's location is at or after the start of that text. */
function findFunction(script: ParsedScript, location: FunctionLocation, source: string): Ranged | undefined {
  const at = offsetOf(script, location);
  const start = script.text.lastIndexOf(source, at);
  if (Number.isNaN(at) || start < 0 || start + source.length <= at) return undefined;
  // A method's text starts at its name, its FunctionExpression at `(`: take the outermost node in the text.
  let best: Ranged | undefined;
  for (const node of script.byEnd.get(start + source.length) ?? []) if (node.start >= start && (!best || node.start < best.start)) best = node;
  return best;
}

/** A `with` between the function and the declaration could shadow the binding at run time. */
function crossesWith(from: eslintScope.Scope | null, to: eslintScope.Scope): boolean {
  for (let s: eslintScope.Scope | null = from; s && s !== to; s = s.upper) if (s.type === 'with') return true;
  return false;
}

function insideLoop(script: ParsedScript, node: Ranged, scope: eslintScope.Scope): boolean {
  const block = scope.block as Ranged;
  return script.loops.some((loop) => loop.start <= node.start && node.end <= loop.end && block.start <= loop.start && loop.end <= block.end);
}

function neverReassigned(script: ParsedScript, variable: eslintScope.Variable): boolean {
  if (variable.defs.length !== 1) return false;
  const def = variable.defs[0]!;
  // Top-level bindings of a classic script are shared with every other script; only a const is safe.
  if (variable.scope.type === 'global') return def.type === 'Variable' && def.parent.kind === 'const';
  // A direct eval anywhere below the declaring scope (eslint-scope marks it dynamic) can write to it.
  if (variable.scope.dynamic) return false;
  const writes = variable.references.filter((ref) => ref.isWrite());
  if (writes.length > 1 || writes.some((ref) => !ref.init)) return false;
  switch (def.type) {
    case 'Variable':
      // A var is hoisted (undefined until its initialiser runs; the caller never caches undefined),
      // and written again each time a loop around its initialiser runs.
      return def.parent.kind !== 'var' || !insideLoop(script, def.parent as Ranged, variable.scope);
    case 'FunctionName':
    case 'ClassName':
    case 'CatchClause':
      return true;
    case 'Parameter':
      // A sloppy function's `arguments` aliases its parameters.
      return (variable.scope.set.get('arguments')?.references.length ?? 0) === 0;
    case 'ImportBinding':
      // A named or default import is live: the exporting module may reassign it. A namespace is fixed.
      return def.node.type === 'ImportNamespaceSpecifier';
    default:
      return false;
  }
}

/**
 * The names among `names` (free variables of the function with source `source`, compiled at
 * `location`) whose bindings can never be reassigned.
 */
export function immutableBindings(location: FunctionLocation, source: string, names: readonly string[]): Set<string> {
  const immutable = new Set<string>();
  try {
    const script = scriptFor(location.scriptId);
    const node = script && findFunction(script, location, source);
    const scope = node && script.manager.acquire(node);
    if (!script || !scope) return immutable;
    for (const name of names) {
      const refs = scope.through.filter((ref) => ref.identifier.name === name);
      const variable = refs[0]?.resolved;
      if (variable && refs.every((ref) => ref.resolved === variable) && !crossesWith(scope.upper, variable.scope) && neverReassigned(script, variable)) immutable.add(name);
    }
  } catch {
    // An analysis failure must not fail dumps: the bindings are read at every dumps, as before.
    immutable.clear();
  }
  return immutable;
}

/** What a function of one script can capture, known without its location (see scriptBindings). */
export interface ScriptBindings {
  /** Names declared once in the whole script, at its top level, and never reassigned. */
  readonly fixed: ReadonlySet<string>;
  /** Every name the script declares somewhere (a free name outside it is a global). */
  readonly declared: ReadonlySet<string>;
}

// The bindings every CommonJS module's wrapper function declares.
const COMMONJS_PARAMETERS = ['exports', 'require', 'module', '__filename', '__dirname'];

/**
 * For a module's script (ES or CommonJS, not a classic script, whose top level other scripts
 * share): a free name of any function in it that is `fixed` reaches the one top-level binding,
 * whatever function it is in, and a name it does not declare at all is a global. Undefined when
 * the script cannot be read or parsed, or uses `with` or a direct eval (a name may be bound at run time).
 */
export function scriptBindings(scriptId: string): ScriptBindings | undefined {
  try {
    const script = scriptFor(scriptId);
    if (!script) return undefined;
    const { manager } = script;
    const top = manager.globalScope?.childScopes.find((s) => s.type === 'module' || s.type === 'function');
    if (!top || top.block !== manager.globalScope!.block || manager.scopes.some((s) => s.dynamic && s.type !== 'global')) return undefined;
    const counts = new Map<string, number>();
    for (const scope of manager.scopes) for (const v of scope.variables) counts.set(v.name, (counts.get(v.name) ?? 0) + 1);
    const declared = new Set(counts.keys());
    if (top.type === 'function') for (const name of COMMONJS_PARAMETERS) declared.add(name);
    const fixed = new Set(top.variables.filter((v) => counts.get(v.name) === 1 && neverReassigned(script, v)).map((v) => v.name));
    return { fixed, declared };
  } catch {
    return undefined; // an analysis failure: functions of this script are read as before
  }
}
