// The seed's ex_synchronize: each primitive across processes — a shared Value under a Lock, a Queue
// read with timeouts, a Condition passed between a parent and a child, a Semaphore that lets three
// in at a time, join with a timeout, an Event that wakes five, and shared values checked in a child.
import { pathToFileURL } from 'node:url';

import { Array as SharedArray, Condition, currentProcess, Empty, Event, Lock, Process, Queue, RLock, Semaphore, Value } from 'multiprocess';

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface SynchronizeTour {
  /** running.value as the parent saw it while the children finished, then after. */
  value: { seen: number[]; final: number; exitcodes: (number | null)[] };
  queue: { received: unknown[]; timeouts: number };
  /** String(cond) at each step, in the order printed by the parent and the child. */
  condition: string[];
  semaphore: { maxRunning: number; final: number; exitcodes: (number | null)[] };
  joinTimeout: { timeouts: number; exitcode: number | null };
  event: { wokenBeforeSet: number; woken: number; exitcodes: (number | null)[] };
  sharedValues: { exitcode: number | null };
}

/** `unit` scales the seed's sleeps (1 = its seconds; the test uses 0.02). */
export async function main(options: { quiet?: boolean; unit?: number } = {}): Promise<SynchronizeTour> {
  const quiet = options.quiet ?? false;
  const say = quiet ? () => {} : console.log;
  const sayInline = (text: unknown): void => void (quiet || process.stdout.write(`${text} `));
  const second = 1000 * (options.unit ?? 1);
  const tour = {} as SynchronizeTour;
  // Pick<>: a Process<[Lock]> is not a Process<unknown[]> to TypeScript (its target's parameters differ).
  const startAll = (processes: Pick<Process, 'start'>[]): void => processes.forEach((p) => p.start());
  const joinAll = (processes: Pick<Process, 'join' | 'exitcode'>[]): (number | null)[] => processes.map((p) => (p.join(), p.exitcode));

  say('\n\t######## value\n');
  {
    const TASKS = 10;
    const running = new Value('i', TASKS);
    const mutex = new Lock();
    const children = Array.from(
      { length: TASKS },
      () =>
        new Process({
          target: (r: typeof running, m: Lock) => {
            sleep(Math.random() * 4 * second);
            using _held = m.hold();
            if (!quiet) console.log(`\t\t\t${currentProcess()} has finished`);
            r.value -= 1;
          },
          args: [running, mutex],
        }),
    );
    startAll(children);
    const seen: number[] = [];
    while (running.value > 0) {
      sleep(0.08 * second);
      using _held = mutex.hold();
      seen.push(running.value);
      sayInline(running.value);
    }
    say('\nNo more running processes');
    tour.value = { seen, final: running.value, exitcodes: joinAll(children) };
  }

  say('\n\t######## queue\n');
  {
    const q = new Queue();
    const producer = new Process({
      target: (out: Queue) => {
        for (let i = 0; i < 30; i++) {
          sleep(0.5 * Math.random() * second);
          out.put(i * i);
        }
        out.put('STOP');
      },
      args: [q],
    });
    producer.start();
    const received: unknown[] = [];
    let timeouts = 0;
    for (let o: unknown = null; o !== 'STOP'; ) {
      try {
        o = q.get(true, 0.3 * second);
        received.push(o);
      } catch (error) {
        if (!(error instanceof Empty)) throw error;
        timeouts++;
        say('TIMEOUT');
      }
    }
    say(received.join(' '));
    producer.join();
    q.close();
    tour.queue = { received, timeouts };
  }

  say('\n\t######## condition\n');
  {
    const cond = new Condition();
    const lines = new Queue();
    const shown: string[] = [];
    const show = (): void => {
      shown.push(String(cond));
      say(String(cond));
    };
    const child = new Process({
      target: (c: Condition, out: Queue) => {
        using _held = c.hold();
        out.put(String(c));
        sleep(2 * second);
        out.put(String(c)); // child is notifying
        c.notify();
      },
      args: [cond, lines],
    });
    show();
    cond.acquire();
    show();
    cond.acquire();
    show();
    child.start();
    say('main is waiting');
    cond.wait();
    say('main has woken up');
    for (const line of [lines.get(), lines.get()] as string[]) {
      shown.push(line);
      say(`\t${line}`);
    }
    show();
    cond.release();
    show();
    cond.release();
    child.join();
    show();
    lines.close();
    tour.condition = shown;
  }

  say('\n\t######## semaphore\n');
  {
    const sema = new Semaphore(3);
    const mutex = new RLock();
    const running = new Value('i', 0);
    const maxRunning = new Value('i', 0);
    const children: Process[] = Array.from(
      { length: 10 },
      () =>
        new Process({
          target: (s: Semaphore, m: RLock, r: typeof running, most: typeof maxRunning) => {
            using _slot = s.hold();
            {
              using _held = m.hold();
              r.value += 1;
              most.value = Math.max(most.value, r.value);
              if (!quiet) console.log(r.value, 'tasks are running');
            }
            sleep(Math.random() * 2 * second);
            using _held = m.hold();
            r.value -= 1;
            if (!quiet) console.log(`${currentProcess()} has finished`);
          },
          args: [sema, mutex, running, maxRunning],
        }),
    );
    startAll(children);
    tour.semaphore = { exitcodes: joinAll(children), maxRunning: maxRunning.value, final: running.value };
  }

  say('\n\t######## join with a timeout\n');
  {
    const child = new Process({
      target: () => {
        if (!quiet) console.log('\tchild sleeping');
        sleep(5.5 * second);
        if (!quiet) console.log('\n\tchild terminating');
      },
    });
    child.start();
    say('waiting for process to finish');
    let timeouts = 0;
    for (;;) {
      child.join(second);
      if (!child.isAlive()) break;
      timeouts++;
      sayInline('.');
    }
    tour.joinTimeout = { timeouts, exitcode: child.exitcode };
  }

  say('\n\t######## event\n');
  {
    const event = new Event();
    const woken = new Value('i', 0);
    const children = Array.from(
      { length: 5 },
      () =>
        new Process({
          target: (e: Event, w: typeof woken) => {
            if (!quiet) console.log(`\t${currentProcess()} is waiting`);
            e.wait();
            if (!quiet) console.log(`\t${currentProcess()} has woken up`);
            using _held = w.getLock().hold();
            w.value += 1;
          },
          args: [event, woken],
        }),
    );
    startAll(children);
    say('main is sleeping');
    sleep(2 * second);
    const wokenBeforeSet = woken.value;
    say('main is setting event');
    event.set();
    tour.event = { exitcodes: joinAll(children), wokenBeforeSet, woken: woken.value };
  }

  say('\n\t######## shared values\n');
  {
    const values = [['i', 10], ['h', -2], ['d', 1.25]] as const;
    const arrays = [
      ['i', Array.from({ length: 100 }, (_, i) => i)],
      ['d', Array.from({ length: 100 }, (_, i) => 0.25 * i)],
      ['H', Array.from({ length: 1000 }, (_, i) => i)],
    ] as const;
    const sharedValues = values.map(([typecode, v]) => new Value(typecode, v));
    const sharedArrays = arrays.map(([typecode, a]) => new SharedArray(typecode, [...a]));
    const child = new Process({
      target: (vs: typeof values, as: typeof arrays, svs: typeof sharedValues, sas: typeof sharedArrays) => {
        vs.forEach(([, v], i) => {
          if (svs[i]!.value !== v) throw new Error(`value ${i}: ${svs[i]!.value} !== ${v}`);
        });
        as.forEach(([, a], i) => {
          if (JSON.stringify([...sas[i]!]) !== JSON.stringify(a)) throw new Error(`array ${i} differs`);
        });
        if (!quiet) console.log('Tests passed');
      },
      args: [values, arrays, sharedValues, sharedArrays],
    });
    child.start();
    child.join();
    tour.sharedValues = { exitcode: child.exitcode };
  }
  return tour;
}

// Run as a program (npx tsx examples/synchronize.ts), not when the tests import it.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
