#!/usr/bin/env bash
# Checks that the one N-API binary built here (on the machine's node) serves other Node majors:
# fetches each node as the npm package node-<platform>-<arch>@<major>, loads the addon with it and
# runs the test suite under it. Usage: scripts/node-versions.sh [major…] (default: 22 24).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/mpjs-node-versions-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
cd "$root"
platform="$(node -p 'process.platform + "-" + process.arch')"
# The binary node-gyp-build picks (build/Release, else a prebuild), as the suite will load it.
binary="$(node -p 'require("node-gyp-build").path(".")')"
echo "addon: $binary (built by node $(node --version))"

majors=("$@")
((${#majors[@]} > 0)) || majors=(22 24)
for m in "${majors[@]}"; do
  (cd "$scratch" && npm pack --silent "node-$platform@$m" >/dev/null)
  mkdir "$scratch/$m"
  tar -xzf "$scratch"/node-"$platform"-"$m".*.tgz -C "$scratch/$m"
  bin="$scratch/$m/package/bin"
  "$bin/node" -e '
    const b = require(process.argv[1]);
    const s = new b.Segment(`/mpjs-node-versions-${process.pid}`, 1 << 20, true, true);
    new Uint8Array(s.buffer)[0] = 1;
    console.log(`node ${process.version} (N-API ${process.versions.napi}): loaded, cpuCount ${b.cpuCount()}, segment ok ${s.close()}`);
  ' "$binary"
  PATH="$bin:$PATH" npx vitest run --exclude test/packaging.test.ts --exclude test/typescript-users.test.ts
done
