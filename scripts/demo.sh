#!/usr/bin/env bash
# Set up and run the main job on the shipped example data: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
mkdir -p out
exec .venv/bin/qaug run examples/alpaca_en.jsonl examples/alpaca_zh.jsonl examples/sharegpt.jsonl \
  examples/messages.jsonl -o out/demo.jsonl --methods perturb,rename_identifiers --seed 1 "$@"
