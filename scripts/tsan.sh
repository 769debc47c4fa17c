#!/usr/bin/env bash
# ThreadSanitizer pass (`npm run tsan`): builds the addon with -fsanitize=thread (MPJS_SANITIZE=thread,
# g++) in a scratch copy, then runs, with the TSan runtime preloaded into node, the programs under
# scripts/tsan/, the memcheck smoke program (spawn children) and the Worker test files. Any report
# fails the run.
# What it cannot see: node is not instrumented, so only the addon's own memory accesses are
# checked (ignore_noninstrumented_modules; Node's locks still order them, through the interceptors);
# and TSan's runtime cannot start threads in the child of a multi-threaded fork (it aborts: "dup
# thread with used id"), so no fork or forkserver child runs here, only spawn children.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/mpjs-tsan-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

source "$root/scripts/scratch-copy.sh"
scratch_copy "$root" "$scratch"
cd "$scratch"

MPJS_SANITIZE=thread npm run --silent build:native >/dev/null
ldd build/Release/multiprocess.node | grep libtsan >/dev/null || { echo "tsan: the addon was built without TSan" >&2; exit 1; }
${CXX:-g++} -std=c++17 -fsanitize=thread -fPIC -shared -g -o canary.so scripts/tsan/canary.cc

# clang 14's TSan runtime cannot be preloaded on this kernel (any program segfaults at start): g++'s.
runtime="$(${CXX:-g++} -print-file-name=libtsan.so)"
logs="$scratch/reports"
mkdir "$logs"
# Fork children without threads are fine (the resource tracker); die_after_fork=0 lets them run.
export TSAN_OPTIONS="ignore_noninstrumented_modules=1 die_after_fork=0 halt_on_error=0 log_path=$logs/tsan suppressions=$root/scripts/tsan.supp"
run() { LD_PRELOAD="$runtime" "$@"; }

# The canary's exit status is TSan's (66: it reported); only its report matters.
run node -e 'try { process.dlopen({ exports: {} }, process.argv[1]); } catch {}' "$scratch/canary.so" || true
grep -q "WARNING: ThreadSanitizer: data race" "$logs"/tsan.* 2>/dev/null || { echo "tsan: the canary race was not reported: this setup would miss races" >&2; exit 1; }
rm -f "$logs"/tsan.*
echo "tsan: the canary race was reported"

# Not through npm: npm runs its scripts with sh, and sh (like bash) crashes at start with this
# runtime preloaded.
npx tsc -p tsconfig.json
# Each runs to its end, so that every report is seen: a report makes its process exit 66.
failed=()
check() { run "$@" || failed+=("$*"); }
check node scripts/esm-wrappers.mjs
check node scripts/tsan/threads.cjs
check node scripts/memcheck/smoke.cjs spawn
# The test files whose processes start no fork child: JS threads (Workers) sharing locks, queues and
# connections, and Workers ended while a watcher waits. Everything runs several times slower here.
check node node_modules/vitest/vitest.mjs run --testTimeout=600000 test/worker-threads.test.ts test/worker-teardown.test.ts

reports=("$logs"/tsan.*)
if [[ -e "${reports[0]}" ]]; then
  cat "${reports[@]}" >&2
  echo "tsan: reports from ${#reports[@]} process(es)" >&2
fi
((${#failed[@]} == 0)) || { printf 'tsan: failed: %s\n' "${failed[@]}" >&2; exit 1; }
[[ ! -e "${reports[0]}" ]] || exit 1
echo "tsan: no reports"
