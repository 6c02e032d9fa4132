#!/usr/bin/env python3
"""Per model method on the example data with the demo model: speed, accept rate, diversity, faithfulness.

For each method: generated tokens/s, records/s, variants accepted and rejected (top reasons),
and for accepted variants distinct-2 (unique bigrams / bigrams, characters for CJK, words
otherwise) and the mean chrF of the changed texts to their source. These are the baseline
that later quality and speed work is measured against.

    python scripts/bench_methods.py [--gguf F] [--records 4] [--threads N] [--methods a,b]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = {
    "rewrite": "alpaca_en.jsonl", "backtranslate": "alpaca_zh.jsonl", "roleplay": "alpaca_en.jsonl",
    "swap": "alpaca_en.jsonl", "synonym": "classification.jsonl", "template": "classification.jsonl",
    "steps": "alpaca_en.jsonl", "bugfix": "alpaca_en.jsonl", "translate": "alpaca_zh.jsonl",
}


def distinct2(texts: list[str]) -> float | None:
    from qaug.quality.lang import detect, is_cjk

    grams: list[tuple] = []
    for t in texts:
        units = list(t.replace(" ", "")) if is_cjk(detect(t)) else t.split()
        grams += list(zip(units, units[1:]))
    return len(set(grams)) / len(grams) if grams else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf")
    ap.add_argument("--records", type=int, default=4)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--methods", default=",".join(DATA))
    ap.add_argument("--parallel", type=int, default=4)
    args = ap.parse_args()
    from qaug.augment.backtranslate import chrf
    from qaug.config import RunConfig
    from qaug.llm.engine import Sampling
    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine
    from qaug.llm.models import demo_model
    from qaug.pipeline import Pipeline

    gguf = Path(args.gguf) if args.gguf else demo_model()
    engine = LlamaCppEngine(gguf, EngineOptions(n_ctx=2048, n_threads=args.threads, parallel=args.parallel))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            src = Path(tmp) / f"{method}.in.jsonl"
            lines = [ln for ln in (ROOT / "examples" / DATA[method]).read_text(encoding="utf-8").splitlines()
                     if method not in ("steps", "bugfix") or "Answer:" in ln or "```python" in ln]
            src.write_text("\n".join(lines[: args.records]) + "\n", encoding="utf-8")
            out = Path(tmp) / f"{method}.jsonl"
            before = engine.stats.numbers()
            cfg = RunConfig(inputs=(src,), output=out, methods=(method,), max_aug_ratio=1.0, window=64,
                            method_params={"rewrite": {"n": 3}} if method == "rewrite" else {})
            t0 = time.perf_counter()
            stats = Pipeline(replace(cfg, sampling=Sampling(max_tokens=384)), engine=engine).run(overwrite=True)
            secs = time.perf_counter() - t0
            toks = engine.stats.completion_tokens - before["completion_tokens"]
            ms = stats.methods[method]
            rows_out = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
            parents = {r["_qaug"]["id"]: r for r in rows_out if r["_qaug"]["parent"] is None}
            changed, scores = [], []
            for r in rows_out:
                parent = parents.get(r["_qaug"]["parent"])
                if parent is None:
                    continue
                for key in ("instruction", "input", "output"):
                    if isinstance(r.get(key), str) and r.get(key) != parent.get(key):
                        changed.append(r[key])
                        scores.append(chrf(r[key], parent.get(key) or ""))
            rejected = Counter(ms.rejected)
            rows.append((method, toks / secs if secs else 0, stats.records / secs if secs else 0, ms.written,
                         sum(rejected.values()), distinct2(changed), sum(scores) / len(scores) if scores else None,
                         ", ".join(f"{k} ({v})" for k, v in rejected.most_common(2))))
    engine.close()
    print(f"model {gguf.name}, {args.records} records per method, {args.threads} threads, parallel {args.parallel}")
    print(f"{'method':<14} {'tok/s':>6} {'rec/s':>6} {'kept':>5} {'rej':>5} {'dist-2':>7} {'chrF':>6}  "
          "top reject reasons")
    for m, tps, rps, kept, rej, d2, cf, reasons in rows:
        d2s = f"{d2:.2f}" if d2 is not None else "-"
        cfs = f"{cf:.1f}" if cf is not None else "-"
        print(f"{m:<14} {tps:>6.1f} {rps:>6.2f} {kept:>5} {rej:>5} {d2s:>7} {cfs:>6}  {reasons}")


if __name__ == "__main__":
    main()
