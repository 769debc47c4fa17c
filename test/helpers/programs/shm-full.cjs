// Run in a private mount namespace whose /dev/shm is a 256 KiB tmpfs: every creation too large for it
// must fail at once with ENOSPC, and what fits must still work. Prints one JSON report.
const fs = require('node:fs');
const { Queue, Value, RawArray } = require('../../../dist/index.js');
const { SharedMemory } = require('../../../dist/entries/shared-memory.js');

function attempt(make) {
  try {
    const made = make();
    return { made: true, made_: made };
  } catch (error) {
    return { made: false, code: error.code, message: error.message };
  }
}

const report = {};
// Were any of these created sparse, touching their pages would kill this process with SIGBUS.
report.sharedMemory = attempt(() => new SharedMemory({ create: true, size: 1 << 20 }).buf.fill(1) && 'filled');
report.queue = attempt(() => { const q = new Queue(); q.put('x'); return q.get(); });
report.rawArray = attempt(() => RawArray('d', 1 << 17).fill(1).length);
const small = new Value('i', 41);
small.value += 1;
report.smallValue = small.value;
report.leftInShm = fs.readdirSync('/dev/shm').filter((name) => name.startsWith('mpjs-')).length;
process.stdout.write(JSON.stringify(report, (key, value) => (key === 'made_' ? undefined : value)));
