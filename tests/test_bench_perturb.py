"""scripts/bench_perturb.py and its peer, scripts/naive_perturb.py, on a few records (the numbers are BENCHMARKS.md's)."""  # noqa: E501

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, load_script


def test_naive_peer_writes_original_and_perturbed_variant(tmp_path: Path) -> None:
    bench = load_script("bench_perturb")
    src = tmp_path / "in.jsonl"
    bench.write_dataset(src, 20)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "naive_perturb.py"), str(src), str(tmp_path / "o.jsonl")],
                   check=True)
    lines = [json.loads(line) for line in open(tmp_path / "o.jsonl", encoding="utf-8")]
    assert len(lines) == 40
    variants = [json.loads(r["output"]) for r in lines[1::2]]
    assert all("_meta" in v for v in variants)
    assert any(None in v.values() for v in variants)  # about 30% of the leaves nulled


def test_bench_prints_the_side_by_side_ratio() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_perturb.py"), "--records", "300",
                           "--repeat", "1"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "naive json+random pipeline" in proc.stdout and "qaug run -m perturb" in proc.stdout
    assert "ratio qaug/naive (whole processes, best of 1):" in proc.stdout
