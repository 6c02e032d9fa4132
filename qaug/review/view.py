"""What the page shows of one original: its texts, each candidate decoded, and diffs against the source.

Diffs are by words for English and by characters for Chinese (each CJK character is a token), so a
reviewer sees the edit itself rather than a whole changed line.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from qaug import jsonio
from qaug.review.index import ReviewIndex, element, qaug_of

Path_ = list  # a path into a record: keys and list indices

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]|[^\W_]+|\s+|.", re.S)


def tokens(text: str) -> list[str]:
    """Words, spaces and punctuation; one token per CJK character."""
    return _TOKEN.findall(text)


def diff(source: str, text: str) -> list[list[str]]:
    """[op, text] runs: '=' same, '-' only in the source, '+' only in the variant."""
    a, b = tokens(source), tokens(text)
    out: list[list[str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(["=", "".join(a[i1:i2])])
            continue
        if i2 > i1:
            out.append(["-", "".join(a[i1:i2])])
        if j2 > j1:
            out.append(["+", "".join(b[j1:j2])])
    return out


def leaves(value: Any, path: Path_ | None = None) -> list[tuple[Path_, str]]:
    """Every string in a record, with its path (the `_qaug` object left out)."""
    path = path or []
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() if k != "_qaug" for leaf in leaves(v, path + [k])]
    if isinstance(value, list):
        return [leaf for n, v in enumerate(value) for leaf in leaves(v, path + [n])]
    return []


def set_path(data: Any, path: Path_, text: str) -> None:
    """Put `text` at `path` (used by edits and promotions)."""
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = text


def closest_path(original: Any, text: str) -> Path_ | None:
    """The original's string a bare candidate text most likely replaces (a gate reject keeps only the text)."""
    best, best_score = None, -1.0
    for path, value in leaves(original):
        score = difflib.SequenceMatcher(None, tokens(value), tokens(text), autojunk=False).ratio()
        if score > best_score:
            best, best_score = path, score
    return best


def has_candidate(reject: dict[str, Any]) -> bool:
    """Whether a reject holds a candidate a person could promote: not cut off by the rejects file, and not a
    model error, whose raw text is the model's unfinished answer, not a variant."""
    return not reject.get("truncated") and reject.get("stage") != "model"


def candidate_data(original: Any, raw: str, truncated: bool,
                   prefer: Path_ | None = None) -> tuple[Any, Path_ | None]:
    """A reject's candidate as a whole record, and the path of the text it changed (None: not rebuildable).
    A gate reject keeps only the text: it goes where `prefer` says (the path its kept siblings changed, or the
    one a reviewer promoted it at), else in place of the original's closest string."""
    if truncated or not isinstance(original, dict):
        return None, None
    try:
        value = jsonio.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, dict):
        return value, None
    if not isinstance(value, str):
        value = raw
    known = {json.dumps(p) for p, _ in leaves(original)}
    path = prefer if prefer is not None and json.dumps(prefer) in known else closest_path(original, value)
    if path is None:
        return None, None
    data = json.loads(json.dumps({k: v for k, v in original.items() if k != "_qaug"}))
    set_path(data, path, value)
    return data, path


def fields(source: Any, data: Any, hint: Path_ | None = None) -> list[dict[str, Any]]:
    """The texts that differ from the source, each with its diff; the first string when none differ."""
    src = {json.dumps(p): t for p, t in leaves(source)}
    out = []
    for path, text in leaves(data):
        before = src.get(json.dumps(path), "")
        if before != text or (hint is not None and path == hint):
            out.append({"path": path, "label": _label(path), "text": text, "diff": diff(before, text)})
    if not out:
        got = leaves(data)
        if got:
            path, text = got[0]
            out.append({"path": path, "label": _label(path), "text": text, "diff": [["=", text]]})
    return out


def _label(path: Path_) -> str:
    return ".".join(str(p) for p in path) or "text"


def _decoded(q: dict[str, Any], key: str) -> Any:
    try:
        return json.loads(q.get(key) or "{}")
    except ValueError:
        return q.get(key)


def group_view(index: ReviewIndex, g: int) -> dict[str, Any]:
    """One original and its candidates, decoded for the page; flagged first, then kept, then rejected."""
    original: dict[str, Any] | None = None
    original_id = index.group_keys[g]
    items: list[dict[str, Any]] = []
    for i in index.items_of(g):
        line = index.read(i)
        if index.file[i] == 0:
            data = jsonio.loads(element(line))
            q = qaug_of(line)
            if index.is_original[i]:
                original, original_id = data, str(q["id"])
                continue
            items.append({"item": i, "id": str(q["id"]), "status": "kept", "flagged": bool(q.get("review")),
                          "method": q.get("method"), "model": q.get("model"), "score": q.get("score"),
                          "version": q.get("version"), "params": _decoded(q, "params"), "info": _decoded(q, "info"),
                          "data": data})
        else:
            rec = json.loads(line)
            items.append({"item": i, "id": index.item_id(i, line), "status": "rejected", "flagged": False,
                          "method": rec.get("method"), "stage": rec.get("stage"), "code": rec.get("code"),
                          "reason": rec.get("reason"), "raw": rec.get("raw"), "truncated": bool(rec.get("truncated"))})
    changed: dict[str, Path_] = {}  # the path each method's kept variants changed
    for it in items:
        if it["status"] == "kept":
            got = fields(original or {}, it["data"])
            if got and it["method"] not in changed:
                changed[it["method"]] = got[0]["path"]
    for it in items:
        if it["status"] == "rejected":
            data, hint = candidate_data(original, it.pop("raw") or "", not has_candidate(it), changed.get(it["method"]))
            it["promotable"] = data is not None
            it["data"] = data if data is not None else {
                "text": "(no candidate to promote: a model error, cut off, or no original)"}
            it["fields"] = fields(original or {}, it["data"], hint)
        else:
            it["fields"] = fields(original or {}, it["data"])
            it["judge"] = it["info"].get("judge") if isinstance(it["info"], dict) else None
        it.pop("data", None)
        it.pop("item", None)
    items.sort(key=lambda it: (not it["flagged"], it["status"] == "rejected"))
    return {"group": g, "original_id": original_id,
            "original": [{"label": _label(p), "text": t} for p, t in leaves(original)] if original else [],
            "items": items}
