"""Fail before model work, not after (qaug.preflight and the CLI's checks)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import read_jsonl, run_cli, write_jsonl

ALPACA = [{"instruction": f"Return item {i} as JSON.", "output": f'{{"a": {{"b": {i}}}, "c": 1}}'} for i in range(6)]


def test_a_field_the_format_does_not_have_is_refused(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    proc = run_cli("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "flatten", "--fields", "user")
    assert proc.returncode == 2
    assert "--fields user: alpaca records (as in in.jsonl) have no such field; alpaca has instruction, input, output" \
        in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()
    ok = run_cli("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "flatten", "--fields", "output,user", "-q")
    assert ok.returncode == 0, ok.stderr  # a field of the format among them is enough


def test_a_bad_pivot_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    proc = run_cli("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "backtranslate",
                   "-p", "backtranslate.pivots=fr,xx", "--gguf", str(tmp_path / "missing.gguf"))
    assert proc.returncode == 2  # refused for the pivot, before the missing model is even looked for
    assert "backtranslate.pivots: unknown language 'xx'" in proc.stderr and "missing.gguf" not in proc.stderr


def test_repeated_methods_combine(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    proc = run_cli("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "flatten", "-m", "shuffle_keys",
                   "--max-aug-ratio", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    assert {r["_qaug"]["method"] for r in read_jsonl(tmp_path / "o.jsonl")} == {"original", "flatten", "shuffle_keys"}


def test_flags_the_run_ignores_get_a_note(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    proc = run_cli("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "flatten", "--task", "sft",
                   "--no-verify", "--temperature", "0.2", "--gguf", str(tmp_path / "m.gguf"))
    assert proc.returncode == 0, proc.stderr
    assert f"note: --gguf {tmp_path / 'm.gguf'} is not used: none of flatten needs a model" in proc.stderr
    assert "note: --task is not used: --methods names the methods" in proc.stderr
    assert "note: --verify/--no-verify, --temperature are not used: none of flatten needs a model" in proc.stderr


def test_resume_and_overwrite_together_are_refused_and_resume_names_old_and_new(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    out = tmp_path / "o.jsonl"
    both = run_cli("run", str(src), "-o", str(out), "-m", "flatten", "--resume", "--overwrite")
    assert both.returncode == 2 and "--resume and --overwrite contradict each other" in both.stderr
    assert run_cli("run", str(src), "-o", str(out), "-m", "flatten", "-q").returncode == 0
    changed = run_cli("run", str(src), "-o", str(out), "-m", "flatten", "--max-aug-ratio", "0.5", "--resume")
    assert changed.returncode == 2
    assert "max_aug_ratio: 0.3 before, 0.5 now" in changed.stderr


def test_the_output_folder_is_made(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    out = tmp_path / "new" / "deeper" / "o.jsonl"
    proc = run_cli("run", str(src), "-o", str(out), "-m", "flatten", "-q")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out.parent / "o.report.json").read_text())["records"] == 6
    blocked = tmp_path / "file"
    blocked.write_text("x")
    proc = run_cli("run", str(src), "-o", str(blocked / "o.jsonl"), "-m", "flatten")
    assert proc.returncode == 2 and "is a file" in proc.stderr


def test_a_task_says_which_of_its_methods_it_leaves_out(tmp_path: Path) -> None:
    """--task sft runs only what is above the precision bar: the note names the rest, so nothing goes missing
    without a word; explicit methods get no task note."""
    from qaug.launch import prepare
    from qaug.recipe import BELOW_BAR, TASK_METHODS, TASKS
    from qaug.resolve import RunFlags

    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    launch = prepare(RunFlags(inputs=(src,), output=tmp_path / "o.jsonl", task="sft"), resume=False,
                     task_and_methods=False, gguf=None)
    left = [m for m in TASK_METHODS["sft"] if m in BELOW_BAR]
    assert left and list(launch.config.methods) == list(TASKS["sft"])
    note = next(n for n in launch.notes if n.startswith("note: --task sft"))
    assert all(m in note for m in left) and "name them with -m" in note
    named = prepare(RunFlags(inputs=(src,), output=tmp_path / "o.jsonl", methods=",".join(TASKS["sft"])),
                    resume=False, task_and_methods=False, gguf=None)
    assert not any(n.startswith("note: --task") for n in named.notes)
