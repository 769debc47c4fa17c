// Property: any closure graph rebuilt by loads(dumps(x)) computes what the original computes, call for
// call, shared and mutated state included. Random programs come from serializer-graphs.ts.
// MP_PROPERTY_RUNS sets the in-process run count (default 2000; a long run: MP_PROPERTY_RUNS=1000000,
// about 3 ms per program on a quiet core).
import * as util from 'node:util';
import * as vm from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateProgram, runCalls, type Pick, type Program } from './helpers/serializer-graphs';
import { loadBuilt, roundTrip } from './helpers/serializer-harness';

const ser = loadBuilt();
const run = runCalls; // a local binding: the probe travels by value, not vitest's module record
const RUNS = Number(process.env.MP_PROPERTY_RUNS ?? 2000);

const picker = (g: fc.GeneratorValue): Pick => (bound) => (bound <= 1 ? 0 : g(fc.nat, { max: bound - 1 }));

type Exports = [string, unknown][];

function mismatch(program: Program, expected: string[], got: string[]): string {
  return `rebuilt functions disagree with the originals\nexpected ${JSON.stringify(expected)}\ngot      ${JSON.stringify(got)}\ncalls ${JSON.stringify(program.after)} after ${JSON.stringify(program.before)}\nprogram:\n${program.source}`;
}

describe('property: rebuilt closure graphs compute what the originals compute', () => {
  it(`${RUNS} random programs, rebuilt in this process`, () => {
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const program = generateProgram(picker(g));
        const original = vm.runInThisContext(program.source) as Exports;
        runCalls(original, program.before);
        const copy = ser.loads(ser.dumps(original)) as Exports;
        const expected = runCalls(original, program.after);
        const got = runCalls(copy, program.after);
        if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(mismatch(program, expected, got));
      }),
      { numRuns: RUNS },
    );
  }, 60_000 + RUNS * 20);

  it('200 random programs, rebuilt in a fresh node process', async () => {
    const programs: Program[] = [];
    fc.sample(fc.gen(), { numRuns: 200 }).forEach((g) => programs.push(generateProgram(picker(g))));
    const expected: string[][] = [];
    const messages = programs.map((program) => {
      const original = vm.runInThisContext(program.source) as Exports;
      runCalls(original, program.before);
      const calls = program.after;
      const bytes = ser.dumps({ value: original, probe: (exports: Exports) => JSON.stringify(run(exports, calls)) });
      expected.push(runCalls(original, calls));
      return bytes;
    });
    const answers = await roundTrip(messages);
    answers.forEach((answer, i) => {
      if (answer.ok !== util.inspect(JSON.stringify(expected[i]))) expect.fail(mismatch(programs[i]!, expected[i]!, [answer.ok ?? String(answer.error)]));
    });
  });
});
