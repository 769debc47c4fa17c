// Bench rows for Pool as a user times it: the task round trip of each form, one message per task,
// map with the default chunksize on several shapes (the first map after the pool started, its next
// three, and three after a warm-up) and typed-array payloads in and out, beside CPython's
// multiprocessing.Pool and the Node pools (piscina, tinypool, workerpool, poolifier). Every figure
// is a median of ROUNDS samples with its min–max, and the rounds interleave CPython, ours and the
// peers, so a machine whose load changes during the run shifts all columns alike.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cpython } from './cpython.mjs';
import { median } from './measure.mjs';

const require = createRequire(import.meta.url);
const mp = require('../../dist/index.js');
const POOL = 2;
const ROUNDS = Number(process.env.POOL_BENCH_ROUNDS ?? 5);
const TASK = fileURLToPath(new URL('./children/peer-task.mjs', import.meta.url));
const WORKERPOOL = fileURLToPath(new URL('./children/peer-workerpool.cjs', import.meta.url));
const POOLIFIER = fileURLToPath(new URL('./children/peer-poolifier.cjs', import.meta.url));
const MIB = 1024 * 1024;
const range = (n) => Array.from({ length: n }, (_, i) => i);
const ROUND_TRIPS = 300;
// Calls before the warm round-trip rows: past V8's tiering of both ends of the task path.
const WARM_UP_CALLS = 3000;
const ONE_BY_ONE = 20_000;
// Maps of one message per task before its warm row: V8 tiers the parent's dispatch up over the first.
const ONE_BY_ONE_WARM_UP = 2;
// Maps between "maps 2–4" and the warm rows: a pool's steady state, after V8 compiled the map path in
// the parent (CPython's side runs the same maps).
const WARM_UP_MAPS = 6;
// Payload maps before their warm rows: large arrays cross in memory a long-lived pool reuses.
const WARM_UP_PAYLOAD_MAPS = 3;

/** The map shapes: the items (JS and Python) and the function mapped over them. */
const SHAPES = [
  { key: 'ints10k', label: '10k small ints, x*x', n: 10_000, items: 'ints', fn: 'square' },
  { key: 'ints100k', label: '100k small ints, x*x', n: 100_000, items: 'ints', fn: 'square' },
  { key: 'ints1M', label: '1M small ints, x*x', n: 1_000_000, items: 'ints', fn: 'square' },
  { key: 'floats', label: '100k floats, x*x', n: 100_000, items: 'floats', fn: 'square' },
  { key: 'strings', label: '100k short strings, identity', n: 100_000, items: 'strings', fn: 'ident' },
  { key: 'objects', label: '100k small objects, identity', n: 100_000, items: 'objects', fn: 'ident' },
  { key: 'closure', label: '100k small ints, a closure x*k+1', n: 100_000, items: 'ints', fn: 'closure' },
  { key: 'ident', label: '100k small ints, identity', n: 100_000, items: 'ints', fn: 'ident' },
];
const PAYLOADS = [
  { key: 'mib1', label: '1 MiB Float64Array per task, in and out', bytes: MIB, tasks: 32 },
  { key: 'mib16', label: '16 MiB Float64Array per task, in and out', bytes: 16 * MIB, tasks: 4 },
];

const ITEMS = { ints: (i) => i, floats: (i) => i + 0.5, strings: (i) => `item-${i}`, objects: (i) => ({ id: i, name: 'x', ok: true }) };
const k = 3;
const FNS = { square: (x) => x * x, ident: (x) => x, closure: (x) => x * k + 1 };

/** Samples by row key, for medians and min–max at the end. */
class Samples {
  data = new Map();
  add(key, value) {
    if (!this.data.has(key)) this.data.set(key, []);
    this.data.get(key).push(value);
  }
  merge(object) {
    for (const [key, value] of Object.entries(object ?? {})) this.add(key, value);
  }
  median(key) {
    const values = this.data.get(key);
    return values?.length ? median(values) : undefined;
  }
  range(key) {
    const values = this.data.get(key);
    return values?.length ? [Math.min(...values), Math.max(...values)] : undefined;
  }
}

