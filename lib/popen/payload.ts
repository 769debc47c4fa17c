// The process object on the wire, for spawn and forkserver children: the Process itself by value
// (target, args, name, daemon, authkey, identity, parent pid and name; a subclass with its run()),
// beside the logging settings the child inherits (CPython's preparation data).
import { SerializationError } from '../errors';
import { getLogger, logToStderr } from '../logging';
import { native } from '../native';
import { dumps, loads } from '../serializer/index';
import type { Launchable } from './index';

interface Payload {
  process: Launchable;
  log: { level: number; stderr: boolean };
}

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

/** In the child: the process object, with the parent's logging settings applied. */
export function decodeProcess(bytes: Uint8Array, fds: number[] = []): Launchable {
  let payload: Payload;
  try {
    payload = loads(bytes, { fds }) as Payload;
  } finally {
    for (const fd of fds) if (fd >= 0) native.closeFd(fd);
  }
  const { process, log } = payload;
  if (log.stderr) logToStderr(log.level);
  else getLogger().setLevel(log.level);
  return process;
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

/**
 * In a spawn or forkserver child: reads the process object (and its descriptors) from the data
 * socket, closes it and runs the object; exits 255 when the parent died before it sent one.
 */
export function receiveProcess(fd: number): void {
  let bytes: Buffer | null;
  const fds: number[] = [];
  try {
    bytes = native.recvFrame(fd, -1, fds);
  } finally {
    native.closeFd(fd);
  }
  if (bytes === null) process.exit(255);
  void decodeProcess(bytes, fds)._bootstrapAsync();
}
