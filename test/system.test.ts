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
