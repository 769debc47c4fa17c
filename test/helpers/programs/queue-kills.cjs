// Four producers and four consumers share a Queue while this program SIGKILLs one of them at random
// every few milliseconds and starts a replacement. Every message's fate is recorded in shared memory,
// like a linearizability history: a producer marks an id 1 before put and 2 once put returned; a
// consumer counts the id as soon as get returned it. Prints the history's verdict as JSON.
// argv: start method, number of messages, most kills (then the run finishes undisturbed).
const { getContext, Queue, RawArray } = require('../../../dist/index.js');

const ctx = getContext(process.argv[2]);
const MESSAGES = Number(process.argv[3]);
const MOST_KILLS = Number(process.argv[4]);
const PRODUCERS = 4;
const CONSUMERS = 4;
const STOP = -1;
// A small ring, so that a third of the messages (up to 40 KiB) go through in chunks.
const queue = new Queue(0, { bufferBytes: 64 << 10 });
const putState = RawArray('B', MESSAGES);
const received = RawArray('B', MESSAGES);
const torn = RawArray('i', 1);

/** The body of message id: its length and content both follow from id, so a torn one shows. */
const bodyOf = (id) => String.fromCharCode(97 + (id % 26)).repeat(id % 3 === 0 ? (id * 7919) % 40_000 : id % 300);

function produce(q, state, from, to, body) {
  for (let id = from; id < to; id++) {
    if (state[id] !== 0) continue;
    state[id] = 1;
    q.put({ id, body: body(id) });
    state[id] = 2;
  }
}

function consume(q, counts, tornCount, body) {
  for (;;) {
    const message = q.get();
    if (message === -1) return;
    counts[message.id]++;
    if (message.body !== body(message.id)) tornCount[0]++;
  }
}

const share = Math.ceil(MESSAGES / PRODUCERS);
const producerArgs = (n) => [queue, putState, n * share, Math.min(MESSAGES, (n + 1) * share), bodyOf];
// Daemonic, so that they end with this program even if it is killed (a timed-out run).
const startProducer = (n) => Object.assign(new ctx.Process({ target: produce, args: producerArgs(n), daemon: true }), { role: 'producer', n });
const startConsumer = () => Object.assign(new ctx.Process({ target: consume, args: [queue, received, torn, bodyOf], daemon: true }), { role: 'consumer' });

const live = [];
const launch = (proc) => {
  proc.start();
  live.push(proc);
};
for (let n = 0; n < PRODUCERS; n++) launch(startProducer(n));
for (let n = 0; n < CONSUMERS; n++) launch(startConsumer());

let producerKills = 0;
let consumerKills = 0;
const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
// Producers that ended by themselves have put their whole share.
const producing = () => live.some((p) => p.role === 'producer' && p.exitcode === null);
while (producing() && producerKills + consumerKills < MOST_KILLS) {
  nap(5 + Math.random() * 30);
  const victim = live[Math.floor(Math.random() * live.length)];
  if (victim.exitcode !== null) continue;
  victim.kill();
  victim.join();
  if (victim.exitcode !== -9) continue; // it had just finished
  live.splice(live.indexOf(victim), 1);
  if (victim.role === 'producer') {
    producerKills++;
    launch(startProducer(victim.n));
  } else {
    consumerKills++;
    launch(startConsumer());
  }
}
for (const p of live) if (p.role === 'producer') p.join();
const consumers = live.filter((p) => p.role === 'consumer');
for (const _ of consumers) queue.put(STOP);
for (const p of consumers) p.join();

const history = { completedPuts: 0, indeterminatePuts: 0, delivered: 0, duplicated: 0, lostCompleted: 0, deliveredIndeterminate: 0, phantom: 0 };
for (let id = 0; id < MESSAGES; id++) {
  const count = received[id];
  if (count > 1) history.duplicated++;
  if (count >= 1) history.delivered++;
  if (putState[id] === 2) {
    history.completedPuts++;
    if (count === 0) history.lostCompleted++;
  } else if (putState[id] === 1) {
    history.indeterminatePuts++;
    if (count === 1) history.deliveredIndeterminate++;
  } else if (count > 0) {
    history.phantom++;
  }
}
process.stdout.write(JSON.stringify({
  ...history,
  torn: torn[0],
  producerKills,
  consumerKills,
  consumerExitCodes: consumers.map((p) => p.exitcode),
  leftInQueue: queue.qsize(),
}));
