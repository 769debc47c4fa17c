// Contexts and start-method selection (CPython's context.py): a context carries every name of the
// package root, with what starts a process (Process, Pool, Manager) bound to its start method; the
// default context follows setStartMethod, and a child adopts the method it was started with.
import { ProcessError } from './errors';
import type { ManagerOptions } from './managers/base-manager';
import type { SyncManager } from './managers/sync-manager';
import type * as Root from './index';
import type { PopenClass, StartMethod } from './popen/index';
import { _bindStartMethods, Process as BaseProcess } from './process';

// A start method's module loads when the first process starts with it: a spawn child that starts
// none loads none of them.
const POPEN: Record<StartMethod, () => PopenClass> = {
  fork: () => (require('./popen/fork') as typeof import('./popen/fork')).ForkPopenClass,
  spawn: () => (require('./popen/spawn') as typeof import('./popen/spawn')).SpawnPopen,
  forkserver: () => (require('./popen/forkserver') as typeof import('./popen/forkserver')).ForkserverPopenClass,
};
const METHODS: StartMethod[] = process.platform === 'darwin' ? ['spawn', 'forkserver'] : ['forkserver', 'spawn', 'fork'];
// API.md: forkserver on Linux (CPython 3.14's choice: no user flags, a server that is ours to keep quiet).
const DEFAULT: StartMethod = METHODS[0]!;

// A registered symbol: subclasses travel by value, and their prototype chain with this key.
const kMethod = Symbol.for('multiprocess.startMethod');
let chosen: StartMethod | null = null;

/** `new Manager(options?)`: a started SyncManager (CPython's Manager()). */
export type ManagerClass = new (options?: Omit<ManagerOptions, 'ctx'>) => SyncManager;

// Set by managers/sync-manager.ts when it loads, on first use of a Manager: the managers are a
// large part of the package, which a spawn child would otherwise load before it can run.
let syncManager: typeof SyncManager | undefined;
export function _bindSyncManager(cls: typeof SyncManager): void {
  syncManager = cls;
}

// What a context defines itself; every other name of the package root it shares (see shareRootNames).
const OWN_NAMES = ['Process', 'Pool', 'Manager', 'getContext', 'getStartMethod', 'setStartMethod'] as const;
type OwnName = (typeof OWN_NAMES)[number];

// The shared names, which shareRootNames puts on the prototype.
export interface Context extends Omit<typeof Root, OwnName> {}
/** A context: the package root's names, bound to one start method (CPython's BaseContext). */
export class Context {
  readonly Process: typeof BaseProcess;

  constructor(readonly method: StartMethod | null) {
    // Named Process so that names and reprs read Process-1 whichever context made them.
    const Bound = class Process<A extends unknown[] = unknown[]> extends BaseProcess<A> {};
    Object.defineProperty(Bound.prototype, kMethod, { value: method });
    this.Process = Bound;
  }

  /** `new ctx.Manager(options?)`: a started SyncManager whose server this context starts. */
  get Manager(): ManagerClass {
    if (syncManager === undefined) require('./managers/sync-manager');
    const context = this;
    const Manager = class Manager extends syncManager! {
      constructor(options: Omit<ManagerOptions, 'ctx'> = {}) {
        super({ ...options, ctx: context });
        this.start();
      }
    };
    Object.defineProperty(this, 'Manager', { value: Manager });
    return Manager;
  }

  /** This context, or the one of `method` (CPython's BaseContext.get_context). */
  getContext(method?: StartMethod | null): Context {
    return method === undefined || method === null ? this : getContext(method);
  }

  /** This context's start method, or the global one for the default context. */
  getStartMethod(allowNone = false): StartMethod | null {
    return this.method ?? getStartMethod(allowNone);
  }

  /** The default context's sets the package's start method; a concrete context's is fixed. */
  setStartMethod(method: StartMethod | null, force = false): void {
    if (this.method !== null) throw new ProcessError(`cannot set start method of concrete context ('${this.method}'); use setStartMethod of the package root`);
    setStartMethod(method, force);
  }
}

/** Called once by the package root (index.ts) with its own names: every context carries them all. */
export function shareRootNames(root: typeof Root): void {
  for (const [name, value] of Object.entries(root))
    if (!(OWN_NAMES as readonly string[]).includes(name)) Object.defineProperty(Context.prototype, name, { value, configurable: true });
}

const contexts = new Map<StartMethod, Context>(METHODS.map((method) => [method, new Context(method)]));
const defaultContext = new Context(null);

/**
 * The package root's Process: the default context's, following setStartMethod (as CPython's
 * multiprocessing.Process). Also the only kind the serializer can send: the base class's prototype
 * would travel as a plain object with every method by value.
 */
export const Process = defaultContext.Process;
export type Process<A extends unknown[] = unknown[]> = BaseProcess<A>;

// Subclasses of Process travel by value to spawn and forkserver children, and their superclass
// (ours) must arrive as the child's own class, by reference. The serializer finds by reference what
// a fresh node can look up: globals, builtins, CommonJS files in require.cache — but this package
// may run from lib/ under a loader or a test runner, outside require.cache. A global works in
// every case; it must exist before the serializer's first lookup indexes the globals.
if (!Object.hasOwn(globalThis, '__multiprocess'))
  Object.defineProperty(globalThis, '__multiprocess', {
    value: Object.freeze({
      Process: BaseProcess,
      default: defaultContext.Process,
      ...Object.fromEntries([...contexts].map(([method, context]) => [method, context.Process])),
    }),
  });

function checkMethod(method: unknown): StartMethod {
  if (typeof method !== 'string' || !METHODS.includes(method as StartMethod))
    throw new RangeError(`cannot find context for ${String(method)}: the start methods here are ${METHODS.join(', ')}`);
  return method as StartMethod;
}

/** The context of a start method, or the default one; using it never sets the global method. */
export function getContext(method?: StartMethod | null): Context {
  if (method === undefined || method === null) return defaultContext;
  return contexts.get(checkMethod(method))!;
}

/** The start method new processes use: the one set, else the platform's default (forkserver on Linux); null with allowNone when none was set. */
export function getStartMethod(allowNone = false): StartMethod | null {
  if (chosen === null && !allowNone) chosen = DEFAULT;
  return chosen;
}

/** Sets the global start method once; `force` changes it again (prefer getContext(method) in libraries). */
export function setStartMethod(method: StartMethod | null, force = false): void {
  if (chosen !== null && !force) throw new ProcessError(`context has already been set (to '${chosen}'); pass force=true to change it`);
  chosen = method === null ? null : checkMethod(method);
}

/** The start methods of this platform, the default first. */
export function getAllStartMethods(): StartMethod[] {
  return [...METHODS];
}

/** The start method's class; a module that cannot be read for want of a descriptor fails as the start's own calls do. */
function popenOf(method: StartMethod): PopenClass {
  try {
    return POPEN[method]();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EMFILE') throw error;
    throw Object.assign(new Error(`loading the ${method} start method failed: Too many open files (EMFILE)`), { code: 'EMFILE', syscall: 'open' });
  }
}

_bindStartMethods(
  (process) => popenOf((process as unknown as { [kMethod]?: StartMethod | null })[kMethod] ?? getStartMethod() ?? DEFAULT),
  // A child uses its parent's method for its own children (CPython's _force_start_method in _bootstrap).
  (method) => {
    chosen = method;
  },
);
