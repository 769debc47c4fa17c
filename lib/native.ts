// Loads the N-API addon (a prebuild from prebuilds/ when one fits, else the node-gyp build) and types it.
import { constants as bufferConstants } from 'node:buffer';
import * as path from 'node:path';

/** A named shm segment; `managed` ones count users per process and unlink when the last closes. */
export interface NativeSegment {
  readonly name: string;
  readonly size: number;
  readonly closed: boolean;
  /** Zero-copy view of the user area; the mapping lives as long as this buffer is reachable. */
  readonly buffer: ArrayBuffer;
  /** Live processes using a managed segment. */
  users(): number;
  /** A handle to this segment went into a message: the message keeps the segment alive. */
  sent(): void;
  /** A message's handle to this segment arrived (and this process now uses it). */
  received(): void;
  /** Drops this object's use; true when it was the last user and the name was unlinked. */
  close(): boolean;
  unlink(): void;
}

export interface NativeWatcher {
  arm(): void;
  idle(): void;
  close(): void;
}

/** The async waiters of one process on a Condition (native/condition.cc). */
export interface NativeCondWatcher {
  /** One more waiter; the watcher's thread takes and acknowledges a token for it. */
  enter(): void;
  /** A waiter gives up: 1 woken (it takes a delivered token), 0 withdrawn, -1 claimed (its token is coming). */
  leave(): 1 | 0 | -1;
  /** Tokens taken for waiters since the last call. */
  deliveries(): number;
  idle(): void;
}

/** Async reads of one fd driven by the event loop; one operation at a time. */
/** An eventfd that is readable exactly while a Queue's ring holds bytes. */
export interface NativeRingReadable {
  fileno(): number;
  close(): void;
}

export interface NativeFdWatcher {
  /** Reads one frame; the callback gets (null, frame) or (null, null) at EOF, or (error). */
  /** With wantFds, the descriptors that come with the frame go to the callback (an AF_UNIX socket). */
  /** With repeat, it stays armed for the next frame until cancel(), an error or EOF. */
  readFrame(maxLength: number, wantFds?: boolean, repeat?: boolean): void;
  /** The callback gets (null, true) once a read would not block (also on a socket error: that read reports it). */
  /** With repeat, again each time the fd is readable (level-triggered) until cancel(). */
  waitReadable(repeat?: boolean): void;
  /** The callback gets (null, true) once a write would not block (a connect finished, or failed: connectResult says which). */
  waitWritable(): void;
  /** Stops the pending operation unless a frame is half read; true when nothing is pending any more. */
  cancel(): boolean;
  close(): void;
}

/** Calls onChange once, after arm(expected), when a ring word differs from `expected`. */
export interface NativeRingWatcher {
  arm(expected: number): void;
  idle(): void;
  close(): void;
}

export type FdWatcherCallback = (error: Error | null, result: Buffer | null | true, fds: number[]) => void;

export type SocketFamily = 'AF_UNIX' | 'AF_INET';

/** Results of a SemLock take: no token, a token, or the lock of a holder that died; or a wait the bell ended. */
export const enum Take {
  Busy = 0,
  Taken = 1,
  Recovered = 2,
  Interrupted = 3,
}

/** Ends this thread's futex waits early (they return Take.Interrupted) while a busy pool needs serving. */
export interface NativeBell {
  /** Rings once one of fds is readable, or after timeoutMs (< 0: no limit). */
  arm(fds: number[], timeoutMs: number): void;
  /** True when it rang. */
  disarm(): boolean;
}

