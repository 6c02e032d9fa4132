"""The README's "From Python" example runs as written (paths aside), through real llama.cpp on the tiny GGUF."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT


def test_the_python_example_in_the_readme_runs(tmp_path: Path, tiny_gguf: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    (tmp_path / "data.jsonl").write_bytes((EXAMPLES / "alpaca_en.jsonl").read_bytes())
    (tmp_path / "models").mkdir()
    os.symlink(tiny_gguf, tmp_path / "models" / "model.gguf")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QAUG_CACHE_DIR", str(tmp_path / "cache"))
    exec(compile(code.group(1), "README.md", "exec"), {})  # noqa: S102 - the documented example, as a user runs it
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["records"] == 20 and report["config"]["sampling"]["temperature"] == 0.7
    assert report["config"]["model"]["gguf"] == "models/model.gguf" and report["model"]["jobs"] > 0
    assert (tmp_path / "out.jsonl").exists()
