// Other Node majors for tests: each fetched once, as scripts/node-versions.sh does (the npm package
// node-<platform>-<arch>@<major>), into node_modules/.cache, with the fork-parking addon built for
// its ABI (the main addon is N-API: the one built here serves every major).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { npm, root, run } from './npm-project';

const cache = path.join(root, 'node_modules', '.cache', 'multiprocess-node-versions');

/** Fills `target` once: built in a scratch directory beside it, then renamed into place. */
async function cached(target: string, fill: (scratch: string) => Promise<void>): Promise<string> {
  if (fs.existsSync(target)) return target;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const scratch = fs.mkdtempSync(`${target}.partial-`);
  try {
    await fill(scratch);
    fs.renameSync(scratch, target);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return target;
}

/** The installation directory (bin/node, include/node) of the newest `major`. */
export async function nodeDir(major: number): Promise<string> {
  const dir = await cached(path.join(cache, `node-${major}`), async (scratch) => {
    const name = `node-${process.platform}-${process.arch}@${major}`;
    const [info] = JSON.parse(await npm(scratch, ['pack', '--json', name])) as [{ filename: string }];
    await run('tar', ['-xzf', path.join(scratch, info.filename), '-C', scratch]);
  });
  return path.join(dir, 'package');
}

/** multiprocess_park.so built against `major`'s headers, as an install on that Node builds it. */
export async function parkAddon(major: number): Promise<string> {
  const home = await nodeDir(major);
  const sources = ['binding.gyp', ...fs.readdirSync(path.join(root, 'native'), { recursive: true, encoding: 'utf8' }).map((f) => path.join('native', f))]
    .filter((file) => fs.statSync(path.join(root, file)).isFile())
    .sort();
  const hash = createHash('sha256');
  for (const file of sources) hash.update(file).update(fs.readFileSync(path.join(root, file)));
  const name = `park-${major}-${hash.digest('hex').slice(0, 16)}`;
  // Builds for sources that changed since are never used again.
  for (const old of fs.readdirSync(cache)) if (old.startsWith(`park-${major}-`) && !old.startsWith(name)) fs.rmSync(path.join(cache, old), { recursive: true, force: true });
  const dir = await cached(path.join(cache, name), async (scratch) => {
    fs.cpSync(path.join(root, 'binding.gyp'), path.join(scratch, 'binding.gyp'));
    fs.cpSync(path.join(root, 'native'), path.join(scratch, 'native'), { recursive: true });
    // npm's own node-gyp, run by the target node, as `npm install` runs it.
    const nodeGyp = path.join((await npm(root, ['root', '-g'])).trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    // npm run passes its nodedir setting down as npm_config_nodedir, which node-gyp prefers to --nodedir.
    const env = { ...process.env, npm_config_nodedir: home, PATH: `${path.join(home, 'bin')}${path.delimiter}${process.env.PATH ?? ''}` };
    await run(path.join(home, 'bin', 'node'), [nodeGyp, 'configure'], { cwd: scratch, env });
    await run('make', ['-C', 'build', 'multiprocess_park'], { cwd: scratch, env, maxBuffer: 64 << 20 });
  });
  return path.join(dir, 'build', 'Release', 'multiprocess_park.so');
}
