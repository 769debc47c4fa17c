// A backend: an HTTP server whose CPU-heavy route runs in a Pool, so the event loop stays free for
// every other request. Each request gets one AbortSignal: it aborts when the client goes away or
// the request's deadline passes, and the pool then takes its worker back from the task.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

import { Pool } from 'multiprocess';

/** The CPU-heavy work of a request: primes below `below`, by trial division. */
function countPrimes(below: number): number {
  let count = 0;
  for (let n = 2; n < below; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

/** What a worker sends back: the answer and who computed it. */
const primesTask = (below: number): { primes: number; pid: number } => ({ primes: countPrimes(below), pid: process.pid });

export type Outcome = 'ok' | 'deadline' | 'client-gone' | 'bad-request' | 'error';

/** One access-log line: how each request ended. */
export interface AccessLogEntry {
  url: string;
  status: number | null;
  outcome: Outcome;
  ms: number;
}

export interface BackendOptions {
  /** 'pool' offloads the heavy route to worker processes; 'inline' runs it on the event loop. */
  mode?: 'pool' | 'inline';
  /** Workers of the pool; default 2. */
  processes?: number;
  /** A request not answered by then gets 504 and its task is aborted; default 2000 ms. */
  deadlineMs?: number;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  log?: (entry: AccessLogEntry) => void;
}

export interface Backend {
  server: Server;
  url: string;
  /** The pool behind the heavy route (null inline). */
  pool: Pool | null;
  close(): Promise<void>;
}

export async function main(options: BackendOptions = {}): Promise<Backend> {
  const { mode = 'pool', processes = 2, deadlineMs = 2000, host = '127.0.0.1', port = 8000, log = () => {} } = options;
  // The heavy task is synchronous: it never sees its taskSignal(), so an aborted task's worker is
  // interrupted after this grace (then killed) and the pool starts a fresh one.
  const pool = mode === 'pool' ? new Pool({ processes, cancelGraceMs: 100 }) : null;

  async function heavy(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = performance.now();
    const end = (status: number | null, outcome: Outcome, body?: unknown): void => {
      if (status !== null) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      log({ url: req.url ?? '', status, outcome, ms: performance.now() - started });
    };
    const below = Number(url.searchParams.get('below'));
    if (!Number.isSafeInteger(below) || below < 0) return end(400, 'bad-request', { error: `below must be an integer >= 0, got ${url.searchParams.get('below')}` });
    if (pool === null) return end(200, 'ok', { below, ...primesTask(below) });

    const clientGone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) clientGone.abort(new DOMException('the client went away', 'AbortError'));
    });
    const signal = AbortSignal.any([clientGone.signal, AbortSignal.timeout(deadlineMs)]);
    try {
      end(200, 'ok', { below, ...(await pool.applyAsync(primesTask, [below], { signal })) });
    } catch (error) {
      if (clientGone.signal.aborted) end(null, 'client-gone');
      else if (signal.aborted) end(504, 'deadline', { error: `not done within ${deadlineMs} ms` });
      else end(500, 'error', { error: String(error) });
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/primes') return void heavy(req, res, url);
    if (url.pathname === '/health') return void res.end('ok');
    res.writeHead(404).end();
  });
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${address.port}`,
    pool,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (pool) {
        pool.close();
        await pool.joinAsync();
      }
    },
  };
}

// Run as a program (npx tsx examples/backend.ts): serves until Ctrl-C.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main({ log: (entry) => console.log(`${entry.status ?? '-'} ${entry.outcome} ${entry.url} ${entry.ms.toFixed(1)} ms`) }).then((backend) => {
    console.log(`Serving at ${backend.url}: try ${backend.url}/primes?below=200000 and ${backend.url}/primes?below=1e12 (runs past its deadline)`);
    process.once('SIGINT', () => void backend.close());
  });
}
