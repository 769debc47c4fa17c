// The by-reference index: globals, builtin modules and exports of importable modules travel as
// "where to find it" and are looked up on the receiver instead of being copied.
import { builtinModules, createRequire, isBuiltin } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import * as types from 'node:util/types';
import type * as vm from 'node:vm';
import { SerializationError } from '../errors';
import { scriptNameOf } from '../park';
import type { Ref } from './format';
import { parsedScripts } from './scopes';

// A curated list: requiring every builtin has side effects and warnings on some versions.
const BUILTINS = [
  'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'diagnostics_channel', 'dns',
  'events', 'fs', 'fs/promises', 'http', 'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process',
  'querystring', 'readline', 'stream', 'stream/promises', 'string_decoder', 'timers', 'timers/promises', 'tls',
  'tty', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib',
].filter((name) => builtinModules.includes(name));

/** Files whose module a fresh `node` can load by path (a .ts file needs a loader the receiver may lack). */
const LOADABLE = /\.(c?js|mjs|json|node)$/;

const index = new Map<unknown, Ref>();
let indexedCjs = -1;
const indexedFiles = new Set<string>();

function add(value: unknown, ref: Ref): void {
  if ((typeof value === 'function' || (typeof value === 'object' && value !== null)) && !index.has(value)) index.set(value, ref);
}

function addMembers(owner: unknown, make: (keys: string[]) => Ref, keys: string[], depth: number): void {
  if (owner === null || (typeof owner !== 'object' && typeof owner !== 'function')) return;
  add(owner, make(keys));
  if (depth === 0) return;
  for (const key of Object.getOwnPropertyNames(owner)) {
    if (key === 'caller' || key === 'arguments' || key === 'constructor') continue;
    const descriptor = Object.getOwnPropertyDescriptor(owner, key);
    if (descriptor && 'value' in descriptor) addMembers(descriptor.value, make, [...keys, key], depth - 1);
  }
}

/**
 * The globals Node itself defines (20–24), beside the language's own. Only these, and the language's,
 * are paths a receiver is sure to have: a host such as a test runner adds globals of its own (vitest's
 * `__vitest_required__` holds builtin modules), which a fresh child lacks.
 */
const NODE_GLOBALS = [
  'process', 'Buffer', 'clearImmediate', 'setImmediate', 'clearInterval', 'clearTimeout', 'setInterval',
  'setTimeout', 'queueMicrotask', 'structuredClone', 'atob', 'btoa', 'fetch', 'performance', 'crypto', 'navigator',
  'URL', 'URLSearchParams', 'URLPattern', 'DOMException', 'AbortController', 'AbortSignal', 'Event', 'EventTarget',
  'CustomEvent', 'MessageEvent', 'CloseEvent', 'TextEncoder', 'TextDecoder', 'TextEncoderStream', 'TextDecoderStream',
  'CompressionStream', 'DecompressionStream', 'TransformStream', 'TransformStreamDefaultController', 'WritableStream',
  'WritableStreamDefaultController', 'WritableStreamDefaultWriter', 'ReadableStream', 'ReadableStreamDefaultReader',
  'ReadableStreamBYOBReader', 'ReadableStreamBYOBRequest', 'ReadableByteStreamController',
  'ReadableStreamDefaultController', 'ByteLengthQueuingStrategy', 'CountQueuingStrategy', 'BroadcastChannel',
  'MessageChannel', 'MessagePort', 'Blob', 'File', 'FormData', 'Headers', 'Request', 'Response', 'WebSocket',
  'Performance', 'PerformanceEntry', 'PerformanceMark', 'PerformanceMeasure', 'PerformanceObserver',
  'PerformanceObserverEntryList', 'PerformanceResourceTiming', 'Navigator', 'Crypto', 'CryptoKey', 'SubtleCrypto',
];