export interface NativeBinding {
  Segment: new (name: string, size: number, create: boolean, managed: boolean) => NativeSegment;
  Watcher: new (segment: NativeSegment, offset: number, onReady: () => void) => NativeWatcher;
  semInit(segment: NativeSegment, offset: number, value: number, maxvalue: number, kind: number): void;
  /** Take.Interrupted when this thread's armed Bell rang. */
  semAcquire(segment: NativeSegment, offset: number, timeoutMs: number): Take;
  semTryTake(segment: NativeSegment, offset: number): Take;
  semWake(segment: NativeSegment, offset: number, count: number): void;
  /** Counts the caller a sleeper of the Condition at offset (under its lock, before releasing it). */
  condEnter(segment: NativeSegment, offset: number): void;
  /** Sleeps on the Condition at offset after condEnter: Taken when a notify woke it, Busy on timeout, Interrupted when this thread's armed Bell rang (the sleeper stays counted). */
  condSleep(segment: NativeSegment, offset: number, timeoutMs: number): Take.Busy | Take.Taken | Take.Interrupted;
  /** Takes a given wake-up for this thread's interrupted sleeper; true when there was one. */
  condTakeFor(segment: NativeSegment, offset: number): boolean;
  /** Claims up to n sleepers (under the lock) and gives each a wake-up; how many it claimed. */
  condClaim(segment: NativeSegment, offset: number, n: number): number;
  /** For a notify awaiting `pending` acknowledgements: [no longer awaited (acknowledged meanwhile, or their sleeper died or was lost in its entry), wake-ups taken back]. */
  condReap(segment: NativeSegment, offset: number, pending: number): [number, number];
  CondWatcher: new (segment: NativeSegment, offset: number, onDelivered: () => void) => NativeCondWatcher;
  /** Parks while the int32 at wordOffset equals expected (counted at waitersOffset); < 0 waits forever. */
  /** Take.Interrupted when this thread's armed Bell rang. */
  ringWait(segment: NativeSegment, wordOffset: number, expected: number, waitersOffset: number, timeoutMs: number): Take.Interrupted | undefined;
  Bell: new () => NativeBell;
  ringWake(segment: NativeSegment, wordOffset: number): void;
  /** True when the SemLock at lockOffset is held by a process that no longer exists. */
  ringOwnerDied(segment: NativeSegment, lockOffset: number): boolean;
  RingWatcher: new (segment: NativeSegment, wordOffset: number, waitersOffset: number, onChange: () => void) => NativeRingWatcher;
  RingReadable: new (segment: NativeSegment, tailOffset: number, headOffset: number, readersWaitingOffset: number, writersWaitingOffset: number) => NativeRingReadable;
  socketPair(): [number, number];
  /** [read end, write end] */
  pipePair(): [number, number];
  closeFd(fd: number): void;
  /** A close-on-exec duplicate of fd. */
  dupFd(fd: number): number;
  /** `fds` (an AF_UNIX socket only) travel with the frame (SCM_RIGHTS). */
  sendFrame(fd: number, bytes: Uint8Array, fds?: number[]): void;
  /** null at EOF; maxLength < 0 means no limit. */
  /** With fdsOut, the descriptors that came with the frame are appended to it. */
  recvFrame(fd: number, maxLength: number, fdsOut?: number[], spinMs?: number): Buffer | null;
  /** recvFrame on a socket that returns undefined at once when no frame has begun to arrive. */
  tryRecvFrame(fd: number, maxLength: number, fdsOut?: number[]): Buffer | null | undefined;
  isUnixSocket(fd: number): boolean;
  /** An uninitialized Buffer; a large one is populated in one call or backed by huge pages (few page faults). */
  allocateBytes(length: number): Buffer;
  /** The largest Buffer this Node makes: a frame announcing more fails before any allocation. */
  setMaxBufferLength(length: number): void;
  /** Linux: a parcel (memfd) holding a copy of the view's bytes, held for its one receiver; close the fd once sent. */
  bytesToFd?(view: ArrayBufferView): number;
  /** Linux: a parcel's payload as a Buffer over its pages, let go when collected; with `copy`, a copy (close the fd after). */
  mapFd?(fd: number, copy?: boolean): Buffer;
  /** Linux: this process's parcels as a sender (tracked, free to reuse), its live views of parcels and its idle mappings of them. */
  parcelStats?(): { parcels: number; free: number; views: number; idle: number };
  /** The length written, the whole message when it does not fit, or null at EOF. */
  recvFrameInto(fd: number, target: ArrayBufferView, offset: number, spinMs?: number): number | Buffer | null;
  pollFd(fd: number, timeoutMs: number): boolean;
  /** Indices of the fds that are readable (or at EOF); empty after the timeout. */
  pollMany(fds: number[], timeoutMs: number, spinMs?: number): number[];
  spinLoop(ms: number): void;
  /** [fd (non-blocking), [address, port]] */
  listenSocket(family: SocketFamily, address: string, port: number, backlog: number): [number, [string, number]];
  /** [fd, peer [address, port]], or null after the timeout. */
  acceptSocket(fd: number, timeoutMs: number): [number, [string, number]] | null;
  /** [fd, connected]: a non-blocking connect may still be in progress. */
  connectSocket(family: SocketFamily, address: string, port: number, blocking: boolean): [number, boolean];
  connectResult(fd: number): void;
  sendFds(fd: number, fds: number[]): void;
  /** The write end of this process tree's resource tracker pipe (started on first use). */
  trackerFd(): number;
  /** Joins the tree whose tracker pipe is `fd` (spawn and forkserver children). */
  adoptTracker(fd: number): void;
  /** Registers a user's SharedMemory with the tree's tracker (`add`), or unregisters it. */
  trackRawSegment(name: string, add: boolean): void;
  /** Registers (or, once removed, unregisters) a Listener's socket file for the tracker to remove after a crash. */
  trackSocketFile(path: string, add: boolean): void;
  recvFds(fd: number, count: number): number[];
  FdWatcher: new (fd: number, callback: FdWatcherCallback) => NativeFdWatcher;
  cpuCount(): number;
  setExecutable(path: string): void;
  getExecutable(): string | null;
  /** False once `pid` has exited (a zombie counts as gone). */
  processAlive(pid: number): boolean;
  /** { pid, sentinel } in the parent, { pid: 0 } in the child. */
  forkProcess(expectedThreads: number): { pid: number; sentinel?: number };
  /** Throws as forkProcess would refuse (ERR_MP_FORK_UNSAFE); forks nothing. */
  auditForkThreads(expectedThreads: number): void;
  /** posix_spawn with fds[i] as fd i in the child (0-2 included); the sentinel is a pidfd or a pipe. */
  spawnProcess(file: string, args: string[], fds: number[], environment?: string[]): { pid: number; sentinel: number };
  threadCount(): number;
  /** size bytes from the kernel's random source (getentropy). */
  randomBytes(size: number): Buffer;
  getpid(): number;
  exitNow(code: number): never;
  /** The exit code (-N for signal N) of a child that ended, reaping it; null while it runs. */
  reap(pid: number): number | null;
  /** PR_SET_PDEATHSIG: signal this process when its parent ends (0 clears); false if parentPid is already gone. */
  dieWithParent(signal: number, parentPid: number): boolean;
  waitChild(pid: number, sentinel: number, timeoutMs: number): number | null;
  SentinelWatch: new (fd: number, onReady: () => void) => { close(): void };
  /** Keeps a fork child's loop alive; calls onBeforeExit, then onEmpty, once nothing else would. */
  IdleWatch: new (onBeforeExit: () => void, onEmpty: () => void) => { close(): void };
}

// node-gyp-build ships no types: it returns the addon's exports object; path() is the file it loads.
const load = require('node-gyp-build') as { (root: string): NativeBinding; path(root: string): string };
export const native: NativeBinding = load(path.join(__dirname, '..'));

/** The file the addon was loaded from (the park addon binds to its parcel interface there). */
export function nativeAddonPath(): string {
  return load.path(path.join(__dirname, '..'));
}
native.setMaxBufferLength(bufferConstants.MAX_LENGTH);
