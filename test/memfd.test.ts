// Pool payloads as memfd parcels (native/memfd.cc): a receiver's view is the parcel's own pages; a
// parcel is reused once every view of it is gone, and read through the receiver's idle mapping; a
// fork child's copy of a view keeps its parcel held, a killed receiver's view does not; a gone
// sender's parcel is not kept mapped; V8 lets go of collected views without the event loop, and a
// receiver keeps a bounded number of those it holds; a pool worker process lets go of what it was
// sent within a few tasks, a fork worker too; a copy frees its parcel at once; a descriptor that is
// not a parcel is refused. The package is the BUILT one (dist/), as a user loads it.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { until } from './helpers/until';

const root = path.resolve(__dirname, '..');
const load = createRequire(import.meta.url);
const mp = load(path.join(root, 'dist/index.js')) as typeof import('../lib/index');
const { native } = load(path.join(root, 'dist/native.js')) as typeof import('../lib/native');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const stats = (): { parcels: number; free: number; views: number; idle: number } => native.parcelStats!();

/** Parcels this process sent that a receiver still holds. */
function held(): number {
  const { parcels, free } = stats();
  return parcels - free;
}

/** Until the holds of earlier tests' (terminated) workers are found gone: each is looked at again 50 ms later. */
const earlierHoldsGone = (): Promise<void> => until(() => held() === 0, 'no parcel held');

/** The bytes of `values` sent to this very process: the view mapFd makes of the parcel. */
function sendToSelf(values: Float64Array): Float64Array {
  const fd = native.bytesToFd!(values);
  try {
    const view = native.mapFd!(fd);
    return new Float64Array(view.buffer, view.byteOffset, view.byteLength / 8);
  } finally {
    native.closeFd(fd);
  }
}

/** Collects until the finalizers of dropped views ran (Node runs them from the event loop). */
function viewsDropped(views: number): Promise<void> {
  return until(() => {
    gc();
    return stats().views <= views;
  }, `views back to ${views}`);
}

// Kept where a fork child finds it after the parent let go of it.
let heldByChild: Float64Array | null = null;

