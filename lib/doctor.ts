// `npx multiprocess doctor`: what this machine offers the package (Node, the binaries loaded, start
// methods, /dev/shm, CPUs, fork) and a short self-test of each primitive across a child; a failure
// exits non-zero with the fix to try. The addon is loaded lazily, so a missing binary is reported too.
import * as fs from 'node:fs';
import * as inspector from 'node:inspector';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';

import { loaderFlags } from './popen/flags';

type Api = typeof import('./index') &
  Pick<typeof import('./shared-memory'), 'SharedMemory'> &
  Pick<typeof import('./system'), 'getExecutable'> &
  Pick<typeof import('./park'), 'parkAddonPath'>;
type Method = ReturnType<Api['getAllStartMethods']>[number];

const packageRoot = path.join(__dirname, '..');
const MiB = 1 << 20;
/** Each self-test step's limit: a step that hangs fails instead of stalling the doctor. */
const STEP_MS = 15_000;

export interface Finding {
  name: string;
  ok: boolean;
  detail: string;
  /** What to try when it failed. */
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  facts: Record<string, string>;
  checks: Finding[];
}

function bytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${(n / MiB).toFixed(1)} MiB`;
}

function libc(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : process.platform === 'linux' ? 'musl' : 'system libc';
}

/** Which addon file node-gyp-build picked, and what made it. */
function addonOrigin(file: string): string {
  const relative = path.relative(packageRoot, file);
  if (relative.startsWith(`prebuilds${path.sep}`)) return `prebuild ${file}`;
  const maker = fs.existsSync(path.join(packageRoot, 'build', 'CMakeCache.txt')) ? 'cmake-js' : 'node-gyp';
  return `source build (${maker}) ${file}`;
}

/** The cgroup CPU quota in CPUs (rounded up, as cpuCount() does), or null when there is none. */
function cgroupQuota(): number | null {
  const read = (file: string): string | null => {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const v2 = read('/sys/fs/cgroup/cpu.max');
  const [quota, period] = v2 ? v2.split(/\s+/) : [read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')];
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? Math.ceil(q / p) : null;
}

function cpuFact(api: Api): string {
  const affinity = os.availableParallelism();
  const quota = cgroupQuota();
  const source = quota !== null && quota < affinity ? `the cgroup CPU quota (${quota})` : `the affinity mask (${affinity} CPUs)`;
  return `${api.cpuCount()}, from ${source}; cgroup quota ${quota ?? 'none'}, ${os.cpus().length} CPUs online`;
}

/** What would keep fork from working in this process: threads Node adds beside its own. */
function forkBlockers(): string[] {
  const blockers: string[] = [];
  if (!isMainThread) blockers.push('this is a Worker thread');
  if (inspector.url()) blockers.push(`the inspector is listening (${inspector.url()})`);
  const loaders = loaderFlags();
  if (loaders.length > 0) blockers.push(`module loader flags (${loaders.join(' ')}) may run hooks on a thread of their own`);
  return blockers;
}

function shmFinding(): Finding {
  const name = '/dev/shm';
  const fix = SHM_FIX;
  if (process.platform !== 'linux') return { name, ok: true, detail: `not used on ${process.platform} (POSIX shm_open)` };
  let stats: fs.StatsFs;
  try {
    stats = fs.statfsSync('/dev/shm');
  } catch (error) {
    return { name, ok: false, detail: `cannot stat /dev/shm: ${(error as Error).message}`, fix };
  }
  const size = stats.blocks * stats.bsize;
  const free = stats.bavail * stats.bsize;
  const detail = `${bytes(size)}, ${bytes(free)} free`;
  // Every Lock, Queue and Value is a segment there: a few MiB are the least that can work.
  if (free < 4 * MiB) return { name, ok: false, detail: `${detail}: too little for queues and shared memory`, fix };
  return { name, ok: true, detail: size < 64 * MiB ? `${detail} (small: large Queues or SharedMemory blocks may not fit)` : detail };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${STEP_MS / 1000} s`)), STEP_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Starts `target` in a child of `method` (a refused start throws here) and returns its join, which
 * rejects unless it exits 0; a step may await something else first without an unhandled rejection.
 */
function inChild<A extends unknown[]>(api: Api, method: Method, target: (...args: A) => unknown, args: A): Promise<void> {
  const child = new (api.getContext(method).Process)({ target, args });
  child.start();
  const joined = child.joinAsync().then(() => {
    if (child.exitcode !== 0) throw new Error(`the ${method} child exited with code ${child.exitcode}`);
  });
  joined.catch(() => {});
  return joined;
}

interface Step {
  name: string;
  fix: string;
  run: () => Promise<string>;
}

const SHM_FIX = 'mount a larger tmpfs on /dev/shm (Docker: --shm-size=512m; Kubernetes: an emptyDir volume with medium: Memory)';
const FORK_FIX =
  "a fork was refused: this process, or the forkserver (which runs with this node's flags), has threads beside Node's own " +
  "(a Worker, the inspector of --inspect, a loader's thread from --import): start without them, or use the 'spawn' start method";
