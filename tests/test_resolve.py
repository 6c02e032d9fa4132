"""Flags and recipe into one RunConfig: defaults, then the recipe, then the flags that were given."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaug.config import RunConfig
from qaug.errors import UsageError
from qaug.llm.engine import Sampling
from qaug.llm.options import EngineSettings
from qaug.resolve import RunFlags, layered, resolve


def _flags(**kw) -> RunFlags:
    return RunFlags(inputs=(Path("in.jsonl"),), output=Path("out.jsonl"), **kw)


def test_nothing_given_is_the_dataclass_defaults() -> None:
    r = resolve(_flags(), {})
    default = RunConfig(inputs=(Path("in.jsonl"),), output=Path("out.jsonl"), methods=("rewrite",))
    for name in ("seed", "fmt", "target", "keep_originals", "strict", "variants", "max_aug_ratio", "verify",
                 "max_line_bytes", "window", "fields"):
        assert getattr(r.config, name) == getattr(default, name), name
    assert r.needs_model
    assert r.config.sampling == Sampling()  # Qwen2.5's recommended sampling, from one place
    assert r.config.engine == EngineSettings()


def test_a_flag_beats_the_recipe_which_beats_the_default() -> None:
    recipe = {"seed": 7, "max_aug_ratio": 0.5, "sampling": {"temperature": 0.3, "top_k": 5},
              "model": {"ctx": 2048, "threads": 3}}
    r = resolve(_flags(seed=11, sampling={"temperature": 0.9}, model={"threads": 1}), recipe)
    assert r.config.seed == 11 and r.config.max_aug_ratio == 0.5
    assert r.config.sampling is not None and r.config.engine is not None
    assert r.config.sampling.temperature == 0.9 and r.config.sampling.top_k == 5
    assert r.config.sampling.top_p == Sampling().top_p
    assert r.config.engine.ctx == 2048 and r.config.engine.threads == 1


def test_methods_then_task_then_recipe_methods_then_recipe_task() -> None:
    assert (resolve(_flags(methods="perturb", task="structured"), {"methods": ["flatten"]}).config.methods
            == ("perturb",))
    assert resolve(_flags(), {"methods": ["flatten"], "task": "structured"}).config.methods == ("flatten",)
    r = resolve(_flags(methods="perturb"), {})
    assert not r.needs_model and r.config.engine is None and r.config.sampling is None


def test_params_layer_recipe_gates_recipe_params_and_flags() -> None:
    recipe = {"params": {"flatten": {"depth": 1}, "rewrite": {"n": 2}}}
    r = resolve(_flags(methods="flatten,null_inject", params=["flatten.depth=2"], null_p=0.1), recipe)
    assert r.config.method_params == {"flatten": {"depth": "2"}, "null_inject": {"p": 0.1}}
    with pytest.raises(UsageError, match="--null-p needs"):
        resolve(_flags(methods="flatten", null_p=0.1), {})
    # a recipe may set parameters of methods the run does not select, but not of a method that does not exist
    with pytest.raises(UsageError, match=r"recipe \[params.flaten\]: there is no method 'flaten'; did you mean"):
        resolve(_flags(methods="flatten"), {"params": {"flaten": {"depth": 1}}})


def test_fields_from_a_flag_or_the_recipe_and_unknown_ones_refused() -> None:
    assert resolve(_flags(methods="perturb", fields="instruction, input"), {}).config.fields == ("instruction", "input")
    assert resolve(_flags(methods="perturb"), {"fields": ["output"]}).config.fields == ("output",)
    with pytest.raises(UsageError, match="unknown field nope"):
        resolve(_flags(methods="perturb", fields="nope"), {})


def test_model_flags_given_are_named_for_the_not_used_note() -> None:
    r = resolve(_flags(methods="perturb", verify=False, sampling={"temperature": 0.2}, model={"ctx": 512}), {})
    given = {k: v for k, v in r.model_flags.items() if v is not None}
    assert given == {"--verify/--no-verify": False, "--temperature": 0.2, "--ctx": 512}


def test_layered_keeps_only_flags_that_were_given() -> None:
    assert layered({"a": 1, "b": 2, "c": 3}, {"b": 20, "c": 30}, {"c": None, "a": None}) == {"a": 1, "b": 20, "c": 30}
