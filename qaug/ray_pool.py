"""Windows computed on a pool of Ray actors, each holding the run's methods and an engine of its own.

Ray does the scheduling: actors are placed by their resources (one GPU each, or a share of the
CPUs), on this machine or across a cluster. This module only keeps windows in flight (at most
`depth`, so a large input never sits in the object store), hands results back in submission order,
and replaces an actor that dies, computing its windows again elsewhere: a window counts once its
result is back, and the run writes it only then, so nothing is lost or written twice.
Ray is imported here only, and only when a run asks for it.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from qaug import faults
from qaug.config import RunConfig
from qaug.errors import Interrupted, RunFailed, UsageError
from qaug.llm.engine import Sampling
from qaug.records import Record
from qaug.scale import RAY_DEPTH, ScaleOptions, actor_plan, forwarded_env, unreachable
from qaug.window import WindowResult, compute_window, merge_results, split_plan


class WindowWorker:
    """What one actor holds: the run's methods, bound to an engine it opened itself."""

    def __init__(self, config: RunConfig, spec: Any, index: int, threads: int) -> None:
        from qaug.augment.catalog import build_augmenters

        self.index, self.seed, self.variants = index, config.seed, config.variants
        self.augmenters = build_augmenters(config)
        self.engine = None
        if any(not a.pure for a in self.augmenters):
            self.engine = spec.open(n_threads=threads)
            for a in self.augmenters:
                if not a.pure:
                    a.bind(self.engine, config.sampling or Sampling(), verify=config.verify)

    def compute(self, records: Sequence[Record], plan: dict[str, set[int]]) -> WindowResult:
        faults.point("actor_window")
        result = compute_window(self.augmenters, records, plan, self.seed, self.variants, self.engine)
        result.worker = self.index
        return result

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


@dataclass
class _Part:
    """Records of a window sent to one actor, and where its result will come from."""

    records: Sequence[Record]
    plan: dict[str, set[int]]
    actor: int = -1  # -1 until sent
    ref: Any = None
    done: bool = False


@dataclass
class _Task:
    """One window in flight: one part, or one per actor when the window is split."""

    parts: list[_Part]


@dataclass
class ActorTally:
    """One actor's share of the run, for the report."""

    windows: int = 0
    records: int = 0
    busy_seconds: float = 0.0
    completion_tokens: int = 0
    restarts: int = 0