function indexGlobals(): void {
  // Builtin modules first: a value reachable both ways (Buffer, a module a host keeps in a global)
  // is found by its module.
  indexLoadedBuiltins();
  // The global object itself, not through `global` or `globalThis`: its members include the host's.
  add(globalThis, ['g', []]);
  const language = (require('node:vm') as typeof vm).runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[];
  for (const key of [...language, ...NODE_GLOBALS, ...PACKAGE_GLOBALS.keys()]) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, key);
    if (!descriptor || !('value' in descriptor) || key === 'globalThis') continue;
    // Constructors, their statics and prototypes (with methods); namespaces such as Math and JSON; this
    // package's classes and their prototypes, so that a Process object's own class needs no analysis.
    addMembers(descriptor.value, (keys) => ['g', keys], [key], typeof descriptor.value === 'function' || PACKAGE_GLOBALS.has(key) ? 3 : 1);
  }
  // Intrinsics without a global name, reached through prototypes of builtins.
  const intrinsics: Record<string, unknown> = {
    AsyncFunction: Object.getPrototypeOf(async function () {}),
    GeneratorFunction: Object.getPrototypeOf(function* () {}),
    AsyncGeneratorFunction: Object.getPrototypeOf(async function* () {}),
    TypedArray: Object.getPrototypeOf(Uint8Array),
  };
  for (const [name, value] of Object.entries(intrinsics)) add(value, ['g', ['%' + name]]);
}

const nodeRequire = createRequire(__filename);

const indexedBuiltins = new Set<string>();
let seenModuleLoads = 0;

/**
 * Indexes the builtin modules loaded so far, and later the ones loaded since: no value of a builtin
 * exists before it is loaded, and loading all of them for the index cost a fresh child ~20 ms at
 * its first message. `process.moduleLoadList` lists every builtin Node has compiled, in order.
 */
function indexLoadedBuiltins(): void {
  const loads = (process as { moduleLoadList?: readonly string[] }).moduleLoadList;
  if (loads?.length === seenModuleLoads) return;
  const loaded = new Set(loads?.slice(seenModuleLoads).map((entry) => entry.replace(/^NativeModule /, '')));
  seenModuleLoads = loads?.length ?? 0;
  for (const name of BUILTINS) {
    // Without the list (another runtime), or `process` (an object, never on it): index it now.
    if (indexedBuiltins.has(name) || (loads && name !== 'process' && !loaded.has(name))) continue;
    indexedBuiltins.add(name);
    addMembers(nodeRequire(name), (keys) => ['m', name, keys.slice(1)], [name], 2);
  }
}

/** Indexes CJS modules a fresh process could load by path; not the main module (its functions go by value). */
function indexCjs(): void {
  const cache = require.cache;
  const files = Object.keys(cache);
  if (files.length === indexedCjs) return;
  indexedCjs = files.length;
  const main = require.main?.filename;
  for (const file of files) {
    const mod = cache[file];
    if (!mod || !mod.loaded || file === main || indexedFiles.has(file) || !LOADABLE.test(file) || !path.isAbsolute(file)) continue;
    indexedFiles.add(file);
    add(mod, ['f', file, ['%module']]);
    addMembers(mod.exports, (keys) => ['f', file, keys], [], 1);
  }
}

let ready = false;

/**
 * Functions no module exported when they were first looked up. Checking require.cache for new
 * modules is O(modules) (27 µs with 500), so it is done for functions not met before — a newly
 * loaded module's exports are new functions — not again at every dumps of the same closure.
 */
const unexported = new WeakSet<Function>();

/** Where a function was compiled: its script, and whether that script is an ES module. */
export interface FunctionOrigin {
  readonly scriptId: string;
  readonly inModule: boolean;
}

/**
 * The reference for `value`, if a receiver can look it up rather than rebuild it. For a function
 * met for the first time, `originOf` tells where it was compiled, so that the ES module defining it
 * can be indexed then (Node keeps no synchronous registry of ES modules).
 */
export function lookup(value: object, originOf?: () => FunctionOrigin | undefined): Ref | undefined {
  if (!ready) {
    indexGlobals();
    ready = true;
  } else {
    indexLoadedBuiltins();
  }
  let ref = index.get(value);
  if (ref === undefined && typeof value === 'function' && !unexported.has(value)) {
    indexCjs();
    ref = index.get(value);
    const origin = ref === undefined ? originOf?.() : undefined;
    if (origin?.inModule && indexModuleScript(origin.scriptId, scriptNameOf(value as Function))) ref = index.get(value);
    if (ref === undefined) unexported.add(value);
  }
  // `import * as fs from 'node:fs'`: a builtin's namespace, rebuilt from its CommonJS exports.
  if (ref === undefined && typeof value === 'object' && types.isModuleNamespaceObject(value)) {
    const cjs = namespaceRef(index.get((value as { default?: unknown }).default));
    if (cjs?.[0] === 'm') ref = cjs;
  }
  return ref;
}

