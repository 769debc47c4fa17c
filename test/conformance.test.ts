// API.md's public surface, name by name, on the package as a user loads it: through its own name and
// exports map (`require('multiprocess')`, `import 'multiprocess'`, each subpath), so the built
// dist/ is what is checked. Each entry point has exactly the names below; classes construct with
// `new` and refuse a plain call, functions are plain; each class has its methods and properties and
// the Async twin of every call that can wait; every context carries the root's names. Names whose
// implementation is still to come (managers) throw NotImplementedError: this file changes when
// they land. A gap such as "contexts carry only Process" fails here.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const load = createRequire(import.meta.url);
const mp = load('multiprocess') as typeof import('../lib/index');
const connection = load('multiprocess/connection') as typeof import('../lib/connection');
const sharedMemory = load('multiprocess/shared-memory') as typeof import('../lib/shared-memory');
const managers = load('multiprocess/managers') as typeof import('../lib/managers/index');
const dummy = load('multiprocess/dummy') as typeof import('../lib/dummy/index');

type Entry = Record<string, unknown>;
type Shape = 'class' | 'function' | 'error' | 'notImplemented' | number;

const ERRORS: Record<string, string> = {
  MultiprocessError: 'ERR_MP',
  ProcessError: 'ERR_MP_PROCESS',
  BufferTooShort: 'ERR_MP_BUFFER_TOO_SHORT',
  AuthenticationError: 'ERR_MP_AUTHENTICATION',
  TimeoutError: 'ERR_MP_TIMEOUT',
  BrokenBarrierError: 'ERR_MP_BROKEN_BARRIER',
  Empty: 'ERR_MP_QUEUE_EMPTY',
  Full: 'ERR_MP_QUEUE_FULL',
  EOFError: 'ERR_MP_EOF',
  RemoteError: 'ERR_MP_REMOTE',
  SerializationError: 'ERR_MP_SERIALIZATION',
  BrokenPoolError: 'ERR_MP_BROKEN_POOL',
  PoolTerminatedError: 'ERR_MP_POOL_TERMINATED',
  InvalidStateError: 'ERR_MP_INVALID_STATE',
  NotImplementedError: 'ERR_MP_NOT_IMPLEMENTED',
};

const shapes = (shape: Shape, names: string[]): Record<string, Shape> => Object.fromEntries(names.map((name) => [name, shape]));

// API.md §2 (with §1's errors and the classes of §3–§7); numbers are the logging constants' values.
const ROOT: Record<string, Shape> = {
  ...shapes('function', [
    'cpuCount', 'currentProcess', 'parentProcess', 'activeChildren', 'getAllStartMethods', 'getStartMethod', 'setStartMethod',
    'getContext', 'setExecutable', 'setForkserverPreload', 'freezeSupport', 'allowConnectionPickling', 'getLogger', 'logToStderr',
    'Pipe', 'RawArray', 'taskSignal',
  ]),
  ...shapes('class', [
    'Process', 'Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Condition', 'Event', 'Barrier', 'Queue', 'JoinableQueue',
    'SimpleQueue', 'Pool', 'AsyncResult', 'Value', 'Array', 'SharedArray', 'RawValue', 'Context',
  ]),
  ...shapes('error', Object.keys(ERRORS)),
  Manager: 'class',
  SUBDEBUG: 5, DEBUG: 10, INFO: 20, SUBWARNING: 25, WARNING: 30, ERROR: 40, CRITICAL: 50,
};

