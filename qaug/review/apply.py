"""`qaug review out.jsonl --apply -o final.jsonl`: the dataset after review.

Rejected variants are dropped, edits applied, promoted candidates added right after their original's
last line, and every line's `_qaug.review` becomes the decision (a string on every line, so Arrow still
sees one type). Nothing depends on time or order of reading, so applying twice gives the same bytes.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from qaug import jsonio
from qaug.provenance import output_line
from qaug.review.decisions import DecisionLog, edits_of
from qaug.review.index import companion, element, is_framing, qaug_of, reject_id
from qaug.review.view import candidate_data, has_candidate, set_path

#: `_qaug.review` after apply
STATES = {"accept": "accepted", "edit": "edited", "promote": "promoted", None: "unreviewed"}
_TAIL = b',"_qaug":'


def _with_review(line: bytes, q: dict[str, Any], state: str, data: Any = None) -> bytes:
    q = {**q, "review": state}
    line = element(line)
    if data is None:
        body = line[: line.rfind(_TAIL)] + b"}"
    else:
        data = {k: v for k, v in data.items() if k != "_qaug"}
        body = jsonio.dumps(data)
    return output_line(body, q)


def apply_review(output: Path, final: Path, review: Path | None = None,
                 rejects: Path | None = None) -> dict[str, Counter]:
    """Write `final` from `output` and its decisions; returns decisions counted per method."""
    review = review or companion(output, ".review.jsonl")
    rejects = rejects or companion(output, ".rejects.jsonl")
    log = DecisionLog(review) if review.exists() else None
    decided = log.latest if log is not None else {}
    used: set[str] = set()
    summary: dict[str, Counter] = defaultdict(Counter)
    # rejected candidates a person promoted (or edited), by parent
    promoted: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    if rejects.exists():
        seen: Counter = Counter()
        with open(rejects, "rb") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(rec, dict) or rec.get("parent") is None:
                    continue
                parent, method = str(rec["parent"]), str(rec.get("method") or "")
                rid = reject_id(parent, method, seen[(parent, method)])
                seen[(parent, method)] += 1
                d = decided.get(rid)
                if d is not None:
                    used.add(rid)
                if d is not None and d["decision"] in ("promote", "accept", "edit"):
                    promoted[parent].append((rid, rec, d))
                else:
                    summary[method]["rejected by gate" if d is None else "rejected, confirmed"] += 1
    # the last line of each original that has promotions, so they follow it
    last: dict[str, int] = {}
    if promoted:
        with open(output, "rb") as fh:
            for n, line in enumerate(fh):
                if not is_framing(line):
                    q = qaug_of(line)
                    key = str(q["parent"]) if q.get("parent") is not None else str(q["id"])
                    if key in promoted:
                        last[key] = n
    tmp = final.with_name(final.name + ".tmp")
    originals: dict[str, Any] = {}
    with open(output, "rb") as src, open(tmp, "wb") as out:
        for n, line in enumerate(src):
            if is_framing(line):
                continue
            q = qaug_of(line)
            key = str(q["parent"]) if q.get("parent") is not None else str(q["id"])
            d = decided.get(str(q["id"]))
            if d is not None:
                used.add(str(q["id"]))
            decision = d["decision"] if d else None
            method = str(q.get("method"))
            if q.get("parent") is None and key in promoted:
                originals[key] = jsonio.loads(element(line))
            if decision == "reject":
                summary[method]["rejected"] += 1
            elif decision == "edit":
                assert d is not None  # a decision comes from d
                data = jsonio.loads(element(line))
                for path, text in edits_of(d):
                    set_path(data, path, text)
                out.write(_with_review(line, q, "edited", data))
                summary[method]["edited"] += 1
            else:
                state = STATES.get(decision, "unreviewed")
                out.write(_with_review(line, q, state))
                summary[method][state] += 1
            if last.get(key) == n:
                for rid, rec, d in promoted.pop(key):
                    _promote(out, rid, rec, d, originals.get(key), q, summary)
        for key, rest in sorted(promoted.items()):  # originals not in the file (--no-originals)
            for rid, rec, d in rest:
                _promote(out, rid, rec, d, originals.get(key), None, summary)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, final)
    unknown = len(set(decided) - used)
    if unknown:  # a typed id, or a decision file of another run
        summary["(decisions file)"]["ignored: an id no candidate of this run has"] += unknown
    if log is not None and log.invalid:
        summary["(decisions file)"]["ignored: not a valid decision line"] += log.invalid
    return dict(summary)


def _promote(out: Any, rid: str, rec: dict[str, Any], d: dict[str, Any], original: Any,
             near: dict[str, Any] | None, summary: dict[str, Counter]) -> None:
    method = str(rec.get("method") or "")
    field = d.get("field") if isinstance(d.get("field"), list) else None
    if not has_candidate(rec):
        summary[method]["promotion refused (a model error or a cut-off candidate)"] += 1
        return
    data, _ = candidate_data(original, rec.get("raw") or "", False, field)
    if data is None:
        summary[method]["promotion skipped (no original to rebuild it on)"] += 1
        return
    state = "promoted"
    if d["decision"] == "edit" or isinstance(d.get("text"), str) and field is not None:  # a promotion's text too
        before = jsonio.dumps(data)
        for path, text in edits_of(d):
            set_path(data, path, text)
        if d["decision"] == "edit" or jsonio.dumps(data) != before:
            state = "promoted, edited"
    base = near or {}
    q = {"id": rid, "parent": str(rec["parent"]), "method": method, "version": base.get("version", "1"),
         "seed": base.get("seed", 0), "index": 0, "params": "{}", "source": f"{rec.get('source')}:{rec.get('line')}",
         "model": base.get("model"), "info": jsonio.dumps_str({"promoted_from": {"stage": rec.get("stage"),
                                                                               "code": rec.get("code"),
                                                                               "reason": rec.get("reason")}}),
         "score": None, "review": state}
    out.write(output_line(jsonio.dumps({k: v for k, v in data.items() if k != "_qaug"}), q))
    summary[method][state] += 1
