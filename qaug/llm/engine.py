"""The engine interface: many JSON-Schema-constrained jobs in, validated results out as they finish.

Augmenters build Jobs and read Results; they never see how an answer was computed, so a
sequential, batched, cached or scripted engine can stand in for another. Parsing,
validation and bounded retries live here, once, for every engine.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from qaug import faults, jsonio
from qaug.errors import ModelError
from qaug.llm.schema import check_schema, validate
from qaug.rng import derive_seed


@dataclass(frozen=True)
class Sampling:
    """Qwen2.5's recommended sampling; every field can be overridden per run."""

    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    min_p: float = 0.0
    repeat_penalty: float = 1.05
    max_tokens: int = 512


@dataclass(frozen=True)
class Job:
    """One constrained generation. `key` is the caller's handle for matching results."""

    key: str
    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any]
    seed: int
    sampling: Sampling = field(default_factory=Sampling)
    #: the caller's routing data (which pivot, which text...), so it need not be packed into `key` and parsed
    #: back; like `key` it is no part of what is computed, so neither is in the cache key
    tag: tuple[Any, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ScoreRequest:
    """Teacher forcing: how surprising `target` is, token by token, as the assistant's answer to `messages`."""

    messages: tuple[dict[str, str], ...]
    target: str


@dataclass(frozen=True)
class Surprisal:
    """The target's tokens as text pieces and each one's surprisal (-log p, in nats) under the model."""

    pieces: tuple[str, ...]
    nats: tuple[float, ...]


@dataclass
class Raw:
    """What an engine produced for one attempt, before parsing."""

    text: str
    finish: str  # "stop" (grammar complete) | "length" (token budget) | "error"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    cached: bool = False


@dataclass
class Result:
    """The outcome of a job: `value` is parsed and schema-valid, or `error` says why not."""

    job: Job
    value: Any = None
    text: str = ""
    error: str | None = None
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def parse_answer(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """(value, None) for strict JSON that satisfies the schema, else (None, reason)."""
    try:
        value = jsonio.loads(text)
    except (jsonio.JSONLineError, UnicodeDecodeError) as exc:
        return None, f"answer is not strict JSON: {exc}"
    err = validate(value, schema)
    if err:
        return None, f"answer does not match the schema: {err}"
    return value, None


@dataclass
class EngineStats:
    """An engine's counters, for the report, the summary, checkpoints and the next plan's ETA.

    Every engine counts the first group; the result cache (qaug.llm.cached) and llama.cpp add theirs. A run on
    Ray adds each actor's counters into the driver's (`add`), and a resumed run starts from its checkpoint's.
    """

    jobs: int = 0                  # answers delivered
    attempts: int = 0              # tries, retries included
    prompt_tokens: int = 0         # of answers computed now (cache hits not counted)
    completion_tokens: int = 0
    seconds: float = 0.0           # in generate()
    cached: int = 0                # answers read back from the result cache
    computed: int = 0              # answers the model computed (and the cache stored)
    scored: int = 0                # support-check scorings computed
    scored_cached: int = 0         # ... and read back from the cache
    score_seconds: float = 0.0
    prompt_tokens_evaluated: int = 0  # llama.cpp: prompt tokens decoded
    prompt_tokens_reused: int = 0     # ... and taken from a shared prefix's KV cache instead
    decode_seconds: float = 0.0
    prefix_swa_fallbacks: int = 0
    #: llama.cpp's prefix reuse: "on", or "off: why" ("" for other engines)
    prefix_reuse: str = ""

    def numbers(self) -> dict[str, float]:
        """Every counter by name (no notes): what a checkpoint keeps and an actor sends back."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "prefix_reuse"}

    def add(self, counts: dict[str, Any]) -> None:
        """Add counts by name (an actor's window, a checkpoint's totals); names this engine has no counter
        for, and anything not a number, are ignored."""
        for name, value in counts.items():
            if name != "prefix_reuse" and hasattr(self, name) and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                setattr(self, name, getattr(self, name) + value)

    def since(self, before: dict[str, float]) -> dict[str, float]:
        """The counters that grew since `before` (a `numbers()`), by how much."""
        return {k: v - before.get(k, 0) for k, v in self.numbers().items() if v != before.get(k, 0)}

    def as_dict(self) -> dict[str, Any]:
        """Counters and note, JSON-ready."""
        out: dict[str, Any] = self.numbers()
        if self.prefix_reuse:
            out["prefix_reuse"] = self.prefix_reuse
        return out


class Engine(ABC):
    """Base class: subclasses implement `_attempt_many`; retries and validation happen here."""

    #: "file.gguf@sha256-prefix" of the model, recorded in provenance.
    model_id: str = "unknown"
    max_attempts: int = 3

    def __init__(self) -> None:
        self.stats = EngineStats()
        #: called with every finished Result (progress displays use it between batches)
        self.listener: Callable[[Result], None] | None = None

    @abstractmethod
    def _attempt_many(self, jobs: deque[Job]) -> Iterator[tuple[Job, Raw]]:
        """Run each job of the queue once (in any order, each exactly once), yielding as each finishes.

        The queue is live: the caller appends retries while this runs, so take jobs with popleft()
        and stop only when the queue is empty after the last yield. A retry then fills a slot at once
        instead of waiting for a second round of the whole batch."""

    def close(self) -> None:  # noqa: B027 - a hook: an engine holding nothing need not free anything
        """Free the model; engines are also context managers."""

    def surprisal(self, requests: Sequence[ScoreRequest]) -> list[Surprisal | None]:
        """Per-token surprisal of each request's target (qaug.quality.support reads the model's own
        certainty that a variant keeps its source's words); None for one that does not fit the context.
        Engines that cannot score at all raise ModelError."""
        raise ModelError(f"{type(self).__name__} cannot score texts")

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def generate(self, jobs: Iterable[Job]) -> Iterator[Result]:
        """Yield one Result per job; failed attempts are retried with a derived seed, up to max_attempts."""
        pending: dict[int, tuple[Job, Result]] = {}
        queue: deque[Job] = deque()
        # Jobs that share a prompt prefix (a method's system prompt and examples, in one language) run
        # one after another, so an engine that reuses a prefix's KV cache evaluates it once per kind,
        # not once per switch between kinds. The sort is stable: same-kind jobs keep their order.
        for job in sorted(jobs, key=_prefix_key):
            check_schema(job.schema)
            queue.append(job)
            pending[id(job)] = (job, Result(job=job))
        if not queue:
            return
        t0 = time.perf_counter()
        try:
            for sent, raw in self._attempt_many(queue):
                faults.point("model")
                original, result = pending.pop(id(sent))
                result.attempts += 1
                result.prompt_tokens += raw.prompt_tokens
                result.completion_tokens += raw.completion_tokens
                result.text = raw.text
                result.cached = raw.cached
                self.stats.attempts += 1
                if not raw.cached:  # tokens/s counts model work done now, not answers read back
                    self.stats.prompt_tokens += raw.prompt_tokens
                    self.stats.completion_tokens += raw.completion_tokens
                if raw.finish == "error":
                    result.error = raw.error or "engine error"  # not retryable: e.g. the prompt exceeds the context
                elif raw.finish == "length":
                    result.error = f"answer cut off at max_tokens={sent.sampling.max_tokens}"
                elif raw.error is not None:
                    result.error = raw.error  # e.g. bytes that are not UTF-8: retried
                else:
                    result.value, result.error = parse_answer(raw.text, sent.schema)
                if result.error is not None and raw.finish != "error" and result.attempts < self.max_attempts:
                    again = replace(sent, seed=derive_seed(original.seed, "retry", result.attempts))
                    pending[id(again)] = (original, result)
                    queue.append(again)  # the engine picks it up at its next free slot
                    continue
                self.stats.jobs += 1
                if self.listener is not None:
                    self.listener(result)
                yield result
        finally:
            self.stats.seconds += time.perf_counter() - t0


def _prefix_key(job: Job) -> tuple[tuple[str, str], ...]:
    """Every message but the last: what jobs of one method and language have in common."""
    return tuple((m.get("role", ""), m.get("content", "")) for m in job.messages[:-1])
