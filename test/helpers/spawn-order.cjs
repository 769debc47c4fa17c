// For the spawn start method's order: a value whose encoding records this process's children at
// that moment. The child loads this module too (the target goes by reference), so it restores it.
const fs = require('node:fs');
const { register } = require('../../dist/serializer/index.js');

class Probe {}
const childrenAtEncode = [];

function children() {
  return fs.readdirSync('/proc/self/task').flatMap((tid) => fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
}

register(Probe, { reduce: () => (childrenAtEncode.push(children()), 0), restore: () => new Probe() }, 'test.SpawnOrderProbe');

function target(probe) {
  if (!(probe instanceof Probe)) process.exitCode = 3;
}

module.exports = { Probe, childrenAtEncode, target };
