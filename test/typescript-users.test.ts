// TypeScript users, as they run TypeScript: the README's quick start and every example, saved as
// .mts files (top-level await) in a fresh project as `npm init -y` makes it ("type": "commonjs")
// that installed the packed package, with classes sent by value,
// run with tsx (Node 20, 22) and with Node's own type stripping (Node 24), under every start method. Where a loader thread
// rules fork out (tsx), fork refuses with the fix in its message and the other methods work.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { installInto, pack, pkg, root, run } from './helpers/npm-project';
import { nodeDir, parkAddon } from './helpers/node-versions';

type Method = 'fork' | 'spawn' | 'forkserver';
const METHODS: Method[] = ['fork', 'spawn', 'forkserver'];
const slow = 240_000;

interface Runtime {
  label: string;
  major: number;
  /** Runs a .ts file as its users do: tsx, or node itself. */
  tsx: boolean;
  /** Programs it runs (all of them unless said). */
  programs?: string[];
}

const RUNTIMES: Runtime[] = [
  { label: `tsx on Node ${process.versions.node}`, major: Number(process.versions.node.split('.')[0]), tsx: true },
  { label: 'tsx on Node 22', major: 22, tsx: true, programs: ['readme'] },
  // Node 22's type stripping cannot run these: its V8 has no `using` (a SyntaxError there).
  { label: 'type stripping on Node 24', major: 24, tsx: false },
];

/** The README's quick start, as a user copies it. */
function readmeQuickStart(): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const block = /## Quick start\s+```ts\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no ```ts block under "## Quick start"');
  return block[1]!;
}

/** An example as a user copies it out of the repository: importing the package by name. */
function example(name: string): string {
  return fs.readFileSync(path.join(root, 'examples', `${name}.ts`), 'utf8').replaceAll(`from '../lib/index'`, `from '${pkg.name}'`);
}

// `using` in Pool tasks: the transpiled helpers (__using, __callDispose) travel with the task.
const USING_TASK = `import { getContext } from '${pkg.name}';

function task(n: number): string {
  const log: string[] = [];
  {
    using _scope = { [Symbol.dispose]: (): void => void log.push('disposed') };
    log.push(\`ran \${n}\`);
  }
  return log.join(' ');
}

using pool = new (getContext('fork').Pool)(2);
console.log(JSON.stringify(pool.map(task, [1, 2, 3])));
`;

// Classes sent by value from a .ts file: tsx (esbuild's keepNames) gives each a static block calling
// the module's __name helper, which the class captures; a static field uses a helper, a static block
// a registry, and a computed key a function nothing else reads (V8 keeps it in no closure).
const CLASSES = `import { getContext, Queue } from '${pkg.name}';

const stepName = (n: number): string => \`step\${n}\`;
const lengthOf = (s: string): number => s.length;
const registry: Function[] = [];

class Timer {
  static unit = lengthOf('steps');
  static {
    registry.push(this);
  }
  ms: number;
  constructor(ms: number) {
    this.ms = ms;
  }
  [stepName(1)](): string {
    return \`\${this.ms * Timer.unit}\`;
  }
}

class Reporter extends getContext('fork').Process {
  queue: Queue;
  timer: Timer;
  constructor(queue: Queue, timer: Timer) {
    super();
    this.queue = queue;
    this.timer = timer;
  }
  run(): void {
    const timer = this.timer as Timer & Record<string, () => string>;
    this.queue.put([Reporter.name, Timer.name, timer.step1(), timer instanceof Timer && registry.includes(Timer)]);
  }
}

const queue = new Queue();
const child = new Reporter(queue, new Timer(2));
child.start();
console.log(JSON.stringify(queue.get(true, 30_000)));
child.join();
queue.close();
console.log('exit code', child.exitcode);
`;

interface Program {
  source: () => string;
  /** What stdout must hold, whitespace runs made single spaces. */
  expected: string;
}

const PROGRAMS: Record<string, Program> = {
  readme: { source: readmeQuickStart, expected: `40000 15 { from: 'child' } [ 0, 2, 6, 12, 20, 30, 42, 56, 72, 90 ]` },
  quickstart: {
    source: () => example('quickstart'),
    expected: JSON.stringify({ count: 40_000, added: 15, greeting: { from: 'child' }, mapped: [0, 2, 6, 12, 20, 30, 42, 56, 72, 90] }),
  },
  progress: { source: () => example('progress'), expected: 'largest count: 2412' },
  'using-task': { source: () => USING_TASK, expected: JSON.stringify(['ran 1 disposed', 'ran 2 disposed', 'ran 3 disposed']) },
  classes: { source: () => CLASSES, expected: `${JSON.stringify(['Reporter', 'Timer', '10', true])} exit code 0` },
};

const CONTEXT_CALL = /getContext\('(?:fork|spawn|forkserver)'\)/g;

/** The program with its start method switched, as a user edits `getContext('forkserver')`. */
function withMethod(source: string, method: Method): string {
  if (source.search(CONTEXT_CALL) < 0) throw new Error(`expected getContext('<method>') in:\n${source}`);
  return source.replace(CONTEXT_CALL, `getContext('${method}')`);
}

