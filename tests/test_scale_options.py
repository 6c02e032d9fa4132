"""--ray / --gpus / --actors checked before any work, and how a pool is sized (no Ray started here)."""

from __future__ import annotations

import os

import pytest
from conftest import run_cli

from qaug import scale
from qaug.cli_scale import scale_options
from qaug.errors import UsageError
from qaug.scale import ScaleOptions, actor_plan


def test_without_the_extra_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scale, "ray_available", lambda: False)
    with pytest.raises(UsageError, match=r"pip install 'qaug\[ray\]'"):
        scale_options("local", None, None, None)


def test_no_ray_flags_is_a_run_in_this_process() -> None:
    assert scale_options(None, None, None, None) is None
    with pytest.raises(UsageError, match="--actors needs --ray or --gpus"):
        scale_options(None, None, 2, None)


@pytest.mark.parametrize("gpus, ray, actors, message", [
    ("a,b", None, None, "give GPU indices"),
    (",", None, None, "give GPU indices"),
    ("0,1", "auto", None, "starts a local Ray"),
    ("0,1", None, 3, "one actor per GPU"),
    ("0,0", None, None, "listed twice"),
])
def test_bad_gpu_lists_are_refused(monkeypatch: pytest.MonkeyPatch, gpus: str, ray: str | None,
                                   actors: int | None, message: str) -> None:
    monkeypatch.setattr(scale, "ray_available", lambda: True)
    with pytest.raises(UsageError, match=message):
        scale_options(ray, gpus, actors, None)


def test_gpus_and_addresses_become_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scale, "ray_available", lambda: True)
    assert scale_options(None, "0, 2", None, 4) == ScaleOptions(address=None, gpus=("0", "2"), threads=4)
    assert scale_options("local", None, 3, None) == ScaleOptions(actors=3)
    assert scale_options("ray://head:10001", None, None, None).address == "ray://head:10001"


def test_actor_plan_one_per_gpu_else_a_share_of_the_cpus() -> None:
    assert actor_plan(ScaleOptions(gpus=("0", "1", "2")), gpus=3, cpus=16, needs_model=True) == (3, 5)
    assert actor_plan(ScaleOptions(), gpus=4, cpus=32, needs_model=True) == (4, 8)
    assert actor_plan(ScaleOptions(), gpus=0, cpus=32, needs_model=True) == (4, 8)  # 8 threads per model actor
    assert actor_plan(ScaleOptions(), gpus=0, cpus=2, needs_model=True) == (1, 2)
    assert actor_plan(ScaleOptions(), gpus=0, cpus=2, needs_model=False) == (2, 1)
    assert actor_plan(ScaleOptions(actors=2, threads=3), gpus=0, cpus=2, needs_model=True) == (2, 3)


def test_a_window_shared_out_keeps_its_plan_and_its_outcomes_in_order() -> None:
    from collections import Counter

    from qaug.window import MethodWork, WindowResult, merge_results, split_plan

    plan = {"rewrite": {0, 3, 4, 7}}  # units of 4 records x 2 variants, record-major
    assert split_plan(plan, 0, 4) == {"rewrite": {0, 3}} and split_plan(plan, 4, 8) == {"rewrite": {0, 3}}
    assert split_plan({}, 2, 6) == {}  # a method without a plan computes every unit, in each part too
    a = WindowResult({"m": [["a0"], ["a1"]]}, {"m": MethodWork(1.0, 0.5, 2, 1, Counter(jobs=2))},
                     {"completion_tokens": 10}, 0, 1.0)
    b = WindowResult({"m": [["b0"]]}, {"m": MethodWork(2.0, 1.5, 1, 0, Counter(jobs=1))},
                     {"completion_tokens": 5, "cached": 1}, 1, 2.0)
    merged = merge_results([a, b])
    assert merged.outcomes == {"m": [["a0"], ["a1"], ["b0"]]}
    w = merged.work["m"]
    assert (w.seconds, w.model_seconds, w.tried, w.not_planned, w.judge) == (3.0, 2.0, 3, 1, Counter(jobs=3))
    assert merged.engine_delta == {"completion_tokens": 15, "cached": 1} and merged.busy_seconds == 3.0


def test_help_names_the_extra_with_its_brackets() -> None:
    proc = run_cli("run", "--help", env={**os.environ, "COLUMNS": "250"})
    assert "pip install 'qaug[ray]'" in proc.stdout  # rich must not eat [ray] as markup
