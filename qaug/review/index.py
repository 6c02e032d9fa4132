"""One pass over out.jsonl and out.rejects.jsonl that keeps byte offsets, not lines.

A 1M-line output must be reviewable without holding it: the index keeps, per line, its offset and a
few small codes (method, kept/rejected/flagged, reject code) in arrays, and groups lines by original,
so a page reads only the lines of the original on screen.
"""

from __future__ import annotations

import json
import threading
from array import array
from pathlib import Path
from typing import Any

from qaug import jsonio
from qaug.outformat import array_element as element  # noqa: F401 - apply and view read lines with it too
from qaug.outformat import is_bracket

KEPT, REJECTED = 0, 1
_TAIL = b',"_qaug":'


def companion(output: Path, suffix: str) -> Path:
    """out.jsonl -> out<suffix> (out.rejects.jsonl, out.review.jsonl), as the run names its companions."""
    name = output.name
    base = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return output.with_name(base + suffix)


def reject_id(parent: str, method: str, k: int) -> str:
    """A stable id for the k-th reject of (parent, method) in the rejects file: decisions and --apply
    must name a rejected candidate the same way, and the rejects file has no ids of its own."""
    return f"{parent}/{method}/r{k}"


def is_framing(line: bytes) -> bool:
    """Blank lines and the brackets of an `-o out.json` array."""
    return not line.strip() or is_bracket(line)


def qaug_of(line: bytes) -> dict[str, Any]:
    """The `_qaug` object of an output line, parsing only the line's tail where it can."""
    line = element(line)
    pos = line.rfind(_TAIL)
    if pos >= 0:
        try:
            value = json.loads(line[pos + len(_TAIL):-1])
            if isinstance(value, dict) and "id" in value:
                return value
        except ValueError:
            pass
    value = jsonio.loads(line)
    q = value.get("_qaug") if isinstance(value, dict) else None
    if not isinstance(q, dict):
        raise ValueError("line has no _qaug object")
    return q


class _Codes:
    """Small ints for repeated strings (methods, reject codes)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._ids: dict[str, int] = {}

    def id(self, name: str) -> int:
        got = self._ids.get(name)
        if got is None:
            got = self._ids[name] = len(self.names)
            self.names.append(name)
        return got


class ReviewIndex:
    """Offsets and codes of every output and reject line, grouped by original."""

    def __init__(self, output: Path, rejects: Path | None = None) -> None:
        self.output = output
        self.rejects = rejects if rejects is not None else companion(output, ".rejects.jsonl")
        self.methods = _Codes()
        self.codes = _Codes()
        self.codes.id("")  # 0: no code (kept lines)
        self._group_of: dict[str, int] = {}
        self.group_keys: list[str] = []
        # one entry per item (output line or reject line)
        self.file = array("B")  # 0 output, 1 rejects
        self.offset = array("q")
        self.group = array("l")
        self.method = array("H")
        self.status = array("B")  # KEPT / REJECTED
        self.flagged = array("B")
        self.code = array("H")
        self.is_original = array("B")
        self.rej_k = array("l")  # k of reject_id, -1 for output lines
        self._lock = threading.Lock()
        self._build()

    # -- building -----------------------------------------------------------------------
    def _gid(self, key: str) -> int:
        g = self._group_of.get(key)
        if g is None:
            g = self._group_of[key] = len(self.group_keys)
            self.group_keys.append(key)
        return g

    def _add(self, f: int, off: int, g: int, method: str, status: int, flagged: bool, code: str,
             original: bool, k: int) -> None:
        self.file.append(f)
        self.offset.append(off)
        self.group.append(g)
        self.method.append(self.methods.id(method))
        self.status.append(status)
        self.flagged.append(1 if flagged else 0)
        self.code.append(self.codes.id(code))
        self.is_original.append(1 if original else 0)
        self.rej_k.append(k)

    def _build(self) -> None:
        with open(self.output, "rb") as fh:
            off = 0
            for n, line in enumerate(fh, 1):
                if not is_framing(line):
                    try:
                        q = qaug_of(line)
                    except ValueError:
                        raise ValueError(f"{self.output}:{n}: not a qaug output line") from None
                    parent = q.get("parent")
                    key = str(parent) if parent is not None else str(q["id"])
                    self._add(0, off, self._gid(key), str(q.get("method")), KEPT, bool(q.get("review")), "",
                              parent is None, -1)
                off += len(line)
        if self.rejects.exists():
            seen: dict[tuple[str, str], int] = {}
            with open(self.rejects, "rb") as fh:
                off = 0
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        rec = None
                    if isinstance(rec, dict) and rec.get("parent") is not None:
                        parent, method = str(rec["parent"]), str(rec.get("method") or "")
                        k = seen.get((parent, method), 0)
                        seen[(parent, method)] = k + 1
                        self._add(1, off, self._gid(parent), method, REJECTED, False, str(rec.get("code") or ""),
                                  False, k)
                    off += len(line)
        # items of each group, by counting sort: starts[g]..starts[g+1] in self.order
        n_groups = len(self.group_keys)
        counts = array("l", [0]) * (n_groups + 1)
        for g in self.group:
            counts[g + 1] += 1
        for g in range(n_groups):
            counts[g + 1] += counts[g]
        self.starts = array("l", counts)
        fill = array("l", counts[:-1]) if n_groups else array("l")
        self.order = array("l", [0]) * len(self.group)
        for i, g in enumerate(self.group):
            self.order[fill[g]] = i
            fill[g] += 1

    # -- reading ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.group_keys)

    def items_of(self, g: int) -> list[int]:
        return list(self.order[self.starts[g]:self.starts[g + 1]])

    def group_of_key(self, key: str) -> int | None:
        return self._group_of.get(key)

    def read(self, i: int) -> bytes:
        """The line of item i, read from disk by its offset."""
        path = self.output if self.file[i] == 0 else self.rejects
        with self._lock, open(path, "rb") as fh:
            fh.seek(self.offset[i])
            return fh.readline()

    def item_id(self, i: int, line: bytes | None = None) -> str:
        line = line if line is not None else self.read(i)
        if self.file[i] == 0:
            return str(qaug_of(line)["id"])
        return reject_id(self.group_keys[self.group[i]], self.methods.names[self.method[i]], self.rej_k[i])

    def matching(self, method: str = "", status: str = "", code: str = "", text: str = "") -> array:
        """Groups with at least one candidate that passes every filter (text: case-insensitive, in the raw line)."""
        m_id = self.methods._ids.get(method, -1) if method else None
        c_id = self.codes._ids.get(code, -1) if code else None
        needle = text.casefold()
        out = array("l")
        for g in range(len(self.group_keys)):
            for i in self.order[self.starts[g]:self.starts[g + 1]]:
                if self.is_original[i] and (m_id is not None or status or c_id is not None):
                    continue
                if m_id is not None and self.method[i] != m_id:
                    continue
                if c_id is not None and self.code[i] != c_id:
                    continue
                if status == "kept" and self.status[i] != KEPT:
                    continue
                if status == "rejected" and self.status[i] != REJECTED:
                    continue
                if status == "flagged" and not self.flagged[i]:
                    continue
                if needle and needle not in _searchable(self.read(i)):
                    continue
                out.append(g)
                break
        return out


def _searchable(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    if "\\u" in text or '\\"' in text:
        try:
            text = json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return text.casefold()
