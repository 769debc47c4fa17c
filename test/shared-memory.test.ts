import { execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

import { ShareableList, SharedMemory } from '../lib/shared-memory';
import { child } from './helpers/child';
import { until } from './helpers/until';


// Every block a test creates is unlinked here, even when the test fails.
const created: SharedMemory[] = [];
function track<T extends SharedMemory | ShareableList>(obj: T): T {
  created.push(obj instanceof SharedMemory ? obj : obj.shm);
  return obj;
}

afterEach(async () => {
  for (const shm of created.splice(0)) {
    shm.close();
    try {
      shm.unlink();
    } catch {
      // the test unlinked it already
    }
  }
});

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import multiprocessing.shared_memory'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Runs python3 code with argv; the attaching side unregisters from CPython 3.11's resource tracker, which would unlink blocks it only opened. */
function python(code: string, ...args: string[]): string {
  const prelude = 'import sys\nfrom multiprocessing import shared_memory as sm, resource_tracker as rt\n';
  return execFileSync('python3', ['-c', prelude + code, ...args], { encoding: 'utf8' }).trim();
}

describe('SharedMemory', () => {
  it('creates, attaches by name (with or without a leading slash), closes and unlinks', () => {
    const shm = track(new SharedMemory({ create: true, size: 100 }));
    expect(shm.name).toMatch(/^mpjs-/);
    expect(shm.size).toBe(100);
    expect(shm.buf).toBeInstanceOf(Uint8Array);
    expect(shm.buf.length).toBe(100);
    expect(existsSync(`/dev/shm/${shm.name}`)).toBe(true);
    const other = new SharedMemory({ name: `/${shm.name}` });
    other.buf[7] = 42;
    expect(shm.buf[7]).toBe(42);
    expect(other.size).toBe(100);
    other.close();
    other.close();
    expect(() => other.buf).toThrow(/closed/);
    expect(String(shm)).toBe(`SharedMemory('${shm.name}', size=100)`);
    expect(inspect(shm)).toBe(String(shm));
    shm.close();
    shm.unlink();
    expect(existsSync(`/dev/shm/${shm.name}`)).toBe(false);
  });

  it('uses a given name as given and closes at the end of a using block', () => {
    const name = `mpjs-test-${process.pid}-named`;
    const shm = track(new SharedMemory({ name, create: true, size: 10 }));
    expect(shm.name).toBe(name);
    {
      using attached = new SharedMemory({ name });
      attached.buf[0] = 1;
    }
    expect(shm.buf[0]).toBe(1);
  });

  it('refuses a track option that is not a boolean', () => {
    expect(() => new SharedMemory({ create: true, size: 8, track: 'no' as unknown as boolean })).toThrow('SharedMemory: track must be a boolean, got no');
  });

  it("maps CPython's errors: EEXIST, ENOENT, size 0, missing name", () => {
    const shm = track(new SharedMemory({ create: true, size: 8 }));
    expect(() => new SharedMemory({ name: shm.name, create: true, size: 8 })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => new SharedMemory({ name: `mpjs-absent-${process.pid}` })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => new SharedMemory({ create: true, size: 0 })).toThrow(RangeError);
    expect(() => new SharedMemory({ create: true, size: -1 })).toThrow(RangeError);
    expect(() => new SharedMemory({})).toThrow(TypeError);
    shm.unlink();
    expect(() => shm.unlink()).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('travels to another process by name', async () => {
    const shm = track(new SharedMemory({ create: true, size: 16 }));
    shm.buf.set([1, 2, 3]);
    const c = child({ shm }, `
      const seen = [String(h.shm), Array.from(h.shm.buf.subarray(0, 3))];
      h.shm.buf[3] = 4;
      h.shm.close();
      return seen;
    `);
    expect(await c.result()).toEqual([String(shm), [1, 2, 3]]);
    expect(Array.from(shm.buf.subarray(0, 4))).toEqual([1, 2, 3, 4]);
  });

  it.skipIf(!hasPython)('is interoperable with CPython both ways', () => {
    const ours = track(new SharedMemory({ create: true, size: 32 }));
    ours.buf.set(Buffer.from('from node'));
    const read = python('s = sm.SharedMemory(sys.argv[1]); rt.unregister(s._name, "shared_memory")\nprint(bytes(s.buf[:9]).decode(), s.size)\ns.buf[0:2] = b"PY"\ns.close()', ours.name);
    expect(read).toBe('from node 32');
    expect(Buffer.from(ours.buf.subarray(0, 9)).toString()).toBe('PYom node');

    const theirs = python('s = sm.SharedMemory(create=True, size=20); rt.unregister(s._name, "shared_memory")\ns.buf[:6] = b"python"\nprint(s.name)\ns.close()');
    const attached = track(new SharedMemory({ name: theirs }));
    expect(attached.size).toBe(20);
    expect(Buffer.from(attached.buf.subarray(0, 6)).toString()).toBe('python');
  });
});

describe.each(['fork', 'spawn', 'forkserver'])('SharedMemory and the resource tracker (%s)', (method) => {
  /** Runs a process tree whose children create blocks and which ends by SIGKILL; the names they made. */
  async function killedTree(): Promise<Record<'recreated' | 'untracked' | 'killed', string>> {
    const root = spawn(process.execPath, [path.join(__dirname, 'helpers/shm-tracker-root.cjs'), method], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    root.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const signal = await new Promise((resolve) => root.on('exit', (_code, sig) => resolve(sig)));
    expect(signal).toBe('SIGKILL');
    return JSON.parse(out);
  }

  it('a block whose creator was SIGKILLed is unlinked once its tree is gone; unlinked or untracked ones are left alone', async () => {
    const names = await killedTree();
    try {
      await until(() => !existsSync(`/dev/shm/${names.killed}`), "the SIGKILLed child's block unlinked by the tracker");
      // The tracker has swept: what it left alone stays.
      expect(existsSync(`/dev/shm/${names.untracked}`)).toBe(true);
      expect(existsSync(`/dev/shm/${names.recreated}`)).toBe(true);
    } finally {
      for (const name of Object.values(names)) rmSync(`/dev/shm/${name}`, { force: true });
    }
  }, 60_000);
});

describe('ShareableList', () => {
  it('holds numbers, bigints, booleans, null, strings and Buffers in CPython formats', () => {
    const list = track(new ShareableList([1.5, 7n, true, null, 'héllo', Buffer.from('ab'), 'x'.repeat(8)]));
    expect(list.length).toBe(7);
    expect(list.format).toBe('dqxxxxxxx?xxxxxx?x8s8s16s');
    expect([...list]).toEqual([1.5, 7n, true, null, 'héllo', Buffer.from('ab'), 'xxxxxxxx']);
    expect(list[4]).toBe('héllo');
    expect(list.at(-1)).toBe('xxxxxxxx');
    expect(() => list[7]).toThrow(RangeError);
    expect(() => list[7]).toThrow('index out of range for length 7');
    expect(() => list[7]).toThrow('(7)');
    expect(list.count(true)).toBe(1);
    expect(list.index(null)).toBe(3);
    expect(() => list.index('absent')).toThrow(RangeError);
    list[0] = 'abcdefg';
    list[4] = false;
    list[2] = -2n;
    expect(list.format).toBe('8sqqxxxxxx?xxxxxxxx?8s16s');
    expect(() => {
      list[5] = 'far too long';
    }).toThrow(RangeError);
    expect(() => {
      list[9] = 1;
    }).toThrow(RangeError);
    expect(() => new ShareableList([{} as unknown as number])).toThrow(TypeError);
    expect(String(list)).toBe(`ShareableList(['abcdefg', 7, -2, None, False, b'ab', 'xxxxxxxx'], name='${list.shm.name}')`);
    const again = new ShareableList(null, { name: list.shm.name });
    expect([...again]).toEqual(['abcdefg', 7n, -2n, null, false, Buffer.from('ab'), 'xxxxxxxx']);
    again.shm.close();
    expect(track(new ShareableList()).length).toBe(0);
  });

  it('travels to another process by name', async () => {
    const list = track(new ShareableList([1, 'two', null]));
    const c = child({ list }, `
      const seen = [...h.list];
      h.list[0] = 10;
      h.list.shm.close();
      return seen;
    `);
    expect(await c.result()).toEqual([1, 'two', null]);
    expect(list[0]).toBe(10);
  });

  it.skipIf(!hasPython)("is read and written by CPython's ShareableList, and reads CPython's", () => {
    const list = track(new ShareableList([2.5, 3n, false, null, 'hi', Buffer.from('b')]));
    const out = python('l = sm.ShareableList(name=sys.argv[1]); rt.unregister(l.shm._name, "shared_memory")\nprint(repr(list(l)), l.format)\nl[0] = "py"\nl[1] = -4\nl.shm.close()', list.shm.name);
    expect(out).toBe("[2.5, 3, False, None, 'hi', b'b'] dqxxxxxxx?xxxxxx?x8s8s");
    expect(list[0]).toBe('py');
    expect(list[1]).toBe(-4n);

    const name = python('l = sm.ShareableList([1, 2.0, True, None, "π", b"x"]); rt.unregister(l.shm._name, "shared_memory")\nprint(l.shm.name)\nl.shm.close()');
    const theirs = track(new ShareableList(null, { name }));
    expect([...theirs]).toEqual([1n, 2, true, null, 'π', Buffer.from('x')]);
  });
});
