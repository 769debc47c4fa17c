// The forkserver start method, client side: one server per process (lib/forkserver.ts), started on
// first use; per child a status socketpair, whose far end travels to the server by SCM_RIGHTS ahead
// of the process object. The status socket is the sentinel: the server writes the exit code on it.
import { createRequire } from 'node:module';
import * as path from 'node:path';

import { ProcessError } from '../errors';
import { native } from '../native';
import { scriptNamesKnown } from '../park';
import { describeExit, Process } from '../process';
import { learnModuleScripts } from '../serializer/byref';
import { loads } from '../serializer/index';
import { getExecutable } from '../system';
import { thisProcess } from '../util';
import { Popen, type Launchable } from './index';
import { encodeProcess } from './payload';
import { forkserverExecArgv, nodeOptionsWithoutLoaders, withoutLoaders } from './flags';
import { discardSpawned, spawnNode } from './spawn';

const SERVER = path.join(__dirname, '..', 'forkserver.js');

let preload: string[] = [];
let server: Server | null = null;

/** Modules the server loads before forking any child (CPython's set_forkserver_preload). */
export function setForkserverPreload(moduleNames: string[]): void {
  if (!Array.isArray(moduleNames) || moduleNames.some((name) => typeof name !== 'string'))
    throw new TypeError('setForkserverPreload(moduleNames): moduleNames must be an array of strings');
  preload = [...moduleNames];
}

// Specifiers resolve from the main module, as the user wrote them there; unresolvable ones go as
// given, and the server warns about them.
function resolvePreload(): string[] {
  const from = createRequire(require.main?.filename ?? path.join(process.cwd(), 'index.js'));
  return preload.map((name) => {
    try {
      return from.resolve(name);
    } catch {
      return name;
    }
  });
}

interface Server {
  owner: number;
  pid: number;
  control: number;
  sentinel: number;
}

/** A server spawned and told its preloads, still starting (it boots while its parent goes on). */
interface Launch {
  flags: string[];
  pid: number;
  control: number;
  sentinel: number;
}

let warmUp: Buffer | null = null;

/**
 * A process object for the server to decode before it forks (it compiles the decode path for every
 * child). Encoded here, where the serializer's parser is loaded anyway, not in the server, whose
 * start it would lengthen by that load.
 */
function warmUpPayload(): Buffer {
  warmUp ??= encodeProcess(new Process({ target: (n: number) => n, args: [0] }));
  return warmUp;
}

/** Spawns the server with `flags` and sends its preloads and warm-up; readyServer() waits for it. */
function spawnServer(flags: string[], overrides?: Record<string, string>): Launch {
  const [ours, theirs] = native.socketPair();
  let spawned: { pid: number; sentinel: number };
  try {
    // No memory reducer: its GC of an idle server drops the maps the rehearsed pool task path was
    // compiled against, and every worker forked after it recompiled that path on its main thread.
    spawned = spawnNode(SERVER, [...flags, '--single-threaded', '--no-memory-reducer'], [theirs, native.trackerFd()], overrides);
  } catch (error) {
    native.closeFd(ours);
    throw error;
  } finally {
    native.closeFd(theirs);
  }
  const launch = { flags, pid: spawned.pid, control: ours, sentinel: spawned.sentinel };
  try {
    native.sendFrame(ours, Buffer.from(JSON.stringify(resolvePreload())));
    native.sendFrame(ours, warmUpPayload());
    // The parent now only waits for the server (~200 ms): a program started from an ES module learns
    // its module scripts meanwhile, as the first of its functions to be serialized would (~30 ms)
    // without the addon that names a function's script.
    if (require.main === undefined && !scriptNamesKnown()) learnModuleScripts();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A server that ended already says why in readyServer(); anything else leaves none behind.
    if (code !== 'EPIPE' && code !== 'ECONNRESET') {
      discardSpawned(launch);
      native.closeFd(ours);
      throw error;
    }
  }
  return launch;
}

/**
 * Waits for the server's first frame: empty once it can fork its children, else the error that
 * stopped it. A server that ends before either fails with its exit code.
 */
function readyServer(launch: Launch): Server {
  let reply: Buffer | null = null;
  try {
    reply = native.recvFrame(launch.control, -1);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE' && (error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
  }
  if (reply !== null && reply.length === 0) return { owner: thisProcess.pid, pid: launch.pid, control: launch.control, sentinel: launch.sentinel };
  native.closeFd(launch.control);
  const code = native.waitChild(launch.pid, launch.sentinel, -1);
  native.closeFd(launch.sentinel);
  const command = [getExecutable(), ...launch.flags, SERVER].join(' ');
  if (reply === null)
    throw new ProcessError(`the forkserver (${command}) ended with ${describeExit(code)} before it was ready; its stderr says why`);
  const cause = loads(reply) as Error;
  throw new ProcessError(`the forkserver (${command}) could not start: ${cause.message}`, { cause });
}

