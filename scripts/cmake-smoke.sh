#!/usr/bin/env bash
# The cmake-js build (`npm run build:cmake`) in a scratch copy of the checkout, then the smoke
# subset against it: both addons must come out where node-gyp-build and the park loader look.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/mpjs-cmake-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
source "$root/scripts/scratch-copy.sh"
scratch_copy "$root" "$scratch"
cd "$scratch"

npm run --silent build:cmake >/dev/null
[[ -f build/CMakeCache.txt && -f build/Release/multiprocess_park.so ]] || { echo "cmake-smoke: cmake-js built no park addon in build/Release" >&2; exit 1; }
loaded="$(node -p 'require("node-gyp-build").path(".")')"
[[ "$loaded" == "$scratch/build/Release/multiprocess.node" ]] || { echo "cmake-smoke: node-gyp-build loads $loaded, not the cmake-js build" >&2; exit 1; }
echo "cmake-js build: $loaded"
npm run --silent build:ts
npx vitest run --config vitest.smoke.config.mts "$@"
