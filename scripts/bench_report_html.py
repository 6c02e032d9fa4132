#!/usr/bin/env python3
"""Size and time of out.report.html for a synthetic run of N records (default 100,000).

Writes an output, rejects file and report shaped like a real run's (four methods, judge answers,
back-translation chrF, gate and judge rejects), renders the HTML report, prints a table and exits 1
if the page is over 1 MB.
    .venv/bin/python scripts/bench_report_html.py [--records 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qaug import jsonio  # noqa: E402
from qaug.provenance import output_line, provenance  # noqa: E402
from qaug.report_html import write_report_html  # noqa: E402

WORDS = ("explain list summarise compare describe write give three key points about the report data model "
         "results method steps answer reasons benefits risks costs in short detail for a beginner").split()
METHODS = ("rewrite", "backtranslate", "roleplay", "shuffle_keys")
CODES = ("answered", "near_copy", "key_term_lost", "judge_constraint_added", "judge_answered", "chrf_high")
JUDGE = {"parts_kept": [True], "answered": False, "constraint_added": False, "same_meaning": True}


def synth(folder: Path, n: int) -> dict:
    rng = random.Random(0)
    written, rejected = Counter(), {m: Counter() for m in METHODS}
    with open(folder / "out.jsonl", "wb") as out, open(folder / "out.rejects.jsonl", "wb") as rej:
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30)))
            data = {"id": f"r{i}", "instruction": text, "input": "", "output": "ok"}
            out.write(output_line(jsonio.dumps(data), provenance(id=f"r{i}", parent=None, method="original", seed=0,
                                                                 source=f"in.jsonl:{i + 1}")))
            for m in METHODS:
                if rng.random() < 0.35:
                    code = rng.choice(CODES if m == "backtranslate" else CODES[:5])
                    rejected[m][code] += 1
                    reason = f"round trip is a near-copy: chrF {rng.uniform(92, 100):.1f} above 92" \
                        if code == "chrf_high" else code
                    rej.write(jsonio.dumps({"source": "in.jsonl", "line": i + 1, "parent": f"r{i}", "method": m,
                                            "stage": "gate", "code": code, "reason": reason, "raw": text,
                                            "truncated": False}) + b"\n")
                    continue
                words = text.split()
                rng.shuffle(words)
                info = {"lang": "en", "judge": JUDGE} if m != "shuffle_keys" else {"paths": ["$"]}
                if m == "backtranslate":
                    info["chrf"] = round(rng.uniform(20, 92), 2)
                v = dict(data, instruction=" ".join(words[: max(3, len(words) - rng.randint(0, 5))]))
                out.write(output_line(jsonio.dumps(v), provenance(id=f"r{i}/{m}/0", parent=f"r{i}", method=m, seed=0,
                                                                  source=f"in.jsonl:{i + 1}", info=info)))
                written[m] += 1
    return {"status": "ok", "records": n, "originals_written": n, "variants_written": sum(written.values()),
            "input_rejects": 0, "review_marked": 0, "timings": {"seconds": 1.0},
            "methods": {m: {"written": written[m], "rejected": dict(rejected[m]),
                            "judge": {"seconds_ms": 1000, "jobs": written[m]}} for m in METHODS},
            "model": {"model": "synthetic.gguf", "seconds": 10.0, "completion_tokens": 1000, "prompt_tokens": 5000,
                      "completion_tokens_per_s": 100.0},
            "config": {"methods": list(METHODS), "seed": 0}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        report = synth(folder, args.records)
        t_synth = time.perf_counter() - t0
        (folder / "out.report.json").write_text(json.dumps(report))
        t0 = time.perf_counter()
        page = write_report_html(report, folder / "out.jsonl", folder / "out.rejects.jsonl", folder / "out.report.json")
        t_html = time.perf_counter() - t0
        size = page.stat().st_size
        out_mb = (folder / "out.jsonl").stat().st_size / 2**20
        rej_mb = (folder / "out.rejects.jsonl").stat().st_size / 2**20
        lines = sum(1 for _ in open(folder / "out.jsonl", "rb"))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [("records", f"{args.records:,}"), ("output lines", f"{lines:,}"), ("out.jsonl", f"{out_mb:.1f} MiB"),
            ("out.rejects.jsonl", f"{rej_mb:.1f} MiB"), ("synthesis", f"{t_synth:.1f} s"),
            ("report.html written in", f"{t_html:.1f} s"), ("out.report.html", f"{size / 1024:.1f} KiB"),
            ("limit", "1024.0 KiB"), ("peak RSS of this script", f"{rss:.0f} MiB")]
    w = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{w}} | value |\n|{'-' * (w + 2)}|-------|")
    for k, v in rows:
        print(f"| {k:<{w}} | {v} |")
    if size >= 2**20:
        print(f"out.report.html is {size:,} bytes: over 1 MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