/** The Node peers behind one shape: run(task) → Promise, close(). */
async function startPeer(name) {
  if (name === 'piscina') {
    const { Piscina } = await import('piscina');
    const pool = new Piscina({ filename: TASK, minThreads: POOL, maxThreads: POOL });
    return { run: (task) => pool.run(task), close: () => pool.destroy() };
  }
  if (name === 'tinypool') {
    const { Tinypool } = await import('tinypool');
    const pool = new Tinypool({ filename: TASK, minThreads: POOL, maxThreads: POOL });
    return { run: (task) => pool.run(task), close: () => pool.destroy() };
  }
  if (name === 'workerpool') {
    const workerpool = require('workerpool');
    const pool = workerpool.pool(WORKERPOOL, { minWorkers: POOL, maxWorkers: POOL, workerType: 'thread' });
    return { run: (task) => pool.exec('task', [task]), close: () => pool.terminate() };
  }
  const { FixedThreadPool } = require('poolifier');
  const pool = new FixedThreadPool(POOL, POOLIFIER);
  return { run: (task) => pool.execute(task), close: () => pool.destroy() };
}
const PEERS = ['piscina', 'tinypool', 'workerpool', 'poolifier'];

/** Starts every peer once (their startup figures); null for one that failed to start. */
async function startPeers(figures) {
  const started = new Map();
  for (const name of PEERS) {
    try {
      const t0 = performance.now();
      const peer = await startPeer(name);
      await peer.run({ op: 'square', x: 3 });
      figures.add(`startup:${name}`, performance.now() - t0);
      for (let i = 0; i < 200; i++) await peer.run({ op: 'id', x: i });
      started.set(name, peer);
    } catch (error) {
      console.error(`pool bench: ${name} failed: ${error.message}`);
    }
  }
  return started;
}

/** One round of every started peer: { `${row}:${peer}`: figure }. */
async function peerRound(started) {
  const out = {};
  for (const [name, peer] of started) {
    try {
      let t = performance.now();
      for (let i = 0; i < ROUND_TRIPS; i++) await peer.run({ op: 'id', x: i });
      out[`roundTrip:${name}`] = ((performance.now() - t) / ROUND_TRIPS) * 1000;
      t = performance.now();
      await Promise.all(range(ONE_BY_ONE).map((x) => peer.run({ op: 'square', x })));
      out[`one:${name}`] = ONE_BY_ONE / ((performance.now() - t) / 1000);
      for (const { key, bytes, tasks } of PAYLOADS) {
        const rate = async () => {
          const arrays = range(tasks).map(() => new Float64Array(bytes / 8).fill(7));
          const t0 = performance.now();
          await Promise.all(arrays.map((x) => peer.run({ op: 'id', x })));
          return (tasks * bytes) / 1e9 / ((performance.now() - t0) / 1000);
        };
        out[`${key}:${name}`] = await rate();
        for (let i = 0; i < WARM_UP_PAYLOAD_MAPS; i++) await rate();
        const warm = [];
        for (let i = 0; i < 3; i++) warm.push(await rate());
        out[`${key}Warm:${name}`] = median(warm);
      }
    } catch (error) {
      console.error(`pool bench: ${name} failed: ${error.message}`);
    }
  }
  return out;
}

/** Tasks per second of one map (ms measured here). */
function mapRate(pool, fn, items, chunksize) {
  const t = performance.now();
  pool.map(fn, items, chunksize);
  return items.length / ((performance.now() - t) / 1000);
}