/**
 * The parent's flags apply in the server, as in a spawn child; but a module loader's hooks thread
 * (tsx) rules out its forks, so then its children go without the loader flags, in its command line
 * and in NODE_OPTIONS (--require hooks stay).
 */
function startServer(launch: Launch): Server {
  try {
    return readyServer(launch);
  } catch (error) {
    const unforkable = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ERR_MP_FORK_UNSAFE';
    const plain = withoutLoaders(launch.flags);
    const options = nodeOptionsWithoutLoaders();
    if (!unforkable || (plain.length === launch.flags.length && options === null)) throw error;
    return readyServer(spawnServer(plain, options === null ? undefined : { NODE_OPTIONS: options }));
  }
}

/** Spawns this process's server unless it runs one (a fork child has none until it asks: the parent's is the parent's). */
function launchServer(): Launch | null {
  if (server !== null && server.owner === thisProcess.pid) {
    if (native.reap(server.pid) === null) return null;
    forgetServer(server);
  }
  return spawnServer(forkserverExecArgv());
}

/** This process's server, ready; `launch` is one launchServer() began. */
function ensureServer(launch: Launch | null = launchServer()): Server {
  if (launch !== null) server = startServer(launch);
  return server!;
}

/** Closes our ends of this process's server, which has ended and been reaped. */
function forgetServer(ended: Server): void {
  native.closeFd(ended.control);
  native.closeFd(ended.sentinel);
  server = null;
}

function readInt(fd: number): number | null {
  const frame = native.recvFrame(fd, 64);
  return frame === null ? null : Number(String(frame));
}

/** A child of the server, which reaps it and writes its exit code on the status socket (the sentinel). */
class ForkserverPopen extends Popen {
  poll(): number | null {
    return this.wait(0);
  }

  wait(timeoutMs: number): number | null {
    if (this._code !== null || this._closed) return this._code;
    if (!native.pollFd(this.sentinel, timeoutMs)) return null;
    // EOF: the server died before it could report, as CPython's 255.
    this._code = readInt(this.sentinel) ?? 255;
    return this._code;
  }
}

const PLAIN = Buffer.of(0);
const POOL_WORKER = Buffer.of(1);

/**
 * Hands one child's process object to the server: the child's pid, or null when the server ended
 * before it answered. The server passes the object on before it names the pid, so a child that
 * got its pid runs even if the server dies next; a server killed between the two (from outside,
 * within microseconds) makes the caller retry a request whose child may already run.
 */
function requestChild(control: number, poolWorker: boolean, bytes: Buffer, fds: number[]): ForkserverPopen | null {
  const [statusOurs, statusTheirs] = native.socketPair();
  let pid: number | null = null;
  try {
    // One request: the status socket, whether the child is a pool worker, then the process object,
    // which the server reads before it forks.
    try {
      native.sendFds(control, [statusTheirs]);
    } finally {
      // The server's copy alone may hold it: a server that dies with the request unread means EOF here.
      native.closeFd(statusTheirs);
    }
    native.sendFrame(control, poolWorker ? POOL_WORKER : PLAIN);
    native.sendFrame(control, bytes, fds); // with the descriptors of Connections in args
    pid = readInt(statusOurs);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPIPE' && code !== 'ECONNRESET') throw error;
  } finally {
    if (pid === null) native.closeFd(statusOurs);
  }
  return pid === null ? null : new ForkserverPopen(pid, statusOurs);
}

// How long a server that dropped a request may take to be reaped before it is replaced.
const SERVER_EXIT_MS = 5000;

export const ForkserverPopenClass = {
  method: 'forkserver' as const,
  start(launchable: Launchable): Popen {
    // A first start encodes while the server boots; a process object that cannot travel still
    // lets the server finish starting, for the next start.
    const launch = launchServer();
    const fds: number[] = [];
    let bytes: Buffer;
    try {
      bytes = encodeProcess(launchable, fds);
    } catch (error) {
      ensureServer(launch);
      throw error;
    }
    const used = ensureServer(launch);
    const poolWorker = launchable._poolWorker === true;
    const first = requestChild(used.control, poolWorker, bytes, fds);
    if (first !== null) return first;
    // A server SIGKILLed since the last start still looked alive (the signal lands a moment late):
    // once it is gone, a new server takes the request, as CPython's ensure_running starts one.
    if (native.waitChild(used.pid, used.sentinel, SERVER_EXIT_MS) === null)
      throw new ProcessError('the forkserver dropped a request but did not end; its stderr says why');
    forgetServer(used);
    const second = requestChild(ensureServer().control, poolWorker, bytes, fds);
    if (second === null) throw new ProcessError('the forkserver ended before it started the child; its stderr says why');
    return second;
  },
};
