// Whole-run leak check: after every suite, no process started by this run may be alive and no
// /dev/shm entry of ours created during the run may remain.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';

const RUN_MARK = 'MPJS_TEST_RUN';

function ourShmEntries(): Set<string> {
  return new Set(fs.readdirSync('/dev/shm').filter((entry) => entry.includes('mpjs-')));
}

/** Our names carry the creator's pid: an entry whose creator is alive and not of this run is someone else's. */
function createdElsewhere(entry: string, mark: string): boolean {
  const pid = /mpjs-(\d+)-/.exec(entry)?.[1];
  if (!pid) return false;
  try {
    return !fs.readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`${RUN_MARK}=${mark}`);
  } catch {
    return false;
  }
}

/** Processes (other than this one) whose environment carries this run's mark: every child we started. */
function markedProcesses(mark: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (!environ.includes(`${RUN_MARK}=${mark}`)) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      found.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim()}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

async function settle(check: () => string[], ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  let left = check();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = check();
  }
  return left;
}

/** Who made each entry of ours that appeared during the run, read while its creator still lives. */
function watchCreators(): { creators: Map<string, string>; stop: () => void } {
  const creators = new Map<string, string>();
  const watcher = fs.watch('/dev/shm', (_event, name) => {
    if (typeof name !== 'string' || !name.includes('mpjs-') || creators.has(name)) return;
    const pid = /mpjs-(\d+)-/.exec(name)?.[1];
    try {
      creators.set(name, fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim().slice(0, 300));
    } catch {
      creators.set(name, 'its creator had already ended');
    }
  });
  return { creators, stop: () => watcher.close() };
}

/** What a leaked entry's header says about its users (native/shm.cc SegmentHeader), to name who held it. */
function describeUsers(entry: string): string {
  let header: Buffer;
  try {
    header = fs.readFileSync(`/dev/shm/${entry}`).subarray(0, 2048);
  } catch {
    return 'unreadable';
  }
  if (header.length < 2048 || header.readUInt32LE(0) !== 0x534a504d) return 'no segment header';
  const users: string[] = [];
  for (let offset = 24; offset + 16 <= 2048; offset += 16) {
    const pid = header.readInt32LE(offset);
    if (pid !== 0) users.push(`pid ${pid} ×${header.readInt32LE(offset + 4)} started ${header.readBigUInt64LE(offset + 8)}${fs.existsSync(`/proc/${pid}`) ? ' (that pid exists)' : ''}`);
  }
  return `overflow ${header.readInt32LE(16)}, in flight ${header.readInt32LE(20)}, users [${users.join(', ')}], a slot last emptied by pid ${header.readInt32LE(2040)}`;
}

export default function setup(): () => Promise<void> {
  const mark = randomUUID();
  process.env[RUN_MARK] = mark;
  const before = ourShmEntries();
  const { creators, stop } = watchCreators();
  return async () => {
    // vitest's own workers carry the mark too; give them time to exit after the last file.
    const alive = await settle(() => markedProcesses(mark), 10_000);
    const leaked = await settle(() => [...ourShmEntries()].filter((entry) => !before.has(entry) && !createdElsewhere(entry, mark)), 2_000);
    stop();
    const problems: string[] = [];
    if (alive.length > 0) problems.push(`processes still alive after the run:\n  ${alive.join('\n  ')}`);
    if (leaked.length > 0) problems.push(`/dev/shm entries leaked by the run:\n  ${leaked.map((entry) => `${entry} (made by: ${creators.get(entry) ?? 'unknown'}; ${describeUsers(entry)})`).join('\n  ')}`);
    for (const entry of leaked) fs.rmSync(`/dev/shm/${entry}`, { force: true });
    if (problems.length > 0) {
      // vitest reports a teardown error but keeps exit code 0: fail the run ourselves.
      process.exitCode = 1;
      throw new Error(`leak check failed\n${problems.join('\n')}`);
    }
  };
}
