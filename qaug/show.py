"""`qaug show`: an original with its variants and their rejected siblings, each as a diff against the
original, with the provenance decoded (params and info are JSON strings in `_qaug`).

The diff is by character for Chinese, Japanese and Korean (a CJK sentence has no spaces to split words
at) and by word elsewhere, so `请写` -> `请创作` marks two characters, not the whole sentence.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qaug.errors import UsageError
from qaug.writers import companion_paths

_TOKEN = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\uac00-\ud7af]"
                    r"|[^\W\d_]+|\d+|\s+|.", re.S)

#: how a diff marks what was removed and added: plain brackets, or ANSI colours on a terminal
PLAIN = ("[-", "-]", "{+", "+}")
ANSI = ("\x1b[31;9m", "\x1b[0m", "\x1b[32m", "\x1b[0m")


@dataclass
class Group:
    """One original line of the output, the variants written after it, and the rejects naming it as parent."""

    original: dict[str, Any]
    variants: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)


def tokens(text: str) -> list[str]:
    """CJK characters one by one, words, numbers, runs of space, and any other character alone (they join
    back to the text exactly)."""
    return _TOKEN.findall(text)


def diff_text(old: str, new: str, marks: tuple[str, str, str, str] = PLAIN) -> str:
    """`new` with what it removed from `old` and what it added marked."""
    a, b = tokens(old), tokens(new)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append("".join(a[i1:i2]))
            continue
        if op in ("replace", "delete"):
            out.append(marks[0] + "".join(a[i1:i2]) + marks[1])
        if op in ("replace", "insert"):
            out.append(marks[2] + "".join(b[j1:j2]) + marks[3])
    return "".join(out)


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every leaf of a record, `_qaug` left out: what a diff compares."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not path and k == "_qaug":
                continue
            yield from leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The output's lines: JSON Lines, or the array of `-o out.json`."""
    with open(path, "rb") as fh:
        first = fh.read(1)
        fh.seek(0)
        if first == b"[":
            yield from json.load(fh)
            return
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    raise UsageError(f"{path}:{n} is not a line qaug wrote (not JSON)") from None


def groups(output: Path, record_id: str | None = None, method: str | None = None, most: int = 10) -> list[Group]:
    """The originals (the one with `record_id`, or the first `most` with something to show) with their variants
    of `method` (every method without one) and rejected candidates from the rejects file beside the output."""
    if not output.exists():
        raise UsageError(f"{output} not found")
    if output.is_dir():
        raise UsageError(f"{output} is a folder: qaug show reads a run's output file")
    if output.name.lower().endswith(".parquet"):
        raise UsageError(f"{output} is Parquet: qaug show reads a run's JSON Lines or .json output")
    if method is not None:
        from qaug.augment.base import did_you_mean
        from qaug.augment.catalog import registry

        if method not in registry():
            raise UsageError(f"unknown method {method!r}{did_you_mean(method, list(registry()))} (see `qaug methods`)")
    rejected = _reject_parents(output, method) if record_id is None else set()
    found: list[Group] = []
    current: Group | None = None

    def shown(g: Group) -> bool:  # an original with a variant, or with a rejected candidate, of the method
        return record_id is not None or bool(g.variants) or g.original["_qaug"]["id"] in rejected

    for row in _read_lines(output):
        q = row.get("_qaug") if isinstance(row, dict) else None
        if not isinstance(q, dict):
            raise UsageError(f"{output} has a line without _qaug: is it a qaug output?")
        if q.get("parent") is None:
            if current is not None and shown(current):
                found.append(current)
            if len(found) >= (1 if record_id is not None else most):
                current = None
                break
            current = Group(row) if record_id is None or q.get("id") == record_id else None
        elif current is not None and q.get("parent") == current.original["_qaug"]["id"]:
            if method is None or q.get("method") == method:
                current.variants.append(row)
    if current is not None and shown(current) and len(found) < (1 if record_id else most):
        found.append(current)
    if record_id is not None and not found:
        raise UsageError(f"no original with id {record_id!r} in {output} (ids are _qaug.id, e.g. in.jsonl:3)")
    _attach_rejects(output, found, method)
    return found


def _reject_parents(output: Path, method: str | None) -> set[str]:
    """The originals (by id) with a rejected candidate of `method` (any without one) in the rejects file."""
    rejects = companion_paths(output)[0]
    if not rejects.exists():
        return set()
    return {str(row.get("parent")) for row in _read_lines(rejects)
            if row.get("parent") is not None and (method is None or row.get("method") == method)}


