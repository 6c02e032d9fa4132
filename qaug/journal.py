"""Resumable run state: an append-only journal of checkpoints beside the output.

A checkpoint is written only after the output and rejects files are flushed and fsynced, and
records their byte lengths. Resuming truncates both files to the last checkpoint (which also
repairs a line torn by a kill mid-write) and skips the input items it covers, so the finished
output holds every record exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaug.errors import UsageError

VERSION = 1


class JournalError(ValueError):
    """A journal that is not as qaug wrote it (hand-edited, or another file); the message says where."""


def file_digest(path: Path) -> str:
    """sha256 of an input file, to notice it changed between a run and its resume."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Checkpoint:
    """Everything needed to continue: input position, output lengths, counters."""

    file: int
    items: int
    out: int
    rej: int
    budget: float
    stats: dict[str, Any]
    engine: dict[str, Any]


class Journal:
    """`out.journal.jsonl`: a header line, then one line per checkpoint, then `finished`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def start(self, header: dict[str, Any]) -> None:
        self._fh = open(self.path, "w", encoding="utf-8")
        self._append({"kind": "header", "version": VERSION, **header})

    def reopen(self) -> None:
        self._fh = open(self.path, "a", encoding="utf-8")

    def checkpoint(self, cp: Checkpoint) -> None:
        self._append({"kind": "checkpoint", **cp.__dict__})

    def finish(self) -> None:
        self._append({"kind": "finished"})

    def _append(self, entry: dict[str, Any]) -> None:
        self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def load(self) -> tuple[dict[str, Any], Checkpoint | None, bool]:
        """(header, last checkpoint, finished); a torn line is ignored, a line of the wrong shape is a JournalError."""
        header: dict[str, Any] | None = None
        last: Checkpoint | None = None
        finished = False
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read the run journal {self.path}: {exc}") from None
        for n, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line torn by a kill (an earlier checkpoint is as good: resuming redoes more)
            kind = entry.pop("kind", None) if isinstance(entry, dict) else None
            where = f"{self.path.name} line {n}"
            if kind == "header":
                header = _header(entry, where)
            elif kind == "checkpoint":
                last = _checkpoint(entry, where)
            elif kind == "finished":
                finished = True
            else:
                raise JournalError(f"{where} is not a journal entry qaug writes")
        if header is None:
            raise UsageError(f"the run journal {self.path} has no header; rerun with --overwrite")
        return header, last, finished


def _header(entry: dict[str, Any], where: str) -> dict[str, Any]:
    inputs = entry.get("inputs")
    if not isinstance(entry.get("config"), dict) or not isinstance(inputs, list) or not all(
            isinstance(i, dict) and isinstance(i.get("path"), str) and isinstance(i.get("sha256"), str)
            for i in inputs):
        raise JournalError(f"{where}: the header is not as qaug wrote it")
    return entry


def _checkpoint(entry: dict[str, Any], where: str) -> Checkpoint:
    fields = Checkpoint.__dataclass_fields__
    if entry.keys() != fields.keys():
        raise JournalError(f"{where}: a checkpoint with the fields {', '.join(sorted(entry))}, not qaug's")
    for name in ("file", "items", "out", "rej"):
        value = entry[name]
        if type(value) is not int or value < 0:
            raise JournalError(f"{where}: checkpoint field {name} is {value!r}, not a count")
    if type(entry["budget"]) not in (int, float) or not isinstance(entry["stats"], dict) \
            or not isinstance(entry["engine"], dict):
        raise JournalError(f"{where}: a checkpoint field is of the wrong type")
    return Checkpoint(**entry)


def differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Names of the settings that differ between two configurations, nested keys dotted."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A configuration as a journal holds it (JSON types: tuples are lists), without what cannot matter.

    `verify` only acts on model methods, so a run without any is the same run with or without it.
    """
    out = json.loads(json.dumps(config, default=str))
    if not out.get("model"):
        out.pop("verify", None)
    return out


def _dotted(config: dict[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _show(value: Any) -> str:
    """A setting as a person types it: 0.3, [rewrite, swap], none."""
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def describe_differences(old: dict[str, Any], new: dict[str, Any], keys: list[str], most: int = 4) -> str:
    """'max_aug_ratio: 0.3 before, 0.5 now; ...': what a resume would change, old and new value each."""
    shown = "; ".join(f"{k}: {_show(_dotted(old, k))} before, {_show(_dotted(new, k))} now" for k in keys[:most])
    return shown + (f" (+{len(keys) - most} more)" if len(keys) > most else "")
