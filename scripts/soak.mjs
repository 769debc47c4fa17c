// The soak (issue 14): mixed Pool/Queue/Lock/Manager traffic over the package's public API for N
// minutes while a random worker or child is SIGKILLed every 2–5 s; every second it samples RSS, open
// fds, threads, our /dev/shm entries and our processes (CSV), and draws them (docs/soak/soak.png,
// by scripts/soak-plot.py, which installs python3-matplotlib with apt-get, as root, if it is missing).
// Exits 1 if a correctness check failed, a metric grew, or anything of ours outlived the run.
// As root it runs itself in a private mount namespace with its own /dev/shm, so that every entry
// there and every process in the namespace is ours (other programs on the machine use mpjs- names too).
// usage: npm run soak -- [--minutes 30] [--csv docs/soak/soak.csv] [--png docs/soak/soak.png] [--no-plot]
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const { values: options } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    csv: { type: 'string', default: path.join(here, '../docs/soak/soak.csv') },
    png: { type: 'string', default: path.join(here, '../docs/soak/soak.png') },
    'no-plot': { type: 'boolean', default: false },
    'in-namespace': { type: 'boolean', default: false },
  },
});
const minutes = Number(options.minutes);
if (!(minutes > 0)) throw new RangeError(`soak: --minutes must be a positive number, got '${options.minutes}'`);

// --- the private mount namespace (root only) ------------------------------------------------------

const ownNamespace = (pid = 'self') => fs.readlinkSync(`/proc/${pid}/ns/mnt`);

