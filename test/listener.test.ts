import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';

import { AuthenticationError } from '../lib/index';
import { Client, ClientAsync, Connection, Listener, Pipe, wait, waitAsync } from '../lib/connection';

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
    expect(() => new Listener(undefined, 'AF_PACKET' as 'AF_UNIX')).toThrow(TypeError);
    expect(() => new Listener(undefined, undefined, 1, 'key' as unknown as Buffer)).toThrow(/authkey/);
    expect(() => Client('/nonexistent/mpjs-socket')).toThrow(/ENOENT/);
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
