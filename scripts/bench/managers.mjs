// Bench rows for managers: a proxy method round trip (blocking and Async), 10k dict sets from 4
// processes at once, and Manager() start until the first proxy call returns, beside CPython's
// multiprocessing managers measured in the same run.
import { createRequire } from 'node:module';
import { cpython } from './cpython.mjs';
import { medianOf, timePerOp } from './measure.mjs';

const require = createRequire(import.meta.url);
const mp = require('../../dist/index.js');

const SETS = 10_000;
const WRITERS = 4;

export async function run() {
  const manager = new mp.Manager();
  const l = manager.list();
  const d = manager.dict({ k: 1 });
  const us = (ms) => ms * 1000;
  const append = us(await timePerOp(() => l.append(1), { batch: 2000 }));
  const get = us(await timePerOp(() => d.get('k'), { batch: 2000 }));
  const appendAsync = us(await timePerOp(() => l.appendAsync(1), { batch: 2000 }));
  const getAsync = us(await timePerOp(() => d.getAsync('k'), { batch: 2000 }));

  const { Process } = mp.getContext('fork');
  const sets = await medianOf(
    async () => {
      const shared = manager.dict();
      const start = performance.now();
      const writers = Array.from({ length: WRITERS }, (_, w) => new Process({ target: (dd, w) => { for (let i = 0; i < SETS / WRITERS; i++) dd.set(`${w}:${i}`, i); }, args: [shared, w] }));
      for (const writer of writers) writer.start();
      for (const writer of writers) await writer.joinAsync();
      const ms = performance.now() - start;
      if (shared.size !== SETS) throw new Error(`dict has ${shared.size} of ${SETS} keys`);
      return ms;
    },
    { samples: 3 },
  );
  manager.shutdown();

  const startup = await medianOf(
    async () => {
      const start = performance.now();
      const m = new mp.Manager();
      m.list().append(1);
      const ms = performance.now() - start;
      await m.shutdownAsync();
      return ms;
    },
    { samples: 5 },
  );

  const py = await cpython(`
    import multiprocessing as mp
    def writer(d, w, n):
        for i in range(n):
            d['%d:%d' % (w, i)] = i
    if __name__ == '__main__':
        m = mp.Manager()
        l = m.list()
        d = m.dict({'k': 1})
        append = median_ms(lambda: l.append(1), batch=2000) * 1000
        get = median_ms(lambda: d.get('k'), batch=2000) * 1000
        def sets():
            shared = m.dict()
            start = time.perf_counter()
            ps = [mp.Process(target=writer, args=(shared, w, ${SETS / WRITERS})) for w in range(${WRITERS})]
            for p in ps: p.start()
            for p in ps: p.join()
            assert len(shared) == ${SETS}
            return (time.perf_counter() - start) * 1000
        many = median_of(sets, samples=3)
        m.shutdown()
        def startup():
            start = time.perf_counter()
            m = mp.Manager()
            m.list().append(1)
            ms = (time.perf_counter() - start) * 1000
            m.shutdown()
            return ms
        print(json.dumps({'append': append, 'get': get, 'sets': many, 'startup': median_of(startup, samples=5)}))
  `);

  return [
    { name: 'proxy round trip l.append(1)', unit: 'µs', ours: append, baselines: {}, cpython: py?.append, better: 'lower', target: py ? +(0.3 * py.append).toFixed(1) : 7 },
    { name: 'proxy round trip d.get(k)', unit: 'µs', ours: get, baselines: {}, cpython: py?.get, better: 'lower', target: py ? +(0.3 * py.get).toFixed(1) : 7 },
    { name: 'await l.appendAsync(1)', unit: 'µs', ours: appendAsync, baselines: {}, cpython: py?.append, better: 'lower' },
    { name: 'await d.getAsync(k)', unit: 'µs', ours: getAsync, baselines: {}, cpython: py?.get, better: 'lower' },
    { name: `${SETS / 1000}k d.set from ${WRITERS} processes (fork)`, unit: 'ms', ours: sets, baselines: {}, cpython: py?.sets, better: 'lower' },
    { name: 'Manager() start → first call', unit: 'ms', ours: startup, baselines: {}, cpython: py?.startup, better: 'lower', target: py ? +(0.5 * py.startup).toFixed(1) : undefined },
  ];
}
