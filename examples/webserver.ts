// The seed's ex_webserver: a pool of HTTP servers in several processes share one listening socket,
// and the kernel hands each connection to one of them. The socket travels to each child as a
// descriptor, as CPython's children inherit it; each request's log line names its process.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { currentProcess, Event, getContext } from 'multiprocess';
import { Connection } from 'multiprocess/connection';

/** A static file server for `root` whose responses and log lines name the process that served. */
function fileServer(root: string, quiet: boolean): Server {
  const note = (line: string): void => void (quiet || process.stderr.write(`[${currentProcess().name}]\t${line}\n`));
  return createServer(async (req, res) => {
    const file = path.join(root, path.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    res.setHeader('x-served-by', currentProcess().name);
    try {
      if (!file.startsWith(root)) throw new Error('outside the root');
      res.end(await readFile(file));
      note(`"${req.method} ${req.url}" 200`);
    } catch {
      res.writeHead(404).end();
      note(`"${req.method} ${req.url}" 404`);
    }
  });
}

/** Run by each child: serve on the shared socket until `stop` is set. */
async function serveUntil(listening: Connection, stop: Event, root: string, quiet: boolean): Promise<void> {
  const server = fileServer(root, quiet);
  await new Promise<void>((resolve) => server.listen({ fd: listening.fileno() }, resolve));
  await stop.waitAsync();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

export interface WebServers {
  url: string;
  /** Every process that serves: the children's names, then 'MainProcess'. */
  names: string[];
  close(): Promise<(number | null)[]>;
}

export interface WebServerOptions {
  quiet?: boolean;
  port?: number;
  /** Processes serving, the main one included; default 4. */
  processes?: number;
  /** The directory served; default this repository. */
  root?: string;
  /** 'spawn' or 'forkserver' (the default): the children run an event loop, which fork's cannot. */
  method?: 'spawn' | 'forkserver';
}

export async function main(options: WebServerOptions = {}): Promise<WebServers> {
  const { quiet = false, port = 8000, processes = 4, root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), method = 'forkserver' } = options;
  const { Process } = getContext(method);
  // The main process serves too, so it creates the socket; its children get copies of the descriptor.
  const server = fileServer(root, quiet);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  // A Connection carries any descriptor to a child (CPython's DupFd); this one is the listening socket.
  const listening = new Connection((server as unknown as { _handle: { fd: number } })._handle.fd);
  const stop = new Event();
  const children = Array.from({ length: processes - 1 }, () => new Process({ target: serveUntil, args: [listening, stop, root, quiet] }));
  children.forEach((p) => p.start());
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    names: [...children.map((p) => p.name), 'MainProcess'],
    async close() {
      stop.set();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve)); // the server closes the descriptor `listening` holds
      return Promise.all(children.map(async (p) => (await p.joinAsync(), p.exitcode)));
    },
  };
}

// Run as a program (npx tsx examples/webserver.ts): serves this repository until Ctrl-C.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then((servers) => {
    console.log(`Serving at ${servers.url} using ${servers.names.length} processes\nTo exit press Ctrl-C`);
    process.once('SIGINT', () => void servers.close());
  });
}
