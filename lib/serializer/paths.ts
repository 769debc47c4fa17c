// Renders where a refused value sits, from the root the caller names: `args[0].client.socket`.
import { SerializationError } from '../errors';

/** Thrown inside the walk; each level adds its step, and `dumps` renders it as a SerializationError. */
export class Refusal extends Error {
  readonly steps: string[] = [];
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

export function keyStep(key: string | symbol | number): string {
  if (typeof key === 'number') return `[${key}]`;
  if (typeof key === 'symbol') {
    const registered = Symbol.keyFor(key);
    return registered !== undefined ? `[Symbol.for(${JSON.stringify(registered)})]` : `[${String(key)}]`;
  }
  if (IDENTIFIER.test(key)) return `.${key}`;
  return /^(0|[1-9]\d*)$/.test(key) ? `[${key}]` : `[${JSON.stringify(key)}]`;
}

export function toSerializationError(refusal: Refusal, root: string): SerializationError {
  const path = root + refusal.steps.reverse().join('');
  return new SerializationError(`cannot serialize ${path}: ${refusal.message}`, { path });
}
