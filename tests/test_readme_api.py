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


def test_library_callers_get_what_the_report_says_and_one_line_errors(tmp_path: Path, tiny_gguf: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths as strings work; sampling left out is Sampling's defaults, and the report says so (it said {});
    a group name is explained rather than 'unknown'."""
    from dataclasses import asdict

    from qaug.config import RunConfig
    from qaug.errors import UsageError
    from qaug.llm.engine import Sampling
    from qaug.llm.factory import engine_spec
    from qaug.llm.options import EngineSettings
    from qaug.pipeline import Pipeline

    monkeypatch.setenv("QAUG_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "data.jsonl"
    src.write_bytes((EXAMPLES / "alpaca_en.jsonl").read_bytes())
    config = RunConfig(inputs=(str(src),), output=str(tmp_path / "out.jsonl"),  # type: ignore[arg-type]
                       methods=("rewrite",), engine=EngineSettings(gguf=tiny_gguf), verify=False)  # type: ignore[arg-type]
    engine = engine_spec(config.engine).open()
    try:
        Pipeline(config, engine=engine).run()
    finally:
        engine.close()
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["config"]["sampling"] == asdict(Sampling()) and report["config"]["model"]["gguf"] == str(tiny_gguf)
    with pytest.raises(UsageError, match="'structural' is a group of methods"):
        Pipeline(RunConfig(inputs=(src,), output=tmp_path / "s.jsonl", methods=("structural",)))
