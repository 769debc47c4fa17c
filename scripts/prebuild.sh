#!/usr/bin/env bash
# Release binaries into prebuilds/ (`npm run build:prebuilds`; `npm run release:pack` packs them): for
# this platform, and linux-arm64 from linux-x64 when Debian's aarch64 cross toolchain is installed, the N-API addon
# (prebuildify, one per platform and libc) and the fork-parking addon per Node ABI (node.h), built
# against each major's headers from the npm registry. arm64 binaries are load-tested under
# qemu-user when it is installed. Builds run in a scratch copy: the checkout's build/ stays as it is.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
majors=(20 22 24)
scratch="$(mktemp -d "${TMPDIR:-/tmp}/mpjs-prebuild-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

source "$root/scripts/scratch-copy.sh"
scratch_copy "$root" "$scratch"
cd "$scratch"
mkdir prebuilds
# npm's own node-gyp, as `npm install` runs it.
node_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
platform="$(node -p process.platform)"
# node-gyp-build's libc test (lib/popen/fork.ts uses it too); darwin gets the same tag, harmlessly.
libc="${LIBC:-glibc}"
[[ ! -f /etc/alpine-release ]] || libc=musl
strip_flags=(--strip-all)
[[ "$platform" != darwin ]] || strip_flags=(-x)

# Compilers and node-gyp talk a lot: their output is shown only when a build fails.
quiet() {
  "$@" >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log" >&2; echo "prebuild: failed: $*" >&2; return 1; }
}

# build_platform <arch> <cross prefix or empty>
build_platform() {
  local arch="$1" cross="$2" dir="prebuilds/$platform-$1"
  local -a env=()
  [[ -z "$cross" ]] || env=(CC="${cross}gcc" CXX="${cross}g++" LINK="${cross}g++" AR="${cross}ar")
  quiet env "${env[@]}" npx prebuildify --napi --strip --strip-bin="${cross}strip" --tag-libc --arch "$arch"
  # prebuildify copies every module it finds; the park addon built with it is for one ABI only.
  rm -f "$dir/multiprocess_park.so"
  for major in "${majors[@]}"; do
    local home abi
    home="$(bash "$root/scripts/fetch-node.sh" "$major")"
    # From the headers: the fetched node is a linux-x64 glibc binary, which may not run here (Alpine).
    abi="$(sed -n 's/^#define NODE_MODULE_VERSION \([0-9][0-9]*\).*/\1/p' "$home/include/node/node_version.h")"
    rm -rf build
    # npm run passes its nodedir setting down as npm_config_nodedir, which node-gyp prefers to --nodedir.
    quiet env "${env[@]}" npm_config_nodedir="$home" node "$node_gyp" configure --arch="$arch"
    quiet env "${env[@]}" make -C build multiprocess_park
    cp build/Release/multiprocess_park.so "$dir/multiprocess_park.abi$abi.$libc.so"
    "${cross}strip" "${strip_flags[@]}" "$dir/multiprocess_park.abi$abi.$libc.so"
  done
  rm -rf build
  node "$root/scripts/check-prebuilds.mjs" --write "$dir"
  echo "$dir:" && ls -l "$dir" | tail -n +2
}

# Loads both arm64 addons in arm64 Node under qemu: the N-API one maps a segment, park counts threads.
load_test_arm64() {
  local sysroot=/usr/aarch64-linux-gnu major home
  for major in "${majors[@]}"; do
    home="$(bash "$root/scripts/fetch-node.sh" "$major" linux-arm64)"
    qemu-aarch64 -L "$sysroot" "$home/bin/node" -e '
      const path = require("node:path");
      const dir = path.resolve("prebuilds/linux-arm64");
      const addon = require(path.join(dir, "multiprocess.'"$libc"'.node"));
      const segment = new addon.Segment(`/mpjs-prebuild-${process.pid}`, 1 << 16, true, true);
      new Uint8Array(segment.buffer)[0] = 1;
      segment.close();
      const park = { exports: {} };
      process.dlopen(park, path.join(dir, `multiprocess_park.abi${process.versions.modules}.'"$libc"'.so`));
      console.log(`qemu ${process.arch} node ${process.version}: N-API addon maps shm, cpuCount ${addon.cpuCount()}; park addon sees ${park.exports.workerThreads()} platform workers`);
    '
  done
}

host_arch="$(node -p process.arch)"
build_platform "$host_arch" ""
if [[ "$platform-$host_arch" != linux-x64 ]]; then
  : # cross builds are made from linux-x64 only
elif command -v aarch64-linux-gnu-g++ >/dev/null; then
  build_platform arm64 aarch64-linux-gnu-
  if command -v qemu-aarch64 >/dev/null; then load_test_arm64; else echo "qemu-aarch64 missing: arm64 binaries not load-tested" >&2; fi
else
  echo "aarch64-linux-gnu-g++ missing (apt-get install g++-aarch64-linux-gnu): no linux-arm64 prebuilds" >&2
fi

# Replace only the generated platform directories: prebuilds/README.md is a source file.
find "$root/prebuilds" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
cp -r prebuilds/. "$root/prebuilds/"
