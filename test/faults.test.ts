// Faults of the machine itself: a /dev/shm without room. (Process and peer faults live with their modules.)
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && spawnSync('unshare', ['--mount', 'true']).status === 0;

describe.runIf(canUnshare)('a full /dev/shm (a 256 KiB tmpfs over it in a private mount namespace)', () => {
  it('refuses a segment it cannot hold with ENOSPC when it is created, never SIGBUS on a later write', () => {
    const program = path.join(__dirname, 'helpers/programs/shm-full.cjs');
    const script = `mount -t tmpfs -o size=256k tmpfs /dev/shm && exec "${process.execPath}" "${program}"`;
    const output = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
    const report = JSON.parse(output);
    for (const what of ['sharedMemory', 'queue', 'rawArray']) {
      expect(report[what], what).toMatchObject({ made: false, code: 'ENOSPC' });
      expect(report[what].message, what).toMatch(/^posix_fallocate\(\/dev\/shm\/mpjs-\d+-\w+-[0-9a-f]+, \d+ bytes\) failed: No space left on device/);
    }
    expect(report.smallValue).toBe(42);
    expect(report.leftInShm).toBe(2); // the Value's own segment and its lock's, still open: nothing of the refused ones
  });
});
