"""Append-only writers of a run's output, and the names of the files a run writes beside it.

Every write goes through here: JSON Lines appended and flushed, stdout for `-o -`, the companions
(rejects, report, journal) named from the output, and JSON files replaced atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qaug import faults, jsonio
from qaug.errors import UsageError

class JsonlWriter:
    """Append-only JSONL output, one flushed line per object."""

    def __init__(self, path: Path, mode: str = "wb") -> None:
        self.path = path
        try:
            self._fh = open(path, mode, buffering=1 << 20)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.lines = 0

    def write(self, obj: dict[str, Any]) -> None:
        self.write_raw(jsonio.dumps(obj) + b"\n")

    def write_raw(self, line: bytes) -> None:
        """A line already serialised, newline included."""
        if faults.ACTIVE:
            half = len(line) // 2
            self._fh.write(line[:half])
            self._fh.flush()
            faults.point("write")  # a kill here leaves a torn line for resume to repair
            self._fh.write(line[half:])
        else:
            self._fh.write(line)
        self.lines += 1

    def truncate(self, length: int) -> None:
        """Cut the file back to a checkpoint's length (dropping a torn last line) and append from there."""
        self._fh.seek(length)
        self._fh.truncate(length)

    def sync(self) -> int:
        """Flush and fsync; returns the file's length, which a checkpoint records."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return self._fh.tell()

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StdoutWriter(JsonlWriter):
    """`-o -`: the output lines go to stdout as they are written (a run into stdout cannot be resumed, so
    nothing is ever truncated); `sync` flushes and returns the bytes written, as a checkpoint records."""

    def __init__(self) -> None:  # noqa: D107 - no file of its own
        import sys

        self.path = Path("-")
        self._fh = sys.stdout.buffer
        self.lines = 0
        self._bytes = 0

    def write_raw(self, line: bytes) -> None:
        self._fh.write(line)
        self._bytes += len(line)
        self.lines += 1

    def truncate(self, length: int) -> None:
        if length != self._bytes:
            raise UsageError("a run into stdout cannot be resumed")

    def sync(self) -> int:
        self._fh.flush()
        return self._bytes

    def close(self) -> None:
        try:
            self._fh.flush()
        except (BrokenPipeError, ValueError):
            pass


def quiet_stdout() -> None:
    """After a closed pipe, stdout points at /dev/null, so the interpreter's last flush does not fail again."""
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def companion_paths(output: Path) -> tuple[Path, Path]:
    """(rejects, report) beside the output: out.jsonl -> out.rejects.jsonl, out.report.json."""
    stem = _stem(output)
    return output.with_name(stem + ".rejects.jsonl"), output.with_name(stem + ".report.json")


def journal_path(output: Path) -> Path:
    """out.jsonl -> out.journal.jsonl: the resumable run state."""
    return output.with_name(_stem(output) + ".journal.jsonl")


def run_files(output: Path) -> dict[str, Path]:
    """Every file a run into `output` writes or removes, by what it is: an input must be none of them."""
    rejects, report = companion_paths(output)
    return {"output": output, "rejects file": rejects, "report": report,
            "report's temporary file": report.with_name(report.name + ".tmp"), "run journal": journal_path(output),
            "lock file": output.with_name(output.name + ".lock")}


def is_run_file(path: Path, output: Path) -> str | None:
    """What `path` is among the run's own files (the lock's temporary files included), or None."""
    for what, own in run_files(output).items():
        if same_file(path, own):
            return what
    lock = output.with_name(output.name + ".lock")
    if os.path.realpath(path.parent) == os.path.realpath(output.parent) and path.name.startswith(lock.name + ".") \
            and path.name.endswith(".tmp"):
        return "lock's temporary file"
    return None


def _stem(output: Path) -> str:
    name = output.name
    return name[: -len(".jsonl")] if name.endswith(".jsonl") else name


def same_file(a: Path, b: Path) -> bool:
    """True when two paths name one file, whether or not the second exists yet."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def write_json_atomic(path: Path, value: Any) -> None:
    """Write a whole JSON file so a reader never sees half of it."""
    import orjson

    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk must not leave a 0-byte or half temporary file behind
        raise