function processesInNamespace(namespace) {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/mnt`) === namespace) found.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return found;
}

const canUnshare = !options['in-namespace'] && process.getuid?.() === 0 && spawnSync('unshare', ['--mount', 'true']).status === 0;
if (canUnshare) {
  const self = fileURLToPath(import.meta.url);
  const inner = [self, '--in-namespace', ...process.argv.slice(2)].map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' ');
  // The shell stays in the namespace after the soak ended (until we close its stdin), so that its
  // /dev/shm can still be read and anything the soak left behind still shows there.
  const script = `mount -t tmpfs -o size=1g,mode=1777 tmpfs /dev/shm && { '${process.execPath}' ${inner} </dev/null 3>&-; echo $? >&3; read _; }`;
  const shell = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { stdio: ['pipe', 'inherit', 'inherit', 'pipe'] });
  // The shell writes the soak's exit status on fd 3 (and holds it open), or closes it if it failed.
  let said = '';
  for await (const chunk of shell.stdio[3]) if ((said += chunk).includes('\n')) break;
  const code = said.trim() === '' ? 1 : Number(said);
  // unshare execs the shell in place: its pid is the shell's, and its namespace the soak's.
  const namespace = ownNamespace(shell.pid);
  const leftovers = () => ({
    processes: processesInNamespace(namespace).filter((pid) => pid !== shell.pid),
    shm: fs.readdirSync(`/proc/${shell.pid}/root/dev/shm`),
  });
  let left = leftovers();
  // The resource tracker unlinks what the soak's processes held once the last of them is gone.
  for (let waited = 0; left.processes.length + left.shm.length > 0 && waited < 10_000; waited += 100) {
    await sleep(100);
    left = leftovers();
  }
  shell.stdin.end();
  if (left.processes.length > 0) console.error(`soak: FAIL: processes of the soak outlived it: ${left.processes.join(', ')}`);
  if (left.shm.length > 0) console.error(`soak: FAIL: left in /dev/shm after the soak: ${left.shm.join(', ')}`);
  else console.log(`soak: after the run: no process and nothing in /dev/shm left`);
  process.exit(left.processes.length + left.shm.length > 0 ? 1 : code);
}

// --- the traffic ----------------------------------------------------------------------------------

const mp = require('../dist/index.js');
const { Pool, Queue, Value, RawArray, Manager, getContext } = mp;

const METHODS = ['forkserver', 'fork', 'spawn'];
const PRODUCERS = 3;
const CONSUMERS = 3;
const CONTENDERS = 3;
const CHURN_SLOTS = 4;
const MANAGER_USERS = 2;
const LIST_BOUND = 200;

// Shared state the children write and the parent checks.
const stop = RawArray('i', 2); // [0]: producers, contenders, churn and manager users stop; [1]: consumers stop once drained
const nextSeq = RawArray('d', PRODUCERS); // a producer's next sequence number (written after its put returned)
const torn = RawArray('i', 1);
const holder = RawArray('i', 1); // pid of the process holding the counter's lock, 0 if none (best effort)
const counter = new Value('d', 0);
const tally = RawArray('d', CONTENDERS + CHURN_SLOTS); // each contender's increments, written under the lock after the counter
const managerTally = RawArray('d', MANAGER_USERS);
const queue = new Queue(1000);
const acks = new Queue(20_000);
const manager = new Manager();
const shared = { dict: manager.dict(), list: manager.list() };
const pool = new Pool(3);

const failures = [];
const fail = (what) => {
  if (failures.length < 50) console.error(`soak: FAIL: ${what}`);
  failures.push(what);
};

/** The body of message seq: its length and content both follow from seq, so a torn one shows. */
const bodyOf = (seq) => String.fromCharCode(97 + (seq % 26)).repeat((seq * 7919) % 2000);

/** A pool task whose answer the parent can check. */
function poolTask(x) {
  let h = x;
  for (let i = 0; i < 5000; i++) h = (h * 31 + 7) % 1_000_003;
  return h;
}

function produce(q, seqs, slot, stopFlags, body) {
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  for (let n = 0; !stopFlags[0]; n++) {
    const seq = seqs[slot];
    try {
      q.put({ p: slot, seq, body: body(seq) }, true, 200);
    } catch (error) {
      if (error.name === 'Full') continue;
      throw error;
    }
    seqs[slot] = seq + 1;
    if (n % 20 === 19) nap(2);
  }
}

function consume(q, ackQueue, tornCount, stopFlags, body) {
  for (;;) {
    let message;
    try {
      message = q.get(true, 200);
    } catch (error) {
      if (error.name !== 'Empty') throw error;
      if (stopFlags[1]) return;
      continue;
    }
    if (message.body !== body(message.seq)) tornCount[0]++;
    ackQueue.put([message.p, message.seq]);
  }
}

/** Increments the counter under its lock, then its own tally: a kill between the two leaves the counter one ahead. */
function contend(value, holderPid, tallies, slot, stopFlags, rounds) {
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const lock = value.getLock();
  const raw = value.getObj();
  for (let n = 0; rounds < 0 ? !stopFlags[0] : n < rounds; n++) {
    lock.acquire();
    holderPid[0] = process.pid;
    raw.value += 1;
    nap(0.2); // held a moment, so that a kill can find a holder
    tallies[slot] += 1;
    holderPid[0] = 0;
    lock.release();
    if (n % 10 === 9) nap(1);
  }
}

function useManager(dict, list, tallies, slot, stopFlags, bound) {
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  for (let seq = tallies[slot] + 1; !stopFlags[0]; seq++) {
    dict.set(String(slot), seq);
    list.append(seq);
    if (list.length > bound) list.pop(0);
    tallies[slot] = seq;
    nap(2);
  }
}

// --- supervised lanes: a long-lived child per lane, restarted whenever it ends ---------------------

const lanes = [];
const killed = new Set(); // processes the killer ended: their exit code -9 is expected
let starts = 0;

function startLane(kind, slot, makeArgs, target) {
  const lane = { kind, slot, proc: null, restarts: 0 };
  lanes.push(lane);
  lane.done = (async () => {
    while (!stop[0] || (kind === 'consumer' && lane.proc === null)) {
      // Each lane keeps its start method: the parent's fds per child differ by method (a forkserver
      // child's sentinel is a socket, a fork or spawn child's a pidfd), and a mix that drifted would look like a leak.
      const method = METHODS[slot % METHODS.length];
      lane.restarts++;
      const proc = new (getContext(method).Process)({ target, args: makeArgs(), daemon: true });
      proc.start();
      starts++;
      lane.proc = proc;
      await proc.joinAsync();
      lane.proc = null;
      const { exitcode, pid } = proc;
      if (!(exitcode === 0 || (exitcode === -9 && killed.has(proc)))) fail(`${kind} ${slot} (${method}, pid ${pid}) ended with exit code ${exitcode}`);
      // A killed producer's last put may have gone through before it could count it: its
      // replacement (started below, before anything else runs here) sends that one again.
      if (kind === 'producer' && killed.has(proc)) received[slot].resend.add(nextSeq[slot]);
      killed.delete(proc);
      proc.close();
      if (exitcode === 0) break; // it saw the stop flag
    }
  })();
  return lane;
}

for (let p = 0; p < PRODUCERS; p++) startLane('producer', p, () => [queue, nextSeq, p, stop, bodyOf], produce);
for (let c = 0; c < CONSUMERS; c++) startLane('consumer', c, () => [queue, acks, torn, stop, bodyOf], consume);
for (let s = 0; s < CONTENDERS; s++) startLane('contender', s, () => [counter, holder, tally, s, stop, -1], contend);
for (let m = 0; m < MANAGER_USERS; m++) startLane('manager-user', m, () => [shared.dict, shared.list, managerTally, m, stop, LIST_BOUND], useManager);

// Short-lived processes by each start method: a few hundred increments of the counter each.
const churnLive = new Set();
const churnDone = (async () => {
  for (let n = 0; !stop[0]; n++) {
    const method = METHODS[n % METHODS.length];
    const proc = new (getContext(method).Process)({ target: contend, args: [counter, holder, tally, CONTENDERS + (n % CHURN_SLOTS), stop, 300], daemon: true });
    proc.start();
    starts++;
    churnLive.add(proc);
    proc.joinAsync().then(() => {
      churnLive.delete(proc);
      if (!(proc.exitcode === 0 || (proc.exitcode === -9 && killed.has(proc)))) fail(`churn ${method} pid ${proc.pid} ended with exit code ${proc.exitcode}`);
      killed.delete(proc);
      proc.close();
    });
    while (churnLive.size >= 2 && !stop[0]) await sleep(50);
    await sleep(200);
  }
  while (churnLive.size > 0) await sleep(50);
})();

// --- the parent's own traffic and its checks -----------------------------------------------------

const stats = { tasks: 0, brokenMaps: 0, applies: 0, acked: 0, duplicated: 0, resent: 0, lost: 0, phantom: 0, counterChecks: 0, managerChecks: 0 };
const expected = Array.from({ length: 64 }, (_, x) => poolTask(x));

const poolDone = (async () => {
  for (let round = 0; !stop[0]; round++) {
    const xs = Array.from({ length: 64 }, (_, i) => (i + round) % 64);
    try {
      const results = await pool.mapAsync(poolTask, xs, 4);
      results.forEach((r, i) => r !== expected[xs[i]] && fail(`pool.mapAsync: poolTask(${xs[i]}) gave ${r}, not ${expected[xs[i]]}`));
      stats.tasks += xs.length;
    } catch (error) {
      if (error.name !== 'BrokenPoolError') fail(`pool.mapAsync: ${error.stack}`);
      else stats.brokenMaps++;
    }
  }
})();
const applyDone = (async () => {
  for (let x = 0; !stop[0]; x = (x + 1) % 64) {
    try {
      const r = await pool.applyAsync(poolTask, [x]);
      if (r !== expected[x]) fail(`pool.applyAsync: poolTask(${x}) gave ${r}, not ${expected[x]}`);
      stats.applies++;
    } catch (error) {
      if (error.name !== 'BrokenPoolError') fail(`pool.applyAsync: ${error.stack}`);
      else stats.brokenMaps++;
    }
  }
})();

// Acks: each producer's sequence numbers arrive once each, a few out of order (several consumers);
// one arriving twice is tolerated only if it is the one a killed producer's replacement sent again.
const LAG = 5000; // a hole this far behind the newest ack is a message lost with a killed consumer
const received = Array.from({ length: PRODUCERS }, () => ({ low: 0, high: -1, seen: new Set(), resend: new Set() }));
function account([p, seq]) {
  const track = received[p];
  stats.acked++;
  if (seq > nextSeq[p]) stats.phantom++, fail(`queue: message ${p}/${seq} arrived before its producer reached it (${nextSeq[p]})`);
  if (seq < track.low || track.seen.has(seq)) {
    if (track.resend.delete(seq)) stats.resent++;
    else stats.duplicated++, fail(`queue: message ${p}/${seq} arrived twice`);
    return;
  }
  track.seen.add(seq);
  track.high = Math.max(track.high, seq);
  for (;;) {
    if (track.seen.delete(track.low)) track.low++;
    else if (track.high - track.low > LAG) track.low++, stats.lost++;
    else break;
  }
}
let acksOpen = true;
const acksDone = (async () => {
  while (acksOpen) {
    try {
      account(await acks.getAsync(200));
    } catch (error) {
      if (error.name !== 'Empty') throw error;
    }
  }
})();

// The counter is one ahead of the tallies for each contender killed between the two writes, never behind.
async function checkCounter() {
  const lock = counter.getLock();
  await lock.acquireAsync();
  try {
    const ahead = counter.getObj().value - tally.reduce((a, b) => a + b, 0);
    stats.counterChecks++;
    if (ahead < 0 || ahead > kills['lock-holder'] + kills.contender) fail(`counter: ${ahead} ahead of the tallies, with ${kills['lock-holder'] + kills.contender} contenders killed`);
  } finally {
    lock.release();
  }
}

// Each manager user sets its dict entry, then its tally: the entry is the tally or one ahead.
async function checkManager() {
  for (let m = 0; m < MANAGER_USERS; m++) {
    const before = managerTally[m];
    const entry = (await shared.dict.getAsync(String(m))) ?? 0;
    const after = managerTally[m];
    if (entry < before || entry > after + 1) fail(`manager: dict['${m}'] is ${entry}, its user's tally went ${before} → ${after}`);
  }
  const length = await shared.list.lengthAsync();
  if (length > LIST_BOUND + MANAGER_USERS + kills['manager-user']) fail(`manager: the list holds ${length}, more than ${LIST_BOUND} + users + kills`);
  stats.managerChecks++;
}

