#!/usr/bin/env python3
"""How well the text gates and the judge sort faithful variants from wrong ones, on labelled pairs.

For each labelled set (tests/data/quality/dev.jsonl, the set the gates were tuned on, and the
held-out sets, written or labelled blind; see SETS for which were later used to diagnose) it prints:

- precision of kept (share of kept candidates labelled good), recall of faithful (share of good
  candidates kept) and how many bad candidates are caught, per failure kind;
- for the deterministic gates alone, and with each --gguf model: gates + judge, gates + the support
  check (qaug.quality.support), and all three (what `qaug run` keeps);
- per judge question: how often it is raised on good and on bad candidates (which questions are
  worth letting decide: qaug.quality.judge.DECIDING);
- what the judge and the support check cost: generated tokens and seconds (cached answers cost none).

With --e2e LABELS it also prints the end-to-end row: the share of a run's kept variants that a
person labelled faithful (LABELS: JSONL with method and verdict per kept variant).

    python scripts/bench_quality.py [--set FILE ...] [--gguf M ...] [--limit N] [--e2e LABELS]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: dev: tuned on. holdout (1), holdout2 and holdout3: measured blind once, then used to diagnose the gates (so no
#: longer unseen). holdout4: written blind and measured once with the part_dropped gate and the parts judge: the
#: unseen figure of that change.
SETS = [ROOT / "tests/data/quality" / f"{name}.jsonl" for name in (
    "dev", "holdout_hand", "holdout_qwen", "holdout2_hand", "holdout3_hand", "holdout4_hand")]


def load(path: Path, limit: int | None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def pairs_of(rows: list[dict]):
    from qaug.augment.catalog import registry
    from qaug.score import pair_from

    reg = registry()
    out = []
    for i, r in enumerate(rows):
        data = {"source": r["source"], "candidate": r["candidate"], "method": r.get("method", "rewrite"),
                "answer": r.get("answer", ""), "context": r.get("context", ""), "role": r.get("role", "instruction")}
        out.append(pair_from(data, reg, f"row {i}", i))
    return out


def metrics(rows: list[dict], keep: list[bool]) -> dict:
    good = [r["verdict"] == "good" for r in rows]
    kept_good = sum(k and g for k, g in zip(keep, good))
    kept = sum(keep)
    caught: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r, k in zip(rows, keep):
        if r["verdict"] != "good":
            c = caught[r.get("kind", "bad")]
            c[0] += not k
            c[1] += 1
    bad = sum(1 for g in good if not g)
    return {"precision": kept_good / kept if kept else float("nan"), "recall": kept_good / max(sum(good), 1),
            "caught": sum(v[0] for v in caught.values()) / max(bad, 1), "kept": kept, "n": len(rows),
            "by_kind": dict(caught)}


def row(name: str, m: dict) -> str:
    return (f"| {name} | {m['n']} | {m['kept']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['caught']:.3f} |")


def kinds_table(results: list[tuple[str, dict]]) -> list[str]:
    kinds = sorted({k for _, m in results for k in m["by_kind"]})
    lines = ["| bad kind | n | " + " | ".join(name for name, _ in results) + " |",
             "|---|---:|" + "---:|" * len(results)]
    for k in kinds:
        n = next(m["by_kind"][k][1] for _, m in results if k in m["by_kind"])
        lines.append(f"| {k} | {n} | " + " | ".join(f"{m['by_kind'].get(k, [0, 0])[0]}" for _, m in results) + " |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", type=Path, action="append", help="labelled JSONL (default: dev and held-out sets)")
    ap.add_argument("--gguf", type=Path, action="append", default=[], help="judge model (repeatable)")
    ap.add_argument("--limit", type=int, default=None, help="first N pairs of each set")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--parallel", type=int, default=None)
    ap.add_argument("--e2e", type=Path, action="append", default=[], help="hand labels of a run's kept variants")
    args = ap.parse_args()

    from qaug.llm.engine import Sampling
    from qaug.llm.factory import open_engine
    from qaug.llm.options import EngineOptions
    from qaug.quality import judge
    from qaug.score import score_pairs

    sets = [s for s in (args.set or SETS) if s.exists()]
    judged: dict[tuple[str, str], list[dict]] = {}
    costs: list[str] = []
    for model in args.gguf:
        engine = open_engine(model, EngineOptions(n_threads=args.threads, parallel=args.parallel))
        try:
            for s in sets:
                pairs = pairs_of(load(s, args.limit))
                before = engine.stats.numbers()
                t0 = time.perf_counter()
                lines = list(score_pairs(pairs, engine, Sampling(), judge_all=True, support_check=True))
                secs = time.perf_counter() - t0
                judged[(model.name, s.name)] = lines
                gen = engine.stats.completion_tokens - before.get("completion_tokens", 0)
                scored = engine.stats.score_seconds - before.get("score_seconds", 0.0)
                costs.append(f"| {model.name} | {s.name} | {len(pairs)} | {gen:,} | {secs:.0f} | {scored:.0f} | "
                             f"{secs / max(len(pairs), 1):.2f} |")
        finally:
            engine.close()

    for s in sets:
        rows = load(s, args.limit)
        gate_lines = list(score_pairs(pairs_of(rows)))
        gates_keep = [ln["keep"] for ln in gate_lines]
        results = [("gates", metrics(rows, gates_keep))]
        for model in args.gguf:
            lines = judged[(model.name, s.name)]
            verdicts = [judge.verdict(ln["scores"]["judge"]) is None if "judge" in ln["scores"] else False
                        for ln in lines]
            supported = [not any(x["code"].startswith("support_") for x in ln["reasons"]) and "support" in ln["scores"]
                         for ln in lines]
            results.append((f"judge alone, {model.name}", metrics(rows, verdicts)))
            results.append((f"gates + judge, {model.name}",
                            metrics(rows, [g and v for g, v in zip(gates_keep, verdicts)])))
            results.append((f"gates + support, {model.name}",
                            metrics(rows, [g and s for g, s in zip(gates_keep, supported)])))
            results.append((f"gates + support + judge, {model.name}",
                            metrics(rows, [g and s and v for g, s, v in zip(gates_keep, supported, verdicts)])))
        good = sum(r["verdict"] == "good" for r in rows)
        print(f"\n### {s.name}: {len(rows)} pairs, {good} good, {len(rows) - good} bad\n")
        print("| filter | pairs | kept | precision of kept | recall of faithful | bad caught |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, m in results:
            print(row(name, m))
        print()
        print("\n".join(kinds_table(results)))
        for model in args.gguf:
            lines = judged[(model.name, s.name)]
            print(f"\njudge questions on {model.name} "
                  "(raised on good / on bad; same_meaning: false on good / on bad):\n")
            print("| question | good | bad |")
            print("|---|---:|---:|")
            for flag in (*judge.FLAGS, "same_meaning"):
                on_good = on_bad = 0
                for r, ln in zip(rows, lines):
                    v = ln["scores"].get("judge")
                    if v is None:
                        continue
                    hit = (not v[flag]) if flag == "same_meaning" else v[flag]
                    on_good += hit and r["verdict"] == "good"
                    on_bad += hit and r["verdict"] != "good"
                print(f"| {flag} | {on_good} | {on_bad} |")
    if costs:
        print("\n### judge and support cost\n")
        print("| model | set | pairs | judge's generated tokens | seconds (uncached work) "
              "| of it, support scoring | s/pair |")
        print("|---|---|---:|---:|---:|---:|---:|")
        print("\n".join(costs))
    for path in args.e2e:
        labels = load(path, None)
        by: dict[str, Counter] = defaultdict(Counter)
        for r in labels:
            by[r["method"]][r["verdict"]] += 1
            by["all"][r["verdict"]] += 1
        print(f"\n### end to end: {path.name} (kept variants, labelled by hand)\n")
        print("| method | kept | faithful | share faithful |")
        print("|---|---:|---:|---:|")
        for m, c in sorted(by.items(), key=lambda kv: kv[0] == "all"):
            n = sum(c.values())
            print(f"| {m} | {n} | {c['good']} | {c['good'] / n:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
