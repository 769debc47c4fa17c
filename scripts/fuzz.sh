#!/usr/bin/env bash
# Bounded fuzzing pass (CI, `npm run fuzz`): the libFuzzer harness of the native frame parser and
# SCM_RIGHTS reads (clang, ASan+UBSan), then the JS fuzzer's targets (loads, Connection framing, the
# HMAC handshake), each from its committed corpus under test/fuzz/corpus. Any crash, leak, hang or
# undocumented error fails the run and leaves the input in the checkout (crash-*, fuzz-*).
#   FUZZ_SECONDS   the whole pass's fuzzing time, default 90 (build time aside; CI's budget is 2 min)
#   FUZZ_SEED      the JS fuzzer's seed, default one per run (printed, to replay a failure)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${FUZZ_SECONDS:-90}"
seed="${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}"

# Debian's clang brings libFuzzer (libclang-rt-14-dev holds its runtime).
if ! command -v clang++ >/dev/null || ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
  clang++ -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends clang libclang-rt-14-dev
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/mpjs-fuzz-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
clang++ -g -O1 -std=c++17 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Inative test/fuzz/native/frame_fuzzer.cc -o "$scratch/frame_fuzzer"

# A third of the time natively, the rest shared by the JS targets; new inputs go to a scratch
# corpus, so the committed one only changes on purpose.
native=$((seconds / 3))
js=$(((seconds - native) / 3))
mkdir "$scratch/native-corpus"
echo "fuzz: native frame parser, ${native}s"
if ! "$scratch/frame_fuzzer" -max_total_time="$native" -max_len=1024 -timeout=10 -print_final_stats=1 \
  "$scratch/native-corpus" test/fuzz/corpus/native-frame >"$scratch/native.log" 2>&1; then
  tail -n 60 "$scratch/native.log"
  exit 1
fi
grep -E '^stat::(number_of_executed_units|new_units_added)' "$scratch/native.log"

echo "fuzz: JS targets, ${js}s each, seed $seed"
for target in loads framing handshake; do
  timeout $((js + 60)) node test/fuzz/fuzz.mjs "$target" --seconds "$js" --seed "$seed"
done
