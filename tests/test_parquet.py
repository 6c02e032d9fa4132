"""Parquet in and out: a typed _qaug struct, row groups, a round trip through qaug, a clear error without pyarrow,
and Hugging Face `datasets` loading both outputs (Parquet and JSON Lines) offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_jsonl, run_cli, write_jsonl

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROWS = [{"instruction": f"Give item {i} as JSON", "input": "", "output": json.dumps({"id": i, "t": {"x": i, "y": [1]}})}
        for i in range(12)]


def _run(tmp_path: Path, src: Path, out: str, *extra: str) -> Path:
    proc = run_cli("run", str(src), "-o", str(tmp_path / out), "-m", "shuffle_keys", "--max-aug-ratio", "1", "-q",
                   *extra)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / out


def test_parquet_output_is_typed_and_equals_the_jsonl_output(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "src.jsonl", ROWS)
    jsonl = read_jsonl(_run(tmp_path, src, "out.jsonl"))
    table = pq.read_table(_run(tmp_path, src, "out.parquet"))
    q = table.schema.field("_qaug").type
    assert pa.types.is_struct(q)
    types = {q.field(i).name: q.field(i).type for i in range(q.num_fields)}
    assert types["seed"] == pa.int64() and types["index"] == pa.int64() and types["score"] == pa.float64()
    assert types["review"] == pa.bool_() and types["id"] == pa.string() and types["parent"] == pa.string()
    assert table.to_pylist() == jsonl and len(jsonl) == 24


def test_row_groups_as_it_streams(tmp_path: Path, monkeypatch) -> None:
    from qaug import parquet_io

    monkeypatch.setattr(parquet_io, "ROW_GROUP", 100)
    path = write_jsonl(tmp_path / "big.parquet", [{"text": f"t{i}", "n": i, **({"late": "x"} if i > 300 else {}),
                                                   "_qaug": {"id": f"t:{i}", "parent": None, "method": "original",
                                                             "seed": 0, "index": 0, "score": None, "review": False}}
                                                  for i in range(350)])
    parquet_io.jsonl_to_parquet(path)
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_row_groups == 4 and pf.metadata.num_rows == 350
    rows = pq.read_table(path).to_pylist()
    assert rows[0]["late"] is None and rows[349]["late"] == "x"  # a key first seen late is still a column
    parquet_io.jsonl_to_parquet(path)  # already Parquet: left alone
    assert pq.ParquetFile(path).metadata.num_rows == 350


def test_parquet_input_round_trip(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "src.jsonl", ROWS)
    first = _run(tmp_path, src, "first.parquet")
    again = read_jsonl(_run(tmp_path, first, "again.jsonl"))
    originals = {r["_qaug"]["id"]: r for r in pq.read_table(first).to_pylist()}
    # every line of the Parquet file is read back as a record under its _qaug.id, its values unchanged
    read_back = [r for r in again if r["_qaug"]["method"] == "original"]
    assert len(read_back) == 24
    for r in read_back:
        written_as = r["_qaug"]["id"].replace("%2F", "/").replace("%25", "%")  # a variant's id, escaped as an input id
        want = {k: v for k, v in originals[written_as].items() if k != "_qaug"}
        assert {k: v for k, v in r.items() if k != "_qaug"} == want
    assert json.loads((tmp_path / "again.report.json").read_text())["input_rejects"] == 0


def test_parquet_input_mixing_formats(tmp_path: Path) -> None:
    table = pa.table({"instruction": ["Say hi", None], "output": ["hi", None],
                      "messages": [None, [{"role": "user", "content": "Say hi"},
                                          {"role": "assistant", "content": "hi"}]]})
    pq.write_table(table, tmp_path / "mixed.parquet")
    out = _run(tmp_path, tmp_path / "mixed.parquet", "o.jsonl", "--no-originals")
    report = json.loads((tmp_path / "o.report.json").read_text())
    assert report["records"] == 2 and report["input_rejects"] == 0
    assert read_jsonl(out) == []  # nothing for shuffle_keys to do; both rows were records


def test_without_pyarrow_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    (blocker / "pyarrow").mkdir(parents=True)
    (blocker / "pyarrow" / "__init__.py").write_text("raise ImportError('no pyarrow here')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    src = write_jsonl(tmp_path / "src.jsonl", ROWS[:2])
    proc = run_cli("run", str(src), "-o", str(tmp_path / "o.parquet"), "-m", "shuffle_keys", "-q", env=env)
    assert proc.returncode == 2 and "pip install 'qaug[parquet]'" in proc.stderr
    assert not (tmp_path / "o.parquet").exists()  # refused before the run
    pq.write_table(pa.table({"text": ["a"]}), tmp_path / "in.parquet")
    proc = run_cli("run", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "o.jsonl"), "-m", "shuffle_keys", "-q",
                   env=env)
    assert proc.returncode == 2 and "qaug[parquet]" in proc.stderr and "Traceback" not in proc.stderr


def test_split_reads_a_parquet_output(tmp_path: Path) -> None:
    rows = ROWS + [{"instruction": "Give item 0 as JSON!", "input": "", "output": "{}"}]  # a near-duplicate of item 0
    src = write_jsonl(tmp_path / "src.jsonl", rows)
    out = _run(tmp_path, src, "out.parquet")
    proc = run_cli("split", str(out), "-o", str(tmp_path / "ds"), "--eval", "0.3", "--seed", "2")
    assert proc.returncode == 0, proc.stderr
    split = json.loads((tmp_path / "ds" / "split.report.json").read_text())
    assert any({e["a_text"], e["b_text"]} == {"Give item 0 as JSON", "Give item 0 as JSON!"}
               for e in split["merged_examples"])
    written = [r for p in sorted((tmp_path / "ds").glob("*.jsonl")) for r in read_jsonl(p)]
    assert sorted(json.dumps(r, sort_keys=True) for r in written) == \
        sorted(json.dumps({k: v for k, v in r.items() if v is not None}, sort_keys=True)
               for r in pq.read_table(out).to_pylist())
    where = {}
    for p in (tmp_path / "ds").glob("*.jsonl"):
        for r in read_jsonl(p):
            where.setdefault(r["_qaug"]["parent"] or r["_qaug"]["id"], set()).add(p.name.split(".")[0])
    assert all(len(s) == 1 for s in where.values())
    assert "shuffle_keys" in (tmp_path / "ds" / "README.md").read_text()  # the card found out.parquet.report.json


def test_resume_of_a_finished_parquet_run(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "src.jsonl", ROWS)
    out = _run(tmp_path, src, "out.parquet")
    before = pq.read_table(out).to_pylist()
    _run(tmp_path, src, "out.parquet", "--resume")  # the rewrite changed its size: still a finished run, not a cut one
    assert pq.read_table(out).to_pylist() == before


def test_hf_datasets_loads_the_parquet_and_the_jsonl_output(tmp_path: Path) -> None:
    """What a trainer does with the output: datasets.load_dataset, offline, typed columns, every row."""
    src = write_jsonl(tmp_path / "src.jsonl", ROWS)
    parquet = _run(tmp_path, src, "out.parquet")
    jsonl = _run(tmp_path, src, "out.jsonl")
    script = (
        "import json, sys, datasets\n"
        "p = datasets.load_dataset('parquet', data_files=sys.argv[1], split='train', cache_dir=sys.argv[3])\n"
        "j = datasets.load_dataset('json', data_files=sys.argv[2], split='train', cache_dir=sys.argv[3])\n"
        "q = p.features['_qaug']\n"
        "print(json.dumps({'rows': [p.num_rows, j.num_rows], 'seed': q['seed'].dtype, 'review': q['review'].dtype,\n"
        "                  'same': p.to_list() == j.to_list(),"
        " 'parents': sorted({r['_qaug']['parent'] or '' for r in p})}))\n")
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, "-c", script, str(parquet), str(jsonl), str(tmp_path / "hf-cache")],
                          capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0 and "No module named 'datasets'" in proc.stderr:
        pytest.skip("datasets is not installed (pip install -e '.[test]')")
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["rows"] == [24, 24] and got["same"]
    assert got["seed"] == "int64" and got["review"] == "bool"
    assert got["parents"] == [""] + sorted(f"src.jsonl:{i}" for i in range(1, 13))


def test_a_column_arrow_cannot_type_is_written_as_json_and_read_back(tmp_path: Path) -> None:
    """A column holding 1 in one record and "two" in another, or an integer beyond int64, used to fail the whole
    conversion (an internal error, and out.parquet left holding JSON Lines)."""
    import pyarrow as pa

    rows = [{"text": "a", "n": 1, "big": 12345678901234567890123}, {"text": "b", "n": "two", "big": 5}]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = _run(tmp_path, src, "out.parquet")
    table = pq.read_table(out)
    n = table.schema.field("n")
    assert n.metadata == {b"qaug.encoding": b"json"} and n.type == pa.string()
    back = tmp_path / "back.jsonl"
    proc = run_cli("run", str(out), "-o", str(back), "-m", "shuffle_keys", "--max-aug-ratio", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    originals = [{k: v for k, v in r.items() if k != "_qaug"} for r in read_jsonl(back) if r["_qaug"]["parent"] is None]
    assert originals == rows


def test_parquet_input_with_decimals_dates_and_binary(tmp_path: Path) -> None:
    """Values JSON has no type for: a decimal is the number it writes, a date its ISO text; binary that is not text
    is a reject of that row, not the end of the run."""
    import datetime
    import decimal

    import pyarrow as pa

    table = pa.table({"text": ["a", "b", "c"],
                      "price": pa.array([decimal.Decimal("1.25"), decimal.Decimal("2.50"), None], pa.decimal128(5, 2)),
                      "day": [datetime.date(2024, 1, 2), None, None],
                      "blob": pa.array([b"ok", b"\xff\xfe", None], pa.binary())})
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    out = tmp_path / "o.jsonl"
    proc = run_cli("run", str(src), "-o", str(out), "-m", "shuffle_keys", "--max-aug-ratio", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    originals = [{k: v for k, v in r.items() if k != "_qaug"} for r in read_jsonl(out) if r["_qaug"]["parent"] is None]
    assert originals == [{"text": "a", "price": 1.25, "day": "2024-01-02", "blob": "ok"}, {"text": "c"}]
    rejects = read_jsonl(tmp_path / "o.rejects.jsonl")
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "a binary cell that is not UTF-8 text: JSON cannot hold it")]
