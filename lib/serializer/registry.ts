// The reducer registry (pickle's __reduce__ / copyreg): custom types and this package's handles
// register how they turn into plain state and back. The serializer consults it for every object.

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

export function reducerNamed(name: string): RegisteredType | undefined {
  return byName.get(name);
}
