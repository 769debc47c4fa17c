// The child's half of the process object on the wire (payload.ts is the parent's): decodes it,
// applies the parent's logging settings and runs it. A module of its own so that a spawn child's
// start loads no encoder.
import { getLogger, logToStderr } from '../logging';
import { native } from '../native';
import { loads } from '../serializer/loads';
import type { Launchable } from './index';

export interface Payload {
  process: Launchable;
  log: { level: number; stderr: boolean };
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
