// The process object on the wire, for spawn and forkserver children: the Process itself by value
// (target, args, name, daemon, authkey, identity, parent pid and name; a subclass with its run()),
// beside the logging settings the child inherits (CPython's preparation data). The parent's half;
// the child's is receive.ts.
import { SerializationError } from '../errors';
import { getLogger } from '../logging';
import { native } from '../native';
import { dumps } from '../serializer/index';
import type { Launchable } from './index';
import type { Payload } from './receive';

// Error paths name what the user passed (args[0].sock), not the Process's fields.
const FIELDS: [string, string][] = [
  ['.process._args', 'args'],
  ['.process._target', 'target'],
  ['.process', 'process'],
];

let spawning = 0;

/**
 * Whether a child's process object is being encoded now (CPython's get_spawning_popen()): what
 * only a child being started may receive (a manager proxy's authkey) travels only then.
 */
export function isSpawning(): boolean {
  return spawning > 0;
}

/** The payload's bytes; the descriptors of Connections in it are appended to `fds`, to travel beside them. */
export function encodeProcess(process: Launchable, fds?: number[]): Buffer {
  const logger = getLogger();
  // A level above every other is enabled exactly when logToStderr() turned the handler on.
  const payload: Payload = { process, log: { level: logger.level, stderr: logger.isEnabledFor(Infinity) } };
  spawning++;
  try {
    return dumps(payload, { root: '', fds });
  } catch (error) {
    if (!(error instanceof SerializationError)) throw error;
    const [field, name] = FIELDS.find(([field]) => error.path.startsWith(field)) ?? ['', ''];
    const path = name + error.path.slice(field.length);
    throw new SerializationError(error.message.replace(error.path, path), { path, cause: error.cause });
  } finally {
    spawning--;
  }
}

/** Sends the encoded process object (and the descriptors it names) down a child's data socket, and closes it. */
export function sendProcess(fd: number, bytes: Uint8Array, fds: number[] = []): void {
  try {
    native.sendFrame(fd, bytes, fds);
  } catch (error) {
    // A child that died before reading (EPIPE) reports itself through its exit code.
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
  } finally {
    native.closeFd(fd);
  }
}
