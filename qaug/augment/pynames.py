"""New names for renamed Python identifiers: a synonym of the old one or of one of its words, else a generic one."""

from __future__ import annotations

import builtins
import keyword
import re

from qaug.rng import Rng

RESERVED = set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist) | {"self", "cls", "_"}

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "value": ("val", "current", "amount"), "val": ("value", "current"), "values": ("vals", "elements", "entries"),
    "items": ("elements", "entries", "things"), "item": ("element", "entry", "elem"),
    "elements": ("items", "entries"), "element": ("item", "elem"), "elem": ("element", "item"),
    "result": ("res", "output", "answer", "outcome"), "res": ("result", "outcome"), "results": ("outputs", "outcomes"),
    "data": ("payload", "records", "raw"), "count": ("num", "tally", "cnt"), "counts": ("tallies", "freq"),
    "total": ("acc", "running_sum", "subtotal"), "acc": ("total", "accumulator"), "sum": ("total", "acc"),
    "i": ("idx", "k", "pos"), "j": ("jdx", "col_idx", "inner"), "k": ("kdx", "m"), "n": ("size", "num", "limit"),
    "x": ("xv", "elem", "a"), "y": ("yv", "other", "b"), "s": ("text", "txt", "string"), "a": ("first", "lhs"),
    "b": ("second", "rhs"), "c": ("ch", "third"), "d": ("mapping", "table"), "e": ("exc", "err", "error"),
    "f": ("fh", "handle", "stream"), "p": ("pt", "point"), "q": ("pending", "frontier"), "v": ("val", "value"),
    "text": ("txt", "content", "source"), "txt": ("text", "content"), "string": ("text", "txt"),
    "line": ("row", "ln", "raw_line"), "lines": ("rows", "raw_lines"), "word": ("token", "term"),
    "words": ("tokens", "terms"), "key": ("k", "field_name", "name_key"), "keys": ("names", "fields"),
    "node": ("vertex", "current_node", "nd"), "nodes": ("vertices", "members"), "num": ("number", "n_val"),
    "nums": ("numbers", "values", "arr"), "numbers": ("nums", "values"), "arr": ("array", "nums", "seq"),
    "lst": ("items", "seq", "elements"), "seq": ("sequence", "items"), "name": ("label", "title", "ident"),
    "path": ("filepath", "file_path", "location"), "fh": ("f_obj", "handle"), "file": ("fh", "handle"),
    "exc": ("err", "error"), "err": ("exc", "error"), "error": ("err", "exc"), "ex": ("exc", "err"),
    "idx": ("index", "i", "pos"), "index": ("idx", "pos", "position"), "tmp": ("temp", "scratch"),
    "temp": ("tmp", "scratch"), "queue": ("pending", "frontier"), "stack": ("pending", "stk"),
    "visited": ("seen", "explored"), "seen": ("visited", "known"), "left": ("lo", "start"), "right": ("hi", "end"),
    "lo": ("left", "low"), "hi": ("right", "high"), "low": ("lo", "floor"), "high": ("hi", "ceiling"),
    "start": ("begin", "first"), "end": ("stop", "finish"), "mid": ("middle", "pivot"), "matrix": ("grid", "table"),
    "grid": ("matrix", "board"), "row": ("line", "record"), "col": ("column", "c_idx"), "target": ("goal", "wanted"),
    "response": ("resp", "reply"), "resp": ("response", "reply"), "url": ("endpoint", "address"),
    "config": ("cfg", "settings"), "cfg": ("config", "conf"), "options": ("opts", "settings"),
    "callback": ("fn", "handler"), "func": ("fn", "callback"), "fn": ("func", "callback"), "obj": ("instance", "thing"),
    "msg": ("message", "note"), "message": ("msg", "note"), "freq": ("counts", "frequency"),
    "mapping": ("lookup", "table"), "cache": ("memo", "store"), "memo": ("cache", "store"), "ch": ("char", "c"),
    "char": ("ch", "symbol"), "size": ("length", "n"), "length": ("size", "n"), "output": ("out", "result"),
    "out": ("output", "buf"), "buf": ("buffer", "chunk"), "buffer": ("buf", "chunk"), "batch": ("chunk", "group"),
    "chunk": ("piece", "block"), "parts": ("pieces", "segments"), "part": ("piece", "segment"),
    "pair": ("couple", "duo"), "pairs": ("couples", "tuples"), "prev": ("previous", "last"), "curr": ("current", "cur"),
    "current": ("curr", "cur"), "user": ("account", "member"), "users": ("accounts", "members"),
}
_GENERIC = ("data", "result", "acc", "tmp", "node", "count", "value", "item", "entry", "elem", "current", "holder",
            "cursor", "slot", "token", "unit", "piece", "ref", "other", "spare", "store", "bucket", "cell", "sample")


def is_reserved(name: str) -> bool:
    return name in RESERVED or name.startswith("__")


def _free(name: str, taken: set[str]) -> bool:
    return name.isidentifier() and not is_reserved(name) and name not in taken


def new_name(old: str, taken: set[str], rng: Rng, numbered: dict[str, int] | None = None) -> str:
    """A plausible, unused name for `old`: a synonym of it or of one of its words, else a generic one.

    `numbered` remembers, per generic base, the first number not yet tried: `taken` only grows, so the
    search for base2, base3... resumes where it stopped instead of starting again (linear, not quadratic).
    """
    core = old.lstrip("_")
    lead = old[: len(old) - len(core)]
    camel = bool(re.search(r"[a-z][A-Z]", core))
    upper = core.isupper() and len(core) > 1
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", core).lower()

    def styled(s: str) -> str:
        if camel:
            head, *rest = s.split("_")
            s = head + "".join(w.capitalize() for w in rest)
        return lead + (s.upper() if upper else s)

    words = snake.split("_")
    cands = list(_SYNONYMS.get(snake, ()))
    if len(words) > 1:
        for k, w in enumerate(words):
            cands += ["_".join([*words[:k], syn, *words[k + 1:]]) for syn in _SYNONYMS.get(w, ())]
    free = [c for c in dict.fromkeys(map(styled, cands)) if _free(c, taken)]
    if not free:
        free = [c for c in map(styled, _GENERIC) if _free(c, taken)]
    if free:
        return rng.choice(free)
    base = styled(rng.choice(_GENERIC))
    n = numbered.get(base, 2) if numbered is not None else 2
    while not _free(f"{base}{n}", taken):
        n += 1
    if numbered is not None:
        numbered[base] = n + 1
    return f"{base}{n}"
