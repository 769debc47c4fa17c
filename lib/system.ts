// Facts and settings of the machine the children run on (native/system.cc): the usable CPUs and the
// `node` binary that spawn and forkserver start. Below context.ts and popen/, which both need them.
import { native } from './native';

/** CPUs this process may run on: the affinity mask, capped by a cgroup CPU quota. */
export function cpuCount(): number {
  return native.cpuCount();
}

/** Sets the `node` binary that spawn and forkserver children run (CPython's set_executable). */
export function setExecutable(executable: string): void {
  if (typeof executable !== 'string') throw new TypeError(`setExecutable(path): path must be a string, got ${typeof executable}`);
  native.setExecutable(executable);
}

/** The binary children run: the one given to setExecutable, else this process's own. */
export function getExecutable(): string {
  return native.getExecutable() ?? process.execPath;
}
