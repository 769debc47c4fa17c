#!/usr/bin/env bash
# Sanitizer pass (`npm run sanitize [-- vitest args]`): builds the addon with ASan+UBSan (MPJS_SANITIZE=1)
# in a scratch copy of the checkout and runs the vitest suite there with libasan preloaded into every node.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/mpjs-sanitize-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

source "$root/scripts/scratch-copy.sh"
scratch_copy "$root" "$scratch"
cd "$scratch"

MPJS_SANITIZE=1 npm run --silent build:native >/dev/null
ldd build/Release/multiprocess.node | grep libasan >/dev/null || { echo "sanitize: the addon was built without ASan" >&2; exit 1; }

# From here every node loads the instrumented addon (build:ts too: it loads the build to list exports).
# node is not instrumented, so the ASan runtime must be preloaded; V8 never frees some of its
# allocations, so leak detection would only report noise; UBSan must fail the run, not just print.
export LD_PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so)"
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Tests that starve the process of descriptors skip here: the sanitizer runtime's own memory checks
# open a pipe, and fail as a false "invalid vptr" report when none is left.
export MPJS_SANITIZER_RUN=1
npm run --silent build:ts
# The packaging tests install tarballs: nothing of the addon to check there, and npm under ASan is slow.
npx vitest run --exclude test/packaging.test.ts --exclude test/install-no-compiler.test.ts "$@"