let work: string;
/** One project per Node major: the same install, with the park addon of that major. */
const projects = new Map<number, string>();

async function runProgram(runtime: Runtime, file: string, nodeOptions?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const project = projects.get(runtime.major)!;
  const bin = runtime.major === RUNTIMES[0]!.major ? path.dirname(process.execPath) : path.join(await nodeDir(runtime.major), 'bin');
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, NO_COLOR: '1', ...(nodeOptions && { NODE_OPTIONS: nodeOptions }) };
  const [command, args] = runtime.tsx ? [path.join(project, 'node_modules', '.bin', 'tsx'), [file]] : [path.join(bin, 'node'), [file]];
  try {
    const { stdout, stderr } = await run(command, args, { cwd: project, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; killed?: boolean; stdout: string; stderr: string };
    if (failed.killed) throw new Error(`${runtime.label}: ${file} did not end in 60 s\n${failed.stderr}`);
    return { code: Number(failed.code), stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mpjs-typescript-users-'));
  const others = ['tsx', 'cli-progress'].map((name) => {
    const { version } = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return `${name}@${version}`;
  });
  const majors = [...new Set(RUNTIMES.map((runtime) => runtime.major))];
  const [tarball, ...parks] = await Promise.all([
    pack(root, path.join(work, 'tarball')),
    ...majors.slice(1).map((major) => parkAddon(major)),
  ]);
  // Installed without its install script: packaging.test.ts covers the build; here the package
  // gets the addons built for this checkout, as an install on each Node would build them.
  const base = path.join(work, `node-${majors[0]}`);
  const installed = await installInto(base, tarball!, ['--ignore-scripts'], { others, fields: { type: 'commonjs' } });
  const release = path.join(installed, 'build', 'Release');
  fs.mkdirSync(release, { recursive: true });
  for (const addon of ['multiprocess.node', 'multiprocess_park.so']) fs.copyFileSync(path.join(root, 'build', 'Release', addon), path.join(release, addon));
  projects.set(majors[0]!, base);
  majors.slice(1).forEach((major, i) => {
    const project = path.join(work, `node-${major}`);
    fs.cpSync(base, project, { recursive: true, verbatimSymlinks: true });
    fs.copyFileSync(parks[i]!, path.join(project, 'node_modules', pkg.name, 'build', 'Release', 'multiprocess_park.so'));
    projects.set(major, project);
  });
  for (const project of projects.values())
    for (const [name, program] of Object.entries(PROGRAMS))
      for (const method of METHODS) fs.writeFileSync(path.join(project, `${name}-${method}.mts`), withMethod(program.source(), method));
}, slow);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.concurrent.each(RUNTIMES)('$label', (runtime) => {
  const programs = runtime.programs ?? Object.keys(PROGRAMS);
  // Under tsx fork refuses at the first start whatever the program: the README's shows it.
  const cases = programs.flatMap((name) => METHODS.filter((method) => !(runtime.tsx && method === 'fork' && name !== 'readme')).map((method) => ({ name, method })));

  it.each(cases)('$name under $method', async ({ name, method }) => {
    const { code, stdout, stderr } = await runProgram(runtime, `${name}-${method}.mts`);
    if (runtime.tsx && method === 'fork') {
      // tsx's hooks run on a loader thread: fork refuses, and says what to do instead.
      expect(code).not.toBe(0);
      expect(stderr).toContain('ERR_MP_FORK_UNSAFE');
      expect(stderr).toMatch(/This process runs with --import \S*tsx\S*: a module loader .* Use the default 'forkserver' or 'spawn' start method/);
      return;
    }
    // No child died (a bare TypeError from the using helpers), none left its lock to be taken over.
    expect(stderr).not.toMatch(/Error|ERR_/);
    expect(code).toBe(0);
    expect(stdout.replace(/\s+/g, ' ').trim()).toContain(PROGRAMS[name]!.expected);
  });
});

describe.concurrent('tsx loaded through NODE_OPTIONS (node quick.mts)', () => {
  const plainNode: Runtime = { ...RUNTIMES[0]!, label: 'node with NODE_OPTIONS=--import tsx', tsx: false };

  it('the forkserver runs without the loader from NODE_OPTIONS too', async () => {
    const { code, stdout, stderr } = await runProgram(plainNode, 'readme-forkserver.mts', '--import tsx');
    expect(stderr).not.toMatch(/Error|ERR_/);
    expect(code).toBe(0);
    expect(stdout.replace(/\s+/g, ' ').trim()).toContain(PROGRAMS.readme!.expected);
  });

  it('fork refuses, naming the loader in NODE_OPTIONS', async () => {
    const { code, stderr } = await runProgram(plainNode, 'readme-fork.mts', '--import tsx');
    expect(code).not.toBe(0);
    expect(stderr).toContain('ERR_MP_FORK_UNSAFE');
    expect(stderr).toContain('This process runs with --import tsx: a module loader');
  });
});