const SUBPATHS: Record<string, Record<string, Shape>> = {
  'multiprocess/connection': {
    ...shapes('class', ['Connection', 'Listener']),
    ...shapes('function', ['Pipe', 'Client', 'ClientAsync', 'wait', 'waitAsync']),
  },
  'multiprocess/managers': shapes('class', [
    'BaseManager', 'SyncManager', 'Server', 'BaseProxy', 'AutoProxy', 'ListProxy', 'ArrayProxy', 'AsyncResultProxy', 'PoolProxy', 'DictProxy', 'NamespaceProxy',
    'ValueProxy', 'AcquirerProxy', 'ConditionProxy', 'EventProxy', 'BarrierProxy', 'QueueProxy',
  ]),
  'multiprocess/shared-memory': { SharedMemory: 'class', ShareableList: 'class', SharedMemoryManager: 'class' },
  'multiprocess/serializer': { ...shapes('function', ['dumps', 'dumpsAsync', 'loads', 'register']), SerializationError: 'error' },
  // CPython's multiprocessing.dummy, and the pool's extras the root has too.
  'multiprocess/dummy': {
    ...shapes('class', [
      'Process', 'Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Condition', 'Event', 'Barrier', 'Queue', 'JoinableQueue',
      'SimpleQueue', 'Pool', 'ThreadPool', 'AsyncResult', 'Value', 'Array', 'RawValue',
    ]),
    ...shapes('function', ['currentProcess', 'activeChildren', 'freezeSupport', 'Pipe', 'RawArray', 'taskSignal']),
    PoolTerminatedError: 'error',
    Manager: 'notImplemented',
  },
};

const ENTRIES: Record<string, Record<string, Shape>> = { multiprocess: ROOT, ...SUBPATHS };

/** An instance to inspect, and how to let go of it. */
interface Made {
  obj: object;
  dispose?: () => void | Promise<void>;
}

/** What API.md names on a class's instances; `waits` are the calls that can wait, each with an Async twin. */
interface ClassSpec {
  make: () => Made;
  methods: (string | symbol)[];
  properties?: string[];
  waits?: string[];
}

const LOCK = { methods: ['acquire', 'release', 'hold'], waits: ['acquire', 'hold'] };
const SEMAPHORE = { methods: [...LOCK.methods, 'getValue'], waits: LOCK.waits };
const QUEUE = {
  methods: ['put', 'get', 'putNowait', 'getNowait', 'qsize', 'empty', 'full', 'close', 'joinThread', 'cancelJoinThread'],
  waits: ['put', 'get'],
};
const POOL = {
  methods: ['apply', 'applyAsync', 'map', 'mapAsync', 'starmap', 'starmapAsync', 'imap', 'imapUnordered', 'close', 'terminate', 'join', Symbol.dispose, Symbol.asyncDispose],
  waits: ['join'],
};
const endPool = async (pool: InstanceType<typeof mp.Pool>): Promise<void> => {
  pool.terminate();
  await pool.joinAsync();
};
const closing = (obj: { close(): void }): Made => ({ obj, dispose: () => obj.close() });

// One started manager for the proxies below, with a registered class for AutoProxy.
class ConformanceManager extends managers.SyncManager {}
ConformanceManager.register('AutoThing', class AutoThing {
  count = 0;
  increment(): number {
    return ++this.count;
  }
});
let started: InstanceType<typeof ConformanceManager> | null = null;
function manager(): InstanceType<typeof ConformanceManager> & Record<string, (...args: unknown[]) => never> {
  if (!started) {
    started = new ConformanceManager();
    started.start();
  }
  return started as never;
}
afterAll(() => started?.shutdown());

