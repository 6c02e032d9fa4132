"""Where a run's windows are computed: here, or on a pool of Ray actors (`--ray`, `--gpus`).

The run reads, plans, gates, caps and writes every window itself, in input order; an executor
only computes windows (qaug.window). `depth` is how many windows may be in flight: the run plans
window k after writing window k - depth. Here the depth is 1. On Ray it is RAY_DEPTH when no plan
depends on what came before (pure methods, or no cap); under a cap a model method plans each window
from the counts of the one before, so Ray keeps one window in flight and shares its records out
among the actors. Either way the plan, and so the output, is the one a run without Ray makes.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from qaug.augment.base import Augmenter
from qaug.records import Record
from qaug.window import WindowResult, compute_window

#: windows in flight on Ray when no plan depends on the window before: enough to keep 8 actors busy twice over
RAY_DEPTH = 16


class Executor(Protocol):
    """Computes submitted windows and hands the results back in submission order."""

    depth: int
    #: set by the run: True once the user asked it to stop
    stopping: Callable[[], bool]

    def submit(self, records: Sequence[Record], plan: dict[str, set[int]]) -> None: ...

    def next_result(self) -> WindowResult: ...

    def report(self) -> dict[str, Any] | None: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Computes each window at once, in this process, with the run's own augmenters and engine."""

    depth = 1

    def __init__(self, augmenters: Sequence[Augmenter], seed: int, variants: int, engine: Any = None) -> None:
        self.stopping: Callable[[], bool] = lambda: False
        self._augmenters, self._seed, self._variants, self._engine = augmenters, seed, variants, engine
        self._done: deque[WindowResult] = deque()

    def submit(self, records: Sequence[Record], plan: dict[str, set[int]]) -> None:
        self._done.append(compute_window(self._augmenters, records, plan, self._seed, self._variants, self._engine))

    def next_result(self) -> WindowResult:
        return self._done.popleft()

    def report(self) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        self._done.clear()


@dataclass(frozen=True)
class ScaleOptions:
    """`--ray [ADDRESS]`, `--gpus`, `--actors`: where and on how many actors a run computes."""

    address: str | None = None          # None: a local Ray started for this run; "auto" or "ray://host:port"
    gpus: tuple[str, ...] = ()          # --gpus 0,1: one actor per listed GPU on this machine
    actors: int | None = None           # None: one per GPU, else from the CPUs (actor_plan)
    threads: int | None = None          # CPU threads per actor (None: the CPUs shared out)


def actor_plan(options: ScaleOptions, gpus: int, cpus: int, needs_model: bool) -> tuple[int, int]:
    """(actors, CPU threads each) for a pool: one actor per GPU, or a share of the CPUs.

    Without GPUs a model actor takes 8 threads (llama.cpp gains little beyond, and each actor holds
    its own copy of the model), a pure-Python actor one.
    """
    if options.gpus:
        actors = len(options.gpus)
    elif options.actors is not None:
        actors = options.actors
    elif gpus > 0:
        actors = gpus
    else:
        actors = max(1, cpus // 8) if needs_model else max(1, cpus)
    threads = options.threads or max(1, cpus // actors)
    return actors, threads


def ray_missing_message() -> str:
    """What a user without the extra is told (exit 2)."""
    return ("--ray and --gpus need Ray, an optional extra: pip install 'qaug[ray]' (offline: pip download "
            "'ray[client]>=2.9' on a connected machine, carry the wheels over and pip install --no-index "
            "--find-links WHEELS 'qaug[ray]'); see the README, 'Multi-GPU and cluster'")


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def forwarded_env() -> dict[str, str]:
    """The QAUG_* settings of this process (cache folder, fault injection), for the actors' environment."""
    return {k: v for k, v in os.environ.items() if k.startswith("QAUG_")}


def unreachable(address: str, timeout: float = 5.0) -> str | None:
    """Why nothing answers at a HOST:PORT address, or None (also for `auto` and ray://, which Ray checks
    itself quickly): Ray would retry a dead address for minutes."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return None
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__
