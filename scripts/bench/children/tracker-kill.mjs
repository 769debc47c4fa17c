// Child for the recovery bench's tracker row: SIGKILLs its own resource tracker again and again
// and times until the next segment is tracked by the relaunched one; prints the samples (ms) as
// JSON. What the dead trackers held is this process's alone, and is unlinked here.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import { childNamed, KILLS, nap } from '../recovery.mjs';

const mp = createRequire(import.meta.url)('../../../dist/index.js');
const made = [new mp.Queue()];
const times = [];
try {
  for (let i = 0; i < KILLS; i++) {
    const pid = childNamed('mpjs-tracker');
    process.kill(pid, 'SIGKILL');
    while (fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')) nap(1);
    const started = performance.now();
    made.push(new mp.Queue());
    times.push(performance.now() - started);
  }
} finally {
  for (const queue of made) queue._segment().unlink();
}
console.log(JSON.stringify(times));
