// Trust boundaries: kernel objects are owner-only with unguessable names, another uid cannot use
// them, a TCP Listener wants an authkey, and nothing a peer sends is decoded before it authenticates.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { AuthenticationError, Lock, Queue, SerializationError, Value } from '../lib/index';
import { SharedMemory } from '../lib/shared-memory';
import { Client, ClientAsync, Listener, Pipe, type Connection } from '../lib/connection';
import { dumps, loads } from '../lib/serializer/index';

const cleanup: Array<{ close(): void }> = [];
function track<T extends { close(): void }>(object: T): T {
  cleanup.push(object);
  return object;
}
afterEach(() => {
  for (const object of cleanup.splice(0)) object.close();
});

// Rebuilding this class runs its static block: the count shows whether a message was decoded.
const counter = globalThis as { mpjsSecurityRebuilds?: number };
class RunsOnRebuild {
  static {
    globalThis.mpjsSecurityRebuilds = (globalThis.mpjsSecurityRebuilds ?? 0) + 1;
  }
}
const rebuilds = (): number => counter.mpjsSecurityRebuilds ?? 0;
const payload = dumps({ harmless: [1, 2], code: RunsOnRebuild });

function ownSegments(): string[] {
  return fs.readdirSync('/dev/shm').filter((entry) => entry.startsWith(`mpjs-${process.pid}-`));
}

function frame(bytes: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeInt32BE(bytes.length);
  return Buffer.concat([header, bytes]);
}

describe('payload', () => {
  it('runs code when decoded without restrictions (the control for the tests below)', () => {
    const before = rebuilds();
    loads(payload);
    expect(rebuilds()).toBe(before + 1);
  });
});

