// Contexts and start-method selection (CPython's context.py): each context carries Process bound to
// its start method; the default context follows setStartMethod.
import { ProcessError } from './errors';
import { native } from './native';
import { ForkPopenClass } from './popen/fork';
import { ForkserverPopen } from './popen/forkserver';
import type { PopenClass, StartMethod } from './popen/index';
import { SpawnPopen } from './popen/spawn';
import { _setPopenResolver, Process as BaseProcess } from './process';

/** CPUs this process may run on: the affinity mask, capped by a cgroup CPU quota. */
export function cpuCount(): number {
  return native.cpuCount();
}

/** Sets the `node` binary that spawn and forkserver children run (CPython's set_executable). */
export function setExecutable(executable: string): void {
  if (typeof executable !== 'string') throw new TypeError(`setExecutable(path): path must be a string, got ${typeof executable}`);
  native.setExecutable(executable);
}

/** The binary children run: the one given to setExecutable, else this process's own. */
export function getExecutable(): string {
  return native.getExecutable() ?? process.execPath;
}

const POPEN: Record<StartMethod, PopenClass> = { fork: ForkPopenClass, spawn: SpawnPopen, forkserver: ForkserverPopen };
const METHODS: StartMethod[] = process.platform === 'darwin' ? ['spawn', 'forkserver'] : ['forkserver', 'spawn', 'fork'];
// API.md's default (forkserver on Linux) is not built yet; until it is, the default that works is fork.
const DEFAULT: StartMethod = process.platform === 'darwin' ? 'spawn' : 'fork';

const kMethod = Symbol('multiprocess.startMethod');
let chosen: StartMethod | null = null;

/** A context: the package's classes bound to one start method (CPython's BaseContext). */
export class Context {
  readonly Process: typeof BaseProcess;
  constructor(readonly method: StartMethod | null) {
    // Named Process so that names and reprs read Process-1 whichever context made them.
    const Bound = class Process<A extends unknown[] = unknown[]> extends BaseProcess<A> {};
    Object.defineProperty(Bound.prototype, kMethod, { value: method });
    this.Process = Bound;
  }

  getStartMethod(allowNone = false): StartMethod | null {
    return this.method ?? getStartMethod(allowNone);
  }
}

const contexts = new Map<StartMethod, Context>();
const defaultContext = new Context(null);

function checkMethod(method: unknown): StartMethod {
  if (typeof method !== 'string' || !METHODS.includes(method as StartMethod))
    throw new RangeError(`cannot find context for ${String(method)}: the start methods here are ${METHODS.join(', ')}`);
  return method as StartMethod;
}

/** The context of a start method, or the default one; using it never sets the global method. */
export function getContext(method?: StartMethod | null): Context {
  if (method === undefined || method === null) return defaultContext;
  const known = checkMethod(method);
  let context = contexts.get(known);
  if (!context) contexts.set(known, (context = new Context(known)));
  return context;
}

export function getStartMethod(allowNone = false): StartMethod | null {
  if (chosen === null && !allowNone) chosen = DEFAULT;
  return chosen;
}

export function setStartMethod(method: StartMethod | null, force = false): void {
  if (chosen !== null && !force) throw new ProcessError(`context has already been set (to '${chosen}'); pass force=true to change it`);
  chosen = method === null ? null : checkMethod(method);
}

/** The start methods of this platform, the default first. */
export function getAllStartMethods(): StartMethod[] {
  return [...METHODS];
}

_setPopenResolver((process) => {
  const method = (process as unknown as { [kMethod]?: StartMethod | null })[kMethod] ?? getStartMethod();
  return POPEN[method ?? DEFAULT];
});