const REPORT_FIX = 'run `npx multiprocess doctor --json` and report its output with your platform to the maintainers';

function startMethodSteps(api: Api): Step[] {
  return api.getAllStartMethods().map((method) => ({
    name: `${method} child`,
    fix:
      method === 'fork'
        ? FORK_FIX
        : `check that ${api.getExecutable()} runs (setExecutable() chooses the node children run) and that ${packageRoot} is readable`,
    run: async () => {
      const queue = new api.Queue();
      try {
        const child = new (api.getContext(method).Process)({ target: (q: typeof queue) => q.put(process.pid), args: [queue] });
        child.start();
        const pid = await queue.getAsync(STEP_MS);
        await child.joinAsync();
        if (pid !== child.pid || child.exitcode !== 0) throw new Error(`child said pid ${String(pid)}, exited ${child.exitcode}`);
        return `pid ${child.pid} ran and exited 0`;
      } finally {
        queue.close();
      }
    },
  }));
}

function primitiveSteps(api: Api, method: Method): Step[] {
  const fix = REPORT_FIX;
  const steps: Step[] = [
    {
      name: 'Lock + Value',
      fix,
      run: async () => {
        const counter = new api.Value('i', 0);
        const bump = (v: typeof counter): void => {
          for (let i = 0; i < 500; i++) {
            using _held = v.getLock().hold();
            v.value += 1;
          }
        };
        const child = inChild(api, method, bump, [counter]);
        bump(counter);
        await child;
        if (counter.value !== 1000) throw new Error(`two processes added 500 each under the lock and got ${counter.value}`);
        return 'two processes counted to 1000 under the lock';
      },
    },
    {
      name: 'Semaphore + Event',
      fix,
      run: async () => {
        const semaphore = new api.Semaphore(0);
        const event = new api.Event();
        const child = inChild(api, method, (s: typeof semaphore, e: typeof event) => {
          s.release();
          e.set();
        }, [semaphore, event]);
        const [acquired, set] = [await semaphore.acquireAsync(STEP_MS), await event.waitAsync(STEP_MS)];
        await child;
        if (!acquired || !set) throw new Error(`semaphore acquired ${acquired}, event set ${set}`);
        return "the child's release and set woke this process";
      },
    },
    {
      name: 'Condition + Barrier',
      fix,
      run: async () => {
        const condition = new api.Condition();
        const flag = new api.RawValue('i', 0);
        const barrier = new api.Barrier(2);
        const child = inChild(api, method, (c: typeof condition, f: typeof flag, b: typeof barrier) => {
          b.wait(15_000);
          using _held = c.hold();
          f.value = 1;
          c.notifyAll();
        }, [condition, flag, barrier]);
        await barrier.waitAsync(STEP_MS);
        {
          using _held = await condition.holdAsync(STEP_MS);
          while (flag.value === 0) if (!(await condition.waitAsync(STEP_MS))) throw new Error('no notify arrived');
        }
        await child;
        return 'met at the barrier, then a notify crossed';
      },
    },
    {
      name: 'Queue + JoinableQueue',
      fix,
      run: async () => {
        const queue = new api.Queue();
        const jobs = new api.JoinableQueue();
        try {
          const child = inChild(api, method, (q: typeof queue, j: typeof jobs) => {
            for (let i = 0; i < 100; i++) q.put({ i, square: (n: number) => n * n });
            const job = j.get() as number;
            q.put(job * 2);
            j.taskDone();
          }, [queue, jobs]);
          let sum = 0;
          for (let i = 0; i < 100; i++) sum += ((await queue.getAsync(STEP_MS)) as { i: number; square(n: number): number }).square(i);
          jobs.put(21);
          await jobs.joinAsync();
          const doubled = await queue.getAsync(STEP_MS);
          await child;
          if (sum !== 328350 || doubled !== 42) throw new Error(`got sum ${sum} and ${String(doubled)}`);
          return '100 items with closures, then a joined job';
        } finally {
          queue.close();
          jobs.close();
        }
      },
    },
    {
      name: 'Pipe',
      fix,
      run: async () => {
        const [here, there] = api.Pipe();
        try {
          const child = inChild(api, method, (c: typeof there) => {
            const { add } = c.recv() as { add(n: number): number };
            c.send(add(1));
          }, [there]);
          const base = 41;
          here.send({ add: (n: number) => n + base });
          const answer = await here.recvAsync();
          await child;
          if (answer !== 42) throw new Error(`the closure sent through the pipe returned ${String(answer)}`);
          return 'a closure went out, its result came back';
        } finally {
          here.close();
          there.close();
        }
      },
    },
    {
      name: 'SharedMemory + Array',
      fix: `${SHM_FIX}; else ${REPORT_FIX}`,
      run: async () => {
        const block = new api.SharedMemory({ create: true, size: 1 << 16 });
        const array = new api.Array('d', 8);
        try {
          await inChild(api, method, (b: typeof block, a: typeof array) => {
            b.buf.fill(7);
            for (let i = 0; i < 8; i++) a.set(i, i / 2);
          }, [block, array]);
          if (!block.buf.every((b) => b === 7)) throw new Error('the child wrote 7s the parent does not see');
          const values = array.slice();
          if (values.some((v, i) => v !== i / 2)) throw new Error(`Array holds ${values.join(', ')}`);
          return '64 KiB block and a double array written by the child';
        } finally {
          block.close();
          block.unlink();
        }
      },
    },
    {
      name: 'Pool',
      fix,
      run: async () => {
        const pool = new (api.getContext(method).Pool)(2);
        try {
          const factor = 3;
          const mapped = await pool.mapAsync((x: number) => x * factor, [1, 2, 3, 4]);
          if (mapped.join() !== '3,6,9,12') throw new Error(`map gave ${mapped.join()}`);
          return 'map of a closure over 2 workers';
        } finally {
          pool.terminate();
          await pool.joinAsync();
        }
      },
    },
  ];
  return steps.map((step) => ({ ...step, name: `${step.name} (${method})` }));
}

