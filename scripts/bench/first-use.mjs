// Bench rows for a program's first minute, as a user's script meets it: each sample is a fresh
// program (an ES module for ours, a script for CPython) that imports the package, starts Pool(2) and
// times its first result, then a 1k-item map, then a first map of 100k small ints and one of 100k
// small objects. The other pool rows run in a process whose code and forkserver are warm already.
// `npm run bench -- first-use`.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { cpython } from './cpython.mjs';
import { median } from './measure.mjs';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const ENTRY = pathToFileURL(path.join(here, '../../dist/esm/index.mjs')).href;
const METHODS = ['fork', 'forkserver', 'spawn'];
const SAMPLES = 5;
const N = 100_000;


// Times from just before the import, so the package's own load counts as it does for a user.
const PROGRAM = `
const t0 = performance.now();
const mp = await import(${JSON.stringify(ENTRY)});
const square = (x) => x * x;
const identity = (x) => x;
const pool = new (mp.getContext(process.argv[2]).Pool)(2);
pool.apply(square, [1]);
const start = performance.now() - t0;
pool.map(square, Array.from({ length: 1000 }, (_, i) => i));
const rate = (fn, items) => { const t = performance.now(); pool.map(fn, items); return items.length / ((performance.now() - t) / 1000); };
const ints = rate(square, Array.from({ length: ${N} }, (_, i) => i));
const objects = rate(identity, Array.from({ length: ${N} }, (_, i) => ({ id: i, name: 'x', ok: true })));
pool.terminate();
pool.join();
console.log(JSON.stringify({ start, ints, objects }));
`;

async function ours(file, method) {
  const { stdout } = await execFileAsync(process.execPath, [file, method], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop());
}

const python = (method) =>
  cpython(`
  t0 = time.perf_counter()
  import multiprocessing as mp
  def square(x): return x * x
  def identity(x): return x
  def rate(pool, fn, items):
      t = time.perf_counter(); pool.map(fn, items); return len(items) / (time.perf_counter() - t)
  if __name__ == '__main__':
      pool = mp.get_context('${method}').Pool(2)
      pool.apply(square, (1,))
      start = (time.perf_counter() - t0) * 1e3
      pool.map(square, range(1000))
      ints = rate(pool, square, list(range(${N})))
      objects = rate(pool, identity, [{'id': i, 'name': 'x', 'ok': True} for i in range(${N})])
      pool.terminate(); pool.join()
      print(json.dumps({'start': start, 'ints': ints, 'objects': objects}))`);

const ROWS = [
  { key: 'start', label: (m) => `a program's first Pool(2), ${m}: import → first result`, unit: 'ms', better: 'lower' },
  { key: 'ints', label: (m) => `a program's first map of 100k small ints (x*x, after a 1k map), ${m}`, unit: 'tasks/s', better: 'higher' },
  { key: 'objects', label: (m) => `a program's first map of 100k small objects (identity), ${m}`, unit: 'tasks/s', better: 'higher' },
];

export async function run() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-bench-first-'));
  const file = path.join(dir, 'first-use.mjs');
  fs.writeFileSync(file, PROGRAM);
  const samples = Object.fromEntries(METHODS.map((m) => [m, { ours: [], cpython: [] }]));
  try {
    for (let round = 0; round < SAMPLES; round++) {
      for (const method of METHODS) {
        samples[method].ours.push(await ours(file, method));
        const py = await python(method);
        if (py) samples[method].cpython.push(py);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return ROWS.flatMap(({ key, label, unit, better }) =>
    METHODS.map((method) => {
      const o = samples[method].ours.map((s) => s[key]);
      const c = samples[method].cpython.map((s) => s[key]);
      return {
        name: label(method),
        unit,
        ours: median(o),
        range: [Math.min(...o), Math.max(...o)],
        baselines: {},
        cpython: c.length ? median(c) : undefined,
        cpythonRange: c.length ? [Math.min(...c), Math.max(...c)] : undefined,
        better,
      };
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await run());
