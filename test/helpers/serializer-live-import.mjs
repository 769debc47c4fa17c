// Closures over real import bindings (V8 Module scope), made by factories so they travel by value:
// a named import is live (re-read at every dumps), a namespace import is a fixed object.
import { counter } from './serializer-live-export.mjs';
import * as live from './serializer-live-export.mjs';

export function makeReaders() {
  return { named: () => counter, namespace: () => live.counter };
}
