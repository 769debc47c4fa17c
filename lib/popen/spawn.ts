// The spawn start method: a fresh node (setExecutable, the parent's execArgv so loaders apply)
// running dist/bootstrap.js, which reads the process object from a socket at fd 3 and joins this
// process's resource tracker at fd 4. Started with
// posix_spawn, so this process alone reaps the child and a blocking join() can waitpid it.
import * as path from 'node:path';

import { getExecutable } from '../system';
import { native } from '../native';
import { ChildPopen } from './child';
import { childExecArgv } from './flags';
import type { Launchable, Popen } from './index';
import { encodeProcess, sendProcess } from './payload';

const BOOTSTRAP = path.join(__dirname, '..', 'bootstrap.js');

/** Starts `node [flags] script` with this process's stdio, fds[i] at fd 3 + i and its environment with `overrides`. */
export function spawnNode(script: string, flags: string[], fds: number[], overrides?: Record<string, string>): { pid: number; sentinel: number } {
  const environment = overrides && Object.entries({ ...process.env, ...overrides }).map(([name, value]) => `${name}=${value}`);
  return native.spawnProcess(getExecutable(), [getExecutable(), ...flags, script], [0, 1, 2, ...fds], environment);
}

/** Ends a child spawnNode started that will not be used: SIGKILL, reaped, its sentinel closed. */
export function discardSpawned(spawned: { pid: number; sentinel: number }): void {
  process.kill(spawned.pid, 'SIGKILL');
  native.waitChild(spawned.pid, spawned.sentinel, -1);
  native.closeFd(spawned.sentinel);
}

export const SpawnPopen = {
  method: 'spawn' as const,
  start(launchable: Launchable): Popen {
    // A socket, not a pipe: Connections in args travel beside the payload (SCM_RIGHTS).
    const [readEnd, writeEnd] = native.socketPair();
    let spawned: { pid: number; sentinel: number };
    try {
      spawned = spawnNode(BOOTSTRAP, childExecArgv(), [readEnd, native.trackerFd()]);
    } catch (error) {
      native.closeFd(writeEnd);
      throw error;
    } finally {
      native.closeFd(readEnd);
    }
    // Encoded while the child starts Node (40-100 ms): a program's first encode loads the
    // serializer (~50 ms). A process object that cannot be sent ends the child before it read
    // anything, and start() fails as it would have before the spawn.
    const fds: number[] = [];
    let bytes: Buffer;
    try {
      bytes = encodeProcess(launchable, fds);
    } catch (error) {
      native.closeFd(writeEnd);
      discardSpawned(spawned);
      throw error;
    }
    sendProcess(writeEnd, bytes, fds);
    return new ChildPopen(spawned.pid, spawned.sentinel);
  },
};
