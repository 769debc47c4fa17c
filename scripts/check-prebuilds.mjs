// Ties prebuilds/ to the native sources they were built from: `--write DIR` (scripts/prebuild.sh)
// stamps a platform directory with the sources' hash; without arguments (npm's prepack) it fails
// when a platform directory was built from other sources, so a tarball never ships stale binaries.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = 'SOURCES.sha256';

function filesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(file) : [file];
  });
}

/** The hash of what the addons are built from: native/ and binding.gyp, by path and content. */
function sourcesHash() {
  const hash = createHash('sha256');
  for (const file of [...filesUnder(path.join(root, 'native')), path.join(root, 'binding.gyp')].sort()) {
    hash.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

if (process.argv[2] === '--write') {
  fs.writeFileSync(path.join(process.argv[3], STAMP), `${sourcesHash()}\n`);
} else {
  const prebuilds = path.join(root, 'prebuilds');
  const platforms = fs.existsSync(prebuilds) ? fs.readdirSync(prebuilds, { withFileTypes: true }).filter((entry) => entry.isDirectory()) : [];
  if (platforms.length === 0) console.error('prebuilds/: none; the package builds its addons from source on install');
  const current = sourcesHash();
  const stale = platforms.filter(({ name }) => {
    const stamp = path.join(prebuilds, name, STAMP);
    return !fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8').trim() !== current;
  });
  if (stale.length > 0) {
    console.error(
      `prebuilds/${stale.map(({ name }) => name).join(', prebuilds/')}: built from other native sources than these ` +
        `(or unstamped). Run \`npm run build:prebuilds\` (or \`npm run release:pack\`), or remove them to ship a source-only package.`,
    );
    process.exit(1);
  }
}
