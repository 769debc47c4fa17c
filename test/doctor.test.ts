// `npx multiprocess doctor` run as users run it (the bin shim, a real node): its facts and self-test
// on this machine, and its failures with their fixes — no binary at all, and fork refused (inspector).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { cpuCount, getAllStartMethods, getStartMethod } from '../lib/index';
import { parkAddonPath } from '../lib/park';
import type { DoctorReport } from '../lib/doctor';
import { root } from './helpers/npm-project';

const slow = 120_000;
const bin = path.join(root, 'bin', 'multiprocess.js');
const PRIMITIVES = ['Lock + Value', 'Semaphore + Event', 'Condition + Barrier', 'Queue + JoinableQueue', 'Pipe', 'SharedMemory + Array', 'Pool'];

/** Runs the command; resolves with its exit status and output whatever the status. */
function doctor(args: string[], options: { nodeFlags?: string[]; cwd?: string; binPath?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...(options.nodeFlags ?? []), options.binPath ?? bin, ...args], { cwd: options.cwd ?? root, timeout: slow }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? -1) : 0, stdout, stderr });
    });
  });
}

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

describe('multiprocess doctor', () => {
  it('reports the facts and passes the self-test on this machine (--json)', async () => {
    const { code, stdout } = await doctor(['doctor', '--json']);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    const { facts } = report;
    expect(facts.node).toContain(`${process.version} (ABI ${process.versions.modules}, N-API ${process.versions.napi})`);
    // The checkout's own build is what node-gyp-build loads here (scripts/cmake-smoke.sh makes it with cmake-js).
    const maker = fs.existsSync(path.join(root, 'build', 'CMakeCache.txt')) ? 'cmake-js' : 'node-gyp';
    expect(facts.addon).toBe(`source build (${maker}) ${path.join(root, 'build', 'Release', 'multiprocess.node')}`);
    // Another Node major than the build's takes the park prebuild for its ABI, if there is one.
    expect(facts['park addon']).toEqual(parkAddonPath() ?? expect.stringMatching(/^none for ABI \d+: /));
    expect(facts['start methods']).toBe(`${getAllStartMethods().join(', ')}; default ${getStartMethod()}`);
    expect(facts['cpuCount()']).toMatch(new RegExp(`^${cpuCount()}, from the (affinity mask|cgroup CPU quota) `));
    expect(facts['fork now']).toMatch(/^allowed/);
    expect(facts['self-test']).toMatch(/^\d+ ms$/);
    const names = report.checks.map((c) => c.name);
    expect(names).toContain('/dev/shm');
    expect(report.checks.find((c) => c.name === '/dev/shm')!.detail).toMatch(/^[\d.]+ [MG]iB, [\d.]+ [MG]iB free/);
    for (const method of getAllStartMethods()) {
      expect(names).toContain(`${method} child`);
      for (const primitive of PRIMITIVES) expect(names).toContain(`${primitive} (${method})`);
    }
  }, slow);

  it('prints one line per fact and check, and says all passed', async () => {
    const { code, stdout } = await doctor(['doctor']);
    expect(code).toBe(0);
    for (const label of ['multiprocess', 'node', 'addon', 'park addon', 'start methods', 'cpuCount()', 'fork now', 'self-test']) {
      expect(stdout).toMatch(new RegExp(`^${label.replace(/[()+]/g, '\\$&')} +\\S`, 'm'));
    }
    expect(stdout).toMatch(/^ok +\/dev\/shm /m);
    expect(stdout).not.toContain('FAIL');
    expect(stdout.trimEnd().endsWith('all checks passed')).toBe(true);
  }, slow);

  it('fails with the fix to try when no binary was built or prebuilt', async () => {
    // The package as an install with --ignore-scripts and no prebuild leaves it: no build/, no prebuilds/.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-doctor-'));
    scratch.push(dir);
    for (const entry of ['package.json', 'dist', 'bin']) fs.cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const { code, stdout } = await doctor(['doctor'], { binPath: path.join(dir, 'bin', 'multiprocess.js'), cwd: dir });
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL native addon +No native build was found/m);
    expect(stdout).toContain('fix: no prebuilt binary fits');
    expect(stdout).toContain('npm rebuild multiprocess --build-from-source');
  }, slow);

  it('fails fork, with the fix, where the inspector rules it out; spawn still passes', async () => {
    const { code, stdout } = await doctor(['doctor'], { nodeFlags: ['--inspect=127.0.0.1:0'] });
    expect(code).toBe(1);
    expect(stdout).toMatch(/^fork now +likely refused: the inspector is listening/m);
    expect(stdout).toMatch(/^FAIL fork child +fork refused/m);
    expect(stdout).toContain("fix: a fork was refused");
    expect(stdout).toMatch(/^ok +spawn child /m);
    for (const primitive of PRIMITIVES) expect(stdout).toMatch(new RegExp(`^ok +${primitive.replace(/\+/g, '\\+')} \\(spawn\\)`, 'm'));
    expect(stdout).toMatch(/check\(s\) failed/);
  }, slow);

  it('says how to call it', async () => {
    const { code, stderr } = await doctor(['doctr']);
    expect(code).toBe(2);
    expect(stderr).toBe('usage: multiprocess doctor [--json]\n');
  });
});
