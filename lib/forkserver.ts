// The forkserver (run as dist/forkserver.js by the first forkserver Process of a parent, with
// --single-threaded): loads the preload modules, then serves requests for children. fd 3 is the
// control socket to the parent. The server's first frame there is empty once it can serve, else the
// error that stops it (serialized: the parent's start() fails with it). A request is the child's status socket (by SCM_RIGHTS) followed by
// the encoded process object, with the descriptors of Connections in its args. The server answers with the pid, reaps the child (pidfd sentinel) and
// writes its exit code on the status socket, which is the parent's sentinel.
//
// A request costs no fork: one child, the spare, is forked ahead and waits on a socket for its
// process object; the server hands it over, replies, then forks the next spare while the child runs.
// The spare returns from forkSpare to this server's event loop — the stack above it is our own — so
// unlike a fork child of an arbitrary program it can run async targets: it closes what belongs to
// the server, decodes its process object, runs it (awaiting a Promise) and exits once its loop is
// empty (exitWhenIdle: the parked platform threads rule out Node's own loop end).
//
// Whatever the children need is loaded and warmed up here, before any fork: a child then compiles
// and requires nothing of ours, and shares the server's resource tracker instead of forking its own.
// That includes a pool worker's task path, rehearsed until V8 optimized it (rehearseWorker): the
// server and its children run --single-threaded, where each such compile would stop a worker's
// main thread during its first maps. The rehearsal (~90 ms) waits for the first request, which
// finds no spare yet: a plain Process is forked at once and the server rehearses while it runs; a
// pool worker is forked after the rehearsal.
import { constants } from 'node:os';

import './index'; // the whole package, warm before any fork
import { native, type NativeFdWatcher } from './native';
import { auditFork, exitWhenIdle, forkHere } from './popen/fork';
import { sendProcess } from './popen/payload';
import { decodeProcess, receiveProcess } from './popen/receive';
import { dumps } from './serializer/index';
import { rehearseWorker } from './pool/worker';

const CONTROL_FD = 3;
// The parent's resource tracker: the server and its children belong to the parent's tree.
const TRACKER_FD = 4;

/** A child the server reaps: its status socket, its sentinel and the loop's watch on it. */
interface Child {
  status: number;
  sentinel: number;
  watch: { close(): void };
}

const live = new Map<number, Child>();
/** The child forked ahead of its request, and the pipe its process object will come down. */
let spare: { pid: number; sentinel: number; pipe: number } | null = null;
let control: NativeFdWatcher;
// A process object (the parent's second frame) decoded once here compiles the decode path for every
// child; each spare decodes it again while it waits, which takes that path's copy-on-write faults
// out of a start's latency.
let warmUp: Buffer;
let rehearsed = false;

async function serve(): Promise<void> {
  // A SIGKILLed parent never closes the control socket in time to matter: the server, and with it
  // every daemonic child it forked (they die with it), ends with the parent. A parent gone before this
  // line shows as EOF on the control socket instead.
  native.dieWithParent(constants.signals.SIGKILL, process.ppid);
  native.adoptTracker(TRACKER_FD);
  const preload = JSON.parse(String(native.recvFrame(CONTROL_FD, -1) ?? '[]')) as string[];
  try {
    for (const module of preload) {
      try {
        require(module);
      } catch (error) {
        // CPython's forkserver ignores preloads that fail to import; say so, once, and go on.
        process.emitWarning(`multiprocess forkserver: cannot preload ${module}: ${(error as Error).message}`);
      }
    }
    const payload = native.recvFrame(CONTROL_FD, -1);
    if (payload === null) process.exit(0); // the parent went away before it sent the warm-up
    warmUp = payload;
    decodeProcess(warmUp);
    control = new native.FdWatcher(CONTROL_FD, (error) => void onRequest(error));
    // The first spare is forked at the first request: whether this server can fork at all (a
    // loader's hooks thread rules it out) is its parent's to know now.
    auditFork();
  } catch (error) {
    // The parent's start() fails with this error (never waits for a server that cannot serve).
    sendFrame(CONTROL_FD, dumps(error));
    process.exit(1);
  }
  sendFrame(CONTROL_FD, Buffer.alloc(0)); // ready
  control.waitReadable();
}

