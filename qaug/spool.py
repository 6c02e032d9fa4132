"""Inputs that can be read only once (stdin as `-`, /dev/stdin, a named pipe, bash's <(...)): copied to a file first.

A run reads each input more than once (its sha256 for the journal, its size for progress, then its records),
which a pipe cannot give: the first read would drain it and the run would see an empty file. Copying the
stream once, in chunks, into a private folder beside the output keeps memory flat and loses nothing.
Such a run cannot be resumed: the stream is gone when it ends.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


#: the private folder a run's streams are copied into, beside the output (and the pid that names it)
SPOOL_PREFIX = ".qaug-stdin-"


def spool_folder(output: Path) -> Path:
    """Where this process copies its streams: beside the output, named for the process."""
    return output.parent / f"{SPOOL_PREFIX}{os.getpid()}"


def is_spooled(path: Path) -> bool:
    """A copy of a stream (`spool`): it is gone when the run ends, so the run cannot be resumed."""
    return Path(path).parent.name.startswith(SPOOL_PREFIX)


def is_stream(path: Path) -> bool:
    """`-`, or anything that is not a regular file (a pipe, a character device such as /dev/stdin on a tty)."""
    if str(path) == "-":
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # a missing file is reported by the run, as usual


def spool(path: Path, folder: Path) -> Path:
    """Copy one stream into `folder` under its own name ("stdin" for `-`); the copy's path.

    The folder is made only once the stream is open: opening a named pipe waits for its writer, and a run
    stopped while waiting leaves nothing behind.
    """
    if str(path) == "-":
        name = "stdin"
    elif str(path.parent) in ("/dev/fd", "/proc/self/fd"):  # bash's <(...): its fd number says nothing
        name = f"pipe{path.name}"
    else:
        name = path.name or "stream"
    src = sys.stdin.buffer if str(path) == "-" else open(path, "rb")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        n = 1
        while target.exists():
            n += 1
            target = folder / f"{name}.{n}"
        _copy(src, target)
    finally:
        if src is not sys.stdin.buffer:
            src.close()
    return target


def _copy(src: BinaryIO, target: Path) -> None:
    with open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)
