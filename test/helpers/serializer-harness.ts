// Shared by the serializer tests: the BUILT serializer (rebuilt when lib/ is newer than dist/) and
// a runner that round-trips many messages through one fresh node process.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

const root = path.resolve(here, '../..');
const built = path.join(root, 'dist/serializer/index.js');

function newest(dir: string): number {
  return Math.max(...fs.readdirSync(dir).map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
}

export function loadBuilt(): typeof import('../../lib/serializer/index') {
  if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < newest(path.join(root, 'lib/serializer')))
    execFileSync('npm', ['run', 'build:ts'], { cwd: root, stdio: 'ignore' });
  return createRequire(import.meta.url)(built);
}

export const requireHelper = createRequire(import.meta.url);

export interface Answer {
  ok?: string;
  error?: string;
}

/** Sends each message to one fresh `node serializer-child.cjs` and collects its answers in order. */
export function roundTrip(messages: Buffer[], execArgv: string[] = []): Promise<Answer[]> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...execArgv, path.join(here, 'serializer-child.cjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) return fail(new Error(`serializer child exited with ${code}`));
      done(out.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Answer));
    });
    child.stdin.end(messages.map((m) => m.toString('base64')).join('\n') + '\n');
  });
}