/** Runs the pool worker rehearsal once; the control socket is not watched meanwhile. */
async function rehearse(): Promise<void> {
  if (rehearsed) return;
  rehearsed = true;
  try {
    await rehearseWorker();
  } catch (error) {
    // Only a speed-up: the children compile that path themselves, as they did without it.
    process.emitWarning(`multiprocess forkserver: the pool worker rehearsal failed: ${(error as Error).message}`);
    // Written out before the fork: a child would inherit it still queued and write it again.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The next request, or null when the parent is gone (EOF). */
function readRequest(error: Error | null): { status: number; poolWorker: boolean; bytes: Buffer; fds: number[] } | null {
  try {
    if (error) throw error;
    const [status] = native.recvFds(CONTROL_FD, 1) as [number];
    const kind = native.recvFrame(CONTROL_FD, 1);
    const fds: number[] = [];
    const bytes = kind === null ? null : native.recvFrame(CONTROL_FD, -1, fds);
    return bytes === null ? null : { status, poolWorker: kind![0] === 1, bytes, fds };
  } catch {
    return null;
  }
}

async function onRequest(error: Error | null): Promise<void> {
  // A spare killed from outside while it waited is replaced.
  if (spare !== null && native.reap(spare.pid) !== null) {
    native.closeFd(spare.pipe);
    native.closeFd(spare.sentinel);
    spare = null;
  }
  const request = readRequest(error);
  // The parent is gone: so is the reason to serve. Running children outlive the server.
  if (request === null) return shutDown();
  // Only the first request finds no spare: a pool worker's is forked after the rehearsal.
  if (request.poolWorker) await rehearse();
  if (spare === null && !forkSpare([request.status, ...request.fds])) return;
  const { pid, sentinel, pipe } = spare!;
  spare = null;
  // The object first: a child whose start() returned has it, even if this server dies right after
  // (with its parent, which a SIGKILL just after start() makes likely). A server killed from
  // outside between the two lines leaves its client without a pid, which retries on a new server.
  sendProcess(pipe, request.bytes, request.fds);
  sendInt(request.status, pid);
  for (const fd of request.fds) native.closeFd(fd); // the child has its own copies now
  live.set(pid, { status: request.status, sentinel, watch: new native.SentinelWatch(sentinel, () => reap(pid)) });
  await rehearse();
  if (!forkSpare()) return;
  control.waitReadable();
}

/**
 * Forks the next spare: true in the server. In the spare, false once it was given its process
 * object and started it: the caller returns to the event loop, which is now the child's.
 */
function forkSpare(requestFds: number[] = []): boolean {
  // A socket, not a pipe: Connections in args travel beside the process object (SCM_RIGHTS).
  const [readEnd, writeEnd] = native.socketPair();
  const forked = forkHere();
  if (forked !== null) {
    native.closeFd(readEnd);
    spare = { pid: forked.pid, sentinel: forked.sentinel, pipe: writeEnd };
    return true;
  }
  native.closeFd(writeEnd);
  // A spare forked while a request is being served must not hold its status socket or descriptors.
  for (const fd of requestFds) native.closeFd(fd);
  becomeChild(readEnd);
  return false;
}

function reap(pid: number): void {
  const child = live.get(pid)!;
  live.delete(pid);
  const code = native.waitChild(pid, child.sentinel, -1) ?? 255;
  sendInt(child.status, code);
  native.closeFd(child.status);
  native.closeFd(child.sentinel);
}

/** A frame holding one number. */
function sendInt(fd: number, value: number): void {
  sendFrame(fd, Buffer.from(String(value)));
}

/** A frame to the parent; a parent that went away (EPIPE) no longer needs it. */
function sendFrame(fd: number, frame: Buffer): void {
  try {
    native.sendFrame(fd, frame);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
  }
}

function shutDown(): void {
  control.close();
  native.closeFd(CONTROL_FD);
  if (spare !== null) {
    // EOF on its pipe ends the spare; reap it like the children still running, whose sentinel
    // watches keep the server until they end.
    const { pid, sentinel } = spare;
    native.closeFd(spare.pipe);
    new native.SentinelWatch(sentinel, () => {
      native.waitChild(pid, sentinel, -1);
      native.closeFd(sentinel);
    });
    spare = null;
  }
}

/** In the spare: drop everything of the server's, wait for the process object, then run it. */
function becomeChild(pipe: number): void {
  control.close();
  native.closeFd(CONTROL_FD);
  for (const sibling of live.values()) {
    sibling.watch.close();
    native.closeFd(sibling.status);
    native.closeFd(sibling.sentinel);
  }
  live.clear();
  exitWhenIdle();
  decodeProcess(warmUp);
  // Exits 255 when the server shut down before this spare was needed.
  receiveProcess(pipe);
}

void serve();
