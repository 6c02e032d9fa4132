"""Strict, lossless JSON for record lines: orjson's speed with the stdlib's big integers.

orjson silently turns integers beyond 64 bits into floats and cannot write them, and the
stdlib accepts NaN and Infinity; neither is acceptable for a training set. The fast path
is orjson; lines that hold a run of 19+ digits take the stdlib path, with constants refused.

`loads_exact` also refuses what parses but would not be written back as it says: a key given
twice (one value would be dropped) and a number a double cannot hold (-0, 1e-400, 17+ digits).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

_LONG_DIGITS = re.compile(rb"[0-9]{19,}")
_STDLIB_DECODER = json.JSONDecoder(
    parse_constant=lambda name: refuse_constant(name), parse_float=lambda text: finite_float(text)
)


class JSONLineError(ValueError):
    """A line that is not strict JSON; the message says where."""


class InexactError(JSONLineError):
    """Valid JSON that cannot be kept as written (a duplicate key, a number a double cannot hold); the message
    is the whole reason, starting with its kind ("duplicate key: ...", "inexact number: ...")."""


# what may hide a number a double cannot hold (one with 15 significant digits or fewer in the normal range always
# comes back as written): 16+ digits, a negative 3-digit exponent (subnormals, underflow), an integer -0
_DIGIT_RUN = re.compile(rb"[0-9.]{16}")
# the same test as one C pass: digits and "." become b"1", every other byte b"0" (a UTF-8 multibyte
# character is all bytes >= 0x80, so never a digit); 15x faster than the regex on a typical record line
_RUN_BYTES = bytes(49 if c == 46 or 48 <= c <= 57 else 48 for c in range(256))
_RUN = b"1" * 16
_TINY_EXPONENT = re.compile(rb"[eE]-[0-9]{3}")
_NEGATIVE_ZERO = re.compile(rb"-0(?![0-9.eE])")
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?', re.S)


def refuse_constant(name: str) -> Any:
    """json.JSONDecoder hook: NaN, Infinity and -Infinity are not JSON."""
    raise JSONLineError(f"{name} is not valid JSON")


def finite_float(text: str) -> float:
    """json.JSONDecoder hook: a number that overflows a double (1e400) is refused, not made infinite."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JSONLineError(f"number {text} is infinite as a double")
    return value


def digit_run(data: bytes) -> bool:
    """Whether `data` holds 16 digits or dots in a row (`_DIGIT_RUN`): only then can a number be long."""
    return _RUN in data.translate(_RUN_BYTES)


def loads(raw: bytes | str) -> Any:
    """Parse strict JSON exactly: no NaN/Infinity, integers of any size kept as int."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return _parse(data, raw, digit_run(data) and _LONG_DIGITS.search(data) is not None)  # 19 digits hold a run


def _parse(data: bytes, raw: bytes | str, long_digits: bool) -> Any:
    if not long_digits:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            infinite = infinite_number(exc)
            if infinite is not None:
                raise InexactError(infinite) from None
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


def infinite_number(exc: ValueError) -> str | None:
    """The reason for orjson's error on a number such as 1e400 (valid JSON that no double holds), or None for
    any other error: such a number is an inexact one, not invalid JSON."""
    return f"inexact number: {exc}" if "infinity when parsed as double" in str(exc) else None


def _check_depth(value: Any) -> None:
    """JSONLineError for a value nested deeper than MAX_DEPTH (iterative: no recursion to overflow)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise JSONLineError(f"nested more than {MAX_DEPTH} levels deep")
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))


def repeated_key(pairs: list[tuple[str, Any]], out: dict[str, Any]) -> str | None:
    """The first key given twice among an object's pairs (`out` is dict(pairs)), or None: one check for
    records and for JSON documents inside texts."""
    if len(out) == len(pairs):
        return None
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    key = repeated_key(pairs, out)
    if key is not None:
        shown = key if len(key) <= 60 else key[:57] + "..."
        raise InexactError(f"duplicate key: {shown!r} is given twice in one object, and which value counts is "
                           "ambiguous")
    return out


_PAIRS_DECODER = json.JSONDecoder(parse_constant=refuse_constant, parse_float=finite_float,
                                  object_pairs_hook=_unique_pairs)


def loads_exact(raw: bytes | str) -> Any:
    """`loads`, refusing a value that would not be written back as the text says (InexactError says why).

    A dropped duplicate key takes at least one colon with it, so a compact re-dump with as many colons as the
    text proves every key was kept (a colon escaped as \\u003a sends the text to the precise check).
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    run = digit_run(data)  # a long integer has one too: searched for only then
    value = _parse(data, raw, run and _LONG_DIGITS.search(data) is not None)
    if type(value) is dict or type(value) is list:
        if b"\\u003" in data or data.count(b":") != dumps(value).count(b":"):
            _PAIRS_DECODER.decode(data.decode("utf-8"))  # raises on the first duplicate key
    # one memchr for "-" spares the three two-byte searches on most lines
    if run or b"-" in data and ((b"-0" in data and _NEGATIVE_ZERO.search(data)) or (
            (b"e-" in data or b"E-" in data) and _TINY_EXPONENT.search(data))):
        reason = inexact_number(data.decode("utf-8"))
        if reason is not None:
            raise InexactError(reason)
    return value


_TINY_EXPONENT_S = re.compile(_TINY_EXPONENT.pattern.decode())
_NEGATIVE_ZERO_S = re.compile(_NEGATIVE_ZERO.pattern.decode())


def number_problem(text: str) -> str | None:
    """`inexact_number` for a JSON text already parsed, after a cheap look for what could make one inexact."""
    if digit_run(text.encode("utf-8", "surrogatepass")) or "-" in text and (
            ("-0" in text and _NEGATIVE_ZERO_S.search(text)) or (
            ("e-" in text or "E-" in text) and _TINY_EXPONENT_S.search(text))):
        return inexact_number(text)
    return None


def inexact_number(text: str) -> str | None:
    """Why a number in the JSON `text` would not be written back with its value (None when all are exact).

    Integers are exact at any size, except -0 (an integer 0 has no sign). A decimal is exact when the double
    it parses to is written as the same decimal value: 1.50 -> 1.5 is, 3.14159265358979323846 is not.
    """
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok[0] == '"':
            continue
        if tok == "-0":
            return "inexact number: -0 would be written as 0"
        if "." in tok or "e" in tok or "E" in tok:
            value = float(tok)
            if Decimal(tok) != Decimal(repr(value)) or (value == 0 and tok.startswith("-") != (repr(value)[0] == "-")):
                shown = tok if len(tok) <= 40 else tok[:37] + "..."
                return f"inexact number: {shown} would be written as {dumps_str(value)} (a double cannot hold it)"
    return None


def dumps(value: Any) -> bytes:
    """One compact JSON line (no newline); big integers written exactly."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson refuses integers beyond 64 bits; the stdlib writes them exactly.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def dumps_str(value: Any) -> str:
    return dumps(value).decode("utf-8")
