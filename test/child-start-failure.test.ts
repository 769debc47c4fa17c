// A forkserver or spawn child that cannot start: the parent's start() and Pool fail with that
// child's error (or exit code), at once, and never wait for a server that cannot serve.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist/index.js');
const mp = createRequire(import.meta.url)(dist) as typeof import('../lib/index');
const { getContext, Pool, setExecutable } = mp;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-start-failure-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Runs `fn` with setExecutable pointing at a script that writes to stderr and exits 3. */
async function withBrokenExecutable<T>(fn: () => T | Promise<T>): Promise<T> {
  const broken = path.join(scratch, 'broken-node');
  fs.writeFileSync(broken, '#!/bin/sh\necho "broken-node: refusing to run" >&2\nexit 3\n', { mode: 0o755 });
  setExecutable(broken);
  try {
    return await fn();
  } finally {
    setExecutable(process.execPath);
  }
}

describe('a forkserver that ends before it is ready', () => {
  const ended = /the forkserver \(.*broken-node.*forkserver\.js\) ended with exit code 3 before it was ready/;

  // One test: the server, once started, serves this process for good, whatever the executable.
  it('fails Process.start() and new Pool() with its exit code; the next start gets a working server', async () => {
    const { Process } = getContext('forkserver');
    const p = new Process({ target: () => process.exit(7) });
    await withBrokenExecutable(() => {
      expect(() => p.start()).toThrow(ended);
      expect(() => new Pool({ processes: 2, context: getContext('forkserver') })).toThrow(ended);
    });
    p.start();
    p.join(20_000);
    expect(p.exitcode).toBe(7);
  });
});

describe('a spawn child whose executable fails', () => {
  it('Process: start() returns and the exit code is the executable\'s', async () => {
    const p = new (getContext('spawn').Process)({ target: () => undefined });
    await withBrokenExecutable(() => p.start());
    p.join(20_000);
    expect(p.exitcode).toBe(3);
  });

  it('Pool: every worker ends before it connects, and the pool breaks instead of waiting', async () => {
    await withBrokenExecutable(async () => {
      const pool = new Pool({ processes: 2, context: getContext('spawn') });
      try {
        await expect(pool.applyAsync((x: number) => x, [1])).rejects.toThrow(/pool workers keep ending before they connect \(the last with exit code 3\)/);
      } finally {
        pool.terminate();
        pool.join();
      }
    });
  });
});

describe('a forkserver that cannot fork (a preload left a thread running in it)', () => {
  // In the server only: a Worker started by a --require preload, as an instrumentation agent might.
  const preload = path.join(scratch, 'thread-in-forkserver.cjs');
  fs.writeFileSync(
    preload,
    [
      `const { isMainThread, Worker } = require('node:worker_threads');`,
      `if (isMainThread && process.argv[1].endsWith('forkserver.js')) new Worker('setInterval(() => {}, 1 << 30)', { eval: true }).unref();`,
    ].join('\n'),
  );
  const script = path.join(scratch, 'start.cjs');
  fs.writeFileSync(
    script,
    [
      `const mp = require(${JSON.stringify(dist)});`,
      `const report = (what, error) => console.log(JSON.stringify({ what, name: error.name, message: error.message, cause: error.cause?.code }));`,
      `try { new (mp.getContext('forkserver').Process)({ target: () => undefined }).start(); } catch (error) { report('process', error); }`,
      `try { new mp.Pool({ processes: 2, context: mp.getContext('forkserver') }); } catch (error) { report('pool', error); }`,
    ].join('\n'),
  );

  it('Process.start() and new Pool() fail with the server\'s own error', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--require', preload, script], { timeout: 60_000 });
    const reports = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    expect(reports.map((r) => r.what)).toEqual(['process', 'pool']);
    for (const report of reports) {
      expect(report.name).toBe('ProcessError');
      expect(report.message).toMatch(/the forkserver \(.*\) could not start: fork refused: this process runs \d+ threads/);
      expect(report.cause).toBe('ERR_MP_FORK_UNSAFE');
    }
  });
});

// `node --cpu-prof app.js` passed its profiler to the server, whose thread then refused every fork.
describe('a parent run with a profiler', () => {
  it('starts its forkserver without it: a Pool works, and the only profile written is the parent\'s', async () => {
    const profiles = path.join(scratch, 'profiles');
    const script = `
      const mp = require(${JSON.stringify(dist)});
      const pool = new mp.Pool({ processes: 2, context: mp.getContext('forkserver') });
      console.log(JSON.stringify(pool.map((x) => x * 2, [1, 2, 3])));
      pool.terminate();
      pool.join();
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profiles, '-e', script], { timeout: 60_000 });
    expect(stdout.trim()).toBe('[2,4,6]');
    expect(fs.readdirSync(profiles).filter((name) => name.endsWith('.cpuprofile'))).toHaveLength(1);
  });
});
