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
