"""Folders and globs as inputs (qaug.inputs), through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from qaug.inputs import expand_inputs

from conftest import read_jsonl, run_cli, write_jsonl


def _tree(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    for name in ("b.jsonl", "a.jsonl", "c.csv"):
        if name.endswith(".csv"):
            (d / name).write_text("instruction,output\ncsv task,x\n")
        else:
            write_jsonl(d / name, [{"instruction": f"task {name}", "output": "x"}])
    (d / "notes.txt").write_text("not data")
    (d / "old.rejects.jsonl").write_text("")
    (d / "sub").mkdir()
    write_jsonl(d / "sub" / "z.jsonl", [{"instruction": "deep", "output": "x"}])
    return d


def test_a_folder_reads_its_data_files_sorted(tmp_path: Path) -> None:
    d = _tree(tmp_path)
    assert [p.name for p in expand_inputs([d])] == ["a.jsonl", "b.jsonl", "c.csv"]
    assert [p.name for p in expand_inputs([Path(f"{d}/*.jsonl")])] == ["a.jsonl", "b.jsonl"]
    assert [p.name for p in expand_inputs([Path(f"{d}/**/*.jsonl")])] == ["a.jsonl", "b.jsonl", "z.jsonl"]
    # the run's own files in that folder are not inputs
    assert [p.name for p in expand_inputs([d], d / "a.jsonl")] == ["b.jsonl", "c.csv"]


def test_folder_and_glob_through_the_cli(tmp_path: Path) -> None:
    d = _tree(tmp_path)
    proc = run_cli("run", str(d), "-o", str(tmp_path / "o.jsonl"), "-m", "flatten", "-q")
    assert proc.returncode == 0, proc.stderr
    assert [r["instruction"] for r in read_jsonl(tmp_path / "o.jsonl")] == ["task a.jsonl", "task b.jsonl", "csv task"]
    proc = run_cli("run", f"{d}/*.jsonl", "-o", str(tmp_path / "g.jsonl"), "-m", "flatten", "-q")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "g.report.json").read_text())["records"] == 2
    none = run_cli("run", f"{d}/*.parquet", "-o", str(tmp_path / "n.jsonl"), "-m", "flatten")
    assert none.returncode == 2 and "no file matches" in none.stderr


def test_an_earlier_runs_output_in_a_folder_is_not_read_again(tmp_path: Path) -> None:
    """A folder that holds an earlier run's output: its lines (which carry _qaug) are not data for the next run;
    named as a file, it is read as given."""
    d = _tree(tmp_path)
    first = run_cli("run", str(d), "-o", str(d / "out.jsonl"), "-m", "flatten", "-q")
    assert first.returncode == 0, first.stderr
    skipped: list[Path] = []
    assert [p.name for p in expand_inputs([d], d / "out2.jsonl", skipped)] == ["a.jsonl", "b.jsonl", "c.csv"]
    assert skipped == [d / "out.jsonl"]
    second = run_cli("run", str(d), "-o", str(d / "out2.jsonl"), "-m", "flatten")
    assert second.returncode == 0, second.stderr
    assert f"{d / 'out.jsonl'} is not read: it is an earlier run's output" in second.stderr
    report = json.loads((d / "out2.report.json").read_text())
    assert report["records"] == 3 and not report["rejects"].get("read")
    assert [p.name for p in expand_inputs([d / "out.jsonl"])] == ["out.jsonl"]
    only = tmp_path / "only"
    only.mkdir()
    (only / "out.jsonl").write_bytes((d / "out.jsonl").read_bytes())
    proc = run_cli("run", str(only), "-o", str(tmp_path / "o3.jsonl"), "-m", "flatten")
    assert proc.returncode == 2 and "holds only earlier runs' outputs (out.jsonl...)" in proc.stderr

