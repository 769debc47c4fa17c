// The reducer registry (pickle's __reduce__ / copyreg): custom types and this package's handles
// register how they turn into plain state and back. The serializer consults it for every object.
// Handles that are file descriptors travel beside the bytes, where the route can carry them.
import { SerializationError } from '../errors';
import { Refusal } from './paths';

export interface Reducer<T, S> {
  /** Plain, serializable state that is enough to rebuild the object in another process. */
  reduce(obj: T): S;
  /** Rebuilds the object from `reduce`'s state (in the receiving process). */
  restore(state: S): T;
}

export interface RegisteredType {
  readonly name: string;
  readonly cls: abstract new (...args: never[]) => unknown;
  readonly reducer: Reducer<unknown, unknown>;
}

const byName = new Map<string, RegisteredType>();
const byClass = new Map<Function, RegisteredType>();

/**
 * Registers `cls` with its reducer. `name` identifies the type on the wire and must be the same
 * in sender and receiver (default: the class name); registering a name again replaces it.
 */
export function register<T, S>(
  cls: abstract new (...args: never[]) => T,
  reducer: Reducer<T, S>,
  name: string = cls.name,
): void {
  if (typeof cls !== 'function') throw new TypeError('register(cls, reducer): cls must be a class');
  if (!reducer || typeof reducer.reduce !== 'function' || typeof reducer.restore !== 'function')
    throw new TypeError(`register(${name}): reducer needs reduce(obj) and restore(state) functions`);
  if (!name) throw new TypeError('register(cls, reducer, name): an anonymous class needs a name');
  const entry: RegisteredType = { name, cls, reducer: reducer as Reducer<unknown, unknown> };
  const previous = byName.get(name);
  if (previous) byClass.delete(previous.cls);
  byName.set(name, entry);
  byClass.set(cls, entry);
}

/** The registration for `obj`'s class or its nearest registered ancestor. */
export function reducerFor(obj: object): RegisteredType | undefined {
  for (let proto = Object.getPrototypeOf(obj); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const entry = byClass.get(proto.constructor);
    if (entry) return entry;
  }
  return undefined;
}

// Where this package's own handle types are registered, by wire name (a RawArray's ends in its
// element type). A receiver loads that module when it first meets the name: every process decodes
// whatever the package sends, and none loads them all up front (a spawn child's start would pay it).
const PACKAGE_TYPES = new Map<string, string>([
  ['multiprocess.SemLock', '../synchronize'],
  ['multiprocess.Condition', '../synchronize'],
  ['multiprocess.Event', '../synchronize'],
  ['multiprocess.Barrier', '../synchronize'],
  ['multiprocess.Queue', '../queues'],
  ['multiprocess.JoinableQueue', '../queues'],
  ['multiprocess.SimpleQueue', '../queues'],
  ['multiprocess.Connection', '../connection'],
  ['multiprocess.RawArray', '../sharedctypes'],
  ['multiprocess.RawValue', '../sharedctypes'],
  ['multiprocess.Synchronized', '../sharedctypes'],
  ['multiprocess.SynchronizedArray', '../sharedctypes'],
  ['multiprocess.SharedMemory', '../shared-memory'],
  ['multiprocess.ShareableList', '../shared-memory'],
  ['multiprocess.managers.BaseProxy', '../managers/proxy'],
]);

/** The module that registers the package's type `name`, if it is one. */
function packageTypeModule(name: string): string | undefined {
  return PACKAGE_TYPES.get(name) ?? PACKAGE_TYPES.get(name.slice(0, name.lastIndexOf('.')));
}

/** The registration of `name`, loading the package's module that registers it when it is one of ours. */
export function reducerNamed(name: string): RegisteredType | undefined {
  const entry = byName.get(name);
  if (entry) return entry;
  const module = packageTypeModule(name);
  if (module === undefined) return undefined;
  require(module);
  return byName.get(name);
}

// The descriptors of the message being encoded or decoded: set by a route that carries them
// (SCM_RIGHTS over an AF_UNIX socket, a spawn child's payload) for one dumps or loads.
let outgoingFds: number[] | null = null;
let incomingFds: number[] | null = null;

/** Runs `encode` with `fds` collecting the descriptors its reducers pass (see passFd). */
export function collectingFds<T>(fds: number[] | undefined, encode: () => T): T {
  const previous = outgoingFds;
  outgoingFds = fds ?? null;
  try {
    return encode();
  } finally {
    outgoingFds = previous;
  }
}

/** Runs `decode` with `fds`, the descriptors that came with the message (see takeFd). */
export function providingFds<T>(fds: number[] | undefined, decode: () => T): T {
  const previous = incomingFds;
  incomingFds = fds ?? null;
  try {
    return decode();
  } finally {
    incomingFds = previous;
  }
}

/**
 * In a reduce(): sends `fd` with the message (the receiver gets its own copy) and returns its
 * index for the state. Refuses where the route cannot carry descriptors, naming `what` is sent.
 */
export function passFd(fd: number, what: string): number {
  if (!outgoingFds)
    throw new Refusal(
      `${what} is a file descriptor, which this route cannot carry: only Connection.send over an AF_UNIX socket (Pipe(), ` +
        `an AF_UNIX Listener/Client) and the args of a Process carry descriptors (not a Queue, a one-way Pipe(false), TCP or dumps())`,
    );
  outgoingFds.push(fd);
  return outgoingFds.length - 1;
}

/** In a restore(): takes the descriptor passed at `index`; the caller owns it (untaken ones are closed by the route). */
export function takeFd(index: number): number {
  const fd = incomingFds?.[index];
  if (fd === undefined || fd < 0) throw new SerializationError(`loads: the message names file descriptor ${index}, which did not arrive with it`);
  incomingFds![index] = -1;
  return fd;
}
