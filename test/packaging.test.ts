// Packaging: the npm tarball installs into an empty project and loads from ESM and CJS, once with a
// prebuild (installed with --ignore-scripts, so nothing can compile) and compiled from source, when no
// prebuild fits and when --build-from-source asks for it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { installInto, npm, pack, pkg, root, run } from './helpers/npm-project';

const specifiers = Object.keys(pkg.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? pkg.name : `${pkg.name}${key.slice(1)}`));
const platformDir = `${process.platform}-${process.arch}`;
const slow = 240_000;

interface Loaded {
  cpuCount: number;
  exportCounts: Record<string, number>;
  binary: string;
}

/** Loads every entry point from the project with `import` (.mjs) and `require` (.cjs). */
async function load(project: string): Promise<Loaded[]> {
  const list = JSON.stringify(specifiers);
  const binary = `require('node-gyp-build').path(path.dirname(require.resolve('${pkg.name}/package.json')))`;
  const esm = [
    `import { createRequire } from 'node:module';`,
    `import * as path from 'node:path';`,
    `const require = createRequire(import.meta.url);`,
    `const exportCounts = {};`,
    `for (const s of ${list}) exportCounts[s] = Object.keys(await import(s)).length;`,
    `const { cpuCount } = await import('${pkg.name}');`,
    `console.log(JSON.stringify({ cpuCount: cpuCount(), exportCounts, binary: ${binary} }));`,
  ];
  const cjs = [
    `const path = require('node:path');`,
    `const exportCounts = {};`,
    `for (const s of ${list}) exportCounts[s] = Object.keys(require(s)).length;`,
    `console.log(JSON.stringify({ cpuCount: require('${pkg.name}').cpuCount(), exportCounts, binary: ${binary} }));`,
  ];
  const results: Loaded[] = [];
  for (const [file, lines] of [['load.mjs', esm], ['load.cjs', cjs]] as const) {
    fs.writeFileSync(path.join(project, file), lines.join('\n') + '\n');
    const { stdout } = await run(process.execPath, [file], { cwd: project });
    results.push(JSON.parse(stdout) as Loaded);
  }
  return results;
}

function expectLoaded(results: Loaded[], binaryUnder: string): void {
  for (const result of results) {
    expect(result.cpuCount).toBeGreaterThanOrEqual(1);
    expect(Object.keys(result.exportCounts)).toEqual(specifiers);
    for (const count of Object.values(result.exportCounts)) expect(count).toBeGreaterThan(0);
    expect(result.binary.startsWith(binaryUnder + path.sep)).toBe(true);
  }
}

describe('npm package', () => {
  let work: string;
  let stage: string;
  let sourceTarball: string;
  /** Made by the first test: the package with this platform's prebuild. */
  let prebuiltTarball: string;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-packaging-'));
    // Stage the published file set, minus any prebuilds lying in the checkout, so both paths are controlled.
    const published = await pack(root, path.join(work, 'published'));
    await run('tar', ['-xzf', published, '-C', work]);
    stage = path.join(work, 'package');
    fs.rmSync(path.join(stage, 'prebuilds'), { recursive: true, force: true });
    sourceTarball = await pack(stage, path.join(work, 'source'));
  }, slow);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('installs with --ignore-scripts and loads the prebuild', async () => {
    // prebuildify needs node-addon-api and its own binary: borrow this checkout's node_modules.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
    await npm(stage, ['run', 'prebuildify']);
    prebuiltTarball = await pack(stage, path.join(work, 'prebuilt'));

    const project = path.join(work, 'prebuilt-consumer');
    const installed = await installInto(project, prebuiltTarball, ['--ignore-scripts']);
    expect(fs.readdirSync(path.join(installed, 'prebuilds', platformDir)).filter((f) => f.endsWith('.node'))).toHaveLength(1);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expectLoaded(await load(project), path.join(fs.realpathSync(installed), 'prebuilds', platformDir));
  }, slow);

  it('compiles from source when no prebuild fits', async () => {
    const project = path.join(work, 'source-consumer');
    const installed = await installInto(project, sourceTarball, []);
    expect(fs.existsSync(path.join(installed, 'prebuilds', platformDir))).toBe(false);
    expectLoaded(await load(project), path.join(fs.realpathSync(installed), 'build', 'Release'));
  }, slow);

  it('compiles from source with --build-from-source although a prebuild fits', async () => {
    const project = path.join(work, 'forced-source-consumer');
    const installed = await installInto(project, prebuiltTarball, ['--build-from-source']);
    expect(fs.readdirSync(path.join(installed, 'prebuilds', platformDir)).filter((f) => f.endsWith('.node'))).toHaveLength(1);
    expect(fs.existsSync(path.join(installed, 'build', 'Release', 'multiprocess_park.so'))).toBe(true);
    expectLoaded(await load(project), path.join(fs.realpathSync(installed), 'build', 'Release'));
  }, slow);
});

describe('prepack', () => {
  // A copy of what the check reads: its script, native/ and binding.gyp, and a prebuilds/ of its own.
  function copyOfSources(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-prepack-'));
    fs.cpSync(path.join(root, 'native'), path.join(dir, 'native'), { recursive: true });
    fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(dir, 'binding.gyp'));
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(path.join(root, 'scripts/check-prebuilds.mjs'), path.join(dir, 'scripts/check-prebuilds.mjs'));
    return dir;
  }

  it('refuses prebuilds built from other native sources (or unstamped), and passes stamped ones or none', async () => {
    const dir = copyOfSources();
    const check = (...args: string[]) => run(process.execPath, [path.join(dir, 'scripts/check-prebuilds.mjs'), ...args], { cwd: dir });
    try {
      await check(); // none: a source-only package
      const platform = path.join(dir, 'prebuilds', platformDir);
      fs.mkdirSync(platform, { recursive: true });
      await expect(check()).rejects.toThrow(/prebuilds\/.*built from other native sources/);
      await check('--write', platform);
      await check();
      fs.appendFileSync(path.join(dir, 'native', 'memfd.cc'), '\n// changed\n');
      await expect(check()).rejects.toThrow(/npm run build:prebuilds/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