// --- the killer ---------------------------------------------------------------------------------

const KINDS = ['pool-worker', 'producer', 'consumer', 'lock-holder', 'contender', 'manager-user'];
const kills = Object.fromEntries(KINDS.map((kind) => [kind, 0]));
const killLog = []; // [seconds, kind] for the CSV

const progressOf = {
  'pool-worker': () => stats.tasks + stats.applies,
  producer: () => stats.acked,
  consumer: () => stats.acked,
  'lock-holder': () => tally.reduce((a, b) => a + b, 0),
  contender: () => tally.reduce((a, b) => a + b, 0),
  'manager-user': () => managerTally.reduce((a, b) => a + b, 0),
};
const recoveries = Object.fromEntries(KINDS.map((kind) => [kind, []]));
const awaitingRecovery = [];

function killProcess(proc) {
  killed.add(proc);
  proc.kill();
}

async function killOne() {
  const kind = KINDS[Math.floor(Math.random() * KINDS.length)];
  let victim;
  if (kind === 'pool-worker') {
    const pids = pool._workerPids;
    const pid = pids[Math.floor(Math.random() * pids.length)];
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    victim = pid;
  } else if (kind === 'lock-holder') {
    // Whoever holds the counter's lock: a contender or a short-lived churn process.
    const candidates = [...lanes.filter((lane) => lane.kind === 'contender').map((lane) => lane.proc), ...churnLive].filter(Boolean);
    for (let tries = 0; tries < 100 && victim === undefined; tries++) {
      const proc = candidates.find((c) => c.pid === holder[0] && c.exitcode === null);
      if (proc) killProcess(proc), (victim = proc.pid);
      else await sleep(2);
    }
    if (victim === undefined) return;
  } else {
    const live = lanes.filter((lane) => lane.kind === kind && lane.proc?.exitcode === null);
    const lane = live[Math.floor(Math.random() * live.length)];
    if (!lane) return;
    victim = lane.proc.pid;
    killProcess(lane.proc);
  }
  kills[kind]++;
  killLog.push([elapsed(), kind]);
  awaitingRecovery.push({ kind, at: performance.now(), progress: progressOf[kind]() });
}

