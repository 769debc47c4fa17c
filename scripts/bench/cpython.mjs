// Runs a CPython snippet during the bench run, so CPython's multiprocessing is measured under the same load as ours.
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// Python twins of measure.mjs, so both sides time the same way.
const PRELUDE = `
import json, statistics, time

def median_ms(fn, samples=15, batch=1, warmup=2):
    times = []
    for i in range(-warmup, samples):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        if i >= 0:
            times.append((time.perf_counter() - start) * 1000 / batch)
    return statistics.median(times)

def median_of(sample, samples=10, warmup=1):
    return statistics.median([sample() for i in range(-warmup, samples)][warmup:])
`;

let version;

/** `Python 3.x.y` when python3 is on PATH, else null. */
export function pythonVersion() {
  if (version === undefined) {
    const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
    version = probe.status === 0 ? probe.stdout.trim() : null;
  }
  return version;
}

function dedent(text) {
  const lines = text.replace(/^\n+|\s+$/g, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/**
 * Runs `snippet` (after PRELUDE's median_ms/median_of) as a script file, so children started with
 * the spawn method can import it: guard process starts with `if __name__ == '__main__':`. Returns
 * the JSON value (a number or an object of numbers) printed on its last line, or undefined when
 * python3 is missing or the snippet fails (reported on stderr; the bench goes on without it).
 */
export async function cpython(snippet, { timeoutMs = 120_000 } = {}) {
  if (!pythonVersion()) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-bench-py-'));
  const file = path.join(dir, 'bench.py');
  fs.writeFileSync(file, `${PRELUDE}\n${dedent(snippet)}\n`);
  try {
    const { stdout } = await run('python3', [file], { timeout: timeoutMs });
    return JSON.parse(stdout.trim().split('\n').pop());
  } catch (error) {
    console.error(`cpython: snippet failed: ${error.stderr || error.message}`);
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
