"""The `_qaug` object on every output line: same fields, same types, whatever the method.

Hugging Face `datasets` loads JSONL through Arrow, which needs one type per column across
all lines, so nested values (params, info) are JSON strings and absent values are null.
"""

from __future__ import annotations

import re
from typing import Any

from qaug import jsonio

ORIGINAL = "original"
_EMPTY = "{}"


_VARIANT_LIKE = re.compile(r"/[A-Za-z_][\w-]*/\d+$")


def output_id(record_id: str) -> str:
    """A record's id as written in `_qaug.id`: unchanged, unless it looks like a variant id (ends in
    /method/N) or holds a '%'; then '%' and '/' are escaped. No original's id can then equal a variant's:
    input 'r1/flatten/0' is written 'r1%2Fflatten%2F0', while r1's first flatten variant is 'r1/flatten/0'."""
    if "%" not in record_id and not _VARIANT_LIKE.search(record_id):
        return record_id
    return record_id.replace("%", "%25").replace("/", "%2F")


def child_id(parent_id: str, method: str, index: int) -> str:
    """Stable child ids: a rerun with the same seed gives the same ids; `parent_id` is the record's own id."""
    return f"{output_id(parent_id)}/{method}/{index}"


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
