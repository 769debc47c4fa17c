// multiprocess/serializer: "dill for JavaScript" — dumps/loads of data, closures, classes,
// errors and registered handles. The wire format is a framed v8.serialize payload (see format.ts).
import type * as inspector from 'node:inspector';
import { SerializationError } from '../errors';
import { indexEsm } from './byref';
import { capturesSettled } from './captures';
import { Encoder, isPlain, plainCodec, type EncodeOptions } from './encode';
import { CODEC_GRAPH, CODEC_JSON, frame } from './format';
import { rememberSent, resend } from './memo';
import { Refusal, toSerializationError } from './paths';
import { collectingFds } from './registry';

export { loads, type LoadsOptions } from './loads';
export { register, type Reducer } from './registry';
export { SerializationError };

export interface DumpsOptions extends EncodeOptions {
  /** How error paths start, e.g. 'args' gives `args[0].client.socket`. Default 'value'. */
  root?: string;
  /**
   * For routes that carry file descriptors: handles such as a Connection append theirs here, to
   * be sent beside the bytes. Without it, such handles are refused.
   */
  fds?: number[];
}

/** Serializes `value`; throws SerializationError (with `.path`) for what cannot travel. */
export function dumps(value: unknown, options: DumpsOptions = {}): Buffer {
  if (typeof value === 'function') {
    const again = resend(value);
    if (again) return again;
  } else {
    const plain = plainCodec(value);
    if (plain !== null) return frame(plain, value);
  }
  const encoder = new Encoder(options);
  let root: unknown;
  try {
    root = collectingFds(options.fds, () => encoder.encode(value));
  } catch (error) {
    if (error instanceof Refusal) throw toSerializationError(error, options.root ?? 'value');
    if (error instanceof SerializationError) throw error;
    const path = options.root ?? 'value';
    throw new SerializationError(`cannot serialize ${path}: ${(error as Error).message}`, { path, cause: error });
  }
  const bytes = frame(encoder.jsonSafe ? CODEC_JSON : CODEC_GRAPH, [root, encoder.functions, encoder.scopes]);
  if (typeof value === 'function') rememberSent(value, capturesSettled(value), root, encoder.functions, encoder.scopes, bytes);
  return bytes;
}

/**
 * Like `dumps`, and first imports every ES module loaded so far to index its exports. `dumps` finds
 * the module of an exported function itself, through the inspector; this also works where the
 * inspector cannot answer synchronously, and indexes exported objects of modules none of whose
 * functions were sent yet.
 */
export async function dumpsAsync(value: unknown, options: DumpsOptions = {}): Promise<Buffer> {
  if (!isPlain(value)) await indexEsm(await loadedModuleUrls());
  return dumps(value, options);
}

/** URLs of the ES modules V8 has parsed: `Debugger.enable` replays a scriptParsed event for each. */
async function loadedModuleUrls(): Promise<string[]> {
  const session = new (require('node:inspector') as typeof inspector).Session();
  session.connect();
  const urls = new Set<string>();
  session.on('Debugger.scriptParsed', (event) => {
    const url = event.params.url;
    if (url.startsWith('file:') && !urls.has(url)) urls.add(url);
  });
  const post = (method: string): Promise<void> =>
    new Promise((done, fail) => session.post(method, (error: Error | null) => (error ? fail(error) : done())));
  try {
    await post('Debugger.enable');
    await post('Debugger.disable');
  } finally {
    session.disconnect();
  }
  return [...urls];
}

