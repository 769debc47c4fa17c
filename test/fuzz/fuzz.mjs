// Seeded, structure-aware fuzzer for what parses a peer's bytes in JS: `loads`, Connection framing
// and the HMAC handshake (jazzer.js, the coverage-guided choice, does not load here: its prebuilt
// addon needs glibc 2.38). Inputs are mutated from the committed corpus (test/fuzz/corpus/<target>)
// both as bytes and as the structure they encode; an input whose outcome is new joins the corpus.
// Only documented errors may come out; a hang is caught by a watchdog on the main thread.
//
//   node test/fuzz/fuzz.mjs <loads|framing|handshake> [--seconds N] [--seed N] [--save]
//   node test/fuzz/fuzz.mjs --write-seeds      (after a wire-format change)
//   FUZZ_SLOW=1 prints each input that takes over 100 ms (where the time goes).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { constants as bufferConstants } from 'node:buffer';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v8 from 'node:v8';
import { Worker, isMainThread, workerData } from 'node:worker_threads';

import { KEY, drive } from './handshake-peer.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = (entry) => createRequire(import.meta.url)(path.resolve(here, '../../dist', entry));
const corpusDir = (target) => path.join(here, 'corpus', target);
const TARGETS = ['loads', 'framing', 'handshake'];
const HANG_SECONDS = 20;
const { MAX_LENGTH } = bufferConstants;
const CURRENT_BYTES = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Randomness and generic mutations

function xorshift(seed) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (list) => list[Math.floor(next() * list.length)], chance: (p) => next() < p };
}

const INTERESTING_32 = [0, 1, 2, 3, 4, 7, 8, 12, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, -1, -2, -0x80000000];

/** Byte-level mutations, as libFuzzer's: flips, interesting ints, inserts, erases, splices, truncation. */
function mutateBytes(rand, input, others) {
  let bytes = Buffer.from(input);
  const rounds = 1 + rand.int(4);
  for (let r = 0; r < rounds; r++) {
    const at = bytes.length === 0 ? 0 : rand.int(bytes.length);
    switch (rand.int(8)) {
      case 0:
        if (bytes.length) bytes[at] ^= 1 << rand.int(8);
        break;
      case 1:
        if (bytes.length) bytes[at] = rand.int(256);
        break;
      case 2:
        if (bytes.length >= at + 4) bytes.writeInt32BE(rand.pick(INTERESTING_32) | 0, at);
        break;
      case 3:
        bytes = Buffer.concat([bytes.subarray(0, at), randomChunk(rand), bytes.subarray(at)]);
        break;
      case 4:
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + rand.int(16)))]);
        break;
      case 5: {
        const other = rand.pick(others);
        const from = rand.int(other.length + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), other.subarray(from, from + rand.int(64))]);
        break;
      }
      case 6:
        bytes = bytes.subarray(0, rand.int(bytes.length + 1));
        break;
      default:
        if (bytes.length >= at + 2) bytes.writeUInt16LE(rand.int(0x10000), at);
    }
  }
  return bytes.length > 65536 ? bytes.subarray(0, 65536) : bytes;
}

function randomChunk(rand) {
  const chunk = Buffer.alloc(1 + rand.int(8));
  for (let i = 0; i < chunk.length; i++) chunk[i] = rand.int(256);
  return chunk;
}

// ---------------------------------------------------------------------------------------------
// loads: graphs mutated as graphs, then framed again; and their bytes mutated.

