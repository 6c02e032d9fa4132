"""Parquet in and out (pyarrow, the optional `parquet` extra), streaming in row groups.

Trainers and HF `datasets` read Parquet natively; the `_qaug` object becomes a typed struct
(strings, int64 seed/index, float64 score, bool review), so a column of it filters without JSON
decoding. A run still writes JSON Lines (checkpoints, --resume and torn-line repair need them)
and, once finished, a `-o out.parquet` output is rewritten as Parquet through a temporary file:
one pass to unify the column types, one to write, ROW_GROUP rows at a time, so memory stays flat.
An original's exact bytes are not kept in Parquet (its values are).

A column Arrow cannot type (`"n": 1` in one record, `"n": "two"` in another; an integer beyond int64) is
written as JSON text, marked in its field's metadata, and read back as the values it held.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qaug import jsonio
from qaug.errors import UsageError
from qaug.readers import InputReject

ROW_GROUP = 10_000
#: field metadata of a column written as JSON text (one value per cell), decoded again when read
JSON_COLUMN = {b"qaug.encoding": b"json"}
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


def parquet_values(path: Path, source: str) -> Iterator[tuple[int, Any, str] | InputReject]:
    """(row number from 1, record, its JSON text) per row, a row group at a time; null top-level columns dropped.

    A Parquet file has one schema for all rows, so a file mixing formats holds nulls in the columns a
    row does not have; dropping them gives back the record as it was written.
    """
    _, pq = pyarrow_modules()
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise UsageError(f"cannot read {source} as Parquet: {exc}") from None
    encoded = {f.name for f in pf.schema_arrow if _is_json(f)}
    row = 0
    for batch in pf.iter_batches(batch_size=ROW_GROUP):
        for value in batch.to_pylist():
            row += 1
            try:
                value = {k: jsonio.loads(v) if k in encoded else _plain(v) for k, v in value.items() if v is not None}
            except ValueError as exc:
                yield InputReject(source, row, str(exc), json.dumps(value, ensure_ascii=False, default=repr)[:2000])
                continue
            yield row, value, json.dumps(value, ensure_ascii=False)  # the text as before: spaced, as the stdlib writes


def _plain(value: Any) -> Any:
    """A Parquet cell as a JSON value: a decimal as the number it writes, text bytes as text, dates and times
    in ISO form; ValueError for binary data, which JSON cannot hold."""
    import datetime
    import decimal

    t = type(value)
    if t is dict:
        return {k: _plain(v) for k, v in value.items()}
    if t is list:
        return [_plain(v) for v in value]
    if isinstance(value, decimal.Decimal):
        from qaug.augment.jsondoc import parse_number_text

        text = format(value, "f")
        number = parse_number_text(text)
        return number if number is not None else text
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("a binary cell that is not UTF-8 text: JSON cannot hold it") from None
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return value


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


def _table(pa: Any, rows: list[dict[str, Any]], schema: Any = None, as_json: frozenset[str] = frozenset()) -> Any:
    """One row group's table; every key of every row is a column (Table.from_pylist would take the first row's).
    Columns in `as_json` are JSON text; without a schema, a column Arrow cannot type becomes JSON text too."""
    names = [f.name for f in schema] if schema is not None else list(dict.fromkeys(k for r in rows for k in r))
    arrays, fields = [], []
    for name in names:
        if name == "_qaug":
            continue
        values = [r.get(name) for r in rows]
        field = schema.field(name) if schema is not None else None
        array = None
        if name not in as_json:
            try:
                array = pa.array(values, type=field.type if field is not None else None)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                array = None
        if array is None:
            array = pa.array([None if v is None else jsonio.dumps_str(v) for v in values], type=pa.string())
            field = pa.field(name, pa.string(), metadata=JSON_COLUMN)
        arrays.append(array)
        fields.append(field if field is not None else pa.field(name, array.type))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields)) if arrays else \
        pa.table({"_": [None] * len(rows)}).drop(["_"])
    if (schema is not None and "_qaug" in schema.names) or (schema is None and any("_qaug" in r for r in rows)):
        table = table.append_column(pa.field("_qaug", qaug_type()),
                                    pa.array([r.get("_qaug") for r in rows], type=qaug_type()))
    return table


def _unify(pa: Any, a: Any, b: Any) -> Any:
    """One schema for two row groups' schemas; a column whose types cannot be unified (an int column in one, a
    string column in the other), or that is JSON text in either, becomes JSON text."""
    fields = []
    for name in dict.fromkeys([*a.names, *b.names]):
        got = [s.field(name) for s in (a, b) if name in s.names]
        if not any(_is_json(f) for f in got):
            try:
                fields.append(pa.unify_schemas([pa.schema([f]) for f in got], promote_options="permissive")
                              .field(name))
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                pass
        fields.append(pa.field(name, pa.string(), metadata=JSON_COLUMN))
    return pa.schema(fields)


def _is_json(field: Any) -> bool:
    return bool(field.metadata) and field.metadata.get(b"qaug.encoding") == b"json"


def jsonl_to_parquet(path: Path) -> None:
    """Rewrite a finished JSON Lines file as Parquet in row groups, atomically; a second call does nothing."""
    pa, pq = pyarrow_modules()
    if is_parquet(path):
        return
    schema = None
    for rows in _rows(path):  # pass 1: one schema every row group fits (a key first seen late, ints beside floats)
        found = _table(pa, rows).schema
        schema = found if schema is None else _unify(pa, schema, found)
    tmp = path.with_name(path.name + ".parquet.tmp")
    try:
        if schema is None:
            pq.write_table(pa.table({}), tmp)
        else:
            with pq.ParquetWriter(tmp, schema) as writer:
                as_json = frozenset(f.name for f in schema if _is_json(f))
                for rows in _rows(path):  # pass 2: write, a row group at a time
                    writer.write_table(_table(pa, rows, schema, as_json).select(schema.names).cast(schema),
                                       row_group_size=ROW_GROUP)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
