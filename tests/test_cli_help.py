"""Help that reads right (qaug.cli_help), `qaug methods NAME`, closest-name suggestions, unpadded pipes."""

from __future__ import annotations

import re

from qaug.cli_help import tidy_help

from conftest import run_cli


def test_tidy_help_moves_defaults_into_brackets() -> None:
    assert tidy_help("Largest share (default 0.3; 1 = no cap).", None, False) == \
        "Largest share. \\[default: 0.3; 1 = no cap]"
    assert tidy_help("CPU threads (default: the cores available).", None, False) == \
        "CPU threads. \\[default: the cores available]"
    assert tidy_help("Write only the variants.", None, True) == "Write only the variants. \\[default: off]"
    assert tidy_help("Seconds between checkpoints.", 1.0, False) == "Seconds between checkpoints. \\[default: 1.0]"


def test_run_help_has_no_type_noise_and_every_option_a_default() -> None:
    for command in ("run", "doctor", "score"):
        proc = run_cli(command, "--help", env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr
        assert "<bool>" not in proc.stdout and "<list[" not in proc.stdout and "<int>" not in proc.stdout
    run = run_cli("run", "--help", env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"}).stdout
    options = re.findall(r"│\s+(?:\*\s+)?(--[a-z-]+)", run)
    missing = [o for o in options if o not in ("--help", "--output")
               and not any(o in row and "[default:" in row for row in _option_blocks(run, o))]
    assert options and not missing, missing
    assert "N [x>=64]" in run_cli("doctor", "--help", env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}).stdout


def _option_blocks(text: str, option: str) -> list[str]:
    """The help text of one option: from its line to the next option's."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.search(rf"│\s+(?:\*\s+)?{re.escape(option)}\b", line):
            block = [line]
            for nxt in lines[i + 1:]:
                if re.search(r"│\s+(?:\*\s+)?--[a-z]", nxt) or nxt.startswith("╰"):
                    break
                block.append(nxt)
            return ["".join(block)]
    return []


def test_methods_name_and_closest_name() -> None:
    proc = run_cli("methods", "backtranslate")
    assert proc.returncode == 0, proc.stderr
    assert "pivots (comma-separated list) [default: auto]" in proc.stdout
    assert "min_chrf (float; >= 0, <= 100) [default: 15.0]" in proc.stdout
    assert "--param backtranslate.pivots=en,fr,ja" in proc.stdout
    bad = run_cli("methods", "rewrit")
    assert bad.returncode == 2 and "did you mean rewrite?" in bad.stderr
    run = run_cli("run", "examples/alpaca_en.jsonl", "-o", "/nonexistent/x.jsonl", "-m", "backtranslat")
    assert run.returncode == 2 and "unknown method 'backtranslat'; did you mean backtranslate?" in run.stderr
    param = run_cli("run", "examples/alpaca_en.jsonl", "-o", "/nonexistent/x.jsonl", "-m", "flatten", "-p",
                    "flatten.dept=1")
    assert param.returncode == 2 and "unknown parameter dept; did you mean depth?" in param.stderr


def test_piped_tables_are_not_padded() -> None:
    proc = run_cli("methods")
    assert proc.returncode == 0
    assert not [line for line in proc.stdout.splitlines() if line.endswith(" ")]


def test_top_level_help_lists_every_command() -> None:
    """A command whose docstring has brackets ('train/eval[/test]') must not break `qaug --help` (rich markup)."""
    proc = run_cli("--help", env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    for name in ("run", "methods", "show", "doctor"):
        assert f"│ {name} " in proc.stdout
    show = run_cli("show", "--help", env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert "[default: the first originals with variants]" in show.stdout  # a bracket in a help text is kept
