"""out.review.jsonl: every decision appended and fsynced as it is made; the last one per id wins.

Append-only means two reviewers (two browsers, or two servers on one file) never overwrite each
other, and a crash or a closed tab loses nothing: reopening reads the file back.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

DECISIONS = ("accept", "reject", "edit", "promote", "undo")


def valid(entry: dict[str, Any]) -> str | None:
    """Why a posted decision is refused, or None."""
    if not isinstance(entry.get("id"), str) or not entry["id"]:
        return "a decision needs an id"
    if entry.get("decision") not in DECISIONS:
        return f"decision must be one of {', '.join(DECISIONS)}"
    if entry["decision"] == "edit":
        if not isinstance(entry.get("text"), str) or not isinstance(entry.get("field"), list):
            return "an edit needs its field and text"
        more = entry.get("edits")
        if more is not None and (not isinstance(more, list) or not all(
                isinstance(e, dict) and isinstance(e.get("field"), list) and isinstance(e.get("text"), str)
                for e in more)):
            return "edits must be a list of {field, text}"
    return None


def edits_of(entry: dict[str, Any]) -> list[tuple[list[Any], str]]:
    """Every (field path, text) an edit sets: its `edits` list when it has one (a variant that changed several
    fields), else its one field and text."""
    if entry.get("edits"):
        return [(e["field"], e["text"]) for e in entry["edits"]]
    return [(entry["field"], entry["text"])]


class DecisionLog:
    """The review file, read back on open and followed as it grows (another server may append too)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.latest: dict[str, dict[str, Any]] = {}
        self.entries: list[dict[str, Any]] = []
        #: lines that are no decision (bad JSON, an unknown decision such as "accepted"): ignored, and counted
        self.invalid = 0
        self._read_to = 0
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        """Read what was appended since the last look (by anyone)."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size <= self._read_to:
            return
        with open(self.path, "rb") as fh:
            fh.seek(self._read_to)
            chunk = fh.read(size - self._read_to)
        end = chunk.rfind(b"\n") + 1  # a line still being written is read next time
        for line in chunk[:end].splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                self.invalid += 1
                continue
            if isinstance(entry, dict) and valid(entry) is None:
                self.entries.append(entry)
                self._apply(entry)
            else:
                self.invalid += 1
        self._read_to += end

    def _apply(self, entry: dict[str, Any]) -> None:
        if entry["decision"] == "undo":
            self.latest.pop(entry["id"], None)
            previous = entry.get("restore")
            if isinstance(previous, dict) and valid(previous) is None and previous["decision"] != "undo":
                self.latest[entry["id"]] = previous
        else:
            self.latest[entry["id"]] = entry

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Write one decision durably (O_APPEND, flock, fsync) and return it as stored."""
        problem = valid(entry)
        if problem:
            raise ValueError(problem)
        keep = ("id", "parent", "decision", "field", "text", "edits", "reviewer")
        stored = {k: entry.get(k) for k in keep if k != "edits" or entry.get("edits")}
        stored["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if entry["decision"] == "undo":
            with self._lock:
                self._refresh()
                stored["restore"] = self._previous(entry["id"])
        line = (json.dumps(stored, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._refresh()
        return stored

    def _previous(self, item_id: str) -> dict[str, Any] | None:
        """The decision an undo goes back to: the one before the current one for this id."""
        current = self.latest.get(item_id)
        history = [e for e in self.entries if e["id"] == item_id and e["decision"] != "undo"]
        if current is None or current not in history:
            return None
        at = len(history) - 1 - history[::-1].index(current)
        return {k: v for k, v in history[at - 1].items() if k != "restore"} if at > 0 else None

    def since(self, n: int) -> list[dict[str, Any]]:
        with self._lock:
            self._refresh()
            return self.entries[n:]
