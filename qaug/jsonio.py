"""Strict, lossless JSON for record lines: orjson's speed with the stdlib's big integers.

orjson silently turns integers beyond 64 bits into floats and cannot write them, and the
stdlib accepts NaN and Infinity; neither is acceptable for a training set. The fast path
is orjson; lines that hold a run of 19+ digits take the stdlib path, with constants refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_DIGITS = re.compile(rb"[0-9]{19,}")
_STDLIB_DECODER = json.JSONDecoder(
    parse_constant=lambda name: refuse_constant(name), parse_float=lambda text: finite_float(text)
)


class JSONLineError(ValueError):
    """A line that is not strict JSON; the message says where."""


def refuse_constant(name: str) -> Any:
    """json.JSONDecoder hook: NaN, Infinity and -Infinity are not JSON."""
    raise JSONLineError(f"{name} is not valid JSON")


def finite_float(text: str) -> float:
    """json.JSONDecoder hook: a number that overflows a double (1e400) is refused, not made infinite."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JSONLineError(f"number {text} is infinite as a double")
    return value


def loads(raw: bytes | str) -> Any:
    """Parse strict JSON exactly: no NaN/Infinity, integers of any size kept as int."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if _LONG_DIGITS.search(data) is None:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise JSONLineError(str(exc)) from None
        if data.count(b"[") + data.count(b"{") > MAX_DEPTH:  # only then can it be too deep
            _check_depth(value)
        return value
    try:
        text = data.decode("utf-8") if isinstance(raw, bytes) else raw
        value, end = _STDLIB_DECODER.raw_decode(text.strip())
        if end != len(text.strip()):
            raise JSONLineError(f"extra data after the JSON value at char {end}")
        # a lone surrogate (\ud83d) that orjson would refuse cannot be written as UTF-8 either
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except JSONLineError:
        raise
    except UnicodeDecodeError as exc:
        raise JSONLineError(f"invalid UTF-8 at byte {exc.start}") from None
    except UnicodeEncodeError:
        raise JSONLineError("a string holds a lone surrogate (\\ud800-\\udfff), which is not valid Unicode") from None
    except RecursionError:
        raise JSONLineError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, and integers over Python's digit limit
        raise JSONLineError(str(exc)) from None
    _check_depth(value)
    return value


MAX_DEPTH = 255  # the deepest nesting orjson writes; deeper records are refused at read time, never at write


def _check_depth(value: Any) -> None:
    """JSONLineError for a value nested deeper than MAX_DEPTH (iterative: no recursion to overflow)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise JSONLineError(f"nested more than {MAX_DEPTH} levels deep")
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))


def dumps(value: Any) -> bytes:
    """One compact JSON line (no newline); big integers written exactly."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson refuses integers beyond 64 bits; the stdlib writes them exactly.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def dumps_str(value: Any) -> str:
    return dumps(value).decode("utf-8")
