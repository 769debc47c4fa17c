// multiprocess/serializer: dumps/loads of closures, classes and handles (issue: the serializer).
import { NotImplementedError } from '../errors';

export function dumps(_value: unknown): Buffer {
  throw new NotImplementedError('multiprocess/serializer dumps');
}

export function loads(_bytes: Uint8Array): unknown {
  throw new NotImplementedError('multiprocess/serializer loads');
}
