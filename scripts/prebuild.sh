#!/usr/bin/env bash
# Release binaries into prebuilds/ (`npm run prebuild`; `npm run release:pack` packs them): for
# linux-x64, and linux-arm64 when Debian's aarch64 cross toolchain is installed, the N-API addon
# (prebuildify, one per platform and libc) and the fork-parking addon per Node ABI (node.h), built
# against each major's headers from the npm registry. arm64 binaries are load-tested under
# qemu-user when it is installed. Builds run in a scratch copy: the checkout's build/ stays as it is.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
majors=(20 22 24)
scratch="$(mktemp -d "${TMPDIR:-/tmp}/mpjs-prebuild-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

tar -C "$root" --exclude=./.git --exclude=./node_modules --exclude=./build --exclude=./dist --exclude=./prebuilds \
  -cf - . | tar -C "$scratch" -xf -
ln -s "$root/node_modules" "$scratch/node_modules"
cd "$scratch"
mkdir prebuilds
# npm's own node-gyp, as `npm install` runs it.
node_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
# Built on glibc: a musl build needs a musl toolchain (the CI workflow's Alpine jobs make those).
libc=glibc

# build_platform <arch> <cross prefix or empty>
build_platform() {
  local arch="$1" cross="$2" dir="prebuilds/linux-$1"
  local -a env=()
  [[ -z "$cross" ]] || env=(CC="${cross}gcc" CXX="${cross}g++" LINK="${cross}g++" AR="${cross}ar")
  env "${env[@]}" npx prebuildify --napi --strip --strip-bin="${cross}strip" --tag-libc --arch "$arch" >/dev/null
  # prebuildify copies every module it finds; the park addon built with it is for one ABI only.
  rm -f "$dir/multiprocess_park.so"
  for major in "${majors[@]}"; do
    local home abi
    home="$(bash "$root/scripts/fetch-node.sh" "$major")"
    abi="$("$home/bin/node" -p process.versions.modules)"
    rm -rf build
    # npm run passes its nodedir setting down as npm_config_nodedir, which node-gyp prefers to --nodedir.
    env "${env[@]}" npm_config_nodedir="$home" PATH="$home/bin:$PATH" "$home/bin/node" "$node_gyp" configure --silent --arch="$arch"
    env "${env[@]}" make -s -C build multiprocess_park >/dev/null
    "${cross}strip" --strip-all -o "$dir/multiprocess_park.abi$abi.$libc.so" build/Release/multiprocess_park.so
  done
  rm -rf build
  echo "prebuilds/linux-$arch:" && ls -l "$dir" | tail -n +2
}

# Loads both arm64 addons in arm64 Node under qemu: the N-API one maps a segment, park counts threads.
load_test_arm64() {
  local sysroot=/usr/aarch64-linux-gnu major home
  for major in "${majors[@]}"; do
    home="$(bash "$root/scripts/fetch-node.sh" "$major" linux-arm64)"
    qemu-aarch64 -L "$sysroot" "$home/bin/node" -e '
      const path = require("node:path");
      const dir = path.resolve("prebuilds/linux-arm64");
      const addon = require(path.join(dir, "multiprocess.glibc.node"));
      const segment = new addon.Segment(`/mpjs-prebuild-${process.pid}`, 1 << 16, true, true);
      new Uint8Array(segment.buffer)[0] = 1;
      segment.close();
      const park = { exports: {} };
      process.dlopen(park, path.join(dir, `multiprocess_park.abi${process.versions.modules}.glibc.so`));
      console.log(`qemu ${process.arch} node ${process.version}: N-API addon maps shm, cpuCount ${addon.cpuCount()}; park addon sees ${park.exports.workerThreads()} platform workers`);
    '
  done
}

build_platform x64 ""
if command -v aarch64-linux-gnu-g++ >/dev/null; then
  build_platform arm64 aarch64-linux-gnu-
  if command -v qemu-aarch64 >/dev/null; then load_test_arm64; else echo "qemu-aarch64 missing: arm64 binaries not load-tested" >&2; fi
else
  echo "aarch64-linux-gnu-g++ missing (apt-get install g++-aarch64-linux-gnu): no linux-arm64 prebuilds" >&2
fi

# Replace only the generated platform directories: prebuilds/README.md is a source file.
find "$root/prebuilds" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
cp -r prebuilds/. "$root/prebuilds/"
