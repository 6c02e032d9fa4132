"""--limit and --sample (qaug.sample), and through the real CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from qaug.sample import Reservoir, Selection, sample_positions

from conftest import read_jsonl, run_cli, write_jsonl


def test_reservoir_is_seeded_uniform_and_in_input_order() -> None:
    def draw(seed: int) -> list[int]:
        r = Reservoir(5, seed)
        for i in range(100):
            r.add(i)
        return r.items()

    assert draw(1) == draw(1) and draw(1) != draw(2)
    assert draw(1) == sorted(draw(1)) and len(draw(1)) == 5
    counts = Counter(i for seed in range(400) for i in draw(seed))
    assert min(counts[i] for i in range(100)) > 0  # every position can be drawn, late ones included
    assert abs(sum(counts[i] for i in range(50)) - sum(counts[i] for i in range(50, 100))) < 250  # 2000 draws


def test_selection_limits_across_files_and_keeps_rejects_before_the_limit() -> None:
    sel = Selection(int, limit=3)
    assert list(sel.take(0, [1, "bad", 2])) == [1, "bad", 2]
    assert list(sel.take(1, [3, 4, 5])) == [3]
    assert list(sel.take(2, [6])) == []
    pos = sample_positions([[1, "x", 2], [3, 4]], 2, 0, int)
    assert len(pos) == 2 and all(isinstance(p, tuple) for p in pos)
    sel = Selection(int, positions=pos)
    taken = list(sel.take(0, [1, "x", 2])) + list(sel.take(1, [3, 4]))
    assert "x" in taken and len([t for t in taken if isinstance(t, int)]) == 2


def test_limit_and_sample_through_the_cli(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": f"task {i}", "output": '{"a": 1}'} for i in range(50)])
    proc = run_cli("run", str(src), "-o", str(tmp_path / "l.jsonl"), "-m", "shuffle_keys", "--limit", "7", "-q")
    assert proc.returncode == 0, proc.stderr
    originals = [r for r in read_jsonl(tmp_path / "l.jsonl") if r["_qaug"]["parent"] is None]
    assert [r["instruction"] for r in originals] == [f"task {i}" for i in range(7)]
    runs = []
    for name, seed in (("s1", "3"), ("s2", "3"), ("s3", "4")):
        proc = run_cli("run", str(src), "-o", str(tmp_path / f"{name}.jsonl"), "-m", "shuffle_keys", "--sample", "10",
                       "--seed", seed, "-q")
        assert proc.returncode == 0, proc.stderr
        runs.append([r["instruction"] for r in read_jsonl(tmp_path / f"{name}.jsonl") if r["_qaug"]["parent"] is None])
    assert len(runs[0]) == 10 and runs[0] == runs[1] != runs[2]
    assert runs[0] != [f"task {i}" for i in range(10)]  # a sample, not the head
    report = json.loads((tmp_path / "s1.report.json").read_text())
    assert report["config"]["sample"] == 10 and report["records"] == 10
    both = run_cli("run", str(src), "-o", str(tmp_path / "x.jsonl"), "--limit", "2", "--sample", "3", "-m", "flatten")
    assert both.returncode == 2 and "alternatives" in both.stderr
