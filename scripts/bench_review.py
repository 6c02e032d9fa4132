#!/usr/bin/env python3
"""qaug review on a large output: index time and memory, a filter, one page, --apply; prints a table.

The output is synthetic (scripts/bench_report_html.py's shape); by default about 1M lines.
    .venv/bin/python scripts/bench_review.py [--records 280000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_report_html import synth  # noqa: E402

from qaug.review.apply import apply_review  # noqa: E402
from qaug.review.decisions import DecisionLog  # noqa: E402
from qaug.review.index import ReviewIndex  # noqa: E402
from qaug.review.view import group_view  # noqa: E402


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=280_000)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        synth(folder, args.records)
        out = folder / "out.jsonl"
        lines = sum(1 for _ in open(out, "rb"))
        rows.append(("output lines", f"{lines:,}"))
        rows.append(("out.jsonl", f"{out.stat().st_size / 2**20:.0f} MiB"))
        before = rss_mib()
        t0 = time.perf_counter()
        ix = ReviewIndex(out)
        rows.append(("index (output + rejects)", f"{time.perf_counter() - t0:.1f} s"))
        rows.append(("peak RSS added by the index", f"{rss_mib() - before:.0f} MiB"))
        rows.append(("originals (pages)", f"{len(ix):,}"))
        t0 = time.perf_counter()
        got = ix.matching(status="rejected", code="near_copy")
        rows.append(("filter rejected + near_copy", f"{time.perf_counter() - t0:.1f} s ({len(got):,} originals)"))
        t0 = time.perf_counter()
        group_view(ix, len(ix) // 2)
        rows.append(("one page (middle of the file)", f"{(time.perf_counter() - t0) * 1000:.1f} ms"))
        log = DecisionLog(folder / "out.review.jsonl")
        for g in range(0, len(ix), max(1, len(ix) // 1000)):
            it = group_view(ix, g)["items"]
            if it:
                log.append({"id": it[0]["id"], "parent": ix.group_keys[g], "decision": "reject", "reviewer": "b"})
        t0 = time.perf_counter()
        apply_review(out, folder / "final.jsonl")
        rows.append((f"--apply ({len(log.entries):,} decisions)", f"{time.perf_counter() - t0:.1f} s"))
    rows.append(("peak RSS of this script", f"{rss_mib():.0f} MiB"))
    w = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{w}} | value |\n|{'-' * (w + 2)}|-------|")
    for k, v in rows:
        print(f"| {k:<{w}} | {v} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
