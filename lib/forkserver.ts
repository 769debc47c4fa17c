// The forkserver (run as dist/forkserver.js by the first forkserver Process of a parent, with
// --single-threaded): loads the preload modules, then forks each child on request. fd 3 is the
// control socket to the parent; a request is the child's status socket (by SCM_RIGHTS) followed by
// the encoded process object, read before the fork so the child has it at once. The server answers
// with the pid, reaps the child (pidfd sentinel) and writes its exit code on the status socket,
// which is the parent's sentinel.
//
// The child returns from the request handler to this server's event loop — the stack above it is
// our own — so unlike a fork child of an arbitrary program it can run async targets: it closes what
// belongs to the server, decodes its process object, runs it (awaiting a Promise) and exits once its
// loop is empty (exitWhenIdle: the parked platform threads rule out Node's own loop end).
//
// Whatever the children need is loaded and warmed up here, before any fork: a child then compiles
// and requires nothing of ours, and shares the server's resource tracker instead of forking its own.
import './index'; // every handle's reducer registers on import
import { native, type NativeFdWatcher } from './native';
import { exitWhenIdle, forkHere } from './popen/fork';
import { decodeProcess, encodeProcess, runProcess } from './popen/payload';
import { Process } from './context';

const CONTROL_FD = 3;

/** A child the server reaps: its status socket, its sentinel and the loop's watch on it. */
interface Child {
  status: number;
  sentinel: number;
  watch: { close(): void };
}

const live = new Map<number, Child>();
let control: NativeFdWatcher;

function serve(): void {
  const preload = JSON.parse(String(native.recvFrame(CONTROL_FD, -1) ?? '[]')) as string[];
  for (const module of preload) {
    try {
      require(module);
    } catch (error) {
      // CPython's forkserver ignores preloads that fail to import; say so, once, and go on.
      process.emitWarning(`multiprocess forkserver: cannot preload ${module}: ${(error as Error).message}`);
    }
  }
  native.startResourceTracker();
  // Children inherit compiled code: decoding a process object once here makes their first one fast.
  decodeProcess(encodeProcess(new Process({ target: (n: number) => n, args: [0] })));
  control = new native.FdWatcher(CONTROL_FD, onRequest);
  control.waitReadable();
}

/** The next request, or null when the parent is gone (EOF). */
function readRequest(error: Error | null): { status: number; bytes: Buffer } | null {
  try {
    if (error) throw error;
    const [status] = native.recvFds(CONTROL_FD, 1) as [number];
    const bytes = native.recvFrame(CONTROL_FD, -1);
    return bytes === null ? null : { status, bytes };
  } catch {
    return null;
  }
}

function onRequest(error: Error | null): void {
  const request = readRequest(error);
  // The parent is gone: so is the reason to serve. Running children outlive the server.
  if (request === null) return shutDown();
  const { status, bytes } = request;
  const forked = forkHere();
  if (forked === null) return becomeChild(status, bytes);
  const child: Child = { status, sentinel: forked.sentinel, watch: new native.SentinelWatch(forked.sentinel, () => reap(forked.pid)) };
  live.set(forked.pid, child);
  sendInt(status, forked.pid);
  control.waitReadable();
}

function reap(pid: number): void {
  const child = live.get(pid)!;
  live.delete(pid);
  const code = native.waitChild(pid, child.sentinel, -1) ?? 255;
  sendInt(child.status, code);
  native.closeFd(child.status);
  native.closeFd(child.sentinel);
}

/** A frame holding one number; a parent that went away (EPIPE) no longer needs it. */
function sendInt(fd: number, value: number): void {
  try {
    native.sendFrame(fd, Buffer.from(String(value)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
  }
}

function shutDown(): void {
  control.close();
  native.closeFd(CONTROL_FD);
  // Children still running keep their sentinel watches, so the server reaps them before it ends.
}

/** In the fork child: drop everything of the server's, then run the process object. */
function becomeChild(status: number, bytes: Buffer): void {
  control.close();
  native.closeFd(CONTROL_FD);
  native.closeFd(status);
  for (const sibling of live.values()) {
    sibling.watch.close();
    native.closeFd(sibling.status);
    native.closeFd(sibling.sentinel);
  }
  live.clear();
  exitWhenIdle();
  runProcess(bytes);
}

serve();
