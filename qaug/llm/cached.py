"""A SQLite cache of model answers, so a rerun or an extended run pays for no model work twice.

The key is everything an answer depends on: the model file's sha256, the chat template and
messages (that is, the fully formatted prompt), the schema, the sampling parameters and the
seed. WAL mode lets a second reader (`qaug cache stats`) look while a run writes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qaug.errors import UsageError
from qaug.llm.engine import Engine, Job, Raw, ScoreRequest, Surprisal

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, text TEXT NOT NULL, finish TEXT NOT NULL, error TEXT,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS speeds (
    model TEXT PRIMARY KEY, calls INTEGER NOT NULL, seconds REAL NOT NULL, updated REAL NOT NULL)
"""


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def job_key(identity: str, job: Job) -> str:
    """sha256 over (model + template identity, messages, schema, sampling, seed)."""
    return _digest([identity, list(job.messages), job.schema, asdict(job.sampling), job.seed])


def score_key(identity: str, request: ScoreRequest) -> str:
    """sha256 over (model + template identity, messages, target): what a teacher-forced score depends on."""
    return _digest([identity, "surprisal", list(request.messages), request.target])


class ResultCache:
    """answers(key -> raw answer), one file per cache folder."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "results.sqlite"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA_SQL)
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(f"cannot open the result cache {self.path}: {exc} "
                             "(use --no-cache or --cache-dir)") from None

    def get(self, key: str) -> Raw | None:
        row = self._db.execute("SELECT text, finish, error, prompt_tokens, completion_tokens FROM answers WHERE key=?",
                               (key,)).fetchone()
        if row is None:
            return None
        return Raw(text=row[0], finish=row[1], error=row[2], prompt_tokens=row[3], completion_tokens=row[4],
                   cached=True)

    def put(self, key: str, model: str, raw: Raw) -> None:
        self._db.execute("INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?,?,?)",
                         (key, model, raw.text, raw.finish, raw.error, raw.prompt_tokens, raw.completion_tokens,
                          time.time()))

    def record_speed(self, model: str, calls: int, seconds: float) -> None:
        """Model seconds per computed answer of a run, so the next run's plan can say how long it takes."""
        if calls > 0 and seconds > 0:
            self._db.execute("INSERT OR REPLACE INTO speeds VALUES (?,?,?,?)", (model, calls, seconds, time.time()))

    def speed(self, model: str) -> float | None:
        """Seconds per computed answer measured on the last run with `model` that computed any, or None."""
        row = self._db.execute("SELECT calls, seconds FROM speeds WHERE model=?", (model,)).fetchone()
        return row[1] / row[0] if row else None

    def stats(self) -> dict[str, Any]:
        n, = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()
        models = dict(self._db.execute("SELECT model, COUNT(*) FROM answers GROUP BY model").fetchall())
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.exists())
        return {"path": str(self.path), "answers": n, "bytes": size, "models": models}

    def clear(self) -> int:
        n, = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()
        self._db.execute("DELETE FROM answers")
        self._db.execute("VACUUM")
        return n

    def close(self) -> None:
        self._db.close()


class CachedEngine(Engine):
    """Answers from the cache where it has them; the real engine is only built for the first miss."""

    def __init__(self, factory: Callable[[], Engine], cache: ResultCache, identity: str, model_id: str) -> None:
        super().__init__()
        self._factory, self._cache, self._identity = factory, cache, identity
        self._inner: Engine | None = None
        self.model_id = model_id

    @property
    def cache(self) -> ResultCache:
        return self._cache

    @property
    def inner(self) -> Engine:
        if self._inner is None:
            self._inner = self._factory()
        return self._inner

    def _attempt_many(self, jobs: deque[Job]) -> Iterator[tuple[Job, Raw]]:
        """Cached answers at once; misses go to the real engine's live queue, retries included."""
        misses: deque[Job] = deque()
        keys: dict[int, str] = {}

        def take() -> Iterator[tuple[Job, Raw]]:  # move what the caller queued: hits out, misses on
            while jobs:
                job = jobs.popleft()
                key = job_key(self._identity, job)
                raw = self._cache.get(key)
                if raw is None:
                    keys[id(job)] = key
                    misses.append(job)
                else:
                    self.stats.cached += 1
                    yield job, raw

        while True:
            yield from take()  # the caller may queue retries of these as they go out
            if not misses:
                return
            inner = self.inner
            before = inner.stats.numbers()
            try:
                for job, raw in inner._attempt_many(misses):
                    self._cache.put(keys.pop(id(job)), self.model_id, raw)
                    self.stats.computed += 1
                    yield job, raw
                    yield from take()  # a retry that misses joins the running batch
            finally:
                # the engine's own counters (prompt reuse, decode time) in the report; what generate() counts
                # (jobs, tokens, seconds) is counted here, by this engine's generate()
                self.stats.add(inner.stats.since(before))
                self.stats.prefix_reuse = inner.stats.prefix_reuse

    def surprisal(self, requests: Sequence[ScoreRequest]) -> list[Surprisal | None]:
        """Scores from the cache where it has them; the misses are scored by the real engine and stored."""
        keys = [score_key(self._identity, r) for r in requests]
        found: dict[int, Surprisal | None] = {}
        for i, key in enumerate(keys):
            raw = self._cache.get(key)
            if raw is not None and raw.finish == "score":
                value = json.loads(raw.text)
                found[i] = Surprisal(tuple(value["pieces"]), tuple(value["nats"]))
        misses = [i for i in range(len(requests)) if i not in found]
        if misses:
            inner = self.inner
            before = inner.stats.score_seconds
            scored = inner.surprisal([requests[i] for i in misses])
            self.stats.score_seconds += inner.stats.score_seconds - before
            for i, sc in zip(misses, scored):
                if sc is None:  # too long for the context: not an answer to keep
                    found[i] = None
                    continue
                nats = [round(x, 4) for x in sc.nats]  # as stored: a rerun reads the same numbers back
                text = json.dumps({"pieces": list(sc.pieces), "nats": nats}, ensure_ascii=False)
                self._cache.put(keys[i], self.model_id, Raw(text=text, finish="score"))
                found[i] = Surprisal(sc.pieces, tuple(nats))
        self.stats.scored_cached += len(requests) - len(misses)
        self.stats.scored += len(misses)
        return [found[i] for i in range(len(requests))]

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
        self._cache.close()
