// The spawn start method: a fresh node (setExecutable, the parent's execArgv so loaders apply)
// running dist/bootstrap.js, which reads the process object from a socket at fd 3 and joins this
// process's resource tracker at fd 4. Started with
// posix_spawn, so this process alone reaps the child and a blocking join() can waitpid it.
import * as path from 'node:path';

import { getExecutable } from '../system';
import { native } from '../native';
import { ChildPopen } from './child';
import type { Launchable, Popen } from './index';
import { encodeProcess, sendProcess } from './payload';

const BOOTSTRAP = path.join(__dirname, '..', 'bootstrap.js');

// Flags that name what a node runs (a script to evaluate, a REPL, a test or watch mode): the
// parent's own business. Everything else (--import, --require, --conditions, V8 flags) applies.
const OWN_ENTRY = /^(-e|--eval|-p|--print|-pe|-i|--interactive|-c|--check|--test|--watch|--watch-path|--watch-preserve-output|--input-type)(=|$)/;
const TAKES_VALUE = new Set(['-e', '--eval', '-p', '--print', '-pe', '--watch-path', '--input-type']);

/** The parent's execArgv minus the flags that say what it runs. */
export function childExecArgv(): string[] {
  const kept: string[] = [];
  const flags = process.execArgv;
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    const own = OWN_ENTRY.exec(flag);
    if (!own) kept.push(flag);
    else if (own[2] === '' && TAKES_VALUE.has(own[1]!)) i++;
  }
  return kept;
}

/** Starts `node [execArgv] script` with this process's stdio and fds[i] at fd 3 + i. */
export function spawnNode(script: string, extraFlags: string[], fds: number[]): { pid: number; sentinel: number } {
  return native.spawnProcess(getExecutable(), [getExecutable(), ...childExecArgv(), ...extraFlags, script], [0, 1, 2, ...fds]);
}

export const SpawnPopen = {
  method: 'spawn' as const,
  start(launchable: Launchable): Popen {
    const fds: number[] = [];
    const bytes = encodeProcess(launchable, fds);
    // A socket, not a pipe: Connections in args travel beside the payload (SCM_RIGHTS).
    const [readEnd, writeEnd] = native.socketPair();
    let spawned: { pid: number; sentinel: number };
    try {
      spawned = spawnNode(BOOTSTRAP, [], [readEnd, native.trackerFd()]);
    } catch (error) {
      native.closeFd(writeEnd);
      throw error;
    } finally {
      native.closeFd(readEnd);
    }
    sendProcess(writeEnd, bytes, fds);
    return new ChildPopen(spawned.pid, spawned.sentinel);
  },
};