/** One round of ours, forkserver workers: { row: figure }. */
async function ourRound() {
  const out = {};
  const Pool = mp.getContext('forkserver').Pool;
  const id = FNS.ident;
  for (const shape of SHAPES) {
    const items = range(shape.n).map(ITEMS[shape.items]);
    const pool = new Pool(POOL);
    pool.apply(id, [1]); // the workers are up: the first map below is the pool's first
    out[`cold:${shape.key}`] = mapRate(pool, FNS[shape.fn], items);
    out[`early:${shape.key}`] = median([0, 1, 2].map(() => mapRate(pool, FNS[shape.fn], items)));
    for (let i = 0; i < WARM_UP_MAPS; i++) mapRate(pool, FNS[shape.fn], items);
    out[`warm:${shape.key}`] = median([0, 1, 2].map(() => mapRate(pool, FNS[shape.fn], items)));
    pool.terminate();
    pool.join();
  }
  const pool = new Pool(POOL);
  for (let i = 0; i < 200; i++) pool.apply(id, [i]);
  const perCall = (call) => {
    const t = performance.now();
    for (let i = 0; i < ROUND_TRIPS; i++) call(i);
    return ((performance.now() - t) / ROUND_TRIPS) * 1000;
  };
  out['roundTrip:apply'] = perCall((i) => pool.apply(id, [i]));
  out['roundTrip:get'] = perCall((i) => pool.applyAsync(id, [i]).get());
  let t = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) await pool.applyAsync(id, [i]);
  out['roundTrip:await'] = ((performance.now() - t) / ROUND_TRIPS) * 1000;
  // The closure written in the call, as users write it: a new function object per task.
  t = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) await pool.applyAsync((x) => x, [i]);
  out['roundTrip:inline'] = ((performance.now() - t) / ROUND_TRIPS) * 1000;
  t = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) await pool.applyAsync((x) => x * k, [i]);
  out['roundTrip:inlineCaptures'] = ((performance.now() - t) / ROUND_TRIPS) * 1000;
  // The same pool warm: a server's steady state, after both processes compiled the task path.
  for (let i = 0; i < WARM_UP_CALLS; i++) pool.apply(id, [i]);
  out['roundTripWarm:apply'] = perCall((i) => pool.apply(id, [i]));
  // Each form warmed by itself: an AsyncResult's get() and the await path (promise, event-loop
  // wake-up) tier up on their own.
  for (let i = 0; i < WARM_UP_CALLS; i++) pool.applyAsync(id, [i]).get();
  out['roundTripWarm:get'] = perCall((i) => pool.applyAsync(id, [i]).get());
  for (let i = 0; i < WARM_UP_CALLS; i++) await pool.applyAsync(id, [i]);
  t = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) await pool.applyAsync(id, [i]);
  out['roundTripWarm:await'] = ((performance.now() - t) / ROUND_TRIPS) * 1000;
  out.one = mapRate(pool, FNS.square, range(ONE_BY_ONE), 1);
  for (let i = 0; i < ONE_BY_ONE_WARM_UP; i++) mapRate(pool, FNS.square, range(ONE_BY_ONE), 1);
  out.oneWarm = median([0, 1, 2].map(() => mapRate(pool, FNS.square, range(ONE_BY_ONE), 1)));
  for (const { key, bytes, tasks } of PAYLOADS) {
    const rate = () => {
      const arrays = range(tasks).map(() => new Float64Array(bytes / 8).fill(7));
      const t0 = performance.now();
      pool.map(id, arrays, 1);
      return (tasks * bytes) / 1e9 / ((performance.now() - t0) / 1000);
    };
    out[key] = rate();
    for (let i = 0; i < WARM_UP_PAYLOAD_MAPS; i++) rate();
    out[`${key}Warm`] = median([0, 1, 2].map(rate));
  }
  pool.terminate();
  pool.join();
  return out;
}

// Startup is measured on a warm server (the forkserver row never includes starting the server).
function startup(method) {
  const t0 = performance.now();
  const pool = new (mp.getContext(method).Pool)(POOL);
  pool.apply((x) => x, [1]);
  const ms = performance.now() - t0;
  pool.terminate();
  pool.join();
  return ms;
}

const SHAPES_PY = JSON.stringify(SHAPES.map(({ key, n, items, fn }) => [key, n, items, fn]));
const PAYLOADS_PY = JSON.stringify(PAYLOADS.map(({ key, bytes, tasks }) => [key, bytes, tasks]));