describe('kernel objects', () => {
  it('shared memory segments are mode 0600 with 48 random bits in their names', () => {
    const made = [new Lock(), new Lock(), new Value('i', 1), new Queue()];
    const shm = new SharedMemory({ create: true, size: 64 });
    try {
      const entries = ownSegments();
      expect(entries.length).toBeGreaterThanOrEqual(5);
      for (const entry of entries) {
        expect(entry).toMatch(/^mpjs-\d+-[a-z]+-[0-9a-f]{12}$/);
        expect((fs.statSync(`/dev/shm/${entry}`).mode & 0o777).toString(8)).toBe('600');
      }
      expect(new Set(entries.map((entry) => entry.slice(-12))).size).toBe(entries.length);
    } finally {
      shm.close();
      shm.unlink();
      (made[3] as Queue).close();
    }
  });

  it('a Unix socket Listener is mode 0600 whatever the umask, at a fresh or a given path', () => {
    const old = process.umask(0);
    try {
      const fresh = track(new Listener());
      expect(fresh.address).toMatch(/mpjs-\d+-listener-[0-9a-f]{12}$/);
      const given = path.join(fs.mkdtempSync('/tmp/mpjs-security-'), 'sock');
      track(new Listener(given));
      for (const address of [fresh.address as string, given]) expect((fs.statSync(address).mode & 0o777).toString(8)).toBe('600');
      fs.rmSync(path.dirname(given), { recursive: true, force: true });
    } finally {
      process.umask(old);
    }
  });

  const root = process.getuid?.() === 0;
  // useradd needs root; a normal user cannot run a process as another uid to try it.
  it.skipIf(!root)('another uid cannot open our segments, connect to our sockets or join our semaphores (needs root: skipped otherwise)', async () => {
    const user = 'mpjs-other';
    try {
      execFileSync('id', ['-u', user], { stdio: 'ignore' });
    } catch {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
    }
    const uid = Number(execFileSync('id', ['-u', user]).toString());
    const gid = Number(execFileSync('id', ['-g', user]).toString());
    const lock = new Lock();
    const shm = new SharedMemory({ create: true, size: 64 });
    const listener = track(new Listener());
    try {
      const request = { segments: ownSegments(), lock: dumps(lock).toString('base64'), shm: shm.name, socket: listener.address };
      const probe = spawn(process.execPath, [path.join(__dirname, 'helpers/other-uid-probe.cjs'), JSON.stringify(request)], {
        uid,
        gid,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      probe.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const [code] = await once(probe, 'exit');
      expect(code).toBe(0);
      const results = JSON.parse(out) as Record<string, string>;
      expect(Object.keys(results).length).toBe(request.segments.length + 4);
      for (const [what, outcome] of Object.entries(results)) expect(`${what}: ${outcome}`).toMatch(/EACCES|permission denied/i);
      expect(lock.acquire(false)).toBe(true); // nothing the probe did touched it
      lock.release();
    } finally {
      shm.close();
      shm.unlink();
    }
  });
});

describe('TCP Listener authentication', () => {
  it('requires an authkey unless the caller opts out', () => {
    const made = (): Listener => new Listener(['127.0.0.1', 0]);
    expect(made).toThrow(TypeError);
    expect(made).toThrow(/Listener: a TCP Listener \(\[ '127\.0\.0\.1', 0 \]\) needs an authkey.*allowUnauthenticated/);
    expect(() => new Listener(null, 'AF_INET')).toThrow(expect.objectContaining({ code: 'ERR_MP_AUTHKEY_REQUIRED' }));
    expect(() => new Listener(['127.0.0.1', 0], { allowUnauthenticated: 'yes' as unknown as boolean })).toThrow(/allowUnauthenticated must be a boolean, got 'yes'/);
    const open = track(new Listener(['127.0.0.1', 0], { allowUnauthenticated: true }));
    expect(open.address).toEqual(['127.0.0.1', expect.any(Number)]);
    track(new Listener(['127.0.0.1', 0], { authkey: Buffer.from('k') }));
    track(new Listener(['127.0.0.1', 0], 'AF_INET', 1, Buffer.from('k')));
    track(new Listener()); // AF_UNIX: the socket file's mode guards it
  });

  /** A peer without the key: reads the challenge, then sends a code-carrying frame instead of an answer. */
  async function rawPeer(port: number): Promise<net.Socket> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    await once(socket, 'data'); // the challenge
    socket.write(frame(payload));
    return socket;
  }

  it('decodes nothing an unauthenticated peer sends (acceptAsync)', async () => {
    const listener = track(new Listener(['127.0.0.1', 0], { authkey: Buffer.from('secret') }));
    const before = rebuilds();
    const accepted = listener.acceptAsync();
    const peer = await rawPeer((listener.address as [string, number])[1]);
    await expect(accepted).rejects.toBeInstanceOf(AuthenticationError);
    peer.destroy();
    expect(rebuilds()).toBe(before);
  });

  // Before, the async calls allocated what the header claimed and waited for it while the peer held on.
  it('refuses the oversized message of an unauthenticated peer at its header, as the blocking calls do (acceptAsync, ClientAsync)', async () => {
    const huge = Buffer.alloc(4);
    huge.writeInt32BE(0x7fffffff);
    const listener = track(new Listener(['127.0.0.1', 0], { authkey: Buffer.from('secret') }));
    const accepted = listener.acceptAsync();
    const peer = net.connect((listener.address as [string, number])[1], '127.0.0.1');
    await once(peer, 'data'); // the challenge
    peer.write(huge);
    await expect(accepted).rejects.toMatchObject({ code: 'ERR_MP_BAD_MESSAGE_LENGTH' });
    peer.destroy();

    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => (sockets.push(socket), socket.write(huge)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      await expect(ClientAsync(['127.0.0.1', port], { authkey: Buffer.from('secret') })).rejects.toMatchObject({ code: 'ERR_MP_BAD_MESSAGE_LENGTH' });
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  }, 20_000);

  it('decodes nothing an unauthenticated peer sends (accept, the peer in another process)', () => {
    const listener = track(new Listener(['127.0.0.1', 0], { authkey: Buffer.from('secret') }));
    const before = rebuilds();
    const script = `const s = require('net').connect(${(listener.address as [string, number])[1]}, '127.0.0.1');
      s.once('data', () => s.write(Buffer.from('${frame(payload).toString('base64')}', 'base64')));
      s.on('error', () => {}); s.on('close', () => process.exit(0));`;
    const peer = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    try {
      expect(() => listener.accept()).toThrow(AuthenticationError);
    } finally {
      peer.kill();
    }
    expect(rebuilds()).toBe(before);
  });
});

describe('{ functions: false } on connections', () => {
  async function pair(listenerFunctions: boolean | undefined, clientFunctions: boolean | undefined): Promise<[Connection, Connection]> {
    const authkey = Buffer.from('k');
    const listener = track(new Listener(['127.0.0.1', 0], { authkey, functions: listenerFunctions }));
    const accepted = listener.acceptAsync();
    const client = track(await ClientAsync(listener.address, { authkey, functions: clientFunctions }));
    return [track(await accepted), client];
  }

  it('an authenticated peer that is not trusted gets code refused, with its path, and nothing run (recv, recvAsync)', async () => {
    const [server, client] = await pair(false, undefined);
    const before = rebuilds();
    client.send({ harmless: [1, 2], code: RunsOnRebuild });
    expect(() => server.recv()).toThrow(SerializationError);
    client.send([{ code: RunsOnRebuild }]);
    await expect(server.recvAsync()).rejects.toThrow(expect.objectContaining({ path: 'value[0].code' }));
    expect(rebuilds()).toBe(before);
    client.send({ data: new Map([[1, new Date(0)]]) });
    expect(server.recv()).toEqual({ data: new Map([[1, new Date(0)]]) });
    // The other direction keeps the default: the client trusts its server.
    server.send(RunsOnRebuild);
    expect(typeof client.recv()).toBe('function');
    expect(rebuilds()).toBe(before + 1);
  });

  it('a Connection received over a connection refusing code refuses it too', () => {
    const unix = track(new Listener(undefined, { functions: false }));
    const client = track(Client(unix.address));
    const server = track(unix.accept());
    const [kept, sent] = Pipe();
    track(kept);
    client.send(sent);
    sent.close();
    const received = track(server.recv() as Connection);
    kept.send({ code: RunsOnRebuild });
    const before = rebuilds();
    expect(() => received.recv()).toThrow(/value\.code is a function or class sent by value/);
    expect(rebuilds()).toBe(before);
  });

  it('Client and the positional ClientAsync take the option too', async () => {
    const authkey = Buffer.from('k');
    const listener = track(new Listener(['127.0.0.1', 0], { authkey }));
    const accepted = listener.acceptAsync();
    const client = track(await ClientAsync(listener.address, 'AF_INET', authkey, { functions: false }));
    const server = track(await accepted);
    server.send({ f: RunsOnRebuild });
    await expect(client.recvAsync()).rejects.toThrow(/value\.f is a function or class sent by value .* refused by \{ functions: false \}/);

    const unix = track(new Listener(undefined, { functions: false }));
    const blockingClient = track(Client(unix.address, { functions: false }));
    const unixServer = track(unix.accept());
    blockingClient.send(() => 1);
    expect(() => unixServer.recv()).toThrow(/value is a function/);
    expect(() => Client(unix.address, { functions: 0 as unknown as boolean })).toThrow(/Client: functions must be a boolean, got 0/);
  });
});
