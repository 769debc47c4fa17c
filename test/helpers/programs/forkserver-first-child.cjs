// A fresh program whose forkserver's first children use libuv's thread pool (async fs, dns.lookup):
// the first spare is forked while the server's pool warm-up may have just completed. Prints the exit codes.
const { getContext } = require('../../../dist/index.js');

const ctx = getContext('forkserver');
const codes = [];
for (let i = 0; i < 3; i++) {
  const child = new ctx.Process({
    target: async () => {
      await require('node:fs').promises.readFile(process.execPath);
      await new Promise((resolve, reject) => require('node:dns').lookup('localhost', (error) => (error ? reject(error) : resolve())));
    },
  });
  child.start();
  child.join();
  codes.push(child.exitcode);
}
process.stdout.write(JSON.stringify(codes));
