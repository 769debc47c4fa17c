// Loads the per-Node-ABI addon (native/park): platform parking for fork, a function's script id
// and name for the serializer, and pool parcel views that V8 lets go itself. Optional: built from
// source or shipped per ABI; without it all three work, slower or less safely.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { nativeAddonPath } from './native';

export interface ParkBinding {
  workerThreads(): number;
  /** platformIdle: V8 runs --single-threaded, so the fork is armed without waking its idle threads (an older addon parks them anyway). */
  park(timeoutMs: number, platformIdle?: boolean): boolean;
  release(): void;
  forgetInChild(): void;
  /** Threads the fork child's own platform started (0 in a parent). */
  childThreads(): number;
  exitWithoutPlatform(): void;
  /** The id of the script V8 compiled fn from (the inspector's scriptId), 0 for none. */
  scriptId(fn: Function): number;
  /** The name fn's script was compiled under (a file path or URL), '' for none. */
  scriptName(fn: Function): string;
  /** Binds mapParcel to the main addon loaded from addonPath; false when it has no parcel interface. */
  bindParcels?(addonPath: string): boolean;
  /** As the main addon's mapFd, the parcel let go when V8 frees the view (at a GC, not from the event loop). */
  mapParcel?(fd: number, copy?: boolean): Buffer;
}

let parkBinding: ParkBinding | null | undefined;
let parkFile: string | null = null;

/**
 * Where the park addon for this Node ABI may be, best first: a source build (as node-gyp-build
 * prefers one), then the release's per-ABI prebuild for this platform and libc.
 */
function parkCandidates(): string[] {
  const root = path.join(__dirname, '..');
  // node-gyp-build's own libc test, so both addons come from the same kind of build.
  const libc = process.env.LIBC ?? (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  const prebuild = `prebuilds/${process.platform}-${process.arch}/multiprocess_park.abi${process.versions.modules}.${libc}.so`;
  return ['build/Release/multiprocess_park.so', 'build/Debug/multiprocess_park.so', prebuild].map((file) => path.join(root, file));
}

// Optional: built per Node ABI from native/park; fork works without it, less safely.
export function loadPark(): ParkBinding | null {
  if (parkBinding !== undefined) return parkBinding;
  parkBinding = null;
  for (const file of parkCandidates()) {
    if (!fs.existsSync(file)) continue;
    try {
      const module = { exports: {} as ParkBinding };
      process.dlopen(module, file);
      parkBinding = module.exports;
      parkFile = file;
      break;
    } catch (error) {
      // No descriptor left to open it with: this fork fails, as it would for its own sockets, and a
      // later one tries again, instead of forking unparked from now on.
      const exhausted = /Too many open files/.exec((error as Error).message);
      if (exhausted) {
        parkBinding = undefined;
        throw Object.assign(new Error(`dlopen(${file}) failed: Too many open files (EMFILE)`), { code: 'EMFILE', syscall: 'dlopen' });
      }
      // another Node's ABI (a source build for another version) or a failed build: try the next
    }
  }
  return parkBinding;
}

/** The platform-parking addon fork uses here, or null when none fits this Node. */
export function parkAddonPath(): string | null {
  loadPark();
  return parkFile;
}

/**
 * The addon's V8 facts for the serializer, or null: they only speed it up, so an addon that cannot
 * be loaded now (no descriptor left) or predates them (an older prebuild) must not fail a dumps.
 */
function scriptFacts(): Pick<ParkBinding, 'scriptId' | 'scriptName'> | null {
  let park: ParkBinding | null;
  try {
    park = loadPark();
  } catch {
    return null;
  }
  return typeof park?.scriptId === 'function' && typeof park.scriptName === 'function' ? park : null;
}

/** Whether the addon can name a function's script (scriptNameOf). */
export function scriptNamesKnown(): boolean {
  return scriptFacts() !== null;
}

/** The id of the script V8 compiled fn from, when the addon is here (no inspector round trip). */
export function scriptIdOf(fn: Function): number | undefined {
  const id = scriptFacts()?.scriptId(fn) ?? 0;
  return id > 0 ? id : undefined;
}

/** The file path or URL fn's script was compiled under, when the addon is here and it has one. */
export function scriptNameOf(fn: Function): string | undefined {
  return scriptFacts()?.scriptName(fn) || undefined;
}

/**
 * The addon's parcel views, bound to the main addon, or null (an addon that cannot be loaded now or
 * predates them): Node runs the main addon's finalizers from the event loop, so a caller that loops
 * on blocking calls would hold every parcel it was sent.
 */
export function parcelViews(): ((fd: number, copy?: boolean) => Buffer) | null {
  let park: ParkBinding | null;
  try {
    park = loadPark();
  } catch {
    return null;
  }
  if (typeof park?.bindParcels !== 'function' || typeof park.mapParcel !== 'function') return null;
  return park.bindParcels(nativeAddonPath()) ? park.mapParcel.bind(park) : null;
}
