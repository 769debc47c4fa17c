#!/usr/bin/env bash
# valgrind memcheck pass (`npm run memcheck [-- start methods]`): builds the addon with debug info and
# no inlining (MPJS_SANITIZE=memcheck) in a scratch copy, then runs scripts/memcheck/smoke.cjs under
# memcheck, following every process it makes: fork children and the resource tracker (memcheck
# follows a fork by itself), and the forkserver, spawn children and pool workers (exec'd node:
# --trace-children). Node's and V8's own reports are suppressed by scripts/memcheck.supp; any other
# report in any process, or a failed smoke step, fails the run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/mpjs-memcheck-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

source "$root/scripts/scratch-copy.sh"
scratch_copy "$root" "$scratch"
cd "$scratch"

MPJS_SANITIZE=memcheck npm run --silent build:native >/dev/null
npm run --silent build:ts

logs="$scratch/reports"
mkdir "$logs"
# Memory errors count in every process. Leaks count only in processes that began by exec: a fork
# child inherits blocks that only its parent's threads pointed to (a watcher's std::thread state,
# Node's platform runners, the libuv pool's warm-up request, dropped on purpose in fork.cc), and
# memcheck cannot see those threads' stacks there; and only memory nothing points to ("definite"):
# a process ends by exit with V8's heap and Node's state still held.
status=0
valgrind --tool=memcheck --trace-children=yes --suppressions="$root/scripts/memcheck.supp" --error-exitcode=1 \
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=none \
  --log-file="$logs/memcheck.%p" node scripts/memcheck/smoke.cjs "$@" || status=$?

field() { sed -n "s/^==[0-9]*== $1: //p" "$2" | head -1; }
processes=0
failed=()
for log in "$logs"/memcheck.*; do
  processes=$((processes + 1))
  if ! grep -q "ERROR SUMMARY" "$log"; then
    # Killed on purpose (the forkserver, by its parent): no summary, but its errors are printed as
    # they happen, each with its stack.
    grep -q "^==[0-9]*==    at 0x" "$log" && failed+=("$log")
    continue
  fi
  grep -q "ERROR SUMMARY: 0 errors" "$log" || { failed+=("$log"); continue; }
  parent="$logs/memcheck.$(field "Parent PID" "$log")"
  forked=false
  [[ -f "$parent" && "$(field Command "$parent")" == "$(field Command "$log")" ]] && forked=true
  if ! $forked && grep -q "definitely lost: [1-9]" "$log"; then failed+=("$log"); fi
done
if ((${#failed[@]} > 0)); then
  cat "${failed[@]}" >&2
  echo "memcheck: reports in ${#failed[@]} of $processes processes" >&2
  exit 1
fi
((status == 0)) || { echo "memcheck: the smoke run failed (exit $status)" >&2; exit "$status"; }
echo "memcheck: $processes processes, no reports"
