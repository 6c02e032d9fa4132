"""Human review of a run's output in a local browser page, and applying the decisions to a final file."""

from __future__ import annotations

from pathlib import Path

from qaug.errors import UsageError


def check_output(path: Path) -> None:
    """One-line usage errors for a file that cannot be reviewed (exit 2)."""
    if not path.exists():
        raise UsageError(f"{path}: no such file (give the out.jsonl of a qaug run)")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    from qaug.review.index import is_framing, qaug_of

    with open(path, "rb") as fh:
        first = fh.readline()
        if first.strip() == b"[":  # an -o out.json array: its first record is on the next line
            first = fh.readline()
    if not is_framing(first):

        try:
            qaug_of(first)
        except ValueError:
            raise UsageError(f"{path}: not a qaug output (its first line has no _qaug object)") from None
