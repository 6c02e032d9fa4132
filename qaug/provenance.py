"""The `_qaug` object on every output line: same fields, same types, whatever the method.

Hugging Face `datasets` loads JSONL through Arrow, which needs one type per column across
all lines, so nested values (params, info) are JSON strings and absent values are null.
"""

from __future__ import annotations

from typing import Any

from qaug import jsonio

ORIGINAL = "original"
_EMPTY = "{}"


def child_id(parent_id: str, method: str, index: int) -> str:
    """Stable child ids: a rerun with the same seed gives the same ids."""
    return f"{parent_id}/{method}/{index}"


def provenance(*, id: str, parent: str | None, method: str, seed: int, index: int = 0,
               params: str = _EMPTY, version: str = "1", source: str, model: str | None = None,
               info: dict[str, Any] | None = None, score: float | None = None, review: bool = False) -> dict[str, Any]:
    """Build `_qaug`; keep this the only place that decides its fields."""
    return {
        "id": id,
        "parent": parent,
        "method": method,
        "version": version,
        "seed": seed,
        "index": index,
        "params": params,
        "source": source,
        "model": model,
        "info": jsonio.dumps_str(info) if info else _EMPTY,
        "score": float(score) if score is not None else None,
        "review": review,
    }


def output_line(serialized_data: bytes, prov: dict[str, Any]) -> bytes:
    """The record's own serialisation with `_qaug` appended, so the record is encoded once."""
    tail = b'"_qaug":' + jsonio.dumps(prov) + b"}\n"
    if serialized_data == b"{}":
        return b"{" + tail
    return serialized_data[:-1] + b"," + tail