// Keyed by entry and name; the root's classes are the dummy's too where the dummy re-exports them.
const CLASSES: Record<string, ClassSpec> = {
  'multiprocess:Process': {
    make: () => ({ obj: new mp.Process() }),
    methods: ['start', 'join', 'isAlive', 'terminate', 'kill', 'close', 'run'],
    properties: ['pid', 'ident', 'exitcode', 'name', 'daemon', 'authkey', 'sentinel'],
    waits: ['join'],
  },
  'multiprocess:Lock': { make: () => ({ obj: new mp.Lock() }), ...LOCK },
  'multiprocess:RLock': { make: () => ({ obj: new mp.RLock() }), ...LOCK },
  'multiprocess:Semaphore': { make: () => ({ obj: new mp.Semaphore(2) }), ...SEMAPHORE },
  'multiprocess:BoundedSemaphore': { make: () => ({ obj: new mp.BoundedSemaphore(2) }), ...SEMAPHORE },
  'multiprocess:Condition': {
    make: () => ({ obj: new mp.Condition() }),
    methods: ['acquire', 'release', 'hold', 'wait', 'waitFor', 'notify', 'notifyAll'],
    waits: ['acquire', 'hold', 'wait', 'waitFor'],
  },
  'multiprocess:Event': { make: () => ({ obj: new mp.Event() }), methods: ['isSet', 'set', 'clear', 'wait'], waits: ['wait'] },
  'multiprocess:Barrier': {
    make: () => ({ obj: new mp.Barrier(2) }),
    methods: ['wait', 'reset', 'abort'],
    properties: ['parties', 'nWaiting', 'broken'],
    waits: ['wait'],
  },
  'multiprocess:Queue': { make: () => closing(new mp.Queue()), ...QUEUE },
  'multiprocess:JoinableQueue': {
    make: () => closing(new mp.JoinableQueue()),
    methods: [...QUEUE.methods, 'taskDone', 'join'],
    waits: [...QUEUE.waits, 'join'],
  },
  'multiprocess:SimpleQueue': { make: () => closing(new mp.SimpleQueue()), methods: ['put', 'get', 'empty', 'close'], waits: ['put', 'get'] },
  'multiprocess:Pool': {
    make: () => {
      const pool = new mp.Pool(1);
      return { obj: pool, dispose: () => endPool(pool) };
    },
    ...POOL,
  },
  'multiprocess:AsyncResult': {
    make: () => {
      const pool = new mp.Pool(1);
      return { obj: pool.applyAsync(() => 1), dispose: () => endPool(pool) };
    },
    methods: ['get', 'wait', 'ready', 'successful', 'then'],
  },
  'multiprocess:Value': { make: () => ({ obj: new mp.Value('i', 0) }), methods: ['getLock', 'getObj'], properties: ['value'] },
  'multiprocess:Array': {
    make: () => ({ obj: new mp.Array('i', 2) }),
    methods: ['getLock', 'getObj', Symbol.iterator],
    properties: ['length', '0', '1'],
  },
  'multiprocess:SharedArray': { make: () => ({ obj: new mp.SharedArray('c', 2) }), methods: ['getLock', 'getObj'], properties: ['length', 'value', 'raw'] },
  'multiprocess:RawValue': { make: () => ({ obj: new mp.RawValue('d', 0) }), methods: [], properties: ['value'] },
  'multiprocess:Context': {
    make: () => ({ obj: mp.getContext('spawn') }),
    methods: ['getContext', 'getStartMethod', 'setStartMethod'],
    properties: ['Process', 'Pool', 'Manager'],
  },
  'multiprocess/connection:Connection': {
    make: () => {
      const [a, b] = connection.Pipe();
      return { obj: a, dispose: () => (a.close(), b.close()) };
    },
    methods: ['send', 'recv', 'sendBytes', 'recvBytes', 'recvBytesInto', 'poll', 'close', 'fileno', Symbol.dispose],
    properties: ['closed', 'readable', 'writable'],
    waits: ['recv', 'recvBytes', 'recvBytesInto', 'poll'],
  },
  'multiprocess:Manager': {
    make: () => {
      const started = new mp.Manager();
      return { obj: started, dispose: () => started.shutdownAsync() };
    },
    methods: ['start', 'connect', 'getServer', 'shutdown', 'join', '_numberOfObjects', 'list', 'dict', 'Namespace', 'Lock', 'RLock', 'Semaphore',
      'BoundedSemaphore', 'Condition', 'Event', 'Barrier', 'Queue', 'JoinableQueue', 'Value', 'Array', Symbol.dispose, Symbol.asyncDispose],
    properties: ['address', 'authkey'],
    waits: ['shutdown'],
  },
  'multiprocess/managers:BaseManager': { make: () => ({ obj: new managers.BaseManager() }), methods: ['start', 'connect', 'getServer', 'shutdown'], properties: ['authkey'] },
  'multiprocess/managers:SyncManager': { make: () => ({ obj: new managers.SyncManager() }), methods: ['start', 'list', 'dict', 'Lock'], properties: ['authkey'] },
  'multiprocess/managers:Server': {
    make: () => {
      const server = new managers.BaseManager().getServer();
      return { obj: server, dispose: () => server.listener.close() };
    },
    methods: ['serveForever'],
    properties: ['address', 'listener'],
  },
  'multiprocess/managers:BaseProxy': { make: () => ({ obj: manager().Event() }), methods: ['_callmethod', '_getvalue', '_release', Symbol.dispose], waits: ['_callmethod', '_getvalue'] },
  'multiprocess/managers:AutoProxy': {
    make: () => ({ obj: manager()._create('AutoThing', []) }),
    methods: ['_callmethod', 'increment'],
    waits: ['increment'],
  },
  'multiprocess/managers:ListProxy': {
    make: () => ({ obj: manager().list([1]) }),
    methods: ['append', 'extend', 'pop', 'insert', 'remove', 'reverse', 'sort', 'index', 'count', Symbol.iterator, Symbol.asyncIterator],
    properties: ['length', '0'],
    waits: ['append', 'extend', 'pop', 'insert', 'remove', 'reverse', 'sort', 'index', 'count', 'length', 'get', 'set'],
  },
  'multiprocess/managers:ArrayProxy': { make: () => ({ obj: manager().Array('i', 2) }), methods: ['index'], properties: ['length', '0', '1'], waits: ['index'] },
  'multiprocess/managers:DictProxy': {
    make: () => ({ obj: manager().dict({ a: 1 }) }),
    methods: ['get', 'set', 'has', 'delete', 'keys', 'values', 'items', 'update', 'setdefault', 'pop', Symbol.iterator],
    properties: ['size', 'a'],
    waits: ['get', 'set', 'has', 'delete', 'keys', 'values', 'items', 'update', 'setdefault', 'pop', 'size'],
  },
  'multiprocess/managers:NamespaceProxy': { make: () => ({ obj: manager().Namespace({ x: 1 }) }), methods: ['_callmethod'], properties: ['x'] },
  'multiprocess/managers:ValueProxy': { make: () => ({ obj: manager().Value('i', 1) }), methods: ['get', 'set'], properties: ['value'], waits: ['get', 'set'] },
  'multiprocess/managers:AcquirerProxy': { make: () => ({ obj: manager().RLock() }), ...LOCK },
  'multiprocess/managers:ConditionProxy': {
    make: () => ({ obj: manager().Condition() }),
    methods: ['acquire', 'release', 'wait', 'waitFor', 'notify', 'notifyAll'],
    waits: ['acquire', 'wait', 'waitFor', 'notify', 'notifyAll'],
  },
  'multiprocess/managers:EventProxy': { make: () => ({ obj: manager().Event() }), methods: ['isSet', 'set', 'clear', 'wait'], waits: ['isSet', 'set', 'clear', 'wait'] },
  'multiprocess/managers:BarrierProxy': { make: () => ({ obj: manager().Barrier(2) }), methods: ['wait', 'abort', 'reset'], properties: ['parties', 'nWaiting', 'broken'], waits: ['wait', 'abort', 'reset'] },
  'multiprocess/managers:QueueProxy': {
    make: () => ({ obj: manager().JoinableQueue() }),
    methods: ['put', 'get', 'putNowait', 'getNowait', 'qsize', 'empty', 'full', 'taskDone', 'join'],
    waits: ['put', 'get', 'qsize', 'empty', 'full', 'taskDone', 'join'],
  },
  'multiprocess/managers:PoolProxy': {
    make: () => {
      const pool = manager().Pool(1);
      return { obj: pool, dispose: () => pool[Symbol.dispose]() };
    },
    methods: ['apply', 'applyAsync', 'map', 'mapAsync', 'starmap', 'starmapAsync', 'close', 'terminate', 'join', Symbol.dispose],
    waits: ['apply', 'map', 'starmap', 'join'],
  },
  'multiprocess/managers:AsyncResultProxy': {
    make: () => {
      const pool = manager().Pool(1);
      const result = pool.applyAsync((x: number) => x, [1]);
      return { obj: result, dispose: () => (result.get(), pool[Symbol.dispose]()) };
    },
    methods: ['ready', 'successful', 'wait', 'get', 'then'],
    waits: ['wait', 'get'],
  },
  'multiprocess/connection:Listener': {
    make: () => closing(new connection.Listener()),
    methods: ['accept', 'close', Symbol.dispose],
    properties: ['address'],
    waits: ['accept'],
  },
  'multiprocess/shared-memory:SharedMemory': {
    make: () => {
      const mem = new sharedMemory.SharedMemory({ create: true, size: 8 });
      return { obj: mem, dispose: () => (mem.close(), mem.unlink()) };
    },
    methods: ['close', 'unlink', Symbol.dispose],
    properties: ['buf', 'name', 'size'],
  },
  'multiprocess/shared-memory:ShareableList': {
    make: () => {
      const list = new sharedMemory.ShareableList([1, 'a']);
      return { obj: list, dispose: () => (list.shm.close(), list.shm.unlink()) };
    },
    methods: ['count', 'index', Symbol.iterator],
    properties: ['shm', 'format', 'length', '0', '1'],
  },
  'multiprocess/shared-memory:SharedMemoryManager': {
    make: () => ({ obj: new sharedMemory.SharedMemoryManager() }),
    methods: ['start', 'SharedMemory', 'ShareableList', 'shutdown', Symbol.dispose],
    properties: ['authkey'],
    waits: ['SharedMemory', 'ShareableList', 'shutdown'],
  },
  'multiprocess/dummy:Process': {
    make: () => ({ obj: new dummy.Process({ target() {} }) }),
    methods: ['start', 'join', 'isAlive'],
    properties: ['name', 'daemon', 'ident', 'exitcode'],
    waits: ['join'],
  },
  'multiprocess/dummy:ThreadPool': {
    make: () => {
      const pool = new dummy.Pool(1);
      return { obj: pool, dispose: async () => (pool.terminate(), await pool.joinAsync()) };
    },
    ...POOL,
  },
};

