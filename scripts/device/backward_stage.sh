#!/usr/bin/env bash
# Builds flash-attn for the GPU machine with the CUDA backward work from a private worktree:
# the committed tree plus this working copy's CUDA folders, the backward CLI file and scripts,
# so other people's half-edited files elsewhere cannot break the build. Stages the binary as
# .device-bwd/flash-attn.gz (git-ignored) for a `device` call's `carry`.
#   usage (from the project root): [BASE=commit] scripts/device/backward_stage.sh [--sync-only] [--test FILTER]
# BASE (default HEAD) picks the committed tree to build on, e.g. when HEAD is mid-change elsewhere.
set -euo pipefail
[ -f Package.swift ] || { echo "run from the project root" >&2; exit 2; }
root=$(pwd)
wt="$root/.build-bwd-static/wt"
if [ ! -e "$wt/.git" ]; then
  git worktree add --detach "$wt" HEAD >/dev/null
else
  (cd "$wt" && git reset -q --hard && git clean -fdq && git checkout -q --detach "$(git -C "$root" rev-parse "${BASE:-HEAD}")")
fi
# Only the backward's own files come from the working copy (other work in the same folders
# may be mid-edit); everything else is the committed tree.
rm -rf "$wt/scripts"; cp -r "$root/scripts" "$wt/scripts"
for f in Sources/FlashAttentionCUDA/Descriptor/Backward*.swift Sources/FlashAttentionCUDA/Codegen/Backward*.swift \
         "Sources/FlashAttentionCUDA/Runtime/BackwardKernelDescriptor+Generated.swift" Sources/FlashAttentionCUDA/Runtime/GeneratedKernel.swift \
         Sources/FlashAttentionCLI/BackwardBenchCommand.swift Tests/FlashAttentionCUDATests/Backward*.swift; do
  cp "$root/$f" "$wt/$f"
done
grep -q "BackwardBenchCommand.self" "$wt/Sources/FlashAttentionCLI/FlashAttnCommand.swift" ||
  sed -i 's/^\(\s*\)CompileCommand.self,$/\1CompileCommand.self,\n\1BackwardBenchCommand.self,/' "$wt/Sources/FlashAttentionCLI/FlashAttnCommand.swift"
cd "$wt"
case "${1:-}" in
  --sync-only) exit 0 ;;
  --test) swift build --scratch-path "$root/.build-bwd-static/wt-debug" --build-tests 2>&1 | grep -E "error" || true
          exec swift test --scratch-path "$root/.build-bwd-static/wt-debug" --skip-build --filter "${2:-Backward}" ;;
esac
swift build -c release --scratch-path "$root/.build-bwd-static/wt-build" --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib > "$root/.build-bwd-static/build.log" 2>&1 ||
  { grep -E "error" "$root/.build-bwd-static/build.log" | head; echo "build failed: nothing staged" >&2; exit 1; }
bin=$(swift build -c release --scratch-path "$root/.build-bwd-static/wt-build" --show-bin-path)
mkdir -p "$root/.device-bwd"
grep -qx '/.device-bwd/' "$root/.git/info/exclude" 2>/dev/null || echo '/.device-bwd/' >> "$root/.git/info/exclude"
cp "$bin/flash-attn" "$root/.device-bwd/flash-attn"
strip "$root/.device-bwd/flash-attn"; gzip -9 -f "$root/.device-bwd/flash-attn"
echo "staged .device-bwd/flash-attn.gz ($(du -h "$root/.device-bwd/flash-attn.gz" | cut -f1))"
