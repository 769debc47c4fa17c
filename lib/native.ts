// Loads the N-API addon (a prebuild from prebuilds/ when one fits, else the node-gyp build) and types it.
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
  /** Drops this object's use; true when it was the last user and the name was unlinked. */
  close(): boolean;
  unlink(): void;
}

export interface NativeWatcher {
  arm(): void;
  idle(): void;
  close(): void;
}

/** Results of a SemLock take: no token, a token, or the lock of a holder that died. */
export const enum Take {
  Busy = 0,
  Taken = 1,
  Recovered = 2,
}

export interface NativeBinding {
  Segment: new (name: string, size: number, create: boolean, managed: boolean) => NativeSegment;
  Watcher: new (segment: NativeSegment, offset: number, onReady: () => void) => NativeWatcher;
  semInit(segment: NativeSegment, offset: number, value: number, maxvalue: number, kind: number): void;
  semAcquire(segment: NativeSegment, offset: number, timeoutMs: number): Take;
  semTryTake(segment: NativeSegment, offset: number): Take;
  semWake(segment: NativeSegment, offset: number, count: number): void;
  cpuCount(): number;
  setExecutable(path: string): void;
  getExecutable(): string | null;
}

// node-gyp-build ships no types: it returns the addon's exports object.
const load = require('node-gyp-build') as (root: string) => NativeBinding;
export const native: NativeBinding = load(path.join(__dirname, '..'));
