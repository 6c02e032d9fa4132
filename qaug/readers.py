"""Readers that turn dataset files into Records or line-numbered rejects.

Readers are generators: one line in memory at a time (JSON array files excepted, which
are parsed whole). Nothing that comes in is dropped: a line that cannot become a Record
comes out as an InputReject with its line number, a reason and its raw text. A record
keeps the bytes it was read from where they are one line of JSON, so an original is
written exactly as read (its number text, spacing and escapes), not re-serialised.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union, cast

from qaug import faults, jsonio
from qaug.errors import UsageError
from qaug.jsonarray import element_spans
from qaug.records import FORMATS, Record, detect_format, validate

BOM = b"\xef\xbb\xbf"
PREVIEW_BYTES = 4096
MB = 1024 * 1024  # --max-line-mb counts in these, so a reject says "8 MB", as the option was given
DEFAULT_MAX_LINE_BYTES = 8 * MB


@dataclass(frozen=True, slots=True)
class InputReject:
    """An input line that is not a usable record; `raw` is its text (a preview when too large)."""

    source: str
    line: int | None
    reason: str
    raw: str
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class SourceRecord(Record):
    """A Record with the JSON text it was read from (one line, no `_qaug`), written as the original."""

    raw: bytes | None = None


Item = Union[Record, InputReject]


def input_kind(path: Path) -> str:
    """jsonl, json, csv or tsv, from the file name (a trailing .gz is looked through)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix, kind in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".csv", "csv"), (".tsv", "tsv"),
                         (".parquet", "parquet")):
        if name.endswith(suffix):
            return kind
    return "jsonl"


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when its name ends in .gz."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


class ByteCounter:
    """Bytes consumed from the file on disk, for progress and ETA (compressed bytes for .gz)."""

    def __init__(self, raw: IO[bytes], size: int = 0) -> None:
        self._raw = raw
        self._size = size

    def position(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):  # closed: the whole file was read
            return self._size


