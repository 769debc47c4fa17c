// The release tarball on a machine with no compiler: packed with this platform's prebuilds (the
// N-API addon and the park addon per Node ABI), installed with --ignore-scripts by npm running on
// Node 20, 22 and 24 with g++, make and python3 hidden from PATH; under each, every start method
// runs a child, a Pool maps a closure and a Queue crosses processes, on the prebuilt binaries, and
// `multiprocess doctor` finds both prebuilds and passes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { DoctorReport } from '../lib/doctor';
import { nodeDir } from './helpers/node-versions';
import { npm, pack, pkg, root, run } from './helpers/npm-project';

const slow = 600_000;
const machineMajor = Number(process.versions.node.split('.')[0]);
const MAJORS = [20, 22, 24];
const platformDir = path.join('prebuilds', `${process.platform}-${process.arch}`);
// A compiler driver, make or python under any of the names Debian gives them.
const TOOLCHAIN = /^(?:[\w.]+-)?(?:g\+\+|gcc|c\+\+|cc|cpp|clang(?:\+\+)?|make|gmake|python\d*(?:\.\d+)?)(?:-\d+)?$/;

/** The release's binaries for this platform: built (prebuild.sh) when the checkout lacks them. */
async function prebuilds(abis: string[]): Promise<string[]> {
  const wanted = ['multiprocess.glibc.node', ...abis.map((abi) => `multiprocess_park.abi${abi}.glibc.so`)];
  const have = (): boolean => wanted.every((file) => fs.existsSync(path.join(root, platformDir, file)));
  if (!have()) await run('bash', [path.join(root, 'scripts', 'prebuild.sh')], { cwd: root, maxBuffer: 64 << 20 });
  expect(have()).toBe(true);
  return wanted;
}

/** A bin directory of links to everything on PATH but the toolchain. */
function pathWithoutToolchain(dir: string): string {
  fs.mkdirSync(dir);
  for (const entry of (process.env.PATH ?? '').split(path.delimiter)) {
    let names: string[];
    try {
      names = fs.readdirSync(entry);
    } catch {
      continue;
    }
    for (const name of names) {
      const link = path.join(dir, name);
      if (TOOLCHAIN.test(name) || fs.existsSync(link)) continue;
      fs.symlinkSync(path.join(entry, name), link);
    }
  }
  return dir;
}

const PROGRAM = `
const path = require('node:path');
const { getContext } = require('${pkg.name}');
const installed = path.dirname(require.resolve('${pkg.name}/package.json'));
const result = { binary: require('node-gyp-build').path(installed), methods: {} };
for (const method of ['fork', 'spawn', 'forkserver']) {
  const { Process, Pool, Queue } = getContext(method);
  const queue = new Queue();
  const child = new Process({ target: (q, name) => q.put({ name, pid: process.pid }), args: [queue, method] });
  child.start();
  const message = queue.get(true, 60_000);
  child.join();
  const factor = 3;
  const pool = new Pool(2);
  const mapped = pool.map((x) => x * factor, [1, 2, 3]);
  pool.close();
  pool.join();
  queue.close();
  result.methods[method] = { message, childPid: child.pid, exitcode: child.exitcode, mapped };
}
console.log(JSON.stringify(result));
`;

interface Result {
  binary: string;
  methods: Record<string, { message: { name: string; pid: number }; childPid: number; exitcode: number; mapped: number[] }>;
}

describe('the release tarball without a compiler', () => {
  let work: string;
  let tarball: string;
  let bareBin: string;
  const abis = new Map<number, string>();

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-no-compiler-'));
    for (const major of MAJORS) {
      const node = major === machineMajor ? process.execPath : path.join(await nodeDir(major), 'bin', 'node');
      abis.set(major, (await run(node, ['-p', 'process.versions.modules'])).stdout.trim());
    }
    const wanted = await prebuilds([...abis.values()]);
    tarball = await pack(root, work);
    const listed = (await run('tar', ['-tzf', tarball])).stdout.split('\n');
    for (const file of wanted) expect(listed).toContain(`package/${platformDir}/${file}`);
    bareBin = pathWithoutToolchain(path.join(work, 'bin'));
  }, slow);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('hides the toolchain', async () => {
    const { stdout } = await run('sh', ['-c', 'for t in g++ gcc cc c++ make python3 python; do command -v $t; done; true'], {
      env: { ...process.env, PATH: bareBin },
    });
    expect(stdout).toBe('');
  });

  const npmCli = async (): Promise<string> => path.join((await npm(root, ['root', '-g'])).trim(), 'npm', 'bin', 'npm-cli.js');

  it.each(MAJORS)('installs with --ignore-scripts and runs every start method on Node %i', async (major) => {
    const nodeBin = major === machineMajor ? path.dirname(process.execPath) : path.join(await nodeDir(major), 'bin');
    const node = path.join(nodeBin, 'node');
    // Only this node and the toolchain-free links: npm and the children find nothing else.
    const env = { ...process.env, PATH: `${nodeBin}${path.delimiter}${bareBin}` };
    for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key];
    const project = path.join(work, `node-${major}`);
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    await run(node, [await npmCli(), 'install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: project,
      env,
      maxBuffer: 64 << 20,
    });
    const installed = fs.realpathSync(path.join(project, 'node_modules', pkg.name));
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);

    fs.writeFileSync(path.join(project, 'check.cjs'), PROGRAM);
    const { stdout, stderr } = await run(node, ['check.cjs'], { cwd: project, env, timeout: 180_000 });
    // The park prebuild for this ABI loaded: fork warns when it runs unparked.
    expect(stderr).not.toContain('MPJS_FORK_UNPARKED');
    const result = JSON.parse(stdout) as Result;
    expect(result.binary).toBe(path.join(installed, platformDir, 'multiprocess.glibc.node'));
    for (const method of ['fork', 'spawn', 'forkserver']) {
      const { message, childPid, exitcode, mapped } = result.methods[method]!;
      expect(message).toEqual({ name: method, pid: childPid });
      expect(exitcode).toBe(0);
      expect(mapped).toEqual([3, 6, 9]);
    }

    // The doctor, as `npx multiprocess doctor` runs it: both binaries are this ABI's prebuilds.
    const doctor = await run(node, [path.join(project, 'node_modules', '.bin', 'multiprocess'), 'doctor', '--json'], { cwd: project, env, timeout: 180_000 });
    const report = JSON.parse(doctor.stdout) as DoctorReport;
    expect(report.ok).toBe(true);
    expect(report.facts.addon).toBe(`prebuild ${path.join(installed, platformDir, 'multiprocess.glibc.node')}`);
    expect(report.facts['park addon']).toBe(path.join(installed, platformDir, `multiprocess_park.abi${abis.get(major)}.glibc.so`));
  }, slow);
});
