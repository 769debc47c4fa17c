// Waits that avoid sleeping (native/spin.cc, lib/spin.ts, tryRecvFrame): the waits still end as
// they did, a spinning event loop never keeps a process alive, only fast answers earn spinning, and
// a read that must not wait says so instead of blocking.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { native } from '../lib/native';
import { SPIN_MS, SpinPolicy } from '../lib/spin';

const opened: number[] = [];
afterEach(() => {
  for (const fd of opened.splice(0)) native.closeFd(fd);
  vi.restoreAllMocks();
});

const addon = path.resolve(__dirname, '../dist/native.js');

function pair(): [number, number] {
  const fds = native.socketPair();
  opened.push(...fds);
  return fds;
}

describe('spinning waits', () => {
  it('pollMany with a spin finds a frame that is there, and times out on one that never comes', () => {
    const [a, b] = pair();
    const [c] = pair();
    expect(native.pollMany([c, b], 50, 0.1)).toEqual([]);
    native.sendFrame(a, Buffer.from('x'));
    expect(native.pollMany([c, b], -1, 0.1)).toEqual([1]);
    expect(native.pollMany([c, b], 0, 5)).toEqual([1]);
  });

  it('recvFrame and recvFrameInto with a spin read the frame whether it came before the spin or long after it', () => {
    const [a, b] = pair();
    native.sendFrame(a, Buffer.from('early'));
    expect(native.recvFrame(b, -1, undefined, 0.1)?.toString()).toBe('early');
    // Another process sends once this one has gone to sleep in the read (its spin long over).
    const program = `const { native } = require(${JSON.stringify(addon)}); setTimeout(() => native.sendFrame(3, Buffer.from('late!')), 200)`;
    const writer = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'ignore', 'inherit', a] });
    const target = Buffer.alloc(8);
    expect(native.recvFrameInto(b, target, 1, 0.1)).toBe(5);
    expect(target.subarray(1, 6).toString()).toBe('late!');
    return once(writer, 'exit');
  });

  it('a spinning event loop never keeps its process alive', () => {
    const program = `const { native } = require(${JSON.stringify(addon)}); native.spinLoop(1e9); native.spinLoop(0); console.log('spun')`;
    const result = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', timeout: 60_000 });
    expect(result.signal).toBeNull();
    expect(result.stdout.trim()).toBe('spun');
  });

  it('spinLoop refuses what is not a number', () => {
    expect(() => native.spinLoop('1' as unknown as number)).toThrow(/spinLoop\(ms: number\)/);
  });
});

describe('tryRecvFrame', () => {
  it('returns undefined while no frame has begun, then the frame with its descriptors, then null at EOF', () => {
    const [a, b] = pair();
    expect(native.tryRecvFrame(b, -1, [])).toBeUndefined();
    const [passed] = pair();
    native.sendFrame(a, Buffer.from('with fd'), [passed]);
    native.sendFrame(a, Buffer.alloc(0));
    const fds: number[] = [];
    expect(native.tryRecvFrame(b, -1, fds)?.toString()).toBe('with fd');
    expect(fds).toHaveLength(1);
    opened.push(...fds);
    expect(native.tryRecvFrame(b, -1)?.length).toBe(0);
    expect(native.tryRecvFrame(b, -1)).toBeUndefined();
    native.closeFd(a);
    opened.splice(opened.indexOf(a), 1);
    expect(native.tryRecvFrame(b, -1)).toBeNull();
  });

  it('refuses a frame over maxLength', () => {
    const [a, b] = pair();
    native.sendFrame(a, Buffer.alloc(100));
    expect(() => native.tryRecvFrame(b, 10)).toThrow(/maxLength/);
  });
});

describe('SpinPolicy', () => {
  it('spins only after an answer that came within the spin window, and stops after a slow one', () => {
    let now = 1000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const policy = new SpinPolicy();
    expect(policy.started()).toBe(0); // earned, never assumed
    now += SPIN_MS / 2;
    policy.ended();
    expect(policy.started()).toBe(SPIN_MS);
    now += 10;
    policy.ended();
    expect(policy.budget).toBe(0);
    policy.ended(); // no wait open: nothing changes
    expect(policy.budget).toBe(0);
    policy.started();
    policy.ended();
    expect(policy.budget).toBe(SPIN_MS);
  });

  it('MULTIPROCESS_SPIN=0 turns spinning off in the process and in its pool workers, which still serve', () => {
    const script = `
      // The spin window itself (SpinPolicy's use of it is the test above, on a mocked clock).
      const { SPIN_MS } = require(${JSON.stringify(path.resolve(__dirname, '../dist/spin.js'))});
      const mp = require(${JSON.stringify(path.resolve(__dirname, '../dist/index.js'))});
      const pool = new (mp.getContext('forkserver').Pool)(2);
      // Each process reads the switch once, as this one did: the workers inherit it.
      const switches = pool.map(() => process.env.MULTIPROCESS_SPIN ?? null, [1, 2]);
      const squares = pool.map((x) => x * x, [1, 2, 3], 1);
      pool.terminate();
      pool.join();
      process.stdout.write(JSON.stringify([SPIN_MS, switches, squares]));
    `;
    const run = (spin: string | undefined): unknown => {
      const env = { ...process.env };
      if (spin === undefined) delete env.MULTIPROCESS_SPIN;
      else env.MULTIPROCESS_SPIN = spin;
      const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000, env });
      expect(out.stderr).toBe('');
      return JSON.parse(out.stdout);
    };
    expect(run('0')).toEqual([0, ['0', '0'], [1, 4, 9]]);
    expect(run(undefined)).toEqual([0.1, [null, null], [1, 4, 9]]);
  });
});