/** Gathers the facts and runs the self-test; `log` sees each line as it is found. */
export async function diagnose(log: (line: string) => void = () => {}): Promise<DoctorReport> {
  const facts: Record<string, string> = {};
  const checks: Finding[] = [];
  const fact = (name: string, value: string): void => {
    facts[name] = value;
    log(`${name.padEnd(15)} ${value}`);
  };
  const check = (finding: Finding): void => {
    checks.push(finding);
    log(`${finding.ok ? 'ok  ' : 'FAIL'} ${finding.name.padEnd(34)} ${finding.detail}`);
    if (!finding.ok && finding.fix) log(`     fix: ${finding.fix}`);
  };

  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  fact('multiprocess', `${pkg.version} at ${packageRoot}`);
  fact('node', `${process.version} (ABI ${process.versions.modules}, N-API ${process.versions.napi}) on ${process.platform}-${process.arch}, ${libc()}`);

  let api: Api;
  try {
    const load = require('node-gyp-build') as { path(root: string): string };
    fact('addon', addonOrigin(load.path(packageRoot)));
    api = {
      ...(require('./index') as typeof import('./index')),
      SharedMemory: (require('./shared-memory') as typeof import('./shared-memory')).SharedMemory,
      getExecutable: (require('./system') as typeof import('./system')).getExecutable,
      parkAddonPath: (require('./park') as typeof import('./park')).parkAddonPath,
    };
  } catch (error) {
    check({
      name: 'native addon',
      ok: false,
      detail: (error as Error).message.split('\n')[0]!,
      fix:
        `no prebuilt binary fits ${process.platform}-${process.arch} (${libc()}) and none was compiled: ` +
        'run `npm rebuild multiprocess --build-from-source` (needs python3, make and a C++17 compiler; ' +
        'npm >= 11 may first need `npm install-scripts approve multiprocess`)',
    });
    return { ok: false, facts, checks };
  }
  fact('park addon', api.parkAddonPath() ?? `none for ABI ${process.versions.modules}: fork children run with V8's threads unparked`);
  fact('start methods', `${api.getAllStartMethods().join(', ')}; default ${api.getStartMethod()}`);
  fact('cpuCount()', cpuFact(api));
  const blockers = forkBlockers();
  fact('fork now', blockers.length === 0 ? 'allowed (main thread, no inspector, no loader flags)' : `likely refused: ${blockers.join('; ')}`);
  check(shmFinding());

  const started = Date.now();
  const run = async (step: Step): Promise<boolean> => {
    const began = Date.now();
    try {
      const detail = await withTimeout(step.run(), step.name);
      check({ name: step.name, ok: true, detail: `${detail} (${Date.now() - began} ms)` });
      return true;
    } catch (error) {
      const refused = [error, (error as Error).cause].some((e) => (e as NodeJS.ErrnoException | undefined)?.code === 'ERR_MP_FORK_UNSAFE');
      check({ name: step.name, ok: false, detail: (error as Error).message, fix: refused ? FORK_FIX : step.fix });
      return false;
    }
  };
  const methods = api.getAllStartMethods();
  const startOk = new Map<Method, boolean>();
  for (const [i, step] of startMethodSteps(api).entries()) startOk.set(methods[i]!, await run(step));
  for (const method of methods) {
    // A method that cannot start a child would fail every primitive the same way.
    if (!startOk.get(method)) log(`skip primitives (${method}): its child did not start`);
    else for (const step of primitiveSteps(api, method)) await run(step);
  }
  fact('self-test', `${Date.now() - started} ms`);
  return { ok: checks.every((c) => c.ok), facts, checks };
}

/** The `multiprocess` command: `doctor [--json]`. Returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const [command, ...options] = args;
  if (command !== 'doctor' || options.some((o) => o !== '--json')) {
    process.stderr.write('usage: multiprocess doctor [--json]\n');
    return 2;
  }
  const json = options.includes('--json');
  const report = await diagnose(json ? undefined : (line) => process.stdout.write(`${line}\n`));
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(report.ok ? 'all checks passed\n' : `${report.checks.filter((c) => !c.ok).length} check(s) failed: see fix: above\n`);
  return report.ok ? 0 : 1;
}