const ROOT_MODULE = mp as unknown as Entry;
const ENTRY_MODULES: Record<string, Entry> = Object.fromEntries(Object.keys(ENTRIES).map((entry) => [entry, load(entry) as Entry]));

function isClass(value: unknown): boolean {
  return typeof value === 'function' && /^class\b/.test(Function.prototype.toString.call(value));
}

/** A method of an instance: a function found on it or along its prototype chain. */
function hasMethod(obj: object, key: string | symbol): boolean {
  return typeof (obj as Record<string | symbol, unknown>)[key] === 'function';
}

describe.each(Object.keys(ENTRIES))('%s', (entry) => {
  const expected = ENTRIES[entry]!;
  const module = ENTRY_MODULES[entry]!;

  it('has exactly the names of API.md, with import as with require', () => {
    expect(Object.keys(module).sort()).toEqual(Object.keys(expected).sort());
    const script = `import * as m from '${entry}'; process.stdout.write(JSON.stringify(Object.keys(m).filter((k) => k !== 'default')))`;
    const imported = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })) as string[];
    expect(imported.sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s has its shape', (name, shape) => {
    const value = module[name];
    if (typeof shape === 'number') return expect(value).toBe(shape);
    expect(typeof value, name).toBe('function');
    const Cls = value as new (...args: unknown[]) => unknown;
    if (shape === 'function') return expect(isClass(value), `${name} is a plain function, not a class`).toBe(false);
    expect(isClass(value), `${name} is a class`).toBe(true);
    expect(() => (value as (...args: unknown[]) => unknown)(), `${name}() without new`).toThrow(/without 'new'/);
    if (shape === 'notImplemented') return expect(() => new Cls()).toThrow(mp.NotImplementedError);
    if (shape === 'error') {
      const cause = new Error('why');
      const error = new Cls('what', { cause }) as Error & { code: string };
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toContain('what');
      expect([error.cause, error.code, error.name]).toEqual([cause, ERRORS[name], name]);
      return;
    }
    // Its instances are checked below (a subpath's class that the root exports too, as the root's).
    expect(CLASSES[`${entry}:${name}`] ?? CLASSES[`multiprocess:${name}`], `${entry}:${name} is described in this file`).toBeDefined();
  });
});