@dataclass
class RayExecutor:
    """A pool of WindowWorker actors; see the module docstring."""

    config: RunConfig
    spec: Any
    options: ScaleOptions
    needs_model: bool
    depth: int = RAY_DEPTH
    #: set by the run: True once the user asked it to stop (an actor lost then is not replaced)
    stopping: Callable[[], bool] = lambda: False
    _actors: list[Any] = field(default_factory=list)
    _queue: deque[_Task] = field(default_factory=deque)
    _tally: list[ActorTally] = field(default_factory=list)
    _owns_ray: bool = False
    _started: float | None = None
    _restarts_left: int = 0

    def __post_init__(self) -> None:
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR,
                                      "log_to_driver": False, "runtime_env": {"env_vars": forwarded_env()}}
            if self.options.address:
                why = unreachable(self.options.address)
                if why is not None:
                    raise UsageError(f"cannot join the Ray cluster at {self.options.address}: nothing answers there "
                                     f"({why}); is `ray start --head` running, and is this the address it printed?")
                try:
                    ray.init(address=self.options.address, **kwargs)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise UsageError(f"cannot join the Ray cluster at {self.options.address}: {_last_line(exc)}") \
                        from None
            else:
                if self.options.gpus:  # Ray gives each actor one of these, as its CUDA_VISIBLE_DEVICES
                    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(self.options.gpus)
                # "local": a Ray of our own, even where `ray start` left a cluster this machine would join
                ray.init(address="local", num_cpus=os.cpu_count() or 1, num_gpus=len(self.options.gpus) or None,
                         **kwargs)
            self._owns_ray = True
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        n, threads = actor_plan(self.options, gpus, cpus, self.needs_model)
        use_gpu = self.needs_model and (gpus > 0 or bool(self.options.gpus))
        if use_gpu and n > gpus:
            raise UsageError(f"{n} actors with one GPU each, but the Ray cluster has {gpus} GPU(s)")
        spec = self.spec
        if spec is not None and spec.folder is None:  # the driver's cache folder: shared where the filesystem is
            from qaug.llm.models import state_dir

            spec = replace(spec, folder=state_dir().resolve(), path=spec.path.resolve())
        self.spec = spec
        self.threads = threads
        self._remote = ray.remote(WindowWorker).options(
            num_gpus=1 if use_gpu else 0, num_cpus=min(float(threads), cpus / n), max_restarts=0)
        self._actors = [self._start(i) for i in range(n)]
        self._tally = [ActorTally() for _ in range(n)]
        self._restarts_left = 2 * n + 2
        # under a cap, a model method plans each window from the counts of the one before, as without Ray:
        # one window at a time, its records shared out among the actors, gives the same plan and output
        self.split = self.needs_model and self.config.max_aug_ratio < 1.0
        self.depth = 1 if self.split else RAY_DEPTH

    def _start(self, index: int) -> Any:
        return self._remote.remote(self.config, self.spec, index, self.threads)

    @property
    def actors(self) -> int:
        return len(self._actors)

    def submit(self, records: Sequence[Record], plan: dict[str, set[int]]) -> None:
        if self._started is None:
            self._started = time.perf_counter()
        n = min(len(self._actors), len(records)) if self.split else 1
        bounds = [round(i * len(records) / n) for i in range(n + 1)]
        v = self.config.variants
        task = _Task([_Part(records[a:b], split_plan(plan, a * v, b * v) if n > 1 else plan)
                      for a, b in zip(bounds, bounds[1:])])
        self._queue.append(task)
        for part in task.parts:  # in turn, so a window shared out goes to different actors
            self._send(part)

    def _send(self, part: _Part) -> None:
        """To the actor with the fewest parts waiting."""
        load = [0] * len(self._actors)
        for t in self._queue:
            for p in t.parts:
                if p is not part and p.actor >= 0 and not p.done:
                    load[p.actor] += 1
        part.actor = min(range(len(load)), key=lambda i: (load[i], i))
        part.ref = self._actors[part.actor].compute.remote(part.records, part.plan)

    def next_result(self) -> WindowResult:
        task = self._queue.popleft()
        results = []
        for part in task.parts:
            result = self._wait(part, task)
            part.done = True
            tally = self._tally[result.worker if result.worker is not None else part.actor]
            tally.windows += 1
            tally.records += len(part.records)
            tally.busy_seconds += result.busy_seconds
            tally.completion_tokens += int(result.engine_delta.get("completion_tokens", 0))
            results.append(result)
        return results[0] if len(results) == 1 else merge_results(results)

    def _wait(self, part: _Part, task: _Task) -> WindowResult:
        """The part's result; a lost actor is replaced and its parts (this window's and later ones) sent again."""
        import ray
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, RayTaskError

        while True:
            try:
                result: WindowResult = ray.get(part.ref)
                return result
            except RayTaskError as exc:  # the method itself raised (a usage error): as if it ran here
                raise exc.as_instanceof_cause() from None
            except (ActorDiedError, ActorUnavailableError, RayActorError) as exc:
                if self.stopping():
                    raise Interrupted("interrupted: the windows written so far were saved; "
                                      + self.config.how_to_continue()) from None
                lost = part.actor
                self._replace(lost, exc)
                for other in [p for t in (task, *self._queue) for p in t.parts if p.actor == lost and not p.done]:
                    self._send(other)

    def _replace(self, index: int, exc: BaseException) -> None:
        """A new actor in a dead one's place; a pool that keeps losing them ends the run with the cause."""
        import ray

        if self._restarts_left <= 0:
            raise RunFailed(f"Ray actors keep failing; the last one: {_last_line(exc)}")
        self._restarts_left -= 1
        try:
            ray.kill(self._actors[index])
        except Exception:  # noqa: BLE001 - it is gone already
            pass
        self._actors[index] = self._start(index)
        self._tally[index].restarts += 1

    def report(self) -> dict[str, Any]:
        """Per-actor figures and the scaling efficiency: aggregate throughput over N x one actor's, this run."""
        wall = time.perf_counter() - self._started if self._started is not None else 0.0
        unit = "completion_tokens" if self.needs_model else "records"
        per: list[dict[str, Any]] = []
        for i, t in enumerate(self._tally):
            amount = t.completion_tokens if self.needs_model else t.records
            per.append({"actor": i, "windows": t.windows, "records": t.records, "busy_s": round(t.busy_seconds, 3),
                        "completion_tokens": t.completion_tokens, "restarts": t.restarts,
                        f"{unit}_per_s": round(amount / t.busy_seconds, 2) if t.busy_seconds else None})
        rates = [p[f"{unit}_per_s"] for p in per if p[f"{unit}_per_s"]]
        total = sum(t.completion_tokens if self.needs_model else t.records for t in self._tally)
        aggregate = total / wall if wall else None
        single = sum(rates) / len(rates) if rates else None
        efficiency = round(aggregate / (len(per) * single), 3) if aggregate and single else None
        return {"backend": "ray", "actors": len(per), "threads_per_actor": self.threads, "depth": self.depth,
                "unit": unit, "aggregate_per_s": round(aggregate, 2) if aggregate else None,
                "efficiency": efficiency, "per_actor": per}

    def close(self) -> None:
        import ray

        for a in self._actors:
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 - closing what may already be gone
                pass
        self._actors, self._queue = [], deque()
        if self._owns_ray:
            ray.shutdown()


def _last_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
