// `npm run bench [-- name…]`: runs every bench module here (a .mjs exporting `async run()`, optionally
// filtered by file name), prints one table of ours beside the Node baselines and CPython measured in
// the same run, and (unfiltered) writes the rows to bench-results.json for refreshing the README.
//
// A row: { name, unit, ours, range?, baselines: { label: number }, baselineRanges?: { label: [min, max] }, cpython?,
// cpythonRange?, better: 'higher' | 'lower', target? } with every figure in `unit` (a range: [min, max] of the
// samples behind a median); `ours: null` marks
// a baseline row whose feature has not landed yet.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pythonVersion } from './cpython.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROWS_FILE = 'MPJS_BENCH_ROWS_FILE';

// Each module runs in a process of its own, as CPython's column does: what one module leaves in
// the heap (a pool bench's million-item lists) would otherwise slow the next one's forks and GCs.
if (process.env[ROWS_FILE]) {
  const { run } = await import(pathToFileURL(path.join(here, process.argv[2])).href);
  fs.writeFileSync(process.env[ROWS_FILE], JSON.stringify(typeof run === 'function' ? await run() : null));
  process.exit(0);
}

const filters = process.argv.slice(2);
const rows = [];
for (const file of fs.readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'index.mjs').sort()) {
  const module = file.slice(0, -'.mjs'.length);
  if (filters.length > 0 && !filters.some((f) => module.includes(f))) continue;
  const rowsFile = path.join(os.tmpdir(), `mpjs-bench-${process.pid}-${module}.json`);
  const start = performance.now();
  execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), file], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, [ROWS_FILE]: rowsFile },
  });
  const moduleRows = JSON.parse(fs.readFileSync(rowsFile, 'utf8'));
  fs.rmSync(rowsFile, { force: true });
  if (moduleRows === null) continue; // a helper, not a bench module
  process.stderr.write(`bench: ${module} ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
  for (const row of moduleRows) rows.push({ module, ...row });
}

function figure(value, unit) {
  if (value === null || value === undefined) return '—';
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : Math.max(2, 1 - Math.floor(Math.log10(value)) + 1);
  return `${value.toFixed(digits)} ${unit}`;
}

/** A median with the min–max of its samples when the row has them. */
function spread(value, range, unit) {
  if (!range || value === null || value === undefined) return figure(value, unit);
  const bare = (v) => figure(v, unit).slice(0, -unit.length - 1);
  return `${figure(value, unit)} (${bare(range[0])}–${bare(range[1])})`;
}

function meets(row) {
  return row.better === 'lower' ? row.ours <= row.target : row.ours >= row.target;
}

/** One table per bench module, with only the baseline columns its rows use. */
function render(moduleRows) {
  const labels = [...new Set(moduleRows.flatMap((row) => Object.keys(row.baselines)))];
  const header = ['operation', 'ours', ...labels, 'CPython', 'ours/CPython', 'target'];
  const table = moduleRows.map((row) => [
    row.name,
    spread(row.ours, row.range, row.unit),
    ...labels.map((label) => spread(row.baselines[label], row.baselineRanges?.[label], row.unit)),
    spread(row.cpython, row.cpythonRange, row.unit),
    row.ours != null && row.cpython ? `${(row.ours / row.cpython).toFixed(2)}×` : '—',
    row.target === undefined
      ? '—'
      : `${row.better === 'lower' ? '≤' : '≥'} ${row.target} ${row.unit}${row.ours == null ? '' : meets(row) ? ' ✓' : ' ✗'}`,
  ]);
  // Aligned pipes: readable in a terminal and a valid Markdown table for the README.
  const widths = header.map((_, i) => Math.max(...[header, ...table].map((cells) => cells[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`;
  return [line(header), rule, ...table.map(line)].join('\n');
}

const python = pythonVersion() ?? 'python3 not found: no CPython column';
console.log(`\nNode ${process.version}, ${python}, ${os.cpus().length} CPUs — medians; compare within one run`);
for (const module of [...new Set(rows.map((row) => row.module))]) {
  console.log(`\n### ${module}\n\n${render(rows.filter((row) => row.module === module))}`);
}

// Only a full run refreshes the results file the README table is made from.
if (filters.length === 0) {
  const out = path.join(here, '..', '..', 'bench-results.json');
  const results = { date: new Date().toISOString(), node: process.version, python: pythonVersion(), cpus: os.cpus().length, rows };
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
}
