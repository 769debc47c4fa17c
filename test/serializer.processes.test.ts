// The serializer as users meet it: scripts in test/helpers/programs run as `node <script> <method>`,
// sending their functions, classes and errors into Process children and pool workers under every
// start method, and print what came back as JSON lines.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

async function runProgram(script: string, method: string): Promise<unknown[]> {
  const { stdout } = await run(process.execPath, [path.join(__dirname, 'helpers/programs', script), method], { timeout: 120_000 });
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown);
}

describe.each(['fork', 'spawn', 'forkserver'])('%s', (method) => {
  it('module-level functions sharing their module scope each keep their own bindings (main calls helper, not basename)', async () => {
    expect(await runProgram('scope-slots.mjs', method)).toEqual([
      { label: 'main script', fromProcess: 'helper:b.txt', fromPool: 'helper:b.txt' },
      { label: 'imported module', fromProcess: 'helper:b.txt', fromPool: 'helper:b.txt' },
    ]);
  });

  it('instances and task errors of classes that travel by reference are of those classes (child, get, errorCallback, await)', async () => {
    const [byClass] = (await runProgram('class-identity.mjs', method)) as Record<string, boolean[]>[];
    const everywhere = [true, true, true, true];
    expect(byClass).toEqual({
      'cjs Base': everywhere,
      'cjs Failure': everywhere,
      'cjs RangeFailure': everywhere,
      'esm Base': everywhere,
      'esm Failure': everywhere,
      'esm RangeFailure': everywhere,
      Empty: everywhere,
      Full: everywhere,
      SerializationError: everywhere,
    });
  });

  it("exports of an ES module run in the worker's instance of their module (synchronous dumps): threadId, initializer state", async () => {
    const [seen] = (await runProgram('esm-exports.mjs', method)) as { mainThread: number; threadOfTask: number; stateOfTask: string }[];
    expect(seen!.mainThread).toBe(0);
    expect(seen!.threadOfTask).toBeGreaterThan(0);
    expect(seen!.stateOfTask).toBe('set by the initializer');
  });

  it("esbuild's `using` helpers captured by a target and a task (tsx output)", async () => {
    expect(await runProgram('esbuild-using.mjs', method)).toEqual([{ fromProcess: 'target:b.txt', fromPool: 'b.txt,disposed', exitcode: 0 }]);
  });
});
