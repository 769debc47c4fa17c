import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { AuthenticationError } from '../lib/index';
import { Client, ClientAsync, Connection, Listener, Pipe, wait, waitAsync } from '../lib/connection';
import { until } from './helpers/until';

const cleanup: Array<{ close(): void }> = [];
const pythons: ChildProcess[] = [];
function track<T extends { close(): void }>(object: T): T {
  cleanup.push(object);
  return object;
}
afterEach(async () => {
  for (const object of cleanup.splice(0)) object.close();
  for (const python of pythons.splice(0)) {
    if (python.exitCode === null) python.kill('SIGKILL');
    if (python.exitCode === null && python.signalCode === null) await once(python, 'exit');
  }
});

/** A blocking Client and a ClientAsync connected to a plain TCP server whose raw sockets the test drives. */
async function withRawPeers(use: (peers: { sockets: net.Socket[]; blocking: Connection; asynchronous: Connection }) => Promise<void>): Promise<void> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const blocking = track(Client(['127.0.0.1', port]));
    const asynchronous = track(await ClientAsync(['127.0.0.1', port]));
    await until(() => sockets.length === 2);
    await use({ sockets, blocking, asynchronous });
  } finally {
    server.close();
  }
}

function python(script: string): { child: ChildProcess; output: Promise<string> } {
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  pythons.push(child);
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const output = once(child, 'exit').then(() => text);
  return { child, output };
}

