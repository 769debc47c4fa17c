#!/usr/bin/env bash
# Checks that the one N-API binary built here (on the machine's node) serves other Node majors:
# fetches each node as the npm package node-<platform>-<arch>@<major> (scripts/fetch-node.sh), loads
# the addon with it and runs the smoke subset (vitest.smoke.config.mts) under it; fork uses the park
# prebuild for that ABI when prebuilds/ has one. Usage: scripts/node-versions.sh [major…] (default: 22 24).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# The binary node-gyp-build picks (build/Release, else a prebuild), as the suite will load it.
binary="$(node -p 'require("node-gyp-build").path(".")')"
echo "addon: $binary (built by node $(node --version))"

majors=("$@")
((${#majors[@]} > 0)) || majors=(22 24)
for m in "${majors[@]}"; do
  bin="$(bash scripts/fetch-node.sh "$m")/bin"
  "$bin/node" -e '
    const b = require(process.argv[1]);
    const s = new b.Segment(`/mpjs-node-versions-${process.pid}`, 1 << 20, true, true);
    new Uint8Array(s.buffer)[0] = 1;
    console.log(`node ${process.version} (N-API ${process.versions.napi}): loaded, cpuCount ${b.cpuCount()}, segment ok ${s.close()}`);
  ' "$binary"
  PATH="$bin:$PATH" npx vitest run --config vitest.smoke.config.mts
done