/** The step after a module that asks for a namespace over its CommonJS exports (see namespaceOf). */
export const NAMESPACE = '%namespace';

/** For the reference of a module's exports, the reference of a namespace over them. */
export function namespaceRef(exportsRef: Ref | undefined): Ref | undefined {
  if (exportsRef === undefined || (exportsRef[0] !== 'm' && exportsRef[0] !== 'f') || exportsRef[2].length > 0) return undefined;
  return [exportsRef[0], exportsRef[1], [NAMESPACE]];
}

/**
 * What `import * as ns` of a CommonJS module gives: its exports, and the whole exports object as
 * `default` (code compiled by a test runner reads `ns.default.x` for `import m from`).
 */
function namespaceOf(exports: object): object {
  return Object.freeze(Object.assign(Object.create(null) as object, exports, { default: exports, [Symbol.toStringTag]: 'Module' }));
}

function indexModule(file: string, namespace: Record<string, unknown>): void {
  add(namespace, ['f', file, []]);
  for (const key of Object.keys(namespace)) addMembers(namespace[key], (keys) => ['f', file, keys], [key], 1);
}

/** ES modules whose require(esm) failed, and when (Infinity: it never will). */
const refusedModules = new Map<string, number>();
const RETRY_REFUSED_MS = 1000;

/** File paths of the ES module scripts seen so far, by script id. */
const moduleFiles = new Map<string, string>();
/** Script ids are handed out in increasing order: scripts up to this one have been seen. */
let newestScript = -1;

/**
 * Learns the file of every ES module script V8 has compiled so far. It costs a Debugger.enable,
 * which replays every loaded script (~30 ms with Node's own). Without the addon that names a
 * function's script, the first function of an ES module to be serialized pays it, unless a wait for
 * something else paid it first (see spawnServer).
 */
export function learnModuleScripts(): void {
  for (const script of parsedScripts()) {
    newestScript = Math.max(newestScript, Number(script.scriptId));
    if (script.isModule && script.url.startsWith('file:')) moduleFiles.set(script.scriptId, fileURLToPath(script.url));
  }
}

/**
 * Indexes the ES module compiled as `scriptId` (its URL `name`, when the addon told), if a fresh
 * process can load it by path; true if it was indexed now. Only that module is loaded: require(esm)
 * of an already evaluated module returns its namespace (Node >= 20.19), where loading another module
 * early would run it out of order.
 */
function indexModuleScript(scriptId: string, name: string | undefined): boolean {
  if (name?.startsWith('file:') && !moduleFiles.has(scriptId)) moduleFiles.set(scriptId, fileURLToPath(name));
  if (!moduleFiles.has(scriptId) && Number(scriptId) > newestScript) learnModuleScripts();
  const file = moduleFiles.get(scriptId);
  if (file === undefined || indexedFiles.has(file) || !LOADABLE.test(file) || file === process.argv[1]) return false;
  // A refused require costs ~80 µs: not again for every new function of that module.
  if (performance.now() - (refusedModules.get(file) ?? Number.NEGATIVE_INFINITY) < RETRY_REFUSED_MS) return false;
  try {
    indexModule(file, nodeRequire(file) as Record<string, unknown>);
  } catch (error) {
    // Still evaluating (a cycle: try again later), or awaiting at top level (require never loads
    // it): its functions go by value meanwhile.
    refusedModules.set(file, (error as NodeJS.ErrnoException).code === 'ERR_REQUIRE_ASYNC_MODULE' ? Number.POSITIVE_INFINITY : performance.now());
    return false;
  }
  indexedFiles.add(file);
  return true;
}

/** Adds the exports of already-loaded ES modules (imported again here, so this is async). */
export async function indexEsm(urls: Iterable<string>): Promise<void> {
  for (const url of urls) {
    const file = url.startsWith('file:') ? fileURLToPath(url) : undefined;
    if (!file || indexedFiles.has(file) || !LOADABLE.test(file) || file === process.argv[1]) continue;
    indexedFiles.add(file);
    try {
      indexModule(file, (await import(url)) as Record<string, unknown>);
    } catch {
      // A module that fails to import again is simply not by-reference.
    }
  }
}

