"""Checks made before any model work: a mistake found after the model loaded costs the user minutes,
and one found after generating costs them the whole run.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qaug.errors import UsageError
from qaug.readers import read_items
from qaug.records import ALL_FIELDS, Record

#: records looked at per file to learn its formats
_PEEK = 64


def file_formats(inputs: Sequence[Path], fmt: str | None, max_line_bytes: int) -> dict[Path, set[str]]:
    """The formats of the first records of each input (the forced --format, where given)."""
    out: dict[Path, set[str]] = {}
    for path in inputs:
        if fmt is not None:
            out[path] = {fmt}
            continue
        found = set()
        items = read_items(path, None, max_line_bytes, None, path.name)
        for item in itertools.islice((i for i in items if isinstance(i, Record)), _PEEK):
            found.add(item.fmt)
        out[path] = found
    return out


def check_fields(fields: Sequence[str], formats: dict[Path, set[str]]) -> None:
    """Refuse --fields that no record of an input has: `--fields user` on Alpaca data would skip every record."""
    for path, fmts in formats.items():
        if fmts and not any(name in ALL_FIELDS[f] for f in fmts for name in fields):  # a mixed file: any will do
            f = sorted(fmts)[0]
            raise UsageError(f"--fields {','.join(fields)}: {f} records (as in {path.name}) have no such field; "
                             f"{f} has {', '.join(ALL_FIELDS[f])}")


def ignored_notes(names: Sequence[str], needs_model: bool, given: dict[str, Any], task_and_methods: bool,
                  gguf: Any = None) -> list[str]:
    """Notes for flags the run will not use, so a user does not believe they acted."""
    notes = []
    if not needs_model and gguf:
        notes.append(f"note: --gguf {gguf} is not used: none of {', '.join(names)} needs a model")
    if task_and_methods:
        notes.append("note: --task is not used: --methods names the methods")
    if not needs_model:
        unused = [flag for flag, value in given.items() if value is not None]
        if unused:
            notes.append(f"note: {', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used: none of "
                         f"{', '.join(names)} needs a model")
    return notes