describe.each(Object.entries(CLASSES))('%s', (key, spec) => {
  const [entry, name] = key.split(':') as [string, string];

  it('is constructed with new and has its methods, properties and Async twins', async () => {
    const { obj, dispose } = spec.make();
    try {
      expect(obj).toBeInstanceOf(ENTRY_MODULES[entry]![name] as abstract new () => object);
      for (const method of spec.methods) expect(hasMethod(obj, method), `${name}.${String(method)}()`).toBe(true);
      for (const property of spec.properties ?? []) expect(property in obj, `${name}.${property}`).toBe(true);
      for (const method of spec.waits ?? []) expect(hasMethod(obj, `${method}Async`), `${name}.${method}Async(), the twin of ${method}()`).toBe(true);
    } finally {
      await dispose?.();
    }
  });
});

describe('functions are called without new', () => {
  it('Pipe returns a pair of Connections, RawArray a typed array, wait the ready objects', async () => {
    const [a, b] = mp.Pipe();
    expect(a).toBeInstanceOf(connection.Connection);
    expect(b).toBeInstanceOf(connection.Connection);
    expect(connection.Pipe).toBe(mp.Pipe);
    a.send('ready');
    expect(connection.wait([a, b], 5_000)).toEqual([b]);
    expect(await connection.waitAsync([b], 5_000)).toEqual([b]);
    a.close();
    b.close();
    const raw = mp.RawArray('d', 3);
    expect(raw).toBeInstanceOf(Float64Array);
    expect(raw).toHaveLength(3);
  });

  it('Client and ClientAsync return Connections to a Listener', async () => {
    const listener = new connection.Listener();
    try {
      const blocking = connection.Client(listener.address);
      const accepted = listener.accept();
      const later = connection.ClientAsync(listener.address);
      const acceptedLater = await listener.acceptAsync();
      const async = await later;
      expect([blocking, accepted, async, acceptedLater].every((conn) => conn instanceof connection.Connection)).toBe(true);
      for (const conn of [blocking, accepted, async, acceptedLater]) conn.close();
    } finally {
      listener.close();
    }
  });

  it('getLogger returns a logger with the CPython methods', () => {
    const logger = mp.getLogger();
    for (const method of ['debug', 'info', 'warning', 'error', 'critical', 'log', 'setLevel']) expect(hasMethod(logger, method), method).toBe(true);
  });
});

describe.each([null, ...mp.getAllStartMethods()])('the context of %s (null: the default)', (method) => {
  const ctx = mp.getContext(method) as unknown as Entry;
  const BOUND = ['Process', 'Pool', 'Manager', 'getContext', 'getStartMethod', 'setStartMethod'];

  it("carries every name of the root: the root's own, or bound to its start method", () => {
    for (const name of Object.keys(ROOT)) {
      expect(name in ctx, `ctx.${name}`).toBe(true);
      if (BOUND.includes(name)) expect([typeof ctx[name], isClass(ctx[name])], `ctx.${name}`).toEqual(['function', isClass(ROOT_MODULE[name])]);
      else expect(ctx[name], `ctx.${name}`).toBe(ROOT_MODULE[name]);
    }
    expect((ctx.Pool as { prototype: object }).prototype).toBeInstanceOf(mp.Pool);
    expect((ctx.Manager as { prototype: object }).prototype).toBeInstanceOf(managers.SyncManager);
    expect(Object.keys(new (ctx.Process as typeof mp.Process)()).sort()).toEqual(Object.keys(new mp.Process()).sort());
  });
});
