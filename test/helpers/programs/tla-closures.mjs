// An ES module that awaits at top level, so require(esm) never loads it, sending new closures made
// in it: prints how many times the serializer tried to require it (for its exports) meanwhile.
import Module, { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { dumps } = require('../../../dist/serializer/index.js');
const self = fileURLToPath(import.meta.url);
let attempts = 0;
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === self) attempts++;
  return load.call(this, request, ...rest);
};
for (let i = 0; i < 20; i++) dumps((x) => x + i);
process.stdout.write(String(attempts));
await Promise.resolve();
