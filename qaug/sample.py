"""--limit and --sample: the first N records, or a seeded uniform sample of N, read in one pass.

A sample is drawn by reservoir sampling (Algorithm R) so any input size costs memory for N items
only, and the same seed over the same input gives the same sample, kept in input order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Reservoir(Generic[T]):
    """A uniform sample of at most `size` of the items added, in the order they were added."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seen = 0
        self._rng = random.Random(f"qaug-sample:{seed}")
        self._kept: list[tuple[int, T]] = []

    def add(self, item: T) -> None:
        """Algorithm R: item i (0-based) replaces a kept one with probability size / (i + 1)."""
        i = self.seen
        self.seen += 1
        if len(self._kept) < self.size:
            self._kept.append((i, item))
            return
        j = self._rng.randrange(i + 1)
        if j < self.size:
            self._kept[j] = (i, item)

    def items(self) -> list[T]:
        return [item for _, item in sorted(self._kept, key=lambda p: p[0])]


class Selection:
    """--limit / --sample over all the inputs of a run, file by file: `take(file_index, items)` yields the
    items of that file the run processes. Deterministic, so a resumed run selects the same records.

    A sample needs the number of records first: `positions` are (file index, item index) of the sampled
    records, found by one reading pass before the run (`sample_positions`)."""

    def __init__(self, is_record: type, limit: int | None = None,
                 positions: set[tuple[int, int]] | None = None) -> None:
        self.is_record = is_record
        self.left = limit
        self.positions = positions

    def take(self, file_index: int, items: Iterable[T]) -> Iterator[T]:
        if self.left is None and self.positions is None:
            yield from items
            return
        for pos, item in enumerate(items):
            if self.left is not None and self.left <= 0:
                return
            if isinstance(item, self.is_record):
                if self.positions is not None and (file_index, pos) not in self.positions:
                    continue
                if self.left is not None:
                    self.left -= 1
            yield item


def sample_positions(files: Iterable[Iterable[object]], n: int, seed: int, is_record: type) -> set[tuple[int, int]]:
    """(file index, item index) of a seeded uniform sample of n records over all the files."""
    reservoir: Reservoir[tuple[int, int]] = Reservoir(n, seed)
    for fi, items in enumerate(files):
        for pos, item in enumerate(items):
            if isinstance(item, is_record):
                reservoir.add((fi, pos))
    return set(reservoir.items())
