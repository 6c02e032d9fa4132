#!/usr/bin/env python3
"""First run vs rerun of a model job: the rerun reads every answer from the result cache.

    python scripts/bench_cache.py [--gguf F] [--records 16] [--threads N]
Target: the rerun is at least 50x faster than the first run (both whole `qaug run` processes).
Default model: the embedded demo model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf")
    ap.add_argument("--records", type=int, default=16)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    gguf = args.gguf
    if gguf is None:
        from qaug.llm.models import demo_model

        gguf = str(demo_model())
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src = d / "in.jsonl"
        lines = (ROOT / "examples" / "alpaca_en.jsonl").read_text(encoding="utf-8").splitlines()[: args.records]
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        rows = []
        for label in ("first run", "rerun (cached)"):
            out = d / f"{label.split()[0]}.jsonl"
            cmd = [sys.executable, "-m", "qaug", "run", str(src), "-o", str(out), "-m", "rewrite,backtranslate",
                   "--param", "rewrite.n=2", "--max-tokens", "160", "--gguf", gguf, "--threads", str(args.threads),
                   "--cache-dir", str(d / "cache"), "-q"]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, cwd=ROOT)
            secs = time.perf_counter() - t0
            model = json.loads(out.with_name(out.stem + ".report.json").read_text())["model"]
            rows.append((label, secs, model["computed"], model["cached"], out.read_bytes()))
    print(f"model {Path(gguf).name}, {args.records} records, rewrite (n=2) + backtranslate, {args.threads} threads")
    print(f"{'run':<16} {'seconds':>8} {'computed':>9} {'cached':>7}")
    for label, secs, computed, cached, _ in rows:
        print(f"{label:<16} {secs:>8.2f} {computed:>9} {cached:>7}")
    print(f"speed-up: {rows[0][1] / rows[1][1]:.1f}x (target >= 50x); identical output: {rows[0][4] == rows[1][4]}")


if __name__ == "__main__":
    main()
