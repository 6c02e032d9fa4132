"""The CLI as a user meets it: exit codes, one-line errors, outputs beside -o, determinism."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import EXAMPLES, read_jsonl, run_cli, write_jsonl


def test_run_perturb_on_examples_accounts_for_every_line(tmp_path: Path) -> None:
    inputs = sorted(str(p) for p in EXAMPLES.glob("*.jsonl"))
    out = tmp_path / "out.jsonl"
    proc = run_cli("run", *inputs, "-o", str(out), "--methods", "perturb", "--seed", "5")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    report = json.loads((tmp_path / "out.report.json").read_text())
    lines = sum(1 for p in inputs for line in open(p, "rb"))
    assert report["input_lines"] == lines == report["originals_written"] + report["input_rejects"]
    rows = read_jsonl(out)
    assert report["variants_written"] > 0
    assert len(rows) == report["originals_written"] + report["variants_written"]
    assert "perturb" in proc.stdout  # the summary table names the method


def test_same_command_twice_gives_identical_bytes(tmp_path: Path) -> None:
    src = str(EXAMPLES / "alpaca_en.jsonl")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (a, b):
        assert run_cli("run", src, "-o", str(out), "-m", "perturb,structural", "-q").returncode == 0
    assert a.read_bytes() == b.read_bytes()


def test_bad_input_is_reported_not_fatal_unless_strict(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "a", "output": '{"k": 1, "v": 2}'}, "nope", ""])
    out = tmp_path / "o.jsonl"
    ok = run_cli("run", str(src), "-o", str(out), "-q", "-m", "perturb")
    assert ok.returncode == 0, ok.stderr
    rejects = read_jsonl(tmp_path / "o.rejects.jsonl")
    read = [(r["line"], r["reason"]) for r in rejects if r["stage"] == "read"]
    assert [line for line, _ in read] == [2, 3]
    assert read[0][1].startswith("invalid JSON") and read[1][1] == "blank line"
    strict = run_cli("run", str(src), "-o", str(out), "-q", "--strict", "-m", "perturb", "--overwrite")
    assert strict.returncode == 1
    assert "in.jsonl:2" in strict.stderr and "Traceback" not in strict.stderr


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    recipe = tmp_path / "r.toml"
    recipe.write_text('methods = ["rewrite"]\n[sampling]\ntop_k = 2.5\n', encoding="utf-8")
    cases = [
        ("run", str(src), "-o", str(src)),                               # output == input
        ("run", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")),
        ("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "nonsense"),
        ("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-p", "null_inject.p=2", "-m", "null_inject"),
        ("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-p", "broken"),
        ("run", str(src), "-o", str(tmp_path / "o.jsonl"), "--format", "yaml"),
        ("run", str(src)),                                                # -o missing
        ("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "rewrite", "--repeat-penalty", "0"),
        ("run", str(src), "-o", str(tmp_path / "o.jsonl"), "--recipe", str(recipe)),  # top_k = 2.5 in a recipe
    ]
    for args in cases:
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, args
        assert proc.stderr.strip(), args
    assert src.read_text(encoding="utf-8").count("\n") == 1  # the input was never touched


def test_methods_lists_every_method() -> None:
    proc = run_cli("methods")
    assert proc.returncode == 0
    for name in ("perturb", "shuffle_keys", "null_inject", "flatten", "nest", "add_fields", "retype", "reformat",
                 "table_convert", "rename_identifiers"):
        assert name in proc.stdout


def test_version_and_module_entry() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("qaug ")


def test_a_run_that_reads_no_records_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    proc = run_cli("run", str(empty), "-o", str(tmp_path / "o.jsonl"), "-m", "perturb")
    assert proc.returncode == 0 and "no records were read (0 input lines and 1 file rejected" in proc.stderr
    assert "file is empty" in proc.stdout and "  1  " in proc.stdout  # counted as rejected in the summary
    alpaca = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "x", "output": "y"}])
    proc = run_cli("run", str(alpaca), "-o", str(tmp_path / "s.jsonl"), "-m", "perturb", "--format", "sharegpt")
    assert proc.returncode == 0 and "no records were read (1 input lines" in proc.stderr
