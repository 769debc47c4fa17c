// Serializer bench: dumps+loads round trips next to v8.serialize, JSON and msgpackr from the same run.
// `node scripts/bench/serializer.mjs` prints a table; `run()` returns the rows.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as v8 from 'node:v8';
import { Packr } from 'msgpackr';

const require = createRequire(import.meta.url);
const { dumps, loads } = require('../../dist/serializer/index.js');

/**
 * Round trips per second of `fn` over about `ms` milliseconds, after a timed warm-up: a fixed 50
 * calls left the JIT still compiling (or recovering from the previous row's deopts), and the first
 * repeated dumps of a closure analyses its script once (tens of ms, more with thousands of scripts).
 */
function rate(fn, ms = 300, warmup = 500) {
  for (const start = performance.now(); performance.now() - start < warmup; ) for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    elapsed = performance.now() - start;
  }
  return (n * 1000) / elapsed;
}

const packr = new Packr({ structuredClone: true });
const codecs = {
  ours: (v) => loads(dumps(v)),
  'v8.serialize': (v) => v8.deserialize(v8.serialize(v)),
  JSON: (v) => JSON.parse(JSON.stringify(v)),
  msgpackr: (v) => packr.unpack(packr.pack(v)),
};

function row(name, value, unit = 'round trips/s', scale = 1) {
  const measure = (codec) => rate(() => codec(value)) * scale;
  return {
    name,
    ours: measure(codecs.ours),
    baselines: { 'v8.serialize': measure(codecs['v8.serialize']), JSON: measure(codecs.JSON), msgpackr: measure(codecs.msgpackr) },
    unit,
    better: 'higher',
  };
}

export async function run() {
  const big = new Float64Array(131072).map((_, i) => i * 0.5);
  const objects = Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: `item${i}`, ok: i % 2 === 0 }));
  const small = row('small message', [1, 'abc', { a: 1 }]);
  // Issue 4's target for small messages is relative: within 1.5× of raw v8.serialize's time.
  small.target = Math.round(small.baselines['v8.serialize'] / 1.5);
  const rows = [
    small,
    { ...row('1 MiB Float64Array', big, 'GB/s', big.byteLength / 1e9), target: 2 },
    row('10k small objects', objects),
  ];
  const k = 3;
  const closure = (x) => x * k;
  // First: a new function source each time (analysis, scope read and factory compile all paid).
  let i = 0;
  const first = rate(() => {
    const f = new Function('k', `return (x) => x * k + ${i++}`)(k);
    loads(dumps(f));
  }, 300);
  rows.push({ name: 'closure (first)', ours: first, baselines: {}, unit: 'round trips/s', better: 'higher' });
  rows.push({ name: 'closure (cached)', ours: rate(() => loads(dumps(closure))), baselines: {}, unit: 'round trips/s', better: 'higher', target: 200_000 });
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const fmt = (x) => (x === undefined ? '-' : x >= 100 ? Math.round(x).toLocaleString('en') : x.toFixed(2));
  const rows = await run();
  console.log('| row | ours | v8.serialize | JSON | msgpackr | unit |\n|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.name} | ${fmt(r.ours)} | ${fmt(r.baselines['v8.serialize'])} | ${fmt(r.baselines.JSON)} | ${fmt(r.baselines.msgpackr)} | ${r.unit} |`);
}
