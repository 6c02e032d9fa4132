"""What a run prints for a person (qaug.cli_summary): progress without made-up rates, rates that make sense."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from qaug.cli_summary import Progress, rate_text

from conftest import EXAMPLES, run_cli


def _plain(total: int | None = None) -> Progress:
    return Progress(Console(file=io.StringIO(), force_terminal=False), total)


def test_no_rate_or_eta_before_the_first_batch_ends() -> None:
    p = _plain(10)
    p.answer()  # a model answer arrived, no batch done yet
    line = p._line(0, 0, 100)
    assert line == "0/10 records · 1 model answer · first batch running"
    assert "ETA" not in line and "rec/s" not in line
    p.start -= 10  # ten seconds later, the first 5 records are done
    line = p._line(5, 50, 100)
    assert line.startswith("5/10 records · 1 model answer · 0.5 rec/s · ETA 10 s")


def test_without_a_record_count_the_bar_shows_the_share_of_input() -> None:
    p = _plain()
    p.start -= 4
    assert p._line(2, 50, 100).startswith("2 records (50% of input) · 0.5 rec/s · ETA 4 s")


def test_rates_make_sense() -> None:
    assert rate_text(0, 3.0) == "" and rate_text(10, 0.001) == ""
    assert rate_text(1000, 2.0) == " (500 records/s)" and rate_text(1, 4.0) == " (0.25 records/s)"


def test_empty_input_and_finished_resume_claim_no_rate(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    proc = run_cli("run", str(empty), "-o", str(tmp_path / "e.jsonl"), "-m", "flatten")
    assert proc.returncode == 0 and "records/s" not in proc.stdout
    assert json.loads((tmp_path / "e.report.json").read_text())["timings"]["records_per_s"] is None
    src, out = str(EXAMPLES / "alpaca_en.jsonl"), str(tmp_path / "r.jsonl")
    assert run_cli("run", src, "-o", out, "-m", "flatten", "-q").returncode == 0
    again = run_cli("run", src, "-o", out, "-m", "flatten", "--resume")
    assert again.returncode == 0 and "records/s" not in again.stdout and "nothing was left" in again.stdout
    assert json.loads((tmp_path / "r.report.json").read_text())["timings"]["records_per_s"] is None
