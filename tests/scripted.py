"""ScriptedEngine: a real Engine whose answers (and scores) come from functions, for tests of prompts, parsing,
gates and the pipeline without a model. It lives with the tests; integration tests use llama.cpp itself."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence

from qaug.llm.engine import Engine, Job, Raw, ScoreRequest, Surprisal


class ScriptedEngine(Engine):
    """A real Engine whose answers come from a function: for unit tests of prompts, parsing and gates."""

    model_id = "scripted"

    def __init__(self, answer: Callable[[Job, int], str | Raw],
                 scorer: Callable[[ScoreRequest], Surprisal] | None = None) -> None:
        super().__init__()
        self._answer = answer
        self._scorer = scorer
        self.scored: list[ScoreRequest] = []
        self._calls: dict[str, int] = {}
        self.jobs_seen: list[Job] = []

    def _attempt_many(self, jobs: deque[Job]) -> Iterator[tuple[Job, Raw]]:
        while jobs:
            job = jobs.popleft()
            n = self._calls.get(job.key, 0)
            self._calls[job.key] = n + 1
            self.jobs_seen.append(job)
            out = self._answer(job, n)
            yield job, out if isinstance(out, Raw) else Raw(text=out, finish="stop", completion_tokens=len(out))

    def surprisal(self, requests: Sequence[ScoreRequest]) -> list[Surprisal | None]:
        if self._scorer is None:
            return super().surprisal(requests)
        self.scored.extend(requests)
        return [self._scorer(r) for r in requests]
