"""Run counters and the report they become: every input line is an original or a reject."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

#: points kept of the tokens/s timeline (report.json timings.model_timeline, the HTML report's chart)
TIMELINE_POINTS = 200
#: a number that is a detail (a position, a size), not part of a name such as UTF-8 or Q4_K_M
_DIGITS = re.compile(r"(?<![A-Za-z0-9_])(?<![A-Za-z]-)\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'[^']*'")


def reason_key(reason: str, code: str = "") -> str:
    """The key a reason is counted under: its code where it has one (text gates, the judge), else the
    reason with its details (positions, sizes, quoted values) taken out."""
    if code:
        return code
    parts = reason.split(": ", 2)
    head = parts[0]
    if " " not in head and len(parts) > 1:  # "output: translation is in zh, not en" keeps its second part
        head = f"{head}: {parts[1]}"
    head = _QUOTED.sub("'…'", head)
    return _DIGITS.sub("N", head)


def reason_code(reason: str) -> str:
    """A snake_case code for a reason that came without one (a read error, a structural method's reason):
    its head before the first colon, details taken out, so the rejects file always has a code to filter on."""
    head = reason_key(reason).split(": ", 1)[0]
    code = re.sub(r"[^a-z0-9]+", "_", head.lower()).strip("_")
    return code[:48].rstrip("_") or "rejected"


@dataclass
class FileStats:
    lines: int = 0
    records: int = 0
    rejects: int = 0
    file_rejects: int = 0


@dataclass
class MethodStats:
    """Variants written, and rejected / skipped counted by reason kind, with one full example of each."""

    written: int = 0
    rejected: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    #: what the judge cost this method: jobs, cached, prompt_tokens, completion_tokens, seconds_ms
    judge: Counter = field(default_factory=Counter)
    #: variants that passed every gate but were over --max-aug-ratio (counted, not written: no quality reject)
    capped: int = 0
    #: units not computed because the cap could not have kept their variants (model methods)
    not_planned: int = 0
    #: units computed, and variants they gave that passed the gates: the yield the cap plans model work by
    tried: int = 0
    accepted: int = 0
    #: wall time of the method's work (generation, gates and judge), for the report's time per method
    seconds: float = 0.0
    #: of it, seconds inside the model engine (generating and scoring), the method's share of the model's time
    model_seconds: float = 0.0

    def reject(self, reason: str, code: str = "") -> None:
        key = reason_key(reason, code)
        self.rejected[key] += 1
        self.examples.setdefault(key, reason)

    def skip(self, reason: str, code: str = "") -> None:
        key = reason_key(reason, code)
        self.skipped[key] += 1
        self.examples.setdefault(key, reason)

    def as_dict(self) -> dict[str, Any]:
        out = {"written": self.written, "rejected": dict(self.rejected), "skipped": dict(self.skipped),
               "capped": self.capped, "not_planned": self.not_planned, "tried": self.tried, "accepted": self.accepted,
               "seconds": round(self.seconds, 3), "model_seconds": round(self.model_seconds, 3),
               "examples": dict(self.examples)}
        if self.judge:
            out["judge"] = dict(self.judge)
        return out


@dataclass
class RunStats:
    """Counters the pipeline bumps and the summary and report read."""

    started: float = field(default_factory=time.time)
    files: dict[str, FileStats] = field(default_factory=dict)
    originals_written: int = 0
    methods: dict[str, MethodStats] = field(default_factory=dict)
    rejects_by_stage: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    status: str = "running"
    elapsed: float = 0.0
    cap_dropped: int = 0
    review_marked: int = 0
    records_done: int = 0
    resumed_records: int = 0
    #: one full reason for each reason kind, so a summary can show real values
    examples: dict[str, str] = field(default_factory=dict)
    #: (run seconds, completion tokens so far) after each batch with model work, for tokens/s over the run;
    #: at most TIMELINE_POINTS, every other point dropped when full (evenly spread however long the run)
    timeline: list[tuple[float, int]] = field(default_factory=list)
    _timeline_offset: float = 0.0

    def file(self, name: str) -> FileStats:
        fs = self.files.get(name)
        if fs is None:
            fs = self.files[name] = FileStats()
        return fs

    def method(self, name: str) -> MethodStats:
        ms = self.methods.get(name)
        if ms is None:
            ms = self.methods[name] = MethodStats()
        return ms

    def mark_model(self, completion_tokens: int) -> None:
        """A point of the tokens/s timeline: the engine's completion tokens so far (a resumed run's engine counts
        on from the checkpoint's), at the time since the run began (a resumed run's from its last point)."""
        self.timeline.append((round(self._timeline_offset + time.time() - self.started, 2), completion_tokens))
        if len(self.timeline) > TIMELINE_POINTS:
            self.timeline = self.timeline[::2]

    def reject(self, stage: str, reason: str, code: str = "") -> None:
        key = reason_key(reason, code)
        self.rejects_by_stage[stage][key] += 1
        self.examples.setdefault(key, reason)

    @property
    def input_lines(self) -> int:
        return sum(f.lines for f in self.files.values())

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files.values())

    @property
    def input_rejects(self) -> int:
        return sum(f.rejects for f in self.files.values())

    @property
    def file_rejects(self) -> int:
        """Whole files rejected (empty, unreadable): in the rejects file, but not input lines."""
        return sum(f.file_rejects for f in self.files.values())

    @property
    def variants_written(self) -> int:
        return sum(m.written for m in self.methods.values())

    def snapshot(self) -> dict[str, Any]:
        """Counters as JSON, for a checkpoint; `restore` reads them back on resume."""
        return {
            "files": {n: vars(f) for n, f in self.files.items()},
            "originals_written": self.originals_written,
            "methods": {n: m.as_dict() for n, m in self.methods.items()},
            "rejects": {s: dict(c) for s, c in self.rejects_by_stage.items()},
            "cap_dropped": self.cap_dropped,
            "units": {"records_done": self.records_done, "records_resumed": self.resumed_records,
                      "records_this_run": self.records_done - self.resumed_records,
                      "method_units_done": self.records_done * len(self.methods)}, "review_marked": self.review_marked,
            "records_done": self.records_done, "timeline": self.timeline,
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.files = {n: FileStats(**f) for n, f in snap["files"].items()}
        self.originals_written = snap["originals_written"]
        for n, m in snap["methods"].items():
            ms = self.method(n)
            ms.written, ms.rejected, ms.skipped = m["written"], Counter(m["rejected"]), Counter(m["skipped"])
            ms.examples = dict(m.get("examples", {}))
            ms.judge = Counter(m.get("judge", {}))
            ms.capped, ms.not_planned = m.get("capped", 0), m.get("not_planned", 0)
            ms.tried, ms.accepted = m.get("tried", 0), m.get("accepted", 0)
            ms.seconds, ms.model_seconds = m.get("seconds", 0.0), m.get("model_seconds", 0.0)
        for stage, c in snap["rejects"].items():
            self.rejects_by_stage[stage] = Counter(c)
        self.cap_dropped, self.review_marked = snap["cap_dropped"], snap["review_marked"]
        self.records_done = self.resumed_records = snap.get("records_done", 0)
        self.timeline = [tuple(p) for p in snap.get("timeline", [])]
        self._timeline_offset = self.timeline[-1][0] if self.timeline else 0.0

    def finish(self, status: str) -> None:
        self.status = status
        self.elapsed = time.time() - self.started

    def to_report(self, config: dict[str, Any]) -> dict[str, Any]:
        elapsed = self.elapsed or (time.time() - self.started)
        this_run = self.records_done - self.resumed_records if self.records else 0
        return {
            "status": self.status,
            "input_lines": self.input_lines,
            "records": self.records,
            "input_rejects": self.input_rejects,
            "originals_written": self.originals_written,
            "variants_written": self.variants_written,
            "cap_dropped": self.cap_dropped,
            "units": {"records_done": self.records_done, "records_resumed": self.resumed_records,
                      "records_this_run": self.records_done - self.resumed_records,
                      "method_units_done": self.records_done * len(self.methods)},
            "review_marked": self.review_marked,
            "files": {name: vars(fs) for name, fs in self.files.items()},
            "methods": {name: ms.as_dict() for name, ms in self.methods.items()},
            "rejects": {stage: dict(c) for stage, c in self.rejects_by_stage.items()},
            "timings": {
                "seconds": round(elapsed, 3),
                # this run's records: a resumed run is not credited with the work done before it, nor an
                # empty input with a rate
                "records_per_s": round(this_run / elapsed, 1) if elapsed > 0 and this_run > 0 else None,
                "model_timeline": [list(p) for p in self.timeline],
            },
            "config": config,
        }


def engine_seconds(engine: Any) -> float:
    """Seconds the engine has spent generating and scoring so far (0 without an engine)."""
    if engine is None:
        return 0.0
    return engine.stats.seconds + engine.stats.score_seconds


def engine_report(engine: Any) -> dict[str, Any]:
    """Model time and tokens, for the report and the summary."""
    st = engine.stats.as_dict()
    secs = st["seconds"]
    st["model"] = engine.model_id
    st["completion_tokens_per_s"] = round(st["completion_tokens"] / secs, 1) if secs else None
    return st
