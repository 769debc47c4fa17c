// The short form of the start-method stress gate (scripts/stress.mjs): a few children per method,
// half of them GC-heavy, from a busy parent; any hang or crash fails. The full gate is run by hand.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { expect, it } from 'vitest';

const script = path.resolve(__dirname, '..', 'scripts', 'stress.mjs');

it('4 children per start method, half GC-heavy, from a busy parent: no hang, no crash', async () => {
  const child = spawn(process.execPath, [script, '--children', '4', '--timeout', '20000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const results = [...output.matchAll(/^stress: (.*)$/gm)].map(([, json]) => JSON.parse(json!));
  expect(results.map((r) => [r.method, r.children, r.hangs, r.crashes, r.error]), output).toEqual(
    ['forkserver', 'spawn', 'fork'].map((method) => [method, 4, 0, 0, undefined]),
  );
  expect(code, output).toBe(0);
}, 120_000);
