"""Knowing before a long run (qaug.plan): the plan line, --dry-run, the small-input note, the ETA."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import EXAMPLES, run_cli, write_jsonl


def _model_args(tmp_path: Path, tiny_gguf: Path) -> list[str]:
    return ["--gguf", str(tiny_gguf), "--threads", "1", "--max-tokens", "24", "--cache-dir", str(tmp_path / "c")]


def test_too_small_for_any_variant_is_said_before_model_work(tmp_path: Path, tiny_gguf: Path) -> None:
    """Issue 12: two one-record files spent 22 s of model time, then kept 0 of 4 variants."""
    a = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Explain clause 1 of the lease.", "output": "x"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"instruction": "Explain clause 2 of the lease.", "output": "y"}])
    proc = run_cli("run", str(a), str(b), "-o", str(tmp_path / "o.jsonl"), "-m", "rewrite",
                   *_model_args(tmp_path, tiny_gguf))
    assert proc.returncode == 0, proc.stderr
    assert "2 records allow no variant at --max-aug-ratio 0.3 (a variant needs at least 3 originals)" in proc.stderr
    assert proc.stderr.index("allow no variant") < proc.stderr.index("plan:")
    report = json.loads((tmp_path / "o.report.json").read_text())
    assert report["model"]["computed"] == 0 and report["model"]["jobs"] == 0
    assert report["methods"]["rewrite"]["not_planned"] == 2


def test_dry_run_plans_without_running(tmp_path: Path, tiny_gguf: Path) -> None:
    out = tmp_path / "sub" / "o.jsonl"
    proc = run_cli("run", str(EXAMPLES / "alpaca_en.jsonl"), "-o", str(out), "-m", "rewrite,backtranslate,flatten",
                   "--dry-run", *_model_args(tmp_path, tiny_gguf))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("records: 20")
    assert "cap: --max-aug-ratio 0.3 lets through at most 8 variants" in proc.stdout
    # 8 variants shared by three methods: 3 rewrite, 3 backtranslate (two hops each), 2 flatten; the judge answers
    # once per variant: rewrite's 5 paraphrases a unit, backtranslate's one per pivot
    rewrite = next(line for line in lines if line.startswith("rewrite:"))
    assert rewrite.startswith("rewrite: 3 units, 3 model calls + 15 judge calls + 30 support scorings")  # 2 a variant
    assert next(line for line in lines if line.startswith("backtranslate:")).startswith(
        "backtranslate: 3 units, 6 model calls + 3 judge calls")
    assert "flatten: 20 units, no model" in proc.stdout and "model: 27 calls" in proc.stdout
    # no run has measured this model yet: a few seconds of measurement give an upper bound, and cache nothing
    time_line = next(line for line in lines if line.startswith("time: "))
    assert time_line.startswith("time: about ") and "from a measurement just now" in time_line
    assert "dry run: nothing was written" in proc.stdout
    assert not out.parent.exists()
    from qaug.llm.cached import ResultCache

    assert ResultCache(tmp_path / "c").stats()["answers"] == 0


def test_plan_line_before_a_model_run_and_an_eta_once_a_speed_is_measured(tmp_path: Path, tiny_gguf: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": f"Explain clause {i} of the lease.", "output": "x"}
                                              for i in range(4)])
    args = ["-m", "rewrite", "--max-aug-ratio", "1", "--no-verify", *_model_args(tmp_path, tiny_gguf)]
    first = run_cli("run", str(src), "-o", str(tmp_path / "a.jsonl"), *args)
    assert first.returncode == 0, first.stderr
    assert "plan: 4 records; 4 model calls (rewrite 4)" in first.stderr and "no measured speed" in first.stderr
    dry = run_cli("run", str(src), "-o", str(tmp_path / "b.jsonl"), *args, "--dry-run")
    assert dry.returncode == 0 and "time: about " in dry.stdout and "at the measured speed" in dry.stdout
    assert "measurement just now" not in dry.stdout  # a recorded speed is used as it is: no probe
    assert "exists" not in dry.stderr
    again = run_cli("run", str(src), "-o", str(tmp_path / "a.jsonl"), *args, "--dry-run")  # the first run's output
    assert again.returncode == 0
    assert "note: the run would be refused: " in again.stderr and "a.jsonl exists: pass --resume" in again.stderr
    for more in (["--resume"], ["--overwrite"], ["-q"]):  # nothing in the way, or nothing to be said
        quiet = run_cli("run", str(src), "-o", str(tmp_path / "a.jsonl"), *args, "--dry-run", *more)
        assert quiet.returncode == 0 and "would be refused" not in quiet.stderr, more


def test_a_speed_probe_within_the_noise_gives_no_impossible_speed() -> None:
    """A tiny model answers 32 tokens as fast as 1: the difference of the two timings is noise (or negative), and
    the probe must not turn it into millions of tokens/s and an ETA of 0 s."""
    import time
    from types import SimpleNamespace

    from qaug.plan import probe_speed

    class Instant:
        max_attempts = 3

        def generate(self, jobs: list) -> object:
            time.sleep(0.02)
            yield SimpleNamespace(prompt_tokens=40, completion_tokens=jobs[0].sampling.max_tokens)

    probe = probe_speed(Instant(), new_tokens=32)
    assert 0 < probe.generate_tps < 31 / 0.015  # at most 31 tokens in the second call's 20 ms
    assert 0 < probe.prompt_tps < 40 / 0.015
