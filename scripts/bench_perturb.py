#!/usr/bin/env python3
"""Throughput and memory of the pure-Python path: `--methods perturb` against bare orjson.

Prints one table, all figures from this one run (the machines are noisy, so compare the
ratio, not the absolute numbers):
  - bare loop: read each line, orjson.loads, orjson.dumps, write   (the ceiling)
  - qaug Pipeline with perturb, in-process, same records            (target ratio >= 0.5)
  - qaug run --methods perturb on --memory-records records, as a subprocess: peak RSS (< 300 MB)

    python scripts/bench_perturb.py [--records 100000] [--memory-records 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_record(i: int) -> dict:
    """A structured-extraction sample: instruction, input, and a nested JSON answer."""
    answer = {
        "company": f"Company {i % 97}", "ticker": f"C{i % 997:03d}", "fiscal_year": 2000 + i % 25,
        "revenue": {"value": 1000 + i * 7 % 100000, "currency": "USD", "unit": "million"},
        "net_income": {"value": (i * 13) % 5000 - 1000, "currency": "USD"},
        "segments": [{"name": "cloud", "share": 0.42}, {"name": "devices", "share": 0.33}],
        "audited": i % 2 == 0, "auditor": None if i % 3 else "KPMG", "employees": 1200 + i % 800,
        "guidance": "raised", "notes": "Figures restated for the 2019 acquisition.",
    }
    return {"instruction": "Extract the key figures from the report as JSON.",
            "input": f"Company {i % 97} reported revenue of {1000 + i * 7 % 100000} million USD in fiscal {2000 + i % 25}.",
            "output": json.dumps(answer, ensure_ascii=False)}


def write_dataset(path: Path, n: int) -> None:
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps(make_record(i)) + b"\n")


def bare_loop(src: Path, dst: Path) -> float:
    t0 = time.perf_counter()
    with open(src, "rb") as fin, open(dst, "wb", buffering=1 << 20) as fout:
        for line in fin:
            fout.write(orjson.dumps(orjson.loads(line)) + b"\n")
    return time.perf_counter() - t0


def qaug_inprocess(src: Path, dst: Path) -> float:
    from qaug.config import RunConfig
    from qaug.pipeline import Pipeline

    cfg = RunConfig(inputs=(src,), output=dst, methods=("perturb",), seed=1, max_aug_ratio=1.0)
    t0 = time.perf_counter()
    Pipeline(cfg).run(overwrite=True)
    return time.perf_counter() - t0


def qaug_subprocess_rss(src: Path, dst: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a real `qaug run` process."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qaug", "run", str(src), "-o", str(dst), "--methods", "perturb", "-q",
                    "--max-aug-ratio", "1"],
                   check=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--memory-records", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src = d / "in.jsonl"
        write_dataset(src, args.records)
        bare = bare_loop(src, d / "bare.jsonl")
        ours = qaug_inprocess(src, d / "out.jsonl")
        out_lines = sum(1 for _ in open(d / "out.jsonl", "rb"))
        rows = [
            ("bare orjson loads+dumps", args.records, bare, args.records / bare, "1.00"),
            ("qaug perturb (in-process)", args.records, ours, args.records / ours, f"{bare / ours:.2f}"),
        ]
        big = d / "big.jsonl"
        write_dataset(big, args.memory_records)
        (src).unlink()
        secs, rss = qaug_subprocess_rss(big, d / "big.out.jsonl")
        rows.append(("qaug run perturb (subprocess)", args.memory_records, secs, args.memory_records / secs, "-"))
    print(f"{'path':<30} {'records':>10} {'seconds':>9} {'records/s':>11} {'ratio':>6}")
    for name, n, s, rate, ratio in rows:
        print(f"{name:<30} {n:>10,} {s:>9.2f} {rate:>11,.0f} {ratio:>6}")
    print(f"output lines (originals + variants) for {args.records:,} records: {out_lines:,}")
    print(f"peak RSS of `qaug run` over {args.memory_records:,} records: {rss:.0f} MB (target < 300 MB)")
    print(f"ratio qaug/bare: {bare / ours:.2f} (target >= 0.50); python {sys.version.split()[0]}, {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