def _attach_rejects(output: Path, found: list[Group], method: str | None) -> None:
    rejects = companion_paths(output)[0]
    if not found or not rejects.exists():
        return
    by_id = {g.original["_qaug"]["id"]: g for g in found}
    for row in _read_lines(rejects):
        g = by_id.get(row.get("parent"))
        if g is not None and (method is None or row.get("method") == method):
            g.rejects.append(row)


def _decode(value: Any) -> Any:
    """A JSON string of `_qaug` (params, info) as the object it holds."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def provenance_line(q: dict[str, Any]) -> str:
    """`_qaug` for a person: method, version, index, seed, model, score and review, params and info decoded."""
    parts = [f"{q.get('method')} v{q.get('version')} #{q.get('index')}", f"seed {q.get('seed')}"]
    if q.get("model"):
        parts.append(f"model {q['model']}")
    if q.get("score") is not None:
        parts.append(f"score {q['score']:g}")
    if q.get("review"):
        parts.append("marked for review")
    params, info = _decode(q.get("params")), _decode(q.get("info"))
    if params:
        parts.append("params " + json.dumps(params, ensure_ascii=False))
    if info:
        parts.append("info " + json.dumps(info, ensure_ascii=False))
    return " · ".join(parts)


def _changes(original: dict[str, Any], other: dict[str, Any], marks: tuple[str, str, str, str]) -> list[str]:
    """One line per leaf that differs: a text diff for strings, old -> new otherwise; keys added and removed."""
    a, b = dict(leaves(original)), dict(leaves(other))
    out = []
    for path in list(a) + [p for p in b if p not in a]:
        if path not in b:
            out.append(f"  {path}: {marks[0]}{_short(a[path])}{marks[1]} (removed)")
        elif path not in a:
            out.append(f"  {path}: {marks[2]}{_short(b[path])}{marks[3]} (added)")
        elif a[path] != b[path] or type(a[path]) is not type(b[path]):
            if isinstance(a[path], str) and isinstance(b[path], str):
                out.append(f"  {path}: {diff_text(a[path], b[path], marks)}")
            else:
                out.append(f"  {path}: {_short(a[path])} -> {_short(b[path])}")
    if not out and list(a) != list(b):
        out.append("  (same values, keys in another order)")
    return out or ["  (no difference in values)"]


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:199] + "…"


def render(group: Group, color: bool = False) -> list[str]:
    """The lines `qaug show` prints for one original."""
    marks = ANSI if color else PLAIN
    q = group.original["_qaug"]
    out = [f"== {q['id']} (from {q.get('source')})"]
    for path, value in leaves(group.original):
        out.append(f"  {path}: {_short(value) if not isinstance(value, str) else value}")
    for v in group.variants:
        vq = v["_qaug"]
        out.append(f"-- {vq['id']}: {provenance_line(vq)}")
        out += _changes(group.original, v, marks)
    for r in group.rejects:
        out.append(f"xx rejected {r.get('method')} ({r.get('stage')}: {r.get('code')}): {r.get('reason')}")
        raw = r.get("raw")
        try:
            candidate = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            candidate = None
        if isinstance(candidate, dict):
            out += _changes(group.original, candidate, marks)
        elif raw and r.get("stage") != "model":  # a model's raw answer (cut off, not JSON) is shown as it is
            path, source = _closest_text(group.original, raw)
            if source is not None:
                out.append(f"  {path}: {diff_text(source, raw, marks)}")
            else:
                out.append(f"  candidate: {raw if len(raw) <= 400 else raw[:399] + '…'}")
        elif raw:
            out.append(f"  answer: {raw if len(raw) <= 400 else raw[:399] + '…'}")
    return out


def _closest_text(record: dict[str, Any], text: str) -> tuple[str, str | None]:
    """The record's text a rejected model candidate was made from: the string leaf most like it, where one is
    (a third of its words shared, in order); else None, and the candidate is shown as it is."""
    best, best_path, best_ratio = None, "", 0.3
    for path, value in leaves(record):
        if isinstance(value, str) and value:
            ratio = difflib.SequenceMatcher(None, tokens(value), tokens(text), autojunk=False).ratio()
            if ratio > best_ratio:
                best, best_path, best_ratio = value, path, ratio
    return best_path, best
