// A parent that the test SIGKILLs: under the start method in argv[2] it runs a Pool(2), a daemonic
// child and a non-daemonic one (both waiting on an Event nobody sets), then reports and waits.
const { getContext, Event } = require('../../../dist/index.js');

const ctx = getContext(process.argv[2]);
const pool = new ctx.Pool(2);
pool.map((x) => x, [1, 2, 3]);
const never = new Event();
const daemon = new ctx.Process({ target: (event) => event.wait(), args: [never], daemon: true });
const nonDaemon = new ctx.Process({ target: (event) => event.wait(), args: [never] });
daemon.start();
nonDaemon.start();
process.stdout.write(JSON.stringify({ daemon: daemon.pid, nonDaemon: nonDaemon.pid }) + '\n');
setInterval(() => {}, 60_000);
