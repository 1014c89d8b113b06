#!/usr/bin/env bash
# Builds the two device artifacts into .device-me/ (git-ignored; name it in `carry`): the static `flash-attn` (gzipped) and
# libflashattention.so for the Python package. Session 22 found an incremental release build that had kept a stale object
# (FlashAttentionCLI's CheckCUDA.o, compiled against CUDADevice before its l2CacheBytes field: `flash-attn check` printed a
# heap address as the L2 size), so this script marks every source of the package changed first and rebuilds its modules from
# source; dependencies (swift-argument-parser …) stay built.
#   usage (from the project root): bash scripts/device/build-device-me.sh [scratch-root, default /work/.build-lead]
set -euo pipefail
[ -f Package.swift ] || { echo "run from the project root" >&2; exit 2; }
root=${1:-/work/.build-lead}
grep -qx '/.device-me/' .git/info/exclude 2>/dev/null || echo '/.device-me/' >> .git/info/exclude
mkdir -p .device-me
# Every source of the package counts as changed, so each of its modules recompiles whole (deleting the object folders
# instead leaves the build plan pointing at output maps that are gone).
find Sources -name '*.swift' -exec touch {} +
swift build -c release --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib --scratch-path "$root"
swift build -c release --product flashattention -Xswiftc -static-stdlib --scratch-path "$root-so"
gzip -c "$root/release/flash-attn" > .device-me/flash-attn.gz
cp "$root-so/release/libflashattention.so" .device-me/
ls -la .device-me