// --- sampling -----------------------------------------------------------------------------------

const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const namespaced = options['in-namespace'];
const namespace = ownNamespace();
const ourPids = new Set([process.pid]); // everything ever seen in our tree (names in /dev/shm carry the creator's pid)

function ourProcesses() {
  // The namespace also holds the shell that started this process (see above).
  if (namespaced) return processesInNamespace(namespace).filter((pid) => pid !== process.pid && pid !== process.ppid);
  const parentOf = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // ended while we read
    }
  }
  return [...parentOf.keys()].filter((pid) => {
    for (let up = parentOf.get(pid); up !== undefined && up > 1; up = parentOf.get(up)) if (up === process.pid) return true;
    return false;
  });
}

function ourShmEntries() {
  return fs.readdirSync('/dev/shm').filter((name) => {
    const match = /^(?:sem\.)?mpjs-(\d+)-/.exec(name);
    return match && (namespaced || ourPids.has(Number(match[1])));
  });
}

/** RSS (kB), threads and fds of one process; undefined once it is gone. */
function usage(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { rss: field('VmRSS'), threads: field('Threads'), fds: fs.readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

const COLUMNS = ['t_s', 'parent_rss_mb', 'tree_rss_mb', 'parent_fds', 'tree_fds', 'parent_threads', 'tree_threads', 'shm_entries', 'children', 'kills'];
const samples = [];
function sample() {
  const children = ourProcesses();
  for (const pid of children) ourPids.add(pid);
  const parent = usage(process.pid);
  const tree = { rss: parent.rss, threads: parent.threads, fds: parent.fds };
  for (const pid of children) {
    const u = usage(pid);
    if (u) for (const key of Object.keys(tree)) tree[key] += u[key];
  }
  const t = elapsed();
  const killsNow = killLog.filter(([at]) => at > t - 1).map(([, kind]) => kind);
  samples.push({
    t_s: t.toFixed(1),
    parent_rss_mb: (parent.rss / 1024).toFixed(1),
    tree_rss_mb: (tree.rss / 1024).toFixed(1),
    parent_fds: parent.fds,
    tree_fds: tree.fds,
    parent_threads: parent.threads,
    tree_threads: tree.threads,
    shm_entries: ourShmEntries().length,
    children: children.length,
    kills: killsNow.join('+'),
  });
  for (let i = awaitingRecovery.length - 1; i >= 0; i--) {
    const { kind, at, progress } = awaitingRecovery[i];
    if (progressOf[kind]() > progress) recoveries[kind].push((performance.now() - at) / 1000), awaitingRecovery.splice(i, 1);
  }
}

// --- the run ------------------------------------------------------------------------------------

const runMs = minutes * 60_000;
const sampler = setInterval(sample, 1000);
const checker = setInterval(() => {
  checkCounter().catch((error) => fail(`counter check: ${error.stack}`));
  checkManager().catch((error) => fail(`manager check: ${error.stack}`));
}, 5000);
let lastReport = 0;
while (elapsed() * 1000 < runMs) {
  await sleep(2000 + Math.random() * 3000);
  if (elapsed() * 1000 >= runMs) break;
  await killOne().catch((error) => fail(`kill: ${error.stack}`));
  if (elapsed() - lastReport >= 60) {
    lastReport = elapsed();
    const s = samples.at(-1);
    console.error(`soak: ${Math.round(lastReport)} s: ${stats.tasks + stats.applies} tasks, ${stats.acked} messages, ${Object.values(kills).reduce((a, b) => a + b)} kills, tree ${s?.tree_rss_mb} MB, ${s?.children} processes, ${s?.shm_entries} shm entries`);
  }
}
clearInterval(sampler);
clearInterval(checker);

// Wind down: the producers and workers stop, the consumers drain the queue, then everything closes.
stop[0] = 1;
await Promise.all([poolDone, applyDone, churnDone, ...lanes.filter((l) => l.kind !== 'consumer').map((l) => l.done)]);
stop[1] = 1;
await Promise.all(lanes.filter((l) => l.kind === 'consumer').map((l) => l.done));
while (acks.qsize() > 0) account(await acks.getAsync(1000));
acksOpen = false;
await acksDone;
for (let p = 0; p < PRODUCERS; p++) {
  const track = received[p];
  // What the producers counted as put and never arrived: the last holes.
  for (let seq = track.low; seq < nextSeq[p]; seq++) if (!track.seen.has(seq)) stats.lost++;
}
await checkCounter();
await checkManager();
if (torn[0] > 0) fail(`queue: ${torn[0]} torn messages`);
if (stats.lost > kills.consumer) fail(`queue: ${stats.lost} messages lost, more than the ${kills.consumer} consumers killed (each can take the one it held)`);
pool.close();
await pool.joinAsync();
manager.shutdown();
queue.close();
acks.close();

// Nothing of ours may outlive the run: wait for the tracker's cleanup, then count.
// The parent's own segments (its RawArrays, Value, queues) go when it exits: checked from outside.
const childrensShm = () => ourShmEntries().filter((name) => !name.replace(/^sem\./, '').startsWith(`mpjs-${process.pid}-`));
let leftShm = childrensShm();
let leftChildren = ourProcesses().filter((pid) => !isHelper(pid));
for (let waited = 0; (leftShm.length > 0 || leftChildren.length > 0) && waited < 10_000; waited += 100) {
  await sleep(100);
  leftShm = childrensShm();
  leftChildren = ourProcesses().filter((pid) => !isHelper(pid));
}
function isHelper(pid) {
  // The resource tracker and the forkserver (with its spare) live as long as this process, as in CPython.
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'mpjs-tracker' || fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/forkserver.js');
  } catch {
    return false;
  }
}
if (leftShm.length > 0) fail(`left in /dev/shm: ${leftShm.join(', ')}`);
function described(pid) {
  try {
    return `${pid} (${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 120)})`;
  } catch {
    return `${pid}`;
  }
}
if (leftChildren.length > 0) fail(`children left: ${leftChildren.map(described).join(', ')}`);

// --- the report ---------------------------------------------------------------------------------

fs.mkdirSync(path.dirname(options.csv), { recursive: true });
fs.writeFileSync(options.csv, [COLUMNS.join(','), ...samples.map((s) => COLUMNS.map((c) => s[c]).join(','))].join('\n') + '\n');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const slopePerMinute = (points) => {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : (sxy / sxx) * 60;
};
// Steady state starts after a warm-up (V8 heaps and the pool grow to their working size); the
// first and last windows are 5 minutes each, or a third of the steady state in a short run.
const total = elapsed();
const warmUp = Math.min(120, total * 0.15);
const window = Math.min(300, (total - warmUp) / 3);
const steady = samples.filter((s) => Number(s.t_s) >= warmUp);
const first = steady.filter((s) => Number(s.t_s) < warmUp + window);
const last = steady.filter((s) => Number(s.t_s) >= total - window);
// Counts wobble with the kills (a replacement starting, a churn child alive or not) but a leak
// lifts even their floor: the last window's minimum may not exceed the first window's maximum.
// RSS: V8 grows its heaps lazily and a replacement starts small, so the medians may differ by a
// few MB per process. The allowance (10% + 16 MB for the parent, 15% + 64 MB for the tree) is what
// a leak of some tens of bytes per task, message or manager call would add over this traffic (the
// exact figure is printed at the end).
const metrics = [
  ['parent_rss_mb', (f) => median(f) * 1.1 + 16, median],
  ['tree_rss_mb', (f) => median(f) * 1.15 + 64, median],
  ...['parent_fds', 'tree_fds', 'parent_threads', 'tree_threads', 'shm_entries', 'children'].map((name) => [name, (f) => Math.max(...f), (l) => Math.min(...l)]),
];
const verdicts = metrics.map(([name, limitOf, endOf]) => {
  const f = first.map((s) => Number(s[name]));
  const l = last.map((s) => Number(s[name]));
  const limit = limitOf(f);
  const end = endOf(l);
  const grew = end > limit;
  if (grew) fail(`${name} grew: ${end} at the end (${endOf === median ? 'median' : 'minimum'} of the last window), more than ${limit.toFixed(1)} (from the first window)`);
  return {
    metric: name,
    'first (median)': median(f),
    'last (median)': median(l),
    'last (min)': Math.min(...l),
    limit: Number(limit.toFixed(1)),
    'slope/min': Number(slopePerMinute(steady.map((s) => [Number(s.t_s), Number(s[name])])).toFixed(3)),
    verdict: grew ? 'GREW' : 'flat',
  };
});
const worst = (xs) => (xs.length ? Math.max(...xs).toFixed(1) : '-');

console.log(`soak: ${total.toFixed(0)} s, ${namespaced ? 'in a private mount namespace' : 'in the shared /dev/shm'}, ${starts} child processes started`);
console.log(`kills by kind (worst recovery, s): ${KINDS.map((k) => `${k} ${kills[k]} (${worst(recoveries[k])})`).join(', ')}; not recovered: ${awaitingRecovery.length}`);
console.log(`pool: ${stats.tasks} map tasks + ${stats.applies} applies checked, ${stats.brokenMaps} calls failed with BrokenPoolError`);
console.log(`queue: ${stats.acked} messages acked, ${stats.resent} resent by a killed producer's replacement, ${stats.lost} lost with killed consumers, ${stats.duplicated} duplicated, ${torn[0]} torn, ${stats.phantom} phantom`);
console.log(`lock/value: counter ${counter.getObj().value} after ${stats.counterChecks} checks; manager: ${managerTally.reduce((a, b) => a + b, 0)} updates, ${stats.managerChecks} checks`);
console.log(`metrics (first window ${warmUp.toFixed(0)}–${(warmUp + window).toFixed(0)} s vs last ${(total - window).toFixed(0)}–${total.toFixed(0)} s, medians):`);
console.table(verdicts);
const operations = stats.tasks + stats.applies + stats.acked + managerTally.reduce((a, b) => a + b, 0);
const treeAllowance = verdicts[1].limit - verdicts[1]['first (median)'];
console.log(`a leak of ${((treeAllowance * 2 ** 20) / operations).toFixed(1)} bytes per task, message or manager call would exceed the tree's RSS allowance (${treeAllowance.toFixed(0)} MB over ${operations} operations)`);

if (!options['no-plot']) {
  // Debian's python3 is the one apt-get installs matplotlib for (a pyenv python3 may come first on PATH).
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const plot = spawnSync(python, [path.join(here, 'soak-plot.py'), options.csv, options.png], { stdio: 'inherit' });
  if (plot.status !== 0) fail('the plot could not be drawn');
}
console.log(failures.length === 0 ? 'soak: PASS' : `soak: FAIL (${failures.length} failures)`);
process.exitCode = failures.length === 0 ? 0 : 1;
