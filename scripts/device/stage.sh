#!/usr/bin/env bash
# Builds the static flash-attn for the GPU machine from a private worktree: the committed tree
# of everyone else plus this working copy's CUDA files (Sources/CUDADriver, FlashAttentionCUDA,
# the compile command, the CUDA tests, scripts/). Other people's uncommitted edits stay out, so
# their work in progress cannot break a device build. Stages the binary in .device/ (git-ignored).
#   usage (from the project root): scripts/device/stage.sh [--commit REF]
set -euo pipefail
[ -f Package.swift ] || { echo "run from the project root" >&2; exit 2; }
root=$(pwd)
wt="$root/.build-cuda/wt"
ref=$(git -C "$root" rev-parse "${2:-HEAD}")
if [ ! -d "$wt/.git" ] && [ ! -f "$wt/.git" ]; then
  git worktree add --detach "$wt" "$ref" >/dev/null
else
  (cd "$wt" && git reset -q --hard && git clean -fdq && git checkout -q --detach "$ref")
fi
for path in Sources/CUDADriver Sources/FlashAttentionCUDA Tests/FlashAttentionCUDATests scripts/device; do
  rm -rf "$wt/$path"; mkdir -p "$(dirname "$wt/$path")"; cp -r "$root/$path" "$wt/$path"
done
cp "$root/Sources/FlashAttentionCLI/CompileCommand.swift" "$wt/Sources/FlashAttentionCLI/"
cp "$root"/scripts/bench_cuda*.py "$wt/scripts/" 2>/dev/null || true
cp "$root/Sources/FlashAttention/FlashAttention.swift" "$wt/Sources/FlashAttention/FlashAttention.swift"
grep -q "CompileCommand.self" "$wt/Sources/FlashAttentionCLI/FlashAttnCommand.swift" ||
  sed -i 's/^\(\s*\)BenchCommand.self,$/\1BenchCommand.self,\n\1CompileCommand.self,/' "$wt/Sources/FlashAttentionCLI/FlashAttnCommand.swift"
grep -q "CompileCommand.self" "$wt/Sources/FlashAttentionCLI/FlashAttnCommand.swift" || { echo "could not register CompileCommand" >&2; exit 1; }
cd "$wt"
swift build -c release --scratch-path "$root/.build-cuda/wt-build" --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib 2>&1 | grep -E "error|Compiling|Build" | grep -v "^\[" || true
bin=$(swift build -c release --scratch-path "$root/.build-cuda/wt-build" --show-bin-path)
mkdir -p "$root/.device"
grep -qx '/.device/' "$root/.git/info/exclude" 2>/dev/null || echo '/.device/' >> "$root/.git/info/exclude"
cp "$bin/flash-attn" "$root/.device/flash-attn"
strip "$root/.device/flash-attn"; gzip -9 -f -k "$root/.device/flash-attn"
echo "staged .device/flash-attn.gz ($(du -h "$root/.device/flash-attn.gz" | cut -f1))"
