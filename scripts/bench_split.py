#!/usr/bin/env python3
"""qaug split on a large synthetic output: time and peak RSS of the real CLI; prints a table.

The output has --originals originals (1% of them near-duplicates of another), each followed by
--variants variants, so the default is 1,000,000 lines. Memory should follow the number of groups,
not of lines: compare --variants 0 and 3 at the same line count.
    .venv/bin/python scripts/bench_split.py [--originals 250000 --variants 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("river mountain cloud harbor lantern violin copper meadow glacier falcon orchid canyon ember willow saturn "
         "prairie quartz tundra maple comet anchor bridge castle desert engine forest garden island jungle kettle "
         "ladder magnet needle ocean pepper rocket silver temple umbrella valley wagon yellow zebra").split()


def synth(path: Path, originals: int, variants: int, seed: int = 0) -> int:
    """Write the output; returns its line count."""
    rng = random.Random(seed)
    lines = 0
    prev = ""
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(originals):
            text = prev + " " if i and i % 100 == 0 else " ".join(rng.choices(WORDS, k=10)) + f" #{i}?"
            prev = text
            oid = f"data.jsonl:{i + 1}"
            base = {"instruction": text, "input": "", "output": f"answer {i} " + " ".join(rng.choices(WORDS, k=20))}
            fh.write(json.dumps({**base, "_qaug": {"id": oid, "parent": None, "method": "original"}}) + "\n")
            for k in range(variants):
                q = {"id": f"{oid}/rewrite/{k}", "parent": oid, "method": "rewrite"}
                fh.write(json.dumps({**base, "instruction": f"Please: {text} ({k})", "_qaug": q}) + "\n")
            lines += 1 + variants
    return lines


def run(src: Path, out: Path) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of `qaug split` on src."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "qaug", "split", str(src), "-o", str(out), "--eval", "0.1",
                           "--test", "0.05", "--seed", "1"], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--originals", type=int, default=250_000)
    ap.add_argument("--variants", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "out.jsonl"
        lines = synth(src, args.originals, args.variants)
        size = os.path.getsize(src) / 2 ** 20
        seconds, rss = run(src, Path(tmp) / "split")
        report = json.loads((Path(tmp) / "split" / "split.report.json").read_text())
    print("| lines | originals | file MiB | groups | merged pairs | train / eval / test lines | held-out variants "
          "| seconds | lines/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    sides = " / ".join(str(report["sides"].get(s, {}).get("lines", 0)) for s in ("train", "eval", "test"))
    print(f"| {lines:,} | {args.originals:,} | {size:.0f} | {report['groups']:,} | {report['merged_pairs']:,} "
          f"| {sides} "
          f"| {sum(report['held_out_variants'].values()):,} | {seconds:.1f} | {lines / seconds:,.0f} | {rss:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
