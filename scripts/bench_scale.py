#!/usr/bin/env python3
"""Scale-out on Ray: records/s for one process, 1 actor and N actors, with the efficiency ratio.

All figures come from this one run (the machines are noisy, so compare ratios, not numbers):
  - pure:  `qaug run -m perturb` on --records structured records
  - model: `qaug run -m rewrite --no-verify` with the tiny random Qwen2 (or --gguf), --model-records records
  - model, capped: the same at --max-aug-ratio 0.5, where Ray shares each window out among the actors
    (windows of --window x actors records, so each actor gets as many as in the uncapped rows)
Each row is a whole `qaug run` process. `records/s` is the run's own rate from its report (Ray's start
and the actors' model loading before the first window are outside it; `process s` has everything).
Efficiency at N actors = rate(N) / (N x rate(1)), both measured here; the report's own per-actor
efficiency (aggregate over N x one actor's busy rate) is printed beside it. Target for model methods
at 2 actors on this 2-core box: >= 0.8. Every actor gets --threads threads (default 1), so 1 and N
actors are compared at the same thread count per actor. On a GPU machine: --gpus 0,1,... gives one
actor per GPU and the N of the last row.

    python scripts/bench_scale.py [--records 20000] [--model-records 96] [--actors 2] [--gpus 0,1]
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
sys.path.insert(0, str(ROOT / "scripts"))


def run(args: list[str]) -> tuple[float, dict]:
    """(process seconds, report) of one `qaug run`."""
    out = Path(args[args.index("-o") + 1])
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qaug", "run", *args, "-q", "--overwrite"], cwd=ROOT,
                          capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"qaug run failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return secs, json.loads(out.with_name(out.name.replace(".jsonl", ".report.json")).read_text())


def rows_for(kind: str, base: list[str], d: Path, actors: int, gpus: str | None) -> list[tuple]:
    rows = []
    single_secs, rep = run([*base, "-o", str(d / f"{kind}-single.jsonl")])
    rows.append((kind, "one process", 1, single_secs, rep["timings"]["records_per_s"], None, None))
    counts = [1, actors] if actors > 1 else [1]
    rate1 = None
    for n in counts:
        extra = ["--gpus", ",".join(gpus.split(",")[:n])] if gpus else ["--ray", "--actors", str(n)]
        secs, rep = run([*base, "-o", str(d / f"{kind}-ray{n}.jsonl"), *extra])
        rate = rep["timings"]["records_per_s"]
        if n == 1:
            rate1 = rate
        eff = rate / (n * rate1) if rate1 else None
        rows.append((kind, f"ray, {n} actor{'s' if n > 1 else ''}", n, secs, rate, eff, rep["scale"]["efficiency"]))
        same = (d / f"{kind}-ray{n}.jsonl").read_bytes() == (d / f"{kind}-single.jsonl").read_bytes()
        if not same and "--deterministic" in base:
            raise SystemExit(f"{kind}: the Ray output with {n} actors differs from one process")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000, help="records for the pure method")
    ap.add_argument("--model-records", type=int, default=96, help="records for the model method")
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per actor (and for the one process)")
    ap.add_argument("--gpus", default=None, help="GPU indices: one actor per GPU (--actors is then their count)")
    ap.add_argument("--gguf", type=Path, default=None, help="model for the model rows (default: the tiny random Qwen2)")
    ap.add_argument("--window", type=int, default=8, help="records per window of the model runs")
    ap.add_argument("--skip-pure", action="store_true")
    args = ap.parse_args()
    if args.gpus:
        args.actors = len(args.gpus.split(","))
    from bench_perturb import write_dataset

    rows: list[tuple] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if not args.skip_pure:
            src = d / "pure.jsonl"
            write_dataset(src, args.records)
            rows += rows_for("pure (perturb)", [str(src), "-m", "perturb", "--max-aug-ratio", "1"], d, args.actors,
                             None)
        gguf = args.gguf
        if gguf is None:
            from make_tiny_gguf import write_tiny_gguf

            gguf = write_tiny_gguf(d / "tiny-qwen2.gguf", seed=0)
        msrc = d / "model.jsonl"
        with open(msrc, "w", encoding="utf-8") as fh:
            for i in range(args.model_records):
                fh.write(json.dumps({"instruction": f"Summarise report {i} in one sentence.", "input": "",
                                     "output": f"Report {i} shows steady revenue."}) + "\n")
        model_args = [str(msrc), "-m", "rewrite", "--gguf", str(gguf), "--no-verify", "--max-aug-ratio", "1",
                      "--max-tokens", "48", "--threads", str(args.threads), "--no-cache", "--deterministic",
                      "--window", str(args.window)]
        rows += rows_for("model (rewrite)", model_args, d, args.actors, args.gpus)
        # under a cap each window is shared out among the actors (one window in flight): the capped rows
        capped = [a if a != "1" or model_args[i - 1] != "--max-aug-ratio" else "0.5" for i, a in enumerate(model_args)]
        capped[capped.index("--window") + 1] = str(args.window * max(1, args.actors))
        rows += rows_for("model, capped", capped, d, args.actors, args.gpus)
    print(f"{'method':<16} {'run':<14} {'actors':>6} {'process s':>9} {'records/s':>10} {'efficiency':>10} "
          f"{'report eff':>10}")
    for kind, what, n, secs, rate, eff, rep_eff in rows:
        e = f"{eff:.2f}" if eff is not None else "-"
        r = f"{rep_eff:.2f}" if rep_eff is not None else "-"
        print(f"{kind:<16} {what:<14} {n:>6} {secs:>9.1f} {rate:>10,.1f} {e:>10} {r:>10}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; target: model efficiency >= 0.8 at 2 actors")


if __name__ == "__main__":
    main()
