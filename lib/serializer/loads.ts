// loads, the receiving half of the serializer (multiprocess/serializer re-exports it): a process
// that only receives (a spawn child decoding its process object) loads it without the encoder.
import { inspect } from 'node:util';
import { SerializationError } from '../errors';
import { Decoder, refuseCode } from './decode';
import { CODEC_PLAIN, CODEC_PLAIN_JSON, unframe, type ScopeRecord } from './format';
import { parseGraph } from './memo';
import { providingFds } from './registry';

export interface LoadsOptions {
  /** The descriptors that came with the message; restored handles take theirs (set to -1). */
  fds?: number[];
  /**
   * false: refuse, with a SerializationError naming its path, anything whose decoding would
   * compile or run code (functions and classes by value or reference, modules not loaded yet),
   * before anything is rebuilt. For data from peers that are authenticated but not trusted.
   */
  functions?: boolean;
}

/** Rebuilds a value from `dumps` output. Compiles the functions it carries: only load trusted bytes, or pass `{ functions: false }`. */
export function loads(bytes: Uint8Array, options: LoadsOptions = {}): unknown {
  if (options.functions !== undefined && typeof options.functions !== 'boolean') throw new TypeError(`loads: options.functions must be a boolean, got ${inspect(options.functions)}`);
  const { codec, value } = unframe(bytes, parseGraph);
  if (codec === CODEC_PLAIN || codec === CODEC_PLAIN_JSON) return value;
  try {
    if (!Array.isArray(value) || value.length !== 3 || !Array.isArray(value[2])) throw new SerializationError('loads: malformed message (not a graph)');
    if (options.functions === false) refuseCode(value[0], Array.isArray(value[1]) ? value[1] : [], 'value');
    return providingFds(options.fds, () => new Decoder(value[1], value[2] as ScopeRecord[]).run(value[0]));
  } catch (error) {
    if (error instanceof SerializationError) throw error;
    throw new SerializationError(`loads: malformed message (${(error as Error).message})`, { cause: error });
  }
}