/** One round of CPython, fork workers (its default on Linux before 3.14): { row: figure }. */
const pythonRound = (first) => cpython(`
  import array, multiprocessing as mp, time
  k = 3
  def square(x): return x * x
  def ident(x): return x
  def closure(x): return x * k + 1
  ITEMS = {'ints': lambda i: i, 'floats': lambda i: i + 0.5, 'strings': lambda i: 'item-%d' % i,
           'objects': lambda i: {'id': i, 'name': 'x', 'ok': True}}
  FNS = {'square': square, 'ident': ident, 'closure': closure}
  def rate(pool, f, items, chunksize=None):
      t = time.perf_counter(); pool.map(f, items, chunksize); return len(items) / (time.perf_counter() - t)
  def startup(method):
      t = time.perf_counter()
      with mp.get_context(method).Pool(${POOL}) as p: p.apply(ident, (1,)); ms = (time.perf_counter() - t) * 1000
      return ms
  if __name__ == '__main__':
      out = {}
      ctx = mp.get_context('fork')
      for key, n, items, fn in ${SHAPES_PY}:
          xs = [ITEMS[items](i) for i in range(n)]
          with ctx.Pool(${POOL}) as pool:
              pool.apply(ident, (1,))
              out['cold:' + key] = rate(pool, FNS[fn], xs)
              out['early:' + key] = statistics.median([rate(pool, FNS[fn], xs) for _ in range(3)])
              for _ in range(${WARM_UP_MAPS}): rate(pool, FNS[fn], xs)
              out['warm:' + key] = statistics.median([rate(pool, FNS[fn], xs) for _ in range(3)])
      with ctx.Pool(${POOL}) as pool:
          for i in range(200): pool.apply(ident, (i,))
          t = time.perf_counter()
          for i in range(${ROUND_TRIPS}): pool.apply(ident, (i,))
          out['roundTrip:apply'] = (time.perf_counter() - t) / ${ROUND_TRIPS} * 1e6
          t = time.perf_counter()
          for i in range(${ROUND_TRIPS}): pool.apply_async(ident, (i,)).get()
          out['roundTrip:get'] = (time.perf_counter() - t) / ${ROUND_TRIPS} * 1e6
          out['one'] = rate(pool, square, list(range(${ONE_BY_ONE})), 1)
          for _ in range(${ONE_BY_ONE_WARM_UP}): rate(pool, square, list(range(${ONE_BY_ONE})), 1)
          out['oneWarm'] = statistics.median([rate(pool, square, list(range(${ONE_BY_ONE})), 1) for _ in range(3)])
          for key, size, tasks in ${PAYLOADS_PY}:
              def payload_rate():
                  arrays = [array.array('d', bytes(size)) for _ in range(tasks)]
                  t = time.perf_counter(); pool.map(ident, arrays, 1)
                  return tasks * size / 1e9 / (time.perf_counter() - t)
              out[key] = payload_rate()
              for _ in range(${WARM_UP_PAYLOAD_MAPS}): payload_rate()
              out[key + 'Warm'] = statistics.median([payload_rate() for _ in range(3)])
      if ${first ? 'True' : 'False'}:
          out['startFork'] = startup('fork')
          out['startForkserver'] = startup('forkserver')
      print(json.dumps(out))
`, { timeoutMs: 300_000 });

