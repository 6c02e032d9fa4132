#!/usr/bin/env python3
"""Throughput of the pure-Python path against the naive pipeline a user would write, side by side.

All figures come from this one run (the machines are noisy, so compare the ratio, not the numbers):
  - naive: scripts/naive_perturb.py (stdlib json + random: key shuffle, 30% nulls, _meta; original and
    variant written), as a whole process                                                  (the peer)
  - qaug run --methods perturb --max-aug-ratio 1, as a whole process, same records         (target >= 1.0x)
  - the same qaug run in-process, with and without out.report.html, to show where the time goes
  - optionally, `qaug run` on --memory-records records as a subprocess: peak RSS (< 300 MB)
Each whole-process figure is the best of --repeat runs.

    python scripts/bench_perturb.py [--records 30000] [--repeat 3] [--memory-records 0]
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
            "input": f"Company {i % 97} reported revenue of {1000 + i * 7 % 100000} million USD "
                     f"in fiscal {2000 + i % 25}.",
            "output": json.dumps(answer, ensure_ascii=False)}


def write_dataset(path: Path, n: int) -> None:
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps(make_record(i)) + b"\n")


def best_process(cmd: list[str], repeat: int) -> float:
    """Best wall time of `repeat` runs of a whole process (start-up included, as a user pays it)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


def naive_cmd(src: Path, dst: Path) -> list[str]:
    return [sys.executable, str(ROOT / "scripts" / "naive_perturb.py"), str(src), str(dst)]


def qaug_cmd(src: Path, dst: Path) -> list[str]:
    return [sys.executable, "-m", "qaug", "run", str(src), "-o", str(dst), "--methods", "perturb", "-q",
            "--max-aug-ratio", "1", "--overwrite"]


def qaug_inprocess(src: Path, dst: Path, html: bool = True) -> float:
    import qaug.pipeline as pipeline
    import qaug.session as session
    from qaug.config import RunConfig

    saved = session.write_report_html
    if not html:
        session.write_report_html = lambda *a, **k: None
    try:
        cfg = RunConfig(inputs=(src,), output=dst, methods=("perturb",), seed=1, max_aug_ratio=1.0)
        t0 = time.perf_counter()
        pipeline.Pipeline(cfg).run(overwrite=True)
        return time.perf_counter() - t0
    finally:
        session.write_report_html = saved


def qaug_subprocess_rss(src: Path, dst: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a real `qaug run` process."""
    t0 = time.perf_counter()
    subprocess.run(qaug_cmd(src, dst), check=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory-records", type=int, default=0, help="also measure peak RSS on this many (0: skip)")
    args = ap.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src = d / "in.jsonl"
        write_dataset(src, n)
        naive = best_process(naive_cmd(src, d / "naive.jsonl"), args.repeat)
        ours = best_process(qaug_cmd(src, d / "out.jsonl"), args.repeat)
        naive_lines = sum(1 for _ in open(d / "naive.jsonl", "rb"))
        out_lines = sum(1 for _ in open(d / "out.jsonl", "rb"))
        with_html = qaug_inprocess(src, d / "in1.jsonl")
        without_html = qaug_inprocess(src, d / "in2.jsonl", html=False)
        rows = [
            ("naive json+random pipeline", n, naive, naive_lines, "1.00"),
            ("qaug run -m perturb", n, ours, out_lines, f"{naive / ours:.2f}"),
            ("  in-process, with report.html", n, with_html, out_lines, "-"),
            ("  in-process, no report.html", n, without_html, out_lines, "-"),
        ]
        rss = None
        if args.memory_records:
            big = d / "big.jsonl"
            write_dataset(big, args.memory_records)
            secs, rss = qaug_subprocess_rss(big, d / "big.out.jsonl")
            rows.append(("qaug run (memory run)", args.memory_records, secs, 0, "-"))
    print(f"{'path':<32} {'records':>9} {'seconds':>8} {'records/s':>10} {'lines':>8} {'ratio':>6}")
    for name, count, secs, lines, ratio in rows:
        print(f"{name:<32} {count:>9,} {secs:>8.2f} {count / secs:>10,.0f} {lines:>8,} {ratio:>6}")
    if rss is not None:
        print(f"peak RSS of `qaug run` over {args.memory_records:,} records: {rss:.0f} MB (target < 300 MB)")
    print(f"ratio qaug/naive (whole processes, best of {args.repeat}): {naive / ours:.2f} (target >= 1.0); "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