def read_items(path: Path, fmt: str | None = None, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
               counter: list[ByteCounter] | None = None, source: str | None = None) -> Iterator[Item]:
    """Records and rejects from one dataset file, in file order; `source` names the file in ids (default: its name)."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    kind = input_kind(path)
    source = source or path.name
    if kind == "parquet":  # row groups through pyarrow (qaug.parquet_io), not a byte stream
        from qaug.parquet_io import parquet_values

        yield from _to_items(parquet_values(path, source), source, fmt)
        return
    try:
        disk = open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    with disk:
        if counter is not None:
            counter.append(ByteCounter(disk, os.fstat(disk.fileno()).st_size))
        gz = path.name.lower().endswith(".gz")
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=disk, mode="rb")) if gz else disk
        try:
            if kind == "jsonl":
                values = _jsonl_values(stream, source, max_line_bytes)
            elif kind == "json":
                values = _json_array_values(stream, source, max_line_bytes)
            else:
                values = _csv_values(stream, source, "\t" if kind == "tsv" else ",", max_line_bytes)
            yield from _to_items(values, source, fmt)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            yield InputReject(source, None, f"file could not be read to the end: {exc}", "")


def _to_items(values: Iterator[tuple[int, Any, str | bytes] | InputReject], source: str,
              fmt: str | None) -> Iterator[Item]:
    file_fmt = fmt
    seen_any = False
    for entry in values:
        seen_any = True
        if faults.ACTIVE:
            faults.point("read")
        if isinstance(entry, InputReject):
            yield entry
            continue
        line, value, raw = entry
        if fmt is None:  # detected per record: a file may mix formats (alpaca lines among text lines)
            file_fmt = detect_format(value)
            if file_fmt is None:
                yield InputReject(source, line, _unknown_shape(value), _as_text(raw))
                continue
        assert file_fmt is not None  # `fmt`, or the format just detected
        reason = validate(value, file_fmt)
        if reason is not None:
            yield InputReject(source, line, reason, _as_text(raw))
            continue
        rid = None
        if "_qaug" in value:  # qaug's own output read back: variants share their parent's `id`, not `_qaug.id`
            prov = value["_qaug"]
            if isinstance(prov, dict) and isinstance(prov.get("id"), str) and prov["id"]:
                rid = prov["id"]
            value = {k: v for k, v in value.items() if k != "_qaug"}
            raw = ""
        # the text it was read from, where that is one line holding one object
        keep = raw if type(raw) is bytes and raw[:1] == b"{" and raw[-1:] == b"}" and b"\r" not in raw \
            and b"\n" not in raw else None
        if keep is not None and keep[-2:-1] in (b" ", b"\t"):
            keep = keep[:-1].rstrip(b" \t") + b"}"  # `_qaug` goes right after the last member
        yield SourceRecord(id=rid or _record_id(value, source, line), data=value, fmt=file_fmt, source=source,
                           line=line, raw=keep)
    if not seen_any:
        yield InputReject(source, None, "file is empty", "")


def parse_error(body: bytes, exc: jsonio.JSONLineError) -> str:
    """The reject reason for a line or element that did not parse: invalid UTF-8, invalid JSON, or why a valid
    value cannot be kept as written (duplicate key, inexact number)."""
    if isinstance(exc, jsonio.InexactError):
        return str(exc)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as ude:
        return f"invalid UTF-8 at byte {ude.start}"
    return f"invalid JSON: {exc}"


def _unknown_shape(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:6]) or "no keys"
        return f"unknown record shape (keys: {keys}); expected alpaca, sharegpt, messages, completion or text"
    return validate(value, "text") or "unknown record shape"


def _record_id(value: dict[str, Any], source: str, line: int) -> str:
    rid = value.get("id")
    if isinstance(rid, str) and rid.strip():
        return rid
    if isinstance(rid, int) and not isinstance(rid, bool):
        return str(rid)
    return f"{source}:{line}"


def _jsonl_values(stream: IO[bytes], source: str,
                  max_line_bytes: int) -> Iterator[tuple[int, Any, str | bytes] | InputReject]:
    lineno = 0
    readline = stream.readline
    while True:
        line = readline(max_line_bytes + 1)
        if not line:
            return
        lineno += 1
        if lineno == 1 and line.startswith(BOM):
            line = line[len(BOM):]
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            size = len(line)
            while True:  # skip the rest of the oversize line without holding it
                chunk = readline(1 << 20)
                size += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield InputReject(source, lineno,
                              f"line is {size / MB:.1f} MB, over the {max_line_bytes / MB:g} MB limit (--max-line-mb)",
                              _text(line[:PREVIEW_BYTES]), truncated=True)
            continue
        body = line.rstrip(b"\r\n")
        if not body.strip():
            yield InputReject(source, lineno, "blank line", _text(body))
            continue
        try:
            value = jsonio.loads_exact(body)
        except jsonio.JSONLineError as exc:
            yield InputReject(source, lineno, parse_error(body, exc), _text(body))
            continue
        yield lineno, value, body  # decoded only if the record is rejected


def _as_text(raw: str | bytes) -> str:
    return _text(raw) if isinstance(raw, bytes) else raw


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _json_array_values(stream: IO[bytes], source: str, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
                       ) -> Iterator[tuple[int, Any, str | bytes] | InputReject]:
    """The array's elements: parsed whole when the file is clean, else element by element, so that a poison
    element (invalid UTF-8, a 5000-digit integer, deep nesting, a duplicate key) is one reject, not the file."""
    data = stream.read()
    if data.startswith(BOM):
        data = data[len(BOM):]
    if not data.strip():
        return
    try:
        value = jsonio.loads_exact(data)
    except jsonio.JSONLineError as exc:
        if data.lstrip()[:1] == b"{":  # JSON Lines named .json (Hugging Face's to_json writes them so): line by line
            yield from _jsonl_values(io.BytesIO(data), source, max_line_bytes)
            return
        yield from _json_elements(data, source, str(exc), max_line_bytes)
        return
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        yield InputReject(source, None, "JSON file holds neither an array of records nor one record",
                          _text(data[:PREVIEW_BYTES]))
        return
    for i, item in enumerate(value, start=1):
        yield i, item, jsonio.dumps_str(item)


def _json_elements(data: bytes, source: str, error: str,
                   max_line_bytes: int) -> Iterator[tuple[int, Any, str | bytes] | InputReject]:
    spans, problem = element_spans(data)
    if not spans:
        yield InputReject(source, None, f"invalid JSON file: {error}", _text(data[:PREVIEW_BYTES]),
                          truncated=len(data) > PREVIEW_BYTES)
        return
    for index, (start, end) in enumerate(spans, start=1):
        body = data[start:end].strip(b" \t\r\n")
        if not body:
            yield InputReject(source, index, "invalid JSON: an empty element in the array", "")
            continue
        try:
            value = jsonio.loads_exact(body)
        except jsonio.JSONLineError as exc:
            cut = len(body) > max_line_bytes
            yield InputReject(source, index, parse_error(body, exc), _text(body[:PREVIEW_BYTES] if cut else body),
                              truncated=cut)
            continue
        yield index, value, body
    if problem is not None:
        tail = data[spans[-1][1]:]
        yield InputReject(source, None, f"invalid JSON file: {problem}, after element {len(spans)}",
                          _text(tail[:PREVIEW_BYTES]), truncated=len(tail) > PREVIEW_BYTES)


def _csv_values(stream: IO[bytes], source: str, delimiter: str,
                max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[tuple[int, Any, str | bytes] | InputReject]:
    """Rows as dicts; every reject keeps the row's own text (truncated past --max-line-mb, and marked so)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    consumed: list[str] = []  # the physical lines of the row being read: its raw text, as written

    def lines() -> Iterator[str]:
        for line in text:
            consumed.append(line)
            yield line

    def raw_row() -> tuple[str, bool]:
        raw = "".join(consumed).rstrip("\r\n")
        consumed.clear()
        raw = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return (raw[:PREVIEW_BYTES], True) if len(raw) > max_line_bytes else (raw, False)

    csv.field_size_limit(max(max_line_bytes, 131072))
    reader = csv.reader(lines(), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raw, cut = raw_row()
        yield InputReject(source, 1, f"unreadable CSV header: {exc}", raw, truncated=cut)
        return
    consumed.clear()
    if len(set(header)) != len(header):
        yield InputReject(source, 1, "CSV header repeats a column name", delimiter.join(header))
        return
    start = reader.line_num + 1
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            if not rows:
                yield InputReject(source, 1, "the CSV has a header and no rows", delimiter.join(header))
            return
        except csv.Error as exc:
            raw, cut = raw_row()
            yield InputReject(source, start, f"unreadable CSV row: {exc}", raw, truncated=cut)
            start = reader.line_num + 1
            rows += 1
            continue
        rows += 1
        line, start = start, reader.line_num + 1
        raw, cut = raw_row()
        if any(_has_surrogates(cell) for cell in row):
            yield InputReject(source, line, "invalid UTF-8", raw, truncated=cut)
            continue
        if not row or all(not cell.strip() for cell in row):
            yield InputReject(source, line, "blank line", raw, truncated=cut)
            continue
        if len(row) != len(header):
            yield InputReject(source, line, f"row has {len(row)} fields, the header has {len(header)}", raw,
                              truncated=cut)
            continue
        yield line, dict(zip(header, row)), raw


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