/** Symbol.iterator, Symbol.toStringTag, …: the same in every realm and process, found by name. */
const wellKnownSymbols = new Map<symbol, Ref>(
  Object.getOwnPropertyNames(Symbol)
    .filter((name) => typeof (Symbol as unknown as Record<string, unknown>)[name] === 'symbol')
    .map((name) => [(Symbol as unknown as Record<string, symbol>)[name]!, ['g', ['Symbol', name]]]),
);

/** The reference for a well-known symbol (a global), undefined for any other symbol. */
export function symbolRef(symbol: symbol): Ref | undefined {
  return wellKnownSymbols.get(symbol);
}

const resolved = new Map<string, unknown>();

function walk(root: unknown, keys: readonly string[], what: string): unknown {
  let value = root;
  for (const key of keys) {
    if (value === null || value === undefined) throw new SerializationError(`loads: ${what} has no ${keys.join('.')}`);
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

// Globals under which this package's own classes and functions travel by reference (the Process
// classes, a pool worker's entry), each defined by its module when loaded: a receiver that has not
// loaded that module yet loads it on meeting the global (a spawn child loads no more than it needs).
const PACKAGE_GLOBALS = new Map([
  ['__multiprocess', '../context'],
  ['__multiprocessPoolWorker', '../pool/worker'],
]);

/** Looks a reference up on the receiver (ES modules load through require(esm), Node >= 20.19). */
export function resolve(ref: Ref): unknown {
  const key = JSON.stringify(ref);
  if (resolved.has(key)) return resolved.get(key);
  let value: unknown;
  try {
    switch (ref[0]) {
      case 'g': {
        const [first, ...rest] = ref[1];
        const home = first === undefined || Object.hasOwn(globalThis, first) ? undefined : PACKAGE_GLOBALS.get(first);
        if (home !== undefined) require(home);
        const intrinsic = first?.startsWith('%') ? lookupIntrinsic(first) : undefined;
        value = intrinsic ?? walk(globalThis, ref[1], 'the global object');
        if (intrinsic) value = walk(intrinsic, rest, first!);
        break;
      }
      case 'm':
      case 'f':
        if (ref[2][0] === NAMESPACE) value = namespaceOf(nodeRequire(ref[1]) as object);
        else if (ref[2][0] === '%module') value = nodeRequire.cache[ref[1]] ?? (nodeRequire(ref[1]), nodeRequire.cache[ref[1]]);
        else value = walk(nodeRequire(ref[1]), ref[2], `module '${ref[1]}'`);
        break;
      case 'r':
        value = createRequire(ref[1]);
        break;
      default:
        throw new SerializationError(`loads: unknown reference kind ${JSON.stringify(ref[0])}`);
    }
  } catch (error) {
    if (error instanceof SerializationError) throw error;
    throw new SerializationError(`loads: cannot import ${describe(ref)}: ${(error as Error).message}`, { cause: error });
  }
  resolved.set(key, value);
  return value;
}

/** Whether resolving `ref` runs no module code: it names a builtin or an already loaded file (either kind may say either). */
export function resolvesWithoutLoading(ref: Ref): boolean {
  return (ref[0] !== 'f' && ref[0] !== 'm') || isBuiltin(ref[1]) || nodeRequire.cache[ref[1]] !== undefined;
}

function lookupIntrinsic(name: string): unknown {
  ready || (indexGlobals(), (ready = true));
  for (const [value, ref] of index) if (ref[0] === 'g' && ref[1][0] === name) return value;
  return undefined;
}

export function describe(ref: Ref): string {
  switch (ref[0]) {
    case 'g':
      return ref[1].join('.');
    case 'm':
      return `require('${ref[1]}')${ref[2].map((k) => `.${k}`).join('')}`;
    case 'f':
      return `${pathToFileURL(ref[1]).href}${ref[2].length ? '#' + ref[2].join('.') : ''}`;
    case 'r':
      return `require (of ${ref[1]})`;
  }
}
