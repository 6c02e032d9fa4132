#!/usr/bin/env bash
# Set up and run the main job on the shipped examples with the embedded demo model:
#   bash scripts/demo.sh [extra qaug run options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
mkdir -p out
exec .venv/bin/qaug run examples/alpaca_en.jsonl examples/messages.jsonl -o out/demo.jsonl \
  -m rewrite,perturb,rename_identifiers --param rewrite.n=3 --seed 1 --overwrite "$@"
