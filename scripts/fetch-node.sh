#!/usr/bin/env bash
# Prints the installation directory (bin/node, include/node) of the newest Node `major` for a
# platform (default: this one), fetched once as the npm package node-<platform>@<major> into the
# cache test/helpers/node-versions.ts shares. Usage: scripts/fetch-node.sh <major> [linux-arm64]
set -euo pipefail
major="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$(node -p 'process.platform + "-" + process.arch')"
platform="${2:-$here}"
cache="$root/node_modules/.cache/multiprocess-node-versions"
name="node-$major"
[[ "$platform" == "$here" ]] || name="node-$platform-$major"
if [[ ! -d "$cache/$name" ]]; then
  mkdir -p "$cache"
  scratch="$(mktemp -d "$cache/$name.partial-XXXXXX")"
  trap 'rm -rf "$scratch"' EXIT
  (cd "$scratch" && npm pack --silent "node-$platform@$major" >/dev/null && tar -xzf node-*.tgz && rm node-*.tgz)
  mv "$scratch" "$cache/$name"
fi
echo "$cache/$name/package"
