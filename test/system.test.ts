import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { cpuCount, setExecutable } from '../lib/index';

describe('cpuCount', () => {
  it('counts the CPUs this process may use', () => {
    const n = cpuCount();
    expect(Number.isInteger(n)).toBe(true);
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(os.cpus().length);
  });
});

describe('setExecutable', () => {
  it('refuses a path that is not an executable file', () => {
    expect(() => setExecutable('/nonexistent/node')).toThrow(/ENOENT/);
    expect(() => setExecutable(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('cpuCount under an affinity mask', () => {
  it('counts only the CPUs the mask allows', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = `console.log(require(${JSON.stringify(require.resolve('../dist/index.js'))}).cpuCount())`;
    const output = execFileSync('taskset', ['-c', '0', process.execPath, '-e', script], { encoding: 'utf8' });
    expect(Number(output.trim())).toBe(1);
  });
});

describe('randomBytes (kernel object names, tokens, keys)', () => {
  it('gives the bytes asked for, from the kernel, and refuses a bad size', async () => {
    const { native } = await import('../lib/native');
    const [a, b] = [native.randomBytes(300), native.randomBytes(300)];
    expect([a.length, b.length, native.randomBytes(0).length]).toEqual([300, 300, 0]);
    expect(a.equals(b)).toBe(false);
    expect(() => native.randomBytes(-1)).toThrow(/size must be 0 to 65536/);
    expect(() => native.randomBytes('8' as unknown as number)).toThrow(TypeError);
  });

  it('importing the package loads neither node:crypto nor node:dns (~3 ms of every process start)', async () => {
    const { execFileSync } = await import('node:child_process');
    const fs = await import('node:fs');
    const path = await import('node:path');
    // A file, not -e: node -e loads node:crypto itself.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-import-'));
    const script = path.join(dir, 'import.cjs');
    fs.writeFileSync(script, `require(${JSON.stringify(require.resolve('../dist/index.js'))}); console.log(JSON.stringify(process.moduleLoadList.filter((m) => /^NativeModule (crypto|dns)/.test(m))))`);
    try {
      expect(JSON.parse(execFileSync(process.execPath, [script], { encoding: 'utf8' }))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