function loadsTarget() {
  const ser = dist('serializer/index.js');
  const format = dist('serializer/format.js');
  const { MARK } = format;
  // Sources a record may take: valid, broken, or another shape; none loops or touches the world.
  const SOURCES = ['x => x', '(a, b) => a + b', 'function f() { return this; }', 'class A { m() { return 1; } }', 'class B extends Object {}', 'class {', '(', '', 'async function* g() {}', '{ m() {} }', 'get x() { return 1; }', 'class S { static { this.s = 1; } }', 'class T { static { throw new Error("t"); } }'];
  const leaves = (rand) => rand.pick([0, -1, 1.5, NaN, 2 ** 31, -(2 ** 53), '', 'x', '__proto__', 'constructor', MARK, null, undefined, true, 10n, [], {}, new Map(), new Set(), new Date(0), new Uint8Array(3), rand.pick(SOURCES), ['g', ['Math', 'max']], ['m', 'node:path', ['join']], ['f', '/nonexistent.js', []], ['r', '/tmp/x.js'], ['g', ['%Nope']], ['g', []]]);
  const marker = (rand) => {
    const m = { [MARK]: rand.chance(0.9) ? 1 + rand.int(12) : rand.pick([0, 13, -1, 'x', 1.5]) };
    for (const key of ['i', 'k', 'r', 'f', 't', 'h', 'a', 'p', 'd', 'e', 's', 'n', 'v', 'x', 'm'])
      if (rand.chance(0.25)) m[key] = rand.chance(0.5) ? leaves(rand) : rand.int(4);
    return m;
  };

  /** Every object/array in the graph, each with a way to replace one of its slots. */
  function nodes(root) {
    const found = [];
    const seen = new Set();
    const walk = (v) => {
      if (typeof v !== 'object' || v === null || seen.has(v) || found.length > 400) return;
      seen.add(v);
      if (v instanceof Map) return void [...v.values()].forEach(walk);
      if (v instanceof Set) return void [...v].forEach(walk);
      if (!Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype) return;
      found.push(v);
      for (const k of Object.keys(v)) walk(v[k]);
    };
    walk(root);
    return found;
  }

  function mutateGraph(rand, bytes) {
    let decoded;
    try {
      decoded = format.unframe(bytes);
    } catch {
      return undefined;
    }
    const { codec, value } = decoded;
    const all = nodes(value);
    if (all.length === 0) return undefined;
    for (let r = 1 + rand.int(3); r > 0; r--) {
      const node = rand.pick(all);
      const keys = Object.keys(node);
      const key = keys.length > 0 && rand.chance(0.8) ? rand.pick(keys) : rand.pick(['i', 'c', 'u', 's', 'f', 'p', 'd', 'a', 'e', MARK, '0', 'x']);
      switch (rand.int(5)) {
        case 0:
          delete node[key];
          break;
        case 1:
          node[key] = marker(rand);
          break;
        case 2:
          node[key] = rand.pick(all); // shared references and cycles
          break;
        case 3:
          node[key] = typeof node[key] === 'number' ? node[key] + rand.pick([-2, -1, 1, 2, 1000]) : leaves(rand);
          break;
        default:
          node[key] = leaves(rand);
      }
    }
    try {
      return format.frame(rand.chance(0.5) && codec !== format.CODEC_PLAIN ? format.CODEC_GRAPH : codec, value);
    } catch {
      return format.frame(format.CODEC_GRAPH, value);
    }
  }

  return {
    mutate(rand, input, corpus) {
      return (rand.chance(0.5) && mutateGraph(rand, input)) || mutateBytes(rand, input, corpus);
    },
    run(input) {
      const outcomes = [];
      for (const options of [{ functions: false }, {}]) {
        try {
          const value = ser.loads(input, options);
          outcomes.push(`ok:${typeof value}`);
        } catch (error) {
          if (!(error instanceof ser.SerializationError)) return { bug: `loads${options.functions === false ? ' (functions: false)' : ''} threw ${describe(error)}` };
          outcomes.push(`err:${signature(error.message)}`);
        }
      }
      return { outcome: outcomes.join('|') };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// framing: a peer's raw byte stream into a Connection, read back by each receive call.

const END_CLEAN = 'clean';

/** The frames a stream holds and how it ends, by CPython's format, written as plainly as possible. */
function referenceFrames(stream) {
  const frames = [];
  let pos = 0;
  for (;;) {
    if (pos === stream.length) return { frames, end: END_CLEAN };
    if (stream.length - pos < 4) return { frames, end: 'mid-header' };
    let length = stream.readInt32BE(pos);
    pos += 4;
    if (length === -1) {
      if (stream.length - pos < 8) return { frames, end: 'mid-header' };
      length = Number(stream.readBigUInt64BE(pos));
      pos += 8;
    } else if (length < 0) return { frames, end: 'negative' };
    if (stream.length - pos < length) return { frames, end: 'mid-body', length };
    frames.push(stream.subarray(pos, pos + length));
    pos += length;
  }
}

function framingTarget() {
  const { Connection, Pipe } = dist('entries/connection.js');
  const { EOFError, BufferTooShort } = dist('index.js');
  const { SerializationError } = dist('serializer/index.js');
  const MODES = ['recvBytes', 'recvBytesAsync', 'recv', 'recvAsync', 'recvBytesMax', 'recvBytesInto'];

  function endOf(error, expected) {
    if (error instanceof EOFError) return END_CLEAN;
    const message = String(error?.message);
    if (/in the middle of a message header/.test(message)) return 'mid-header';
    if (/in the middle of a message/.test(message)) return expected.end === 'mid-header' ? 'mid-header' : 'mid-body';
    if (/corrupt message header \(negative length\)/.test(message)) return 'negative';
    if (error?.code === 'ERR_MP_BAD_MESSAGE_LENGTH') return 'too-long';
    return undefined;
  }

  return {
    mutate(rand, input, corpus) {
      if (rand.chance(0.3)) {
        // Structure: append a frame (short or long header) around bytes from another input.
        const body = rand.pick(corpus).subarray(1, 1 + rand.int(200));
        const header = rand.chance(0.8) ? Buffer.alloc(4) : Buffer.alloc(12);
        if (header.length === 4) header.writeInt32BE(rand.chance(0.9) ? body.length : rand.pick(INTERESTING_32) | 0);
        else (header.writeInt32BE(-1), header.writeBigUInt64BE(rand.chance(0.9) ? BigInt(body.length) : BigInt(rand.pick(INTERESTING_32) >>> 0) << BigInt(rand.int(33))));
        return Buffer.concat([input.subarray(0, 1 + rand.int(input.length)), header, body]);
      }
      return mutateBytes(rand, input, corpus);
    },
    async run(input) {
      if (input.length === 0) return { outcome: 'empty' };
      const mode = MODES[input[0] % MODES.length];
      const functions = (input[0] & 0x80) === 0;
      const stream = input.subarray(1);
      const expected = referenceFrames(stream);
      const maxLength = mode === 'recvBytesMax' ? 16 : -1;
      const [reader, writer] = Pipe();
      // The reader's descriptor, in a Connection with the option (closed once, by it).
      const receiving = new Connection(reader.fileno(), { functions });
      try {
        fs.writeSync(writer.fileno(), stream);
        writer.close();
        const got = [];
        let decodeErrors = 0;
        for (;;) {
          try {
            if (mode === 'recvBytes') got.push(receiving.recvBytes());
            else if (mode === 'recvBytesMax') got.push(receiving.recvBytes(maxLength));
            else if (mode === 'recvBytesAsync') got.push(await receiving.recvBytesAsync());
            else if (mode === 'recvBytesInto') {
              const into = Buffer.alloc(32);
              try {
                got.push(Buffer.from(into.subarray(0, receiving.recvBytesInto(into))));
              } catch (error) {
                if (!(error instanceof BufferTooShort)) throw error;
                got.push(Buffer.from(error.data));
              }
            } else {
              try {
                mode === 'recv' ? receiving.recv() : await receiving.recvAsync();
              } catch (error) {
                if (!(error instanceof SerializationError)) throw error;
                decodeErrors++;
              }
              got.push(null);
            }
          } catch (error) {
            const end = endOf(error, expected);
            if (end === undefined) return { bug: `${mode} threw ${describe(error)}` };
            const frames = expected.frames;
            if (end === 'too-long') {
              // Only for the frame that comes next, when it is over maxLength or over what a Buffer holds.
              const claimed = got.length < frames.length ? frames[got.length].length : expected.end === 'mid-body' ? expected.length : undefined;
              if (claimed === undefined || !((maxLength >= 0 && claimed > maxLength) || claimed > MAX_LENGTH))
                return { bug: `${mode}: ERR_MP_BAD_MESSAGE_LENGTH after ${got.length} frames, the next frame being ${claimed} bytes` };
              if (!receiving.closed) return { bug: `${mode}: the connection stayed open after ERR_MP_BAD_MESSAGE_LENGTH` };
            } else if (end !== expected.end) return { bug: `${mode}: the stream ended '${end}', the reference says '${expected.end}'` };
            else if (got.length !== frames.length) return { bug: `${mode}: ${got.length} frames, the reference says ${frames.length}` };
            for (let i = 0; i < got.length; i++)
              if (got[i] !== null && !got[i].equals(frames[i])) return { bug: `${mode}: frame ${i} differs from the reference` };
            return { outcome: `${mode}:${end}:${Math.min(got.length, 3)}:${decodeErrors > 0}` };
          }
        }
      } finally {
        if (!receiving.closed) receiving.close();
        writer.close();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// handshake: CPython's HMAC challenge/response against a peer that follows a mutated script
// (handshake-peer.mjs): input JSON { role: 'listener' | 'client', blocking, steps }.

function handshakeTarget() {
  const { Listener, ClientAsync, Client } = dist('entries/connection.js');
  const { AuthenticationError, EOFError } = dist('index.js');
  const DIGESTS = ['sha256', 'md5', 'sha384', 'sha3_256', 'sha3_384', '', 'sha1', 'x'.repeat(9), '}'];
  const KINDS = ['raw', 'answer', 'challenge', 'welcome', 'header', 'close'];
  const listener = new Listener(undefined, { authkey: KEY });
  const peerScript = path.join(here, 'handshake-peer.mjs');
  /** The peer in another process, for the blocking calls (they hold this thread). */
  const peerProcess = (...args) => spawn(process.execPath, [peerScript, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });

  // A side may be accepted only by a peer that proved the key: for a Listener, the first message it
  // reads (steps that send nothing aside) is the key's answer; a Client reads one somewhere later.
  const SUPPORTED = ['sha256', 'md5', 'sha384', 'sha3_256', 'sha3_384', ''];
  const isAnswer = (step) => step?.kind === 'answer' && step.key === true && SUPPORTED.includes(step.digest ?? 'sha256');
  const legitimate = (script) => {
    const sending = script.steps.filter((step) => !(step.kind === 'header' && !step.bytes));
    return script.role === 'listener' ? isAnswer(sending[0]) : sending.some(isAnswer);
  };

  return {
    mutate(rand, input) {
      let script;
      try {
        script = JSON.parse(input.toString());
      } catch {
        script = { role: 'listener', steps: [] };
      }
      if (!Array.isArray(script.steps)) script.steps = [];
      for (let r = 1 + rand.int(3); r > 0; r--) {
        const at = rand.int(script.steps.length + 1);
        switch (rand.int(6)) {
          case 0:
            script.steps.splice(at, 0, { kind: rand.pick(KINDS), digest: rand.pick(DIGESTS), key: rand.chance(0.5) });
            break;
          case 1:
            script.steps.splice(at, 1);
            break;
          case 2:
            if (script.steps[at]) script.steps[at].digest = rand.pick(DIGESTS);
            break;
          case 3:
            if (script.steps[at]) script.steps[at].bytes = mutateBytes(rand, Buffer.from(script.steps[at].bytes ?? '', 'hex'), [Buffer.from('#CHALLENGE#{sha256}'), Buffer.from('#WELCOME#')]).toString('hex');
            break;
          case 4:
            script.role = rand.pick(['listener', 'client']);
            script.blocking = rand.chance(0.05);
            break;
          default:
            if (script.steps[at]) script.steps[at].key = !script.steps[at].key;
        }
      }
      script.steps = script.steps.slice(0, 6);
      // The blocking calls need the peer in another process (~150 ms to start): a few of them.
      script.blocking = script.blocking === true && rand.chance(0.03);
      return Buffer.from(JSON.stringify(script));
    },
    async run(input) {
      let script;
      try {
        script = JSON.parse(input.toString());
      } catch {
        return { outcome: 'not-json' };
      }
      if (!Array.isArray(script.steps)) return { outcome: 'no-steps' };
      const documented = (error) => error instanceof AuthenticationError || error instanceof EOFError || /in the middle of a message|negative length|ECONNRESET|EPIPE/.test(String(error?.message)) || error?.code === 'ERR_MP_BAD_MESSAGE_LENGTH';
      let outcome;
      if (script.role === 'listener') {
        if (script.blocking) {
          // accept() blocks this thread: the peer runs the script in another process.
          const peer = peerProcess('connect', listener.address, JSON.stringify(script.steps));
          try {
            outcome = (listener.accept().close(), 'accepted');
          } catch (error) {
            if (!documented(error)) return { bug: `Listener.accept threw ${describe(error)}` };
            outcome = `refused:${signature(error.message)}`;
          }
          if (peer.exitCode === null) peer.kill();
          if (peer.exitCode === null && peer.signalCode === null) await once(peer, 'exit');
        } else {
          const accepted = listener.acceptAsync();
          const socket = net.connect(listener.address);
          const driving = drive(socket, script.steps);
          try {
            (await accepted).close();
            outcome = 'accepted';
          } catch (error) {
            if (!documented(error)) return { bug: `Listener.acceptAsync threw ${describe(error)}` };
            outcome = `refused:${signature(error.message)}`;
          }
          socket.destroy();
          await driving;
        }
      } else {
        const peer = script.blocking ? peerProcess('serve', JSON.stringify(script.steps)) : undefined;
        const server = peer ? undefined : net.createServer((socket) => void drive(socket, script.steps)).listen(0, '127.0.0.1');
        const port = peer ? Number((await once(peer.stdout, 'data'))[0]) : (await once(server, 'listening'), server.address().port);
        try {
          const connection = peer ? Client(['127.0.0.1', port], { authkey: KEY }) : await ClientAsync(['127.0.0.1', port], { authkey: KEY });
          connection.close();
          outcome = 'accepted';
        } catch (error) {
          if (!documented(error)) return { bug: `Client${peer ? '' : 'Async'} threw ${describe(error)}` };
          outcome = `refused:${signature(error.message)}`;
        } finally {
          server?.close();
          if (peer && peer.exitCode === null) peer.kill();
          if (peer && peer.exitCode === null && peer.signalCode === null) await once(peer, 'exit');
        }
      }
      if (outcome === 'accepted' && !legitimate(script)) return { bug: `a peer without the key was accepted (${script.role})` };
      return { outcome: `${script.role}:${outcome}` };
    },
  };
}

// ---------------------------------------------------------------------------------------------

function describe(error) {
  return `${error?.constructor?.name ?? typeof error}: ${String(error?.message ?? error).slice(0, 300)}`;
}

/** A message with its numbers and quoted parts blanked: one outcome per kind of error. */
function signature(message) {
  return String(message).replace(/'[^']*'|"[^"]*"|\d+/g, '#').split(/[\s(:]+/).slice(0, 5).join(' ');
}

function readCorpus(target) {
  const dir = corpusDir(target);
  return fs.readdirSync(dir).sort().map((name) => fs.readFileSync(path.join(dir, name)));
}

async function fuzzInWorker({ target, seconds, seed, save, shared }) {
  const state = new Int32Array(shared, 0, 2); // [inputs run, length of the current input]
  const current = new Uint8Array(shared, 8);
  const harness = { loads: loadsTarget, framing: framingTarget, handshake: handshakeTarget }[target]();
  const rand = xorshift(seed);
  const corpus = readCorpus(target);
  const seeds = corpus.length;
  const outcomes = new Map();
  const deadline = Date.now() + seconds * 1000;
  let inputs = 0;
  const test = async (input) => {
    current.set(input.subarray(0, CURRENT_BYTES));
    Atomics.store(state, 1, Math.min(input.length, CURRENT_BYTES));
    const started = performance.now();
    const result = await harness.run(input);
    if (process.env.FUZZ_SLOW && performance.now() - started > 100) console.error(`slow ${(performance.now() - started).toFixed(0)} ms: ${input.toString().slice(0, 300)}`);
    Atomics.store(state, 0, ++inputs);
    if (result.bug) {
      const file = path.join(process.cwd(), `fuzz-${target}-bug-${createHash('sha1').update(input).digest('hex').slice(0, 12)}`);
      fs.writeFileSync(file, input);
      throw new Error(`${target}: ${result.bug} (input saved to ${file})`);
    }
    return result.outcome;
  };
  for (const input of corpus) {
    const outcome = await test(input);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  while (Date.now() < deadline) {
    for (let batch = 0; batch < 64; batch++) {
      const input = harness.mutate(rand, rand.pick(corpus), corpus);
      const outcome = await test(input);
      if (!outcomes.has(outcome)) {
        outcomes.set(outcome, 0);
        if (corpus.length < 5000) corpus.push(input);
        if (save) fs.writeFileSync(path.join(corpusDir(target), createHash('sha1').update(input).digest('hex').slice(0, 16)), input);
      }
      outcomes.set(outcome, outcomes.get(outcome) + 1);
    }
  }
  return { target, seed, inputs, seeds, corpus: corpus.length, outcomes: outcomes.size };
}

// ---------------------------------------------------------------------------------------------
// Seeds: messages dumps makes, streams of frames, handshake scripts.

function writeSeeds() {
  const ser = dist('serializer/index.js');
  const k = 3;
  class Point {
    constructor(x) {
      this.x = x;
    }
    get double() {
      return this.x * 2;
    }
  }
  const shared = { s: 1 };
  const values = {
    number: 42,
    string: 'text',
    'plain-json': { a: [1, 'x', null, true], b: { c: 'd' } },
    'plain-v8': { m: new Map([[1, new Set([2n])]]), d: new Date(0), r: /x/g, u: undefined, t: new Float64Array([1.5]) },
    shared: [shared, shared, { self: null }],
    closure: (x) => x * k,
    'closures-sharing': (() => {
      let n = 0;
      return { inc: () => ++n, get: () => n };
    })(),
    class: Point,
    instance: new Point(2),
    error: new RangeError('r'),
    'by-reference': { max: Math.max, join: path.join },
    bound: Math.max.bind(null, 1),
    symbol: { s: Symbol.for('s') },
    'frozen-accessors': Object.freeze(Object.defineProperty({ a: 1 }, 'g', { get: () => 1, enumerable: true })),
    'array-subclass': Object.setPrototypeOf([1, 2], Object.create(Array.prototype)),
    'async-generator': async function* gen() {
      yield k;
    },
  };
  const loadsDir = corpusDir('loads');
  fs.mkdirSync(loadsDir, { recursive: true });
  for (const [name, value] of Object.entries(values)) fs.writeFileSync(path.join(loadsDir, `${name}.bin`), ser.dumps(value));

  const framingDir = corpusDir('framing');
  fs.mkdirSync(framingDir, { recursive: true });
  const frame = (bytes) => Buffer.concat([Buffer.from([0, 0, 0, 0].map((_, i) => (bytes.length >>> (24 - 8 * i)) & 255)), bytes]);
  const long = (bytes) => {
    const header = Buffer.alloc(12);
    header.writeInt32BE(-1);
    header.writeBigUInt64BE(BigInt(bytes.length), 4);
    return Buffer.concat([header, bytes]);
  };
  const streams = {
    'bytes-two-frames': [0, frame(Buffer.from('hello')), frame(Buffer.alloc(0))],
    'bytes-async-long-header': [1, long(Buffer.from('long form'))],
    'objects-closure': [2, frame(ser.dumps(values.closure)), frame(ser.dumps(values['plain-v8']))],
    'objects-async-class-functions-false': [0x80 | 3, frame(ser.dumps(values.class)), frame(ser.dumps(values['plain-json']))],
    'max-length': [4, frame(Buffer.alloc(10)), frame(Buffer.alloc(100))],
    'into-small-buffer': [5, frame(Buffer.alloc(8)), frame(Buffer.alloc(64))],
    'negative-header': [0, Buffer.from([0xff, 0xff, 0xff, 0xfe])],
    'truncated-body': [1, Buffer.from([0, 0, 1, 0, 1, 2, 3])],
  };
  for (const [name, [mode, ...parts]] of Object.entries(streams)) fs.writeFileSync(path.join(framingDir, `${name}.bin`), Buffer.concat([Buffer.from([mode]), ...parts]));

  const handshakeDir = corpusDir('handshake');
  fs.mkdirSync(handshakeDir, { recursive: true });
  const scripts = {
    'listener-legitimate': { role: 'listener', steps: [{ kind: 'answer', key: true }, { kind: 'challenge' }, { kind: 'welcome' }] },
    'listener-legitimate-md5': { role: 'listener', steps: [{ kind: 'answer', key: true, digest: '' }, { kind: 'challenge', digest: '' }, { kind: 'welcome' }] },
    'listener-wrong-key': { role: 'listener', steps: [{ kind: 'answer', key: false }] },
    'listener-blocking-wrong-key': { role: 'listener', blocking: true, steps: [{ kind: 'answer', key: false }] },
    'listener-code-instead': { role: 'listener', steps: [{ kind: 'raw', bytes: ser.dumps(values.class).toString('hex') }] },
    'listener-huge-header': { role: 'listener', steps: [{ kind: 'header', bytes: '7fffffff00' }] },
    'client-challenge-wrong-answer': { role: 'client', steps: [{ kind: 'challenge' }, { kind: 'welcome' }] },
    'client-not-a-challenge': { role: 'client', steps: [{ kind: 'raw', bytes: Buffer.from('#WELCOME#').toString('hex') }] },
    'client-blocking-md5': { role: 'client', blocking: true, steps: [{ kind: 'challenge', digest: '' }, { kind: 'welcome' }] },
  };
  for (const [name, script] of Object.entries(scripts)) fs.writeFileSync(path.join(handshakeDir, `${name}.json`), JSON.stringify(script));
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--write-seeds') return writeSeeds();
  const target = args[0];
  if (!TARGETS.includes(target)) throw new TypeError(`fuzz.mjs: the target must be one of ${TARGETS.join(', ')}, got ${JSON.stringify(target)}`);
  const option = (name, fallback) => {
    const at = args.indexOf(name);
    return at === -1 ? fallback : Number(args[at + 1]);
  };
  const seconds = option('--seconds', 20);
  const seed = option('--seed', Date.now() % 0x7fffffff);
  const shared = new SharedArrayBuffer(8 + CURRENT_BYTES);
  const state = new Int32Array(shared, 0, 2);
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { target, seconds, seed, save: args.includes('--save'), shared } });
  let last = -1;
  let still = 0;
  const watchdog = setInterval(() => {
    const now = Atomics.load(state, 0);
    still = now === last ? still + 1 : 0;
    last = now;
    if (still < HANG_SECONDS) return;
    const input = Buffer.from(new Uint8Array(shared, 8, Atomics.load(state, 1)));
    const file = path.join(process.cwd(), `fuzz-${target}-hang-${createHash('sha1').update(input).digest('hex').slice(0, 12)}`);
    fs.writeFileSync(file, input);
    console.error(`${target}: an input ran for more than ${HANG_SECONDS} s (saved to ${file}) after ${Atomics.load(state, 0)} inputs`);
    process.exitCode = 1;
    void worker.terminate();
  }, 1000);
  worker.on('message', (stats) => console.log(JSON.stringify(stats)));
  worker.on('error', (error) => {
    console.error(`${error.message} after ${Atomics.load(state, 0)} inputs`);
    process.exitCode = 1;
  });
  await once(worker, 'exit');
  clearInterval(watchdog);
}

if (isMainThread) await main();
else {
  const { parentPort } = await import('node:worker_threads');
  parentPort.postMessage(await fuzzInWorker(workerData));
  process.exit(0);
}
