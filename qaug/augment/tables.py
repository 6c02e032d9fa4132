"""Tables inside answers: Markdown, a JSON array of flat records, and CSV, each into the others.

A model that only ever saw one table layout writes only that one. Conversions here keep
every value: Markdown cells get their pipes escaped, CSV goes through the csv module, and
JSON numbers/booleans come back typed only where a whole column reads unambiguously.
A table whose values would not survive a conversion is not converted.
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qaug.augment.base import Augmenter, Outcome, Param, Skip, Variant
from qaug.augment.registry import register
from qaug.augment.fences import fenced_spans
from qaug.augment.jsondoc import dumps_doc, fenced_blocks, find_documents, number_text, parse_number_text
from qaug.records import ANSWER_FIELDS, FieldPath, Record, iter_texts, with_texts
from qaug.rng import Rng

__all__ = ["KINDS", "Table", "TableConvert", "cells_to_records", "convert_tables", "find_tables",
           "records_to_cells", "render_table"]

KINDS = ("markdown", "json", "csv")
_SEP_ROW = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
_PIPE = re.compile(r"(?<!\\)\|")
_CSV_INFO = re.compile(r"[ \t]*(?:csv|CSV|Csv)[ \t]*")
_TICK_RUN = re.compile(r"`+")
_SCALARS = (str, int, float, bool, type(None))

Cells = tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A table at text[start:end] (fences included): its header and rows as cell texts."""

    start: int
    end: int
    kind: str
    header: tuple[str, ...]
    rows: Cells
    records: list[dict[str, Any]] | None = None  # the parsed values, for a JSON source


def _cell_text(value: Any) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if type(value) is bool:
        return "true" if value else "false"
    return number_text(value)


def records_to_cells(records: Any) -> tuple[tuple[str, ...], Cells] | None:
    """(header, rows) for a non-empty list of flat objects sharing one key set, else None."""
    if type(records) is not list or not records or type(records[0]) is not dict or not records[0]:
        return None
    header = tuple(records[0])
    keys = set(header)
    rows = []
    for rec in records:
        if type(rec) is not dict or len(rec) != len(keys) or rec.keys() != keys:
            return None
        if not all(type(v) in _SCALARS for v in rec.values()):
            return None
        rows.append(tuple(_cell_text(rec[k]) for k in header))
    return header, tuple(rows)


def cells_to_records(header: tuple[str, ...], rows: Cells) -> list[dict[str, Any]] | None:
    """Typed records: a column becomes numbers (or booleans) only when every non-empty cell
    reads back exactly as one; its empty cells become null. None if keys repeat."""
    if len(set(header)) != len(header):
        return None
    columns: list[list[Any]] = []
    for c in range(len(header)):
        cells = [row[c] for row in rows]
        filled = [x for x in cells if x]
        if filled and all(x in ("true", "false") for x in filled):
            columns.append([None if not x else x == "true" for x in cells])
            continue
        numbers = [parse_number_text(x) for x in filled]
        if filled and all(n is not None for n in numbers):
            it = iter(numbers)
            columns.append([next(it) if x else None for x in cells])
        else:
            columns.append(cells)
    return [{h: columns[c][r] for c, h in enumerate(header)} for r in range(len(rows))]


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type (1, 1.0 and True are not the same cell)."""
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _split_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip().replace("\\|", "|") for c in _PIPE.split(s)]


def _markdown_tables(text: str) -> list[Table]:
    """Markdown tables outside fenced code (a table shown inside a code block is code, not a table)."""
    if "|" not in text or "-" not in text:
        return []
    lines = text.split("\n")
    starts = []
    pos = 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    fenced = [False] * len(lines)
    for a, b in fenced_spans(text):
        for k in range(bisect.bisect_left(starts, a), bisect.bisect_right(starts, b)):
            fenced[k] = True
    out = []
    i = 0
    while i < len(lines) - 1:
        line = lines[i]
        if fenced[i] or "|" not in line or "|" not in lines[i + 1] or not _SEP_ROW.fullmatch(lines[i + 1]):
            i += 1
            continue
        header = _split_row(line)
        if len(_split_row(lines[i + 1])) != len(header):
            i += 1
            continue
        j = i + 2
        while j < len(lines) and "|" in lines[j] and lines[j].strip():
            j += 1
        rows = [_split_row(x) for x in lines[i + 2 : j]]
        if rows and all(len(r) == len(header) for r in rows):
            end = starts[j - 1] + len(lines[j - 1].rstrip("\r"))
            out.append(Table(starts[i], end, "markdown", tuple(header), tuple(tuple(r) for r in rows)))
        i = j
    return out


def _csv_tables(text: str) -> list[Table]:
    out = []
    for block in fenced_blocks(text, _CSV_INFO):
        try:
            rows = [r for r in csv.reader(io.StringIO(text[block.body_start:block.body_end], newline="")) if r]
        except csv.Error:
            continue
        if len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows):
            out.append(Table(block.start, block.end, "csv", tuple(rows[0]), tuple(tuple(r) for r in rows[1:])))
    return out


def find_tables(text: str) -> list[Table]:
    """Every convertible table in `text`, in order: JSON documents that are arrays of flat
    records (whole text or fenced), Markdown tables outside code fences, ```csv blocks."""
    out = []
    docs = find_documents(text)
    for span in docs:
        cells = records_to_cells(span.value)
        if cells is not None:
            out.append(Table(span.outer_start, span.outer_end, "json", cells[0], cells[1], span.value))
    if docs and docs[0].fence is None:
        return out  # the whole text is one JSON document
    if "```" in text:
        out.extend(_csv_tables(text))
    out.extend(_markdown_tables(text))
    out.sort(key=lambda t: t.start)
    return out


