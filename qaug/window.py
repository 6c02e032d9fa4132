"""One window's augmenting work, apart from the run that reads and writes it.

The pipeline plans a window (which units the cap lets each model method compute), has it
computed here, then gates, caps and writes it. Computing is the only part that may run in
another process (a Ray actor holding its own engine, qaug.scale), so what it needs goes in
and what it found comes out as plain, picklable values: the outcomes per method and the
counters the run adds to its report.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qaug.augment.base import Augmenter, Outcome
from qaug.records import Record
from qaug.rng import Rng
from qaug.stats import engine_seconds


@dataclass
class MethodWork:
    """What one method's share of a window cost: wall time, model time, units computed and skipped."""

    seconds: float = 0.0
    model_seconds: float = 0.0
    tried: int = 0
    not_planned: int = 0
    judge: Counter = field(default_factory=Counter)

    def add_to(self, total: Any) -> None:
        """Add these costs to `total`: another MethodWork, or the run's MethodStats, which counts the same."""
        total.seconds += self.seconds
        total.model_seconds += self.model_seconds
        total.tried += self.tried
        total.not_planned += self.not_planned
        total.judge.update(self.judge)


@dataclass
class WindowResult:
    """Outcomes aligned with the window's units (record-major, `variants` per record), per method."""

    outcomes: dict[str, list[list[Outcome]]]
    work: dict[str, MethodWork]
    #: the engine's numeric counters that moved while computing (tokens, seconds, answers), for a remote engine
    engine_delta: dict[str, float] = field(default_factory=dict)
    #: which worker computed it and how long it was busy (None: computed in the run's own process)
    worker: int | None = None
    busy_seconds: float = 0.0


def compute_window(augmenters: Sequence[Augmenter], records: Sequence[Record], plan: dict[str, set[int]],
                   seed: int, variants: int, engine: Any = None) -> WindowResult:
    """Run every method over the window's units; a method named in `plan` computes only its chosen units.

    A unit's rng is seeded from (seed, record id, method, index) alone, so the outcome of a pure method
    never depends on where or with which neighbours the window was computed.
    """
    outcomes: dict[str, list[list[Outcome]]] = {}
    work: dict[str, MethodWork] = {}
    before = engine.stats.numbers() if engine is not None else {}
    started = time.perf_counter()
    for aug in augmenters:
        name = aug.name
        units = [(rec, Rng.for_unit(seed, rec.id, name, k)) for rec in records for k in range(variants)]
        chosen = plan.get(name)
        w = work[name] = MethodWork()
        t0, model_t0 = time.perf_counter(), engine_seconds(engine)
        if chosen is None:
            outcomes[name] = aug.augment_many(units)
            w.tried = len(units)
        else:  # only the units the cap can keep: model work is not computed to be thrown away
            order = sorted(chosen)
            done = aug.augment_many([units[i] for i in order]) if order else []
            results: list[list[Outcome]] = [[] for _ in units]
            for i, res in zip(order, done):
                results[i] = res
            outcomes[name] = results
            w.tried, w.not_planned = len(order), len(units) - len(order)
        w.seconds = time.perf_counter() - t0  # the method's own time, model and judge included
        w.model_seconds = engine_seconds(engine) - model_t0
        take = getattr(aug, "take_judge_usage", None)
        if take is not None:
            w.judge = take()
    delta = engine.stats.since(before) if engine is not None else {}
    return WindowResult(outcomes, work, delta, None, time.perf_counter() - started)


def merge_results(parts: Sequence[WindowResult]) -> WindowResult:
    """One window's result from the results of its consecutive record ranges, computed apart (on several
    actors): outcomes joined in order, costs added."""
    outcomes = {name: [o for part in parts for o in part.outcomes[name]] for name in parts[0].outcomes}
    work: dict[str, MethodWork] = {}
    for part in parts:
        for name, w in part.work.items():
            w.add_to(work.setdefault(name, MethodWork()))
    delta: dict[str, float] = {}
    for part in parts:
        for k, v in part.engine_delta.items():
            delta[k] = delta.get(k, 0) + v
    return WindowResult(outcomes, work, delta, parts[0].worker, sum(p.busy_seconds for p in parts))


def split_plan(plan: dict[str, set[int]], start: int, stop: int) -> dict[str, set[int]]:
    """The plan of units [start, stop) of a window, renumbered from 0 (a method absent stays absent: all units)."""
    return {name: {u - start for u in units if start <= u < stop} for name, units in plan.items()}
