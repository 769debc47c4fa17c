// Conformance receiver: a fresh node process that loads each message (base64, one per stdin line)
// with the BUILT serializer, applies the case's probe and answers one JSON line per case.
'use strict';
const util = require('node:util');
const { loads } = require('../../dist/serializer/index.js');
require('./serializer-types.cjs');

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', async () => {
  const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
  for (const line of lines) {
    let answer;
    try {
      const { value, probe } = loads(Buffer.from(line, 'base64'));
      answer = { ok: util.inspect(await probe(value), { depth: 6, sorted: true }) };
    } catch (error) {
      answer = { error: `${error && error.name}: ${error && error.message}` };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
});