describe.runIf(process.platform === 'linux')('memfd parcels', () => {
  // Each test starts with only the views of before it: its own are collected after it.
  let viewsBefore = 0;
  beforeEach(() => {
    viewsBefore = stats().views;
  });
  afterEach(() => viewsDropped(viewsBefore));

  it("a parcel is reused, with the new bytes, once its receiver's view is gone", async () => {
    const length = (300 * 1024) / 8;
    const before = stats();
    let first: Float64Array | null = sendToSelf(new Float64Array(length).fill(7));
    expect(first[length - 1]).toBe(7);
    expect(stats()).toMatchObject({ parcels: before.parcels + 1, views: before.views + 1 });
    // Held: the next payload needs a parcel of its own.
    const second = sendToSelf(new Float64Array(length).fill(8));
    expect(stats().parcels).toBe(before.parcels + 2);
    first = null;
    await viewsDropped(before.views + 1);
    expect(stats().idle).toBe(before.idle + 1);
    // The same parcel again, read through the receiver's mapping of it, kept idle meanwhile.
    const third = sendToSelf(new Float64Array(length).fill(9));
    expect(stats()).toMatchObject({ parcels: before.parcels + 2, idle: before.idle });
    expect([third[0], third[length - 1], second[0]]).toEqual([9, 9, 8]);
  });

  it("a fork child's copy of a view keeps its parcel: the child reads the bytes it was sent, not the next payload's", async () => {
    // A size no parcel made before fits: the one the child holds is the only candidate for reuse.
    const length = (448 * 1024) / 8;
    const before = stats();
    heldByChild = sendToSelf(new Float64Array(length).fill(7));
    const go = new mp.Event();
    const sevens = new mp.Value('i', -1);
    const child = new (mp.getContext('fork').Process)({
      target: (event: InstanceType<typeof mp.Event>, out: { value: number }) => {
        event.wait();
        out.value = heldByChild!.every((x) => x === 7) ? 1 : 0;
      },
      args: [go, sevens],
    });
    child.start();
    let next: Float64Array;
    let parcels: number;
    try {
      heldByChild = null;
      await viewsDropped(before.views);
      // The parent let go of its view; the child still holds its copy, so this is another parcel.
      next = sendToSelf(new Float64Array(length).fill(9));
      parcels = stats().parcels;
    } finally {
      go.set();
      child.join(30_000);
    }
    expect(parcels).toBe(before.parcels + 2);
    expect(child.exitcode).toBe(0);
    expect(sevens.value).toBe(1);
    expect(next[0]).toBe(9);
  });

  it('a parcel whose receiver was killed while it held a view (a terminated pool\'s worker) is reused', async () => {
    const length = (336 * 1024) / 8;
    const before = stats();
    const fd = native.bytesToFd!(new Float64Array(length).fill(4));
    const viewed = new mp.Event();
    const never = new mp.Event();
    const child = new (mp.getContext('fork').Process)({
      target: (done: InstanceType<typeof mp.Event>, forever: InstanceType<typeof mp.Event>) => {
        heldByChild = new Float64Array(native.mapFd!(fd).buffer);
        done.set();
        forever.wait();
      },
      args: [viewed, never],
    });
    child.start();
    try {
      expect(await viewed.waitAsync(30_000)).toBe(true);
    } finally {
      child.kill();
      child.join(30_000);
      native.closeFd(fd);
    }
    const next = sendToSelf(new Float64Array(length).fill(6));
    expect(stats().parcels).toBe(before.parcels + 1);
    expect(next[length - 1]).toBe(6);
  });

  it("a receiver keeps no idle mapping of a parcel whose sender is gone (a terminated pool's worker)", async () => {
    const before = stats();
    let result: Float64Array | null;
    let worker: number;
    {
      using pool = new (mp.getContext('forkserver').Pool)(1);
      worker = pool.apply(() => process.pid);
      result = pool.apply((n: number) => new Float64Array(n).fill(2), [(352 * 1024) / 8]);
    }
    const gone = (): boolean => {
      try {
        process.kill(worker, 0);
        return false;
      } catch {
        return true;
      }
    };
    await until(gone, `worker ${worker} gone`);
    expect([stats().views, result[0]]).toEqual([before.views + 1, 2]);
    result = null;
    await viewsDropped(before.views);
    expect(stats().idle).toBe(before.idle);
  });

  it('a loop of blocking pool calls, which never turns the event loop, lets go of the views V8 collected (not only from the event loop)', () => {
    using pool = new (mp.getContext('forkserver').Pool)(1);
    const id = <T>(x: T): T => x;
    const before = stats().views;
    const arg = new Float64Array((1024 * 1024) / 8).fill(3);
    for (let i = 0; i < 300; i++) {
      const back = pool.apply(id, [arg]);
      if (back.length !== arg.length || back[0] !== 3 || back[back.length - 1] !== 3) throw new Error(`result ${i} is not its argument`);
    }
    // Let go by Node's finalizers, the views stayed until the cap (127 here; ~30 now).
    expect(stats().views - before).toBeLessThan(100);
  });

  it('a receiver keeps at most 128 MiB of views it still holds, and copies the rest', () => {
    using pool = new (mp.getContext('forkserver').Pool)(1);
    const id = <T>(x: T): T => x;
    const before = stats().views;
    const held: Float64Array[] = [];
    for (let i = 0; i < 160; i++) held.push(pool.apply(id, [new Float64Array((1024 * 1024) / 8).fill(i)]));
    const views = stats().views - before;
    expect(views).toBeGreaterThan(100);
    expect(views).toBeLessThan(128);
    expect(held.every((values, i) => values[0] === i && values[values.length - 1] === i)).toBe(true);
  });

  it.each(['forkserver', 'spawn'] as const)('a %s pool worker lets go of the parcels it was sent within a few tasks, also when its caller never yields', async (method) => {
    await earlierHoldsGone();
    using pool = new (mp.getContext(method).Pool)(1);
    const id = <T>(x: T): T => x;
    const arg = new Float64Array((1280 * 1024) / 8).fill(3);
    for (let i = 0; i < 64; i++) {
      const back = pool.apply(id, [arg]);
      if (back.length !== arg.length || back[back.length - 1] !== 3) throw new Error(`result ${i} is not its argument`);
    }
    // The worker collects after every 4 MiB it was sent; V8 may let the views go on a thread of its
    // own a moment later (here: 1–9 held at once, 1–5 soon after). Left to its own GC, an idle worker
    // held 12–38 for seconds.
    await until(() => held() < 8, 'fewer than 8 parcels held', 3000);
    // Its collector is not a global of the tasks'.
    expect(pool.apply(() => typeof (globalThis as { gc?: unknown }).gc)).toBe('undefined');
  });

  it("a fork pool worker, whose Node finalizers never run, views parcels that V8 lets go itself", async () => {
    using pool = new (mp.getContext('fork').Pool)(1);
    // Runs in the worker, a fork of this process: its views are this process's at the fork, and its own.
    const probe = (values: Float64Array): [number, number] => [values[0]! + values[values.length - 1]!, native.parcelStats!().views];
    const [, viewsBefore] = pool.apply(probe, [new Float64Array([1, 1])]);
    const [sum, viewsDuring] = pool.apply(probe, [new Float64Array((512 * 1024) / 8).fill(5)]);
    expect(sum).toBe(10);
    expect(viewsDuring).toBe(viewsBefore + 1);
    // It collects after every 4 MiB, as an evented worker does: its views do not pile up (V8 may let
    // them go on a thread of its own a moment after the collection).
    for (let i = 0; i < 40; i++) pool.apply(probe, [new Float64Array((1280 * 1024) / 8).fill(i)]);
    await until(() => pool.apply(probe, [new Float64Array([1, 1])])[1] - viewsBefore < 8, "fewer than 8 views in the worker", 3000);
  });

  it('a receiver that cannot view a parcel (mapFd with copy) gets a copy, and the parcel is free again at once', async () => {
    // Else an earlier test's parcel may be found free between the two counts below.
    await earlierHoldsGone();
    const length = (320 * 1024) / 8;
    const fd = native.bytesToFd!(new Float64Array(length).fill(6));
    const claimed = stats();
    let copy: Buffer;
    try {
      copy = native.mapFd!(fd, true);
    } finally {
      native.closeFd(fd);
    }
    expect(new Float64Array(copy.buffer, copy.byteOffset, length)[length - 1]).toBe(6);
    expect(stats()).toMatchObject({ parcels: claimed.parcels, free: claimed.free + 1, views: claimed.views });
  });

  it('a descriptor that is not a parcel is refused with a clear error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-memfd-'));
    try {
      for (const [bytes, why] of [
        [10, /not a pool parcel \(10 bytes\)/],
        [8192, /not a pool parcel \(bad header\)/],
      ] as const) {
        const file = path.join(dir, String(bytes));
        fs.writeFileSync(file, Buffer.alloc(bytes));
        const fd = fs.openSync(file, 'r+');
        try {
          expect(() => native.mapFd!(fd)).toThrow(why);
        } finally {
          fs.closeSync(fd);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
