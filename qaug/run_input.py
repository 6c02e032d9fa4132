"""The records a run reads, in order: --limit / --sample applied, a duplicate id turned into an input reject,
file by file in windows, and on resume without what the checkpoint already covers. The pipeline and the
plan (qaug.plan) select records here, so both see the same ones."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaug import jsonio
from qaug.config import RunConfig
from qaug.journal import Checkpoint
from qaug.readers import ByteCounter, InputReject, read_items
from qaug.records import Record
from qaug.sample import Selection, sample_positions

Item = Record | InputReject


def source_labels(inputs: tuple[Any, ...]) -> list[str]:
    """How each input is named in ids and rejects: its file name, or its path where two names clash."""
    names = [p.name for p in inputs]
    return [p.name if names.count(p.name) == 1 else str(p) for p in inputs]


def selection(config: RunConfig, labels: list[str]) -> Selection:
    """--limit / --sample: which records of the inputs the run processes (all, without either)."""
    positions = None
    if config.sample is not None:
        positions = sample_positions((read_items(p, config.fmt, config.max_line_bytes, None, label)
                                      for p, label in zip(config.inputs, labels)), config.sample, config.seed, Record)
    return Selection(Record, config.limit, positions)


def selected_items(config: RunConfig) -> Iterator[Item]:
    """The items a run of `config` processes, --limit and --sample applied (duplicate ids not yet checked)."""
    labels = source_labels(tuple(config.inputs))
    chosen = selection(config, labels)
    for fi, (path, label) in enumerate(zip(config.inputs, labels)):
        yield from chosen.take(fi, read_items(path, config.fmt, config.max_line_bytes, None, label))


@dataclass
class InputFile:
    """One input file of the run, open for reading: its windows, and where reading starts and stands."""

    index: int
    #: items already covered by the checkpoint (a resumed run starts after them)
    consumed: int
    #: input bytes of the files before this one, and the reader's byte position in this one (for progress)
    done_before: int
    counters: list[ByteCounter]
    windows: Iterator[list[Item]]

    def position(self) -> int:
        return self.counters[0].position() if self.counters else 0


class RunInput:
    """The run's inputs, read as the run processes them."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.labels = source_labels(config.inputs)
        self.selection = selection(config, self.labels)
        self.total_bytes = sum(p.stat().st_size for p in config.inputs)
        self._seen_ids: set[int] = set()

    def files(self, start: Checkpoint | None, window: int) -> Iterator[InputFile]:
        """Each input file still to read, from the checkpoint `start` on (None: from the beginning)."""
        cfg = self.config
        done_before = 0
        for index, path in enumerate(cfg.inputs):
            size = Path(path).stat().st_size
            if start is not None and index < start.file:
                for item in self.selection.take(index, read_items(path, cfg.fmt, cfg.max_line_bytes, None,
                                                                  self.labels[index])):
                    if isinstance(item, Record):  # remember their ids, so duplicates are still caught
                        self._seen_ids.add(_id_hash(item.id))
                done_before += size
                continue
            counters: list[ByteCounter] = []
            items = self._unique_ids(self.selection.take(index, read_items(path, cfg.fmt, cfg.max_line_bytes,
                                                                           counters, self.labels[index])))
            consumed = 0
            if start is not None and index == start.file and start.items:
                consumed = sum(1 for _ in itertools.islice(items, start.items))  # covered by the checkpoint
            yield InputFile(index, consumed, done_before, counters, _windows(items, window))
            done_before += size

    def _unique_ids(self, items: Iterable[Item]) -> Iterator[Item]:
        """A second record with an id already seen goes to the rejects file: ids must identify records."""
        seen = self._seen_ids
        for item in items:
            if isinstance(item, Record):
                h = _id_hash(item.id)
                if h in seen:
                    raw = getattr(item, "raw", None)
                    yield InputReject(item.source, item.line,
                                      f"duplicate record id {item.id!r} (the first one was kept)",
                                      raw.decode("utf-8") if raw is not None else jsonio.dumps_str(item.data))
                    continue
                seen.add(h)
            yield item


def _id_hash(record_id: str) -> int:
    """8 bytes per id: a million records cost tens of MB, not the ids themselves."""
    return int.from_bytes(hashlib.blake2b(record_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def _windows(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield chunk