export async function run() {
  const ours = new Samples();
  const py = new Samples();
  const peers = new Samples();
  // A fork refuses to run beside the peers' threads: its startup samples come first.
  for (let round = 0; round < ROUNDS; round++) ours.add('startFork', startup('fork'));
  const started = await startPeers(peers);
  for (let round = 0; round < ROUNDS; round++) {
    py.merge(await pythonRound(round === 0));
    ours.merge(await ourRound());
    ours.add('startForkserver', startup('forkserver'));
    peers.merge(await peerRound(started));
  }
  // A peer's shutdown that never settled (1 run in 8; which peer is not known yet) left this module's
  // top-level await unsettled, and the run ended with exit code 13: each peer gets 10 s, then is named.
  for (const [name, peer] of started) {
    let timer;
    const gaveUp = await Promise.race([peer.close(), new Promise((resolve) => (timer = setTimeout(resolve, 10_000, 'gave up')))]);
    clearTimeout(timer);
    if (gaveUp === 'gave up') console.error(`pool bench: ${name} did not shut down within 10 s`);
  }
  const peerFigures = (key) => {
    const out = {};
    for (const name of PEERS) if (peers.median(`${key}:${name}`) !== undefined) out[name] = peers.median(`${key}:${name}`);
    return out;
  };
  const row = (name, unit, key, { better = 'higher', target, peerKey, pyKey = key } = {}) => ({
    name,
    unit,
    ours: ours.median(key),
    range: ours.range(key),
    baselines: peerKey ? peerFigures(peerKey) : {},
    cpython: py.median(pyKey),
    cpythonRange: py.range(pyKey),
    better,
    target,
  });
  return [
    ...SHAPES.flatMap((shape) => [
      row(`Pool(2).map, ${shape.label}: first map`, 'tasks/s', `cold:${shape.key}`),
      row(`Pool(2).map, ${shape.label}: maps 2–4 of a new pool`, 'tasks/s', `early:${shape.key}`),
      row(`Pool(2).map, ${shape.label}: warm (maps ${WARM_UP_MAPS + 5}–${WARM_UP_MAPS + 7})`, 'tasks/s', `warm:${shape.key}`),
    ]),
    row('one message per task (chunksize 1; peers: 20k submits)', 'tasks/s', 'one', { peerKey: 'one', target: 60e3 }),
    row(`the same, warm (maps ${ONE_BY_ONE_WARM_UP + 2}–${ONE_BY_ONE_WARM_UP + 4} of it)`, 'tasks/s', 'oneWarm', { peerKey: 'one', target: 60e3 }),
    row('task round trip, apply() (calls 200–500 of a new pool)', 'µs', 'roundTrip:apply', { better: 'lower', target: 15, peerKey: 'roundTrip' }),
    row(`task round trip, apply(), warm (after ${WARM_UP_CALLS} more calls)`, 'µs', 'roundTripWarm:apply', { better: 'lower', target: 15, peerKey: 'roundTrip', pyKey: 'roundTrip:apply' }),
    row(`task round trip, applyAsync().get(), warm (after ${WARM_UP_CALLS} more gets)`, 'µs', 'roundTripWarm:get', { better: 'lower', target: 15, peerKey: 'roundTrip', pyKey: 'roundTrip:get' }),
    row(`task round trip, await applyAsync(), warm (after ${WARM_UP_CALLS} more awaits)`, 'µs', 'roundTripWarm:await', { better: 'lower', target: 15, peerKey: 'roundTrip', pyKey: 'roundTrip:get' }),
    row('task round trip, applyAsync().get()', 'µs', 'roundTrip:get', { better: 'lower', target: 15, peerKey: 'roundTrip' }),
    row('task round trip, await applyAsync() (CPython: get())', 'µs', 'roundTrip:await', { better: 'lower', target: 15, peerKey: 'roundTrip', pyKey: 'roundTrip:get' }),
    row('task round trip, await applyAsync((x) => x, …) written in the call (CPython: get() of a def)', 'µs', 'roundTrip:inline', { better: 'lower', target: 15, peerKey: 'roundTrip', pyKey: 'roundTrip:get' }),
    row('the same, the closure capturing a module-level const', 'µs', 'roundTrip:inlineCaptures', { better: 'lower', target: 15, peerKey: 'roundTrip', pyKey: 'roundTrip:get' }),
    row('Pool(2) constructor → first result, fork', 'ms', 'startFork', { better: 'lower', target: 10 }),
    { ...row('Pool(2) constructor → first result, forkserver', 'ms', 'startForkserver', { better: 'lower', target: 10 }), baselines: peerFigures('startup') },
    ...PAYLOADS.flatMap(({ key, label }) => [
      row(`${label}: a new pool's first such map (peers: their pool's)`, 'GB/s', key, { peerKey: key, target: 2 }),
      row(`${label}: warm (maps ${WARM_UP_PAYLOAD_MAPS + 2}–${WARM_UP_PAYLOAD_MAPS + 4} of one pool)`, 'GB/s', `${key}Warm`, { peerKey: `${key}Warm`, target: 2 }),
    ]),
  ];
}
