"""The output's format follows its suffix: `-o out.json` is a JSON array, as qaug reads a .json input.

A run writes JSON Lines (so it can checkpoint, resume and repair a torn line); once it has finished,
a .json output is rewritten as an array, streaming, through a temporary file, so a reader never sees
half of it. CSV cannot carry each line's `_qaug` object, so a .csv or .tsv output is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from qaug.errors import UsageError


def check_output_suffix(output: Path) -> None:
    """Refuse an output name whose format qaug cannot write, naming what it can."""
    name = output.name.lower()
    if name.endswith((".csv", ".tsv")):
        raise UsageError(f"-o {output.name}: qaug writes JSON Lines (.jsonl) or a JSON array (.json); CSV has no "
                         "place for the _qaug provenance of each line, so convert the .jsonl afterwards")
    if name.endswith(".parquet"):  # refused before any work when pyarrow is missing, not after the run
        from qaug.parquet_io import pyarrow_modules

        pyarrow_modules()


def array_element(line: bytes) -> bytes:
    """A line of a run's output as one JSON value: without its newline and, in an `-o out.json` array, the comma
    after its element (a JSON Lines line keeps its bytes: a split writes lines as they are)."""
    line = line.rstrip(b"\r\n")
    return line.rstrip(b" \t,") if line.endswith(b",") else line


def is_bracket(line: bytes) -> bool:
    """The opening or closing line of an `-o out.json` array."""
    return line.strip() in (b"[", b"]")


def wants_array(output: Path) -> bool:
    return output.name.lower().endswith(".json")


def is_array(path: Path) -> bool:
    """True when the file already holds an array (the conversion ran), so a rerun does not convert twice."""
    with open(path, "rb") as fh:
        return fh.read(1) == b"["


def jsonl_to_array(path: Path) -> None:
    """Rewrite a finished JSON Lines file as a JSON array, one element a line, atomically."""
    if is_array(path):
        return
    tmp = path.with_name(path.name + ".array.tmp")
    try:
        with open(path, "rb") as src, open(tmp, "wb", buffering=1 << 20) as dst:
            dst.write(b"[")
            first = True
            for line in src:
                line = line.rstrip(b"\r\n")
                if not line:
                    continue
                dst.write(b"\n" if first else b",\n")
                dst.write(line)
                first = False
            dst.write(b"\n]\n")
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
