"""Input arguments as a user gives them: files, folders and globs, expanded in sorted order.

A folder reads the dataset files in it (not its subfolders, nor qaug's own files: an earlier run's output,
rejects, report...); a glob the files it matches, less those. Sorted, so the same command reads the same
files in the same order anywhere.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from qaug.errors import UsageError

#: the suffixes a folder's files are read by (a .gz of each too)
DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet")
#: qaug's own files in a folder that holds an earlier run: never read as data
_OWN = (".rejects.jsonl", ".report.json", ".journal.jsonl", ".capped.jsonl", ".review.jsonl")


def _plain_name(path: Path) -> str:
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def _is_data(path: Path) -> bool:
    name = _plain_name(path)
    return name.endswith(DATA_SUFFIXES) and not name.endswith(_OWN) and not name.startswith(".")


def is_qaug_output(path: Path) -> bool:
    """A file qaug wrote as a run's output: its first line (or a JSON array's first element) carries `_qaug`."""
    if _plain_name(path).endswith((".gz", ".parquet")):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    first = head.lstrip(b"[ \t\r\n").split(b"\n", 1)[0]
    return first.startswith(b"{") and b'"_qaug":' in first


def expand_inputs(args: Sequence[Path], output: Path | None = None, skipped: list[Path] | None = None) -> list[Path]:
    """Files for the run's input arguments: a folder or glob becomes its files, sorted, less the files of
    this run and of earlier ones (outputs, rejects, reports...: an output found so is added to `skipped`);
    a file named as such is read as given."""
    from qaug.writers import is_run_file

    def ours(p: Path) -> bool:
        if output is not None and is_run_file(p, output) is not None:
            return True
        if is_qaug_output(p):
            if skipped is not None:
                skipped.append(p)
            return True
        return False

    out: list[Path] = []
    for arg in args:
        text = str(arg)
        if arg.is_dir():
            before = len(skipped) if skipped is not None else 0
            files = sorted(p for p in arg.iterdir() if p.is_file() and _is_data(p) and not ours(p))
            if not files and skipped is not None and len(skipped) > before:
                raise UsageError(f"input folder {arg} holds only earlier runs' outputs ({skipped[before].name}...), "
                                 "whose lines carry _qaug; name a file to read it")
            if not files:
                raise UsageError(f"input folder {arg} has no .jsonl, .json, .csv, .tsv or .parquet files")
            out += files
        elif not arg.exists() and glob.has_magic(text):
            files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file() and not ours(Path(p))
                           and not _plain_name(Path(p)).endswith(_OWN))
            if not files:
                raise UsageError(f"no file matches {text}")
            out += files
        else:
            out.append(arg)
    return out