describe('Listener and Client', () => {
  it('connects over AF_UNIX without authentication', async () => {
    const listener = track(new Listener());
    expect(typeof listener.address).toBe('string');
    const client = track(await ClientAsync(listener.address));
    const server = track(listener.accept());
    client.sendBytes(Buffer.from('over unix'));
    expect(server.recvBytes().toString()).toBe('over unix');
    listener.close();
    expect(() => listener.accept()).toThrow(/closed/);
  });

  it('authenticates over TCP with the same key, and both sides refuse a wrong one', async () => {
    const key = Buffer.from('secret');
    const listener = track(new Listener(['127.0.0.1', 0], 'AF_INET', 1, key));
    const [host, port] = listener.address as [string, number];
    expect(host).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const accepted = listener.acceptAsync();
    const client = track(await ClientAsync(['localhost', port], 'AF_INET', key));
    const server = track(await accepted);
    server.sendBytes(Buffer.from('trusted'));
    expect((await client.recvBytesAsync()).toString()).toBe('trusted');
    expect(listener.lastAccepted).toEqual(['127.0.0.1', expect.any(Number)]);

    const refused = listener.acceptAsync();
    const wrongClient = ClientAsync(['127.0.0.1', port], 'AF_INET', Buffer.from('wrong'));
    await expect(refused).rejects.toBeInstanceOf(AuthenticationError);
    await expect(wrongClient).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('a client with a key refuses a listener without one', async () => {
    const listener = track(new Listener());
    const accepted = listener.acceptAsync();
    const client = ClientAsync(listener.address, undefined, Buffer.from('k'));
    track(await accepted).sendBytes(Buffer.from('not a challenge'));
    await expect(client).rejects.toThrow(AuthenticationError);
  });

  it('rejects bad arguments', () => {
    expect(() => new Listener(42 as unknown as string)).toThrow(TypeError);
    expect(() => new Listener(undefined, 'AF_PACKET' as 'AF_UNIX')).toThrow(RangeError);
    expect(() => new Listener(undefined, undefined, 1, 'key' as unknown as Buffer)).toThrow(/authkey.*got 'key'/);
    expect(() => new Listener(undefined, undefined, '4' as unknown as number)).toThrow(TypeError);
    expect(() => Client('/nonexistent/mpjs-socket')).toThrow(/ENOENT/);
  });

  // CPython's address_type and _validate_family: wrong types are TypeErrors, values no family
  // here can take are RangeErrors, each naming the call and showing the value as given.
  const badAddresses: Array<[string, unknown, unknown, ErrorConstructor, RegExp]> = [
    ['a Windows pipe name (AF_PIPE)', '\\\\.\\test', undefined, RangeError, /address '\\\\\\\\\.\\\\test' names a Windows named pipe \(family 'AF_PIPE'\)/],
    ['the AF_PIPE family', '/tmp/mpjs-never-bound', 'AF_PIPE', RangeError, /family 'AF_PIPE'/],
    ['an unknown family', '/tmp/mpjs-never-bound', 'AF_INET6', RangeError, /got 'AF_INET6'/],
    ['a family that is not a string', '/tmp/mpjs-never-bound', 2, TypeError, /family must be 'AF_UNIX' or 'AF_INET', got 2/],
    ['a number as address', 123, undefined, TypeError, /socket path \(a string\) or \[host, port\], got 123/],
    ['a port out of range', ['127.0.0.1', 70000], undefined, RangeError, /0 to 65535, got 70000/],
    ['a negative port', ['127.0.0.1', -1], undefined, RangeError, /got -1/],
    ['a port as a string', ['127.0.0.1', '80'], undefined, TypeError, /integer, got '80'/],
    ['a fractional port', ['127.0.0.1', 1.5], undefined, TypeError, /integer, got 1\.5/],
    ['a host that is not a string', [1, 80], undefined, TypeError, /host .* got 1/],
    ['a one-element AF_INET address', ['127.0.0.1'], undefined, TypeError, /\[host, port\], got \[ '127\.0\.0\.1' \]/],
    ['a path for AF_INET', '/tmp/mpjs-never-bound', 'AF_INET', TypeError, /AF_INET address is \[host, port\], got '\/tmp\/mpjs-never-bound'/],
    ['[host, port] for AF_UNIX', ['127.0.0.1', 0], 'AF_UNIX', TypeError, /AF_UNIX address is a socket path/],
    ['a path over 107 bytes', `/tmp/${'x'.repeat(120)}`, undefined, RangeError, /1 to 107 bytes long, got '\/tmp\/x+' \(125 bytes\)/],
    ['a path with a NUL inside', '/tmp/a\0b', undefined, RangeError, /NUL/],
  ];
  it.each(badAddresses)('validates the address: %s (Listener, Client, ClientAsync)', async (_what, address, family, type, message) => {
    const before = new Set(readdirSync(process.cwd()));
    const listen = (): unknown => new Listener(address as string, family as 'AF_UNIX');
    expect(listen).toThrow(type);
    expect(listen).toThrow(/^Listener: /);
    expect(listen).toThrow(message);
    const connect = (): unknown => Client(address as string, family as 'AF_UNIX');
    expect(connect).toThrow(type);
    expect(connect).toThrow(/^Client: /);
    expect(connect).toThrow(message);
    const connecting = ClientAsync(address as string, family as 'AF_UNIX');
    await expect(connecting).rejects.toThrow(type);
    await expect(connecting).rejects.toThrow(/^ClientAsync: /);
    await expect(connecting).rejects.toThrow(message);
    expect(readdirSync(process.cwd()).filter((name) => !before.has(name))).toEqual([]); // nothing bound
  });

  it('as CPython, an explicit family decides, and an empty address means a fresh one', () => {
    const fresh = track(new Listener(''));
    expect(fresh.address).toMatch(/mpjs-\d+-listener-/);
    const tcp = track(new Listener(null, 'AF_INET', 1, Buffer.from('k')));
    expect(tcp.address).toEqual(['127.0.0.1', expect.any(Number)]);
    const any = track(new Listener(['', 0], 'AF_INET', 1, Buffer.from('k')));
    expect(any.address).toEqual(['0.0.0.0', expect.any(Number)]);
  });

  it('interoperates with CPython: a Node client and a CPython listener', async () => {
    const { child, output } = python(`
import sys
from multiprocessing.connection import Listener
with Listener(('127.0.0.1', 0), authkey=b'shared key') as l:
    print(l.address[1], flush=True)
    with l.accept() as c:
        c.send_bytes(c.recv_bytes()[::-1])
`);
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const client = track(Client(['127.0.0.1', Number(line.toString().trim())], 'AF_INET', Buffer.from('shared key')));
    client.sendBytes(Buffer.from('abc'));
    expect(client.recvBytes().toString()).toBe('cba');
    await output;
    expect(child.exitCode).toBe(0);
  });

  it('interoperates with CPython: a CPython client and a Node listener, also with a wrong key', async () => {
    const listener = track(new Listener(['127.0.0.1', 0], 'AF_INET', 1, Buffer.from('shared key')));
    const port = (listener.address as [string, number])[1];
    const script = (key: string): string => `
from multiprocessing.connection import Client
try:
    with Client(('127.0.0.1', ${port}), authkey=${key}) as c:
        c.send_bytes(b'from python')
        print(c.recv_bytes().decode())
except Exception as e:
    print(type(e).__name__)
`;
    const good = python(script("b'shared key'"));
    const server = track(listener.accept());
    expect(server.recvBytes().toString()).toBe('from python');
    server.sendBytes(Buffer.from('from node'));
    expect((await good.output).trim()).toBe('from node');
    const bad = python(script("b'other key'"));
    expect(() => listener.accept()).toThrow(AuthenticationError);
    expect((await bad.output).trim()).toBe('AuthenticationError');
  });
});

// Every async twin settles on error as its blocking form returns or throws, never hangs.
describe('async twins settle on error', () => {
  function unusedPort(): Promise<number> {
    const server = net.createServer();
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      }),
    );
  }

  it('ClientAsync rejects a refused connect over AF_INET, as Client throws', async () => {
    const port = await unusedPort();
    expect(() => Client(['127.0.0.1', port])).toThrow(/ECONNREFUSED/);
    await expect(ClientAsync(['127.0.0.1', port])).rejects.toThrow(/ECONNREFUSED/);
    await expect(ClientAsync(['localhost', port], 'AF_INET', Buffer.from('k'))).rejects.toThrow(/ECONNREFUSED/);
  });

  it('ClientAsync rejects a refused connect over AF_UNIX (a socket file nobody listens on), as Client throws', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mpjs-stale-'));
    const stale = path.join(dir, 'socket');
    try {
      const { output } = python(`import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stale)}); print('bound')`);
      expect((await output).trim()).toBe('bound');
      expect(() => Client(stale)).toThrow(/ECONNREFUSED/);
      await expect(ClientAsync(stale)).rejects.toThrow(/ECONNREFUSED/);
      await expect(ClientAsync(path.join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ClientAsync waits for room in a full AF_UNIX backlog, as Client does, instead of failing with EAGAIN', async () => {
    const listener = track(new Listener(undefined, 'AF_UNIX', 0));
    const clients = [ClientAsync(listener.address), ClientAsync(listener.address), ClientAsync(listener.address)];
    const servers = [];
    for (let i = 0; i < clients.length; i++) servers.push(track(await listener.acceptAsync()));
    const connected = await Promise.all(clients);
    connected.forEach((client, i) => {
      track(client).sendBytes(Buffer.from([i]));
    });
    const received = servers.map((server) => server.recvBytes()[0]).sort();
    expect(received).toEqual([0, 1, 2]);
    // One waiting for room gives up with its signal's reason.
    const queued = ClientAsync(listener.address);
    const controller = new AbortController();
    const waiting = ClientAsync(listener.address, undefined, undefined, { signal: controller.signal });
    controller.abort(new Error('no room'));
    await expect(waiting).rejects.toThrow('no room');
    track(await listener.acceptAsync());
    track(await queued);
  });

  it('acceptAsync: concurrent calls each get a client; close() rejects the ones still waiting', async () => {
    const listener = track(new Listener());
    const first = listener.acceptAsync();
    const second = listener.acceptAsync();
    const clients = [track(Client(listener.address)), track(Client(listener.address))];
    const accepted = [track(await first), track(await second)];
    clients[0].sendBytes(Buffer.from('a'));
    clients[1].sendBytes(Buffer.from('b'));
    expect(accepted.map((server) => server.recvBytes().toString()).sort()).toEqual(['a', 'b']);
    const waiting = [listener.acceptAsync(), listener.acceptAsync()];
    listener.close();
    for (const pending of waiting) await expect(pending).rejects.toThrow('Listener.acceptAsync(): the listener was closed while waiting');
    await expect(listener.acceptAsync()).rejects.toThrow(/the listener is closed/);
  });

  it('pollAsync and waitAsync report a reset socket ready, as poll and wait do; then the read reports the reset', () =>
    withRawPeers(async ({ sockets, blocking, asynchronous }) => {
      const polled = asynchronous.pollAsync(null);
      const waited = waitAsync([asynchronous], null);
      for (const socket of sockets) socket.resetAndDestroy();
      expect(await polled).toBe(true);
      expect(await waited).toEqual([asynchronous]);
      expect(blocking.poll(null)).toBe(true);
      expect(wait([blocking], null)).toEqual([blocking]);
      expect(() => blocking.recvBytes()).toThrow(/ECONNRESET/);
      await expect(asynchronous.recvBytesAsync()).rejects.toThrow(/ECONNRESET/);
    }));

  it('a message that arrived before a reset is read first, then the reset, by recv and recvAsync alike', () =>
    withRawPeers(async ({ sockets, blocking, asynchronous }) => {
      const pending = asynchronous.recvBytesAsync();
      // A whole frame, then half of the next one, then a reset.
      const bytes = Buffer.from([0, 0, 0, 2, 0x68, 0x69, 0, 0, 0, 9, 1, 2]);
      await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.write(bytes, resolve))));
      expect((await pending).toString()).toBe('hi');
      expect(blocking.recvBytes().toString()).toBe('hi');
      for (const socket of sockets) socket.resetAndDestroy();
      expect(() => blocking.recvBytes()).toThrow(/ECONNRESET/);
      await expect(asynchronous.recvBytesAsync()).rejects.toThrow(/ECONNRESET/);
    }));
});

describe('wait', () => {
  it('returns the ready connections, or none after the timeout', async () => {
    const [a, b] = Pipe();
    const [c, d] = Pipe();
    cleanup.push(a, b, c, d);
    expect(wait([b, d], 20)).toEqual([]);
    expect(await waitAsync([b, d], 20)).toEqual([]);
    a.sendBytes(Buffer.from('x'));
    expect(wait([b, d])).toEqual([b]);
    const pending = waitAsync([d]);
    c.sendBytes(Buffer.from('y'));
    expect(await pending).toEqual([d]);
    expect(wait([b, d, d.fileno()], 0)).toEqual([b, d, d.fileno()]);
    expect(() => wait([{} as Connection])).toThrow(TypeError);
    const [idle, peer] = Pipe();
    cleanup.push(idle, peer);
    const controller = new AbortController();
    const aborted = waitAsync([idle], null, { signal: controller.signal });
    controller.abort(new Error('enough'));
    await expect(aborted).rejects.toThrow('enough');
  });
});
