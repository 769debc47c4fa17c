// The wire of a manager connection. Each frame is a 4-byte call id (little endian) and a serialized
// body, so a body that fails to decode can still be answered (or matched to its caller).
// Request body: [objectId, method, args] ('' names the server itself); call id 0 wants no reply.
// Reply body: [ok, value] — value is the result, or the error the call raised.
import { SerializationError } from '../errors';
import { dumps, loads } from '../serializer/index';

export type Request = [objectId: string, method: string, args: unknown[]];
export type Reply = [ok: boolean, value: unknown];

/** Call id of one-way messages (hello, decref, cancel). */
export const NO_REPLY = 0;

/**
 * Frames a body; a value that cannot travel is named from `root` (API.md §9: `args[0].x` for a
 * call's arguments, `result` for what it returned), `valueIndex` being where it sits in the body.
 */
export function frameOf(callId: number, body: unknown[], valueIndex: number, root: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = dumps(body, { root: 'body' });
  } catch (error) {
    if (!(error instanceof SerializationError)) throw error;
    const inner = `body[${valueIndex}]`;
    const path = error.path.startsWith(inner) ? root + error.path.slice(inner.length) : error.path;
    throw new SerializationError(error.message.split(error.path).join(path), { path, cause: error.cause });
  }
  const framed = Buffer.allocUnsafe(bytes.length + 4);
  framed.writeUInt32LE(callId, 0);
  bytes.copy(framed, 4);
  return framed;
}

export function callIdOf(frame: Buffer): number {
  return frame.readUInt32LE(0);
}

export function bodyOf(frame: Buffer): unknown {
  return loads(frame.subarray(4));
}
