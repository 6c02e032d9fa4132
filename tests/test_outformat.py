"""The output's format follows its suffix (qaug.outformat): .json is an array qaug reads back; .csv is refused."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import read_jsonl, run_cli, write_jsonl

ROWS = [{"instruction": f"列出第{i}个城市", "output": f'{{"城市": "北京", "n": {i}, "m": {{"k": 1}}}}'}
        for i in range(4)]


def test_json_output_is_an_array_that_reads_back(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.json"
    proc = run_cli("run", str(src), "-o", str(out), "-m", "flatten", "--max-aug-ratio", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert isinstance(rows, list) and len(rows) == 8 and rows[0]["instruction"] == "列出第0个城市"
    # read back: every line is a record again, ids taken from _qaug
    again = run_cli("run", str(out), "-o", str(tmp_path / "again.jsonl"), "-m", "shuffle_keys", "--max-aug-ratio", "1",
                    "-q")
    assert again.returncode == 0, again.stderr
    report = json.loads((tmp_path / "again.report.json").read_text())
    assert report["records"] == 8 and report["input_rejects"] == 0
    ids = [r["_qaug"]["id"] for r in read_jsonl(tmp_path / "again.jsonl") if r["_qaug"]["parent"] is None]
    assert len(ids) == 8 and ids[0] == rows[0]["_qaug"]["id"]  # variant ids come back escaped (README: ids)
    # a rerun with --resume of the finished run leaves the array as it is
    resumed = run_cli("run", str(src), "-o", str(out), "-m", "flatten", "--max-aug-ratio", "1", "-q", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(out.read_text(encoding="utf-8")) == rows


def test_jsonl_output_reads_back(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    assert run_cli("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "flatten", "-q").returncode == 0
    again = run_cli("run", str(tmp_path / "o.jsonl"), "-o", str(tmp_path / "a.jsonl"), "-m", "flatten", "-q")
    assert again.returncode == 0 and json.loads((tmp_path / "a.report.json").read_text())["input_rejects"] == 0


def test_csv_output_is_refused_in_one_line(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    for name in ("out.csv", "out.tsv"):
        proc = run_cli("run", str(src), "-o", str(tmp_path / name), "-m", "flatten")
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
        assert "CSV has no place for the _qaug provenance" in proc.stderr and not (tmp_path / name).exists()