def _md_escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def render_table(header: tuple[str, ...], rows: Cells, kind: str) -> str | None:
    """The table as `kind` text (JSON and CSV in fences), or None when its values would not survive."""
    if kind == "markdown":
        for row in (header, *rows):
            for cell in row:
                if "\n" in cell or "\r" in cell or cell != cell.strip():
                    return None
        lines = ["| " + " | ".join(map(_md_escape, header)) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
        lines.extend("| " + " | ".join(map(_md_escape, row)) + " |" for row in rows)
        return "\n".join(lines)
    if kind == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        body = buf.getvalue()
        fence = _fence_for(body)
        return f"{fence}csv\n{body}{fence}"
    records = cells_to_records(header, rows)
    if records is None:
        return None
    return "```json\n" + dumps_doc(records, indent=2) + "\n```"  # no JSON line can be a run of backticks alone


def _fence_for(body: str) -> str:
    """Backticks enough that no run in the body can close the block early (a cell may hold a ``` line)."""
    longest = max((len(m) for m in _TICK_RUN.findall(body)), default=0)
    return "`" * max(3, longest + 1)


def _survives(table: Table) -> bool:
    """A JSON source must come back typed exactly as it was from the cell texts."""
    if table.records is None:
        return True
    back = cells_to_records(table.header, table.rows)
    return back is not None and _same(back, table.records)


def convert_tables(text: str, to: str, rng: Rng) -> tuple[str, list[dict[str, Any]], str | None]:
    """(new text, one info per converted table, why nothing was converted or None)."""
    tables = find_tables(text)
    if not tables:
        return text, [], None
    done: list[dict[str, Any]] = []
    parts: list[str] = []
    pos = 0
    reason = None
    for table in tables:
        if table.start < pos:
            continue  # overlaps one already converted
        if to == "any":
            targets = [k for k in KINDS if k != table.kind]
            if rng.next64() & 1:
                targets.reverse()
        else:
            targets = [to] if to != table.kind else []
        if not targets:
            reason = reason or "table is already in the target layout"
            continue
        if not _survives(table):
            reason = reason or "table values would not survive the conversion"
            continue
        for kind in targets:
            new = render_table(table.header, table.rows, kind)
            if new is not None:
                break
        else:
            reason = reason or "table values would not survive the conversion"
            continue
        parts.append(text[pos : table.start])
        parts.append(new)
        pos = table.end
        done.append({"from": table.kind, "to": kind, "rows": len(table.rows)})
    if not done:
        return text, [], reason
    parts.append(text[pos:])
    return "".join(parts), done, None


@register
class TableConvert(Augmenter):
    name = "table_convert"
    description = "Convert tables in answers between Markdown, a JSON array of records and CSV, values kept."
    PARAMS = (Param("to", str, "any", "target layout; any = one of the others, chosen at random",
                    choices=("any", "markdown", "json", "csv")),)

    def fields_for(self, record: Record) -> tuple[str, ...] | None:
        """The answer texts by default: tables are what a model writes, not what it is asked."""
        if self.fields is not None:
            return self.fields
        return ANSWER_FIELDS.get(record.fmt)

    def augment(self, record: Record, rng: Rng) -> Iterator[Outcome]:
        if self.target == "record":
            yield Skip("table_convert does not apply to target=record")
            return
        changes: dict[FieldPath, str] = {}
        infos: list[dict[str, Any]] = []
        reason = None
        for path, text in iter_texts(record.data, record.fmt, self.fields_for(record)):
            new, done, why = convert_tables(text, self.to, rng)
            reason = reason or why
            if done:
                changes[path] = new
                infos.extend({"text": ".".join(map(str, path)), **d} for d in done)
        if not changes:
            yield Skip(reason or "no table in the selected texts")
            return
        yield Variant(with_texts(record.data, changes), {"tables": infos})
