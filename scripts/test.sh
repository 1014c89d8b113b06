#!/usr/bin/env bash
# The project's one test command (README.md and .ci/run call exactly this).
# Swift tests in release (numeric code in a debug build is 10–50× slower), then the Python
# package's tests against the freshly built shared library when torch is importable.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release
swift test -c release

if [ -d python/tests ] && python3 -c 'import torch, pytest' 2>/dev/null; then
  swift build -c release --product flashattention
  export FLASH_ATTENTION_LIB="$(swift build -c release --show-bin-path)/libflashattention.so"
  python3 -m pytest -q python/tests
else
  echo "python tests skipped: python/tests or torch/pytest missing (see .ci/run for the installs)"
fi
