"""Parquet in and out (pyarrow, the optional `parquet` extra), streaming in row groups.

Trainers and HF `datasets` read Parquet natively; the `_qaug` object becomes a typed struct
(strings, int64 seed/index, float64 score, bool review), so a column of it filters without JSON
decoding. A run still writes JSON Lines (checkpoints, --resume and torn-line repair need them)
and, once finished, a `-o out.parquet` output is rewritten as Parquet through a temporary file:
one pass to unify the column types, one to write, ROW_GROUP rows at a time, so memory stays flat.
An original's exact bytes are not kept in Parquet (its values are).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qaug import jsonio
from qaug.errors import UsageError

ROW_GROUP = 10_000
MAGIC = b"PAR1"
QAUG_FIELDS = (("id", "string"), ("parent", "string"), ("method", "string"), ("version", "string"),
               ("seed", "int64"), ("index", "int64"), ("params", "string"), ("source", "string"),
               ("model", "string"), ("info", "string"), ("score", "float64"), ("review", "bool_"))


def pyarrow_modules() -> tuple[Any, Any]:
    """(pyarrow, pyarrow.parquet), or a one-line usage error naming the extra to install."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError("Parquet needs pyarrow: pip install 'qaug[parquet]'") from None
    return pa, pq


def qaug_type() -> Any:
    """The `_qaug` struct type: the same fields and types on every row."""
    pa, _ = pyarrow_modules()
    return pa.struct([pa.field(name, getattr(pa, kind)()) for name, kind in QAUG_FIELDS])


def is_parquet(path: Path) -> bool:
    """True when the file already is Parquet (the conversion ran), so a rerun does not convert twice."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


def parquet_values(path: Path, source: str) -> Iterator[tuple[int, Any, str]]:
    """(row number from 1, record, its JSON text) per row, a row group at a time; null top-level columns dropped.

    A Parquet file has one schema for all rows, so a file mixing formats holds nulls in the columns a
    row does not have; dropping them gives back the record as it was written.
    """
    _, pq = pyarrow_modules()
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise UsageError(f"cannot read {source} as Parquet: {exc}") from None
    row = 0
    for batch in pf.iter_batches(batch_size=ROW_GROUP):
        for value in batch.to_pylist():
            row += 1
            value = {k: v for k, v in value.items() if v is not None}
            yield row, value, json.dumps(value, ensure_ascii=False, default=str)


def _rows(path: Path) -> Iterator[list[dict[str, Any]]]:
    """The JSON Lines output, ROW_GROUP records at a time."""
    batch: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                batch.append(jsonio.loads(line))
                if len(batch) >= ROW_GROUP:
                    yield batch
                    batch = []
    if batch:
        yield batch


def _table(pa: Any, rows: list[dict[str, Any]], schema: Any = None) -> Any:
    """One row group's table; every key of every row is a column (Table.from_pylist would take the first row's)."""
    names = [f.name for f in schema] if schema is not None else list(dict.fromkeys(k for r in rows for k in r))
    columns = {k: [r.get(k) for r in rows] for k in names if k != "_qaug"}
    if schema is None:
        table = pa.table(columns) if columns else pa.table({"_": [None] * len(rows)}).drop(["_"])
    else:
        table = pa.table(columns, schema=pa.schema([f for f in schema if f.name != "_qaug"]))
    if (schema is not None and "_qaug" in schema.names) or (schema is None and any("_qaug" in r for r in rows)):
        table = table.append_column(pa.field("_qaug", qaug_type()),
                                    pa.array([r.get("_qaug") for r in rows], type=qaug_type()))
    return table


def jsonl_to_parquet(path: Path) -> None:
    """Rewrite a finished JSON Lines file as Parquet in row groups, atomically; a second call does nothing."""
    pa, pq = pyarrow_modules()
    if is_parquet(path):
        return
    schema = None
    for rows in _rows(path):  # pass 1: one schema every row group fits (a key first seen late, ints beside floats)
        found = _table(pa, rows).schema
        schema = found if schema is None else pa.unify_schemas([schema, found], promote_options="permissive")
    tmp = path.with_name(path.name + ".parquet.tmp")
    try:
        if schema is None:
            pq.write_table(pa.table({}), tmp)
        else:
            with pq.ParquetWriter(tmp, schema) as writer:
                for rows in _rows(path):  # pass 2: write, a row group at a time
                    writer.write_table(_table(pa, rows, schema).select(schema.names).cast(schema),
                                       row_group_size=ROW_GROUP)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
