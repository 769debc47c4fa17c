// The receiver's compiler: one factory per message shape, nested blocks mirroring the scope tree,
// so functions that shared a scope share it again. Compiled factories are cached by message shape.
import { SerializationError } from '../errors';

/** What the factory needs of a function: its source, form and strictness, its scope and its name. */
export interface FunctionShape {
  readonly source: string;
  readonly form: number;
  readonly strict: boolean;
  readonly scope: number;
  /** Given to an anonymous function expression by name inference (no defineProperty per message). */
  readonly name?: string;
}

export interface ScopeShape {
  readonly parent: number;
  readonly names: readonly string[];
}

type Factory = (functions: unknown[], setters: ((values: unknown[]) => void)[]) => void;

const factories = new Map<string, Factory>();
const FACTORY_LIMIT = 1024;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const COMPUTED_MEMBER = /^(?:async\b\s*)?(?:[gs]et\b\s*)?\*?\s*\[/;

/**
 * Evaluating a class runs code (computed keys, static fields and blocks; esbuild's keepNames adds
 * `static { __name(this, "X") }`), as does a method holder with a computed key: such code may read
 * captured variables, so the factory leaves these as thunks the decoder calls once they are set.
 */
export function evaluatesCode(fn: FunctionShape): boolean {
  return fn.form === 0 ? fn.source.startsWith('class') : COMPUTED_MEMBER.test(fn.source);
}

function factorySource(functions: readonly FunctionShape[], scopes: readonly ScopeShape[]): string {
  const children = scopes.map(() => [] as number[]);
  const members = [[] as number[], ...scopes.map(() => [] as number[])];
  const roots: number[] = [];
  scopes.forEach((scope, i) => (scope.parent < 0 ? roots : children[scope.parent]!).push(i));
  functions.forEach((fn, i) => members[fn.scope + 1]!.push(i));
  const emitFunction = (i: number): string => {
    const { source, form, strict, name } = functions[i]!;
    const key = name ? JSON.stringify(name) : '';
    const value = form !== 0 ? `({${source}\n})` : key ? `({ ${key}: ${source}\n })[${key}]` : `(${source}\n)`;
    const expression = strict ? `(function () { "use strict"; return ${value}; })()` : value;
    return evaluatesCode(functions[i]!) ? `__mpF[${i}] = () => ${expression};\n` : `__mpF[${i}] = ${expression};\n`;
  };
  const emitScope = (s: number): string => {
    const names = scopes[s]!.names;
    for (const name of names) if (!IDENTIFIER.test(name)) throw new SerializationError(`loads: malformed message (variable name ${JSON.stringify(name)})`);
    const declare = names.length > 0 ? `let ${names.join(', ')};\n` : '';
    const setter = `__mpS[${s}] = function (__mpV) { ${names.map((n, j) => `${n} = __mpV[${j}];`).join(' ')} };\n`;
    return `{\n${declare}${setter}${children[s]!.map(emitScope).join('')}${members[s + 1]!.map(emitFunction).join('')}}\n`;
  };
  return `${roots.map(emitScope).join('')}${members[0]!.map(emitFunction).join('')}`;
}

/** Everything the factory source depends on, cheaper to build than the source itself (once per message). */
function shapeKey(functions: readonly FunctionShape[], scopes: readonly ScopeShape[]): string {
  let key = '';
  for (const fn of functions) key += `${fn.form}${fn.strict ? 1 : 0}${fn.scope}\u0000${fn.name ?? ''}\u0000${fn.source}\u0000`;
  key += '\u0001';
  for (const scope of scopes) key += `${scope.parent}\u0000${scope.names.join('\u0000')}\u0001`;
  return key;
}

/**
 * Runs the (cached) factory: returns each function's value (for methods, the holding literal; for
 * those that evaluatesCode, a thunk returning it) and the scope setters.
 */
export function instantiate(functions: readonly FunctionShape[], scopes: readonly ScopeShape[]): { values: unknown[]; setters: ((values: unknown[]) => void)[] } {
  const key = shapeKey(functions, scopes);
  let factory = factories.get(key);
  if (!factory) {
    const body = factorySource(functions, scopes);
    try {
      factory = new Function('__mpF', '__mpS', body) as Factory;
    } catch (error) {
      if (error instanceof EvalError || /disallowed/i.test((error as Error).message))
        throw new SerializationError(
          'loads: this process runs with --disallow-code-generation-from-strings (or a CSP that forbids eval), so functions sent by value cannot be rebuilt; send only data, or functions that go by reference (exports of importable modules)',
          { cause: error },
        );
      throw new SerializationError(`loads: a function in the message does not compile (${(error as Error).message})`, { cause: error });
    }
    if (factories.size >= FACTORY_LIMIT) factories.delete(factories.keys().next().value!);
    factories.set(key, factory);
  }
  const values: unknown[] = new Array(functions.length);
  const setters: ((values: unknown[]) => void)[] = new Array(scopes.length);
  factory(values, setters);
  return { values, setters };
}

/** The function held by an object-literal wrapper (`({ m() {} })`, `({ get x() {} })`). */
export function memberOf(holder: object, form: number): Function {
  const key = Reflect.ownKeys(holder)[0]!;
  const descriptor = Object.getOwnPropertyDescriptor(holder, key)!;
  const fn = form === 2 ? descriptor.get : form === 3 ? descriptor.set : descriptor.value;
  if (typeof fn !== 'function') throw new SerializationError('loads: malformed message (method holder without a function)');
  return fn;
}
