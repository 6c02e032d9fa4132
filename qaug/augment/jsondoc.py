"""JSON documents inside texts: strict parsing, exact writing, finding and splicing.

Structural augmenters rewrite JSON that sits inside a record's texts: a whole answer that
is a JSON object, or a ```json block inside prose. They must never turn a valid document
into an invalid one, lose a big integer, or invent NaN; and they should keep whatever they
do not mean to change (the prose around a block, its fences, its indentation style).

orjson is the fast path, checked by its own re-dump: a document in which orjson may have
turned an integer beyond 64 bits into a float, or dropped a duplicate key, is parsed again
by the stdlib with guards. The value transforms that need no randomness beyond a few bits
(flatten, nest, retype, add_fields) live here too, as plain functions over JSON values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, NamedTuple, Union

import orjson

from qaug import jsonio
from qaug.augment.fences import Fence, find_fences
from qaug.jsonio import finite_float, number_problem, refuse_constant

from qaug.rng import Rng

__all__ = [
    "DuplicateKeyError", "INEXACT", "InexactNumberError", "JSONDocError", "NotApplicable", "Span", "Style",
    "add_fields_value", "detect_style", "dumps_doc", "fenced_blocks", "find_documents", "flatten_value", "loads_doc",
    "nest_value", "number_text", "parse_number_text", "render", "retype_value", "splice",
]

Indent = Union[int, str, None]

_LONG_DIGITS = re.compile(r"[0-9]{19,}")
_JSON_WS = " \t\n\r"
# \uXXXX escapes of non-ASCII characters (controls below U+0080 are escaped in every style).
_NON_ASCII_ESCAPE = re.compile(r"\\u(?:00[89a-fA-F]|0[1-9a-fA-F]|[1-9a-fA-F])")
_CONTAINERS = (dict, list)
_MISSING = object()
_NOT_ASCII = re.compile(r"[^\x00-\x7e]")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class JSONDocError(ValueError):
    """Text that is not one strict JSON value; the message says why."""


class DuplicateKeyError(JSONDocError):
    """An object repeats a key: which value counts is ambiguous, so the document is left alone."""


class InexactNumberError(JSONDocError):
    """A number a double cannot hold (-0, 1e-400, 3.14159265358979323846): a rewrite would change its value,
    so the document is left alone."""


class NestingError(JSONDocError):
    """Nested deeper than strict JSON writers go (jsonio.MAX_DEPTH): a variant of it could not be written."""


def kept_as_written(exc: JSONDocError) -> str | None:
    """Why a document that is valid JSON is left alone (a duplicate key, an inexact number, deep nesting), or
    None for text that is no JSON document at all."""
    if isinstance(exc, DuplicateKeyError):
        return "duplicate keys in JSON"
    if isinstance(exc, InexactNumberError):
        return INEXACT
    if isinstance(exc, NestingError):
        return str(exc)
    return None


#: the reason a document with such a number is left alone (counted per run: it names no number)
INEXACT = "a number in the JSON would not keep its value (a double cannot hold it)"


class Style(NamedTuple):
    """How a document was written, so a rewrite can keep (or deliberately change) it."""

    indent: Indent = None
    ensure_ascii: bool = False
    compact: bool = True


COMPACT = Style()
SPACED = Style(None, False, False)
INDENT2 = Style(2, False, False)
_ASCII_COMPACT = Style(None, True, True)
_ASCII_SPACED = Style(None, True, False)


def fenced_blocks(text: str, info: re.Pattern[str] | None = None) -> list[Fence]:
    """The fences the JSON methods read (and table_convert's ```csv blocks, `info` their label): backticks
    only, at most 3 spaces or tabs of margin, closed by exactly their own run, an unclosed opener passed
    over, \\r plain text. This is the reading of the regex these methods used before issue 11, which
    tests/test_jsondoc.py holds them to; rename_identifiers, steps and translate read fences CommonMark's way
    (`find_fences`' defaults), and switching either reading would change what some method writes.
    """
    return find_fences(text, info=info, max_margin=3, tildes=False, exact_close=True, skip_unclosed=True, crlf=False)


class Span(NamedTuple):
    """One JSON document inside a text (a NamedTuple: cheap to make on the hot path).

    `start:end` is the JSON itself (`raw`); `outer_start:outer_end` also covers its fences
    (equal to the inner range for a whole-text document). `margin` is the fence's
    indentation, which continuation lines of a rewritten document get back.
    """

    start: int
    end: int
    value: Any
    style: Style
    raw: str
    fence: str | None = None  # None: the whole text; else the fence's language ("" unlabeled)
    outer_start: int = 0
    outer_end: int = 0
    margin: str = ""

    def unchanged(self, doc: str) -> bool:
        """Whether splicing `doc` in would give the text back as it was."""
        return (doc.replace("\n", "\n" + self.margin) if self.margin else doc) == self.raw


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    key = jsonio.repeated_key(pairs, out)
    if key is not None:
        raise DuplicateKeyError(f"duplicate key {key!r} in a JSON object")
    return out


_DECODER = json.JSONDecoder(
    # jsonio's hooks raise its JSONLineError, a ValueError: _loads_stdlib reports it as a JSONDocError
    parse_constant=refuse_constant, parse_float=finite_float, object_pairs_hook=_unique_pairs
)


def _loads_stdlib(text: str) -> Any:
    body = text.strip(_JSON_WS)
    try:
        value, end = _DECODER.raw_decode(body)
    except DuplicateKeyError:
        raise
    except JSONDocError:
        raise
    except json.JSONDecodeError as exc:
        raise JSONDocError(str(exc)) from None
    except (ValueError, RecursionError) as exc:  # int beyond the digit limit, deep nesting
        raise JSONDocError(str(exc) or type(exc).__name__) from None
    if end != len(body):
        raise JSONDocError(f"extra data after the JSON value at char {end}")
    return value


def loads_doc(text: str) -> Any:
    """Parse one strict JSON value: no NaN/Infinity, exact big integers, no duplicate keys, and no number
    that a double would hold as another value (InexactNumberError): a variant never changes a number.

    orjson parses; its compact re-dump then settles the cases it gets wrong. An integer
    beyond 64 bits became a float of 1e18 or more, which orjson writes with "e+". A
    dropped duplicate key took at least one colon with it: outside strings a ':' follows
    every key, and a string's literal colons survive the re-dump (unless written as
    \\u003a, which sends the text to the stdlib). Any doubt takes the guarded stdlib path.
    """
    value = _loads(text)
    problem = number_problem(text)
    if problem is not None:
        raise InexactNumberError(problem)
    return value


def _loads(text: str) -> Any:
    try:
        value = orjson.loads(text)
    except ValueError as exc:  # orjson.JSONDecodeError, or a str orjson cannot encode
        infinite = jsonio.infinite_number(exc)
        if infinite is not None:  # 1e400: valid JSON, but no double holds it
            raise InexactNumberError(infinite) from None
        raise JSONDocError(str(exc)) from None
    if type(value) in _CONTAINERS:
        try:
            dumped = orjson.dumps(value)
        except orjson.JSONEncodeError:  # parsed, so only too deep (orjson writes 255 levels)
            raise NestingError(f"JSON nested deeper than {jsonio.MAX_DEPTH} levels") from None
        if (
            text.count(":") != dumped.count(b":")
            or (b"+" in dumped and b"e+" in dumped)
            or ("\\" in text and "\\u003" in text)
        ):
            return _loads_stdlib(text)
        return value
    if type(value) is float and abs(value) >= 9.2e18 and _LONG_DIGITS.search(text) is not None:
        return _loads_stdlib(text)
    return value


def _spaced(value: Any) -> str | None:
    """`{"a": 1, "b": [1, 2]}` (the stdlib's default layout) from orjson's compact output.

    With no backslash in it, every '"' delimits a string, so splitting on '"' separates
    strings (odd parts) from structure (even parts), and only structure gets spaces.
    """
    s = orjson.dumps(value).decode()
    if "\\" in s:
        return None
    parts = s.split('"')
    inside = "\x00".join(parts[1::2])
    if "," not in inside and ":" not in inside:
        return s.replace(",", ", ").replace(":", ": ")
    parts[::2] = "\x00".join(parts[::2]).replace(",", ", ").replace(":", ": ").split("\x00")
    return '"'.join(parts)


def _indent4(value: Any) -> str:
    """orjson's 2-space layout with every indent unit doubled.

    No raw newline or control character can sit inside a JSON string, so the spaces after
    a newline are all indentation: mark them unit by unit with \\x01 (one pass per depth),
    then widen the marks.
    """
    s = orjson.dumps(value, option=orjson.OPT_INDENT_2).replace(b"\n  ", b"\n\x01")
    while b"\x01  " in s:
        s = s.replace(b"\x01  ", b"\x01\x01")
    return s.replace(b"\x01", b"    ").decode()


def _u_escape(m: re.Match[str]) -> str:
    n = ord(m.group())
    if n < 0x10000:
        return "\\u%04x" % n
    n -= 0x10000
    return "\\u%04x\\u%04x" % (0xD800 | n >> 10, 0xDC00 | n & 0x3FF)


def dumps_doc(value: Any, *, indent: Indent = None, ensure_ascii: bool = False, compact: bool = True) -> str:
    """Strict JSON text for a JSON value (finite floats); reparsing gives exactly `value`.

    `compact` chooses `,`/`:` over `, `/`: ` when not indenting. orjson writes the common
    layouts (the stdlib's encoder is 3-10x slower); big integers and unusual indents take
    the stdlib with allow_nan=False. Non-ASCII characters can only sit inside strings, so
    escaping them afterwards is exact.
    """
    try:
        if indent is None:
            s = orjson.dumps(value).decode() if compact else _spaced(value)
        elif indent == 2 and type(indent) is int:
            s = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
        elif indent == 4 and type(indent) is int:
            s = _indent4(value)
        else:
            s = None
    except TypeError:  # an integer beyond 64 bits (or a lone surrogate): the stdlib writes it
        s = None
    if s is None:
        if indent is not None:
            separators = (",", ": ")
        else:
            separators = (",", ":") if compact else (", ", ": ")
        return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, separators=separators, allow_nan=False)
    if ensure_ascii and (not s.isascii() or "\x7f" in s):
        s = _NOT_ASCII.sub(_u_escape, s)
    return s


def detect_style(raw: str, margin: str = "") -> Style:
    """The style `raw` (one JSON document) was written in, as far as it can be told."""
    ensure_ascii = raw.isascii() and "\\u" in raw and _NON_ASCII_ESCAPE.search(raw) is not None
    nl = raw.find("\n")
    if nl < 0:
        # after the first key ('"' then ':'; a quote inside a string is escaped), or after a comma
        i = raw.find('":')
        if i >= 0:
            compact = raw[i + 2 : i + 3] != " "
        else:
            i = raw.find(",")
            compact = i < 0 or raw[i + 1 : i + 2] != " "
        if compact:
            return _ASCII_COMPACT if ensure_ascii else COMPACT
        return _ASCII_SPACED if ensure_ascii else SPACED
    end = raw.find("\n", nl + 1)
    line = raw[nl + 1 : end if end >= 0 else len(raw)]
    if margin and line.startswith(margin):
        line = line[len(margin) :]
    if line.startswith("\t"):
        return Style("\t", ensure_ascii, False)
    indent = len(line) - len(line.lstrip(" "))
    if indent == 2 and not ensure_ascii:
        return INDENT2
    return Style(indent, ensure_ascii, False)


def _as_doc(raw: str, problems: list[str] | None, labelled: bool) -> Any:
    """The parsed container `raw` holds, or None (noting why when it matters)."""
    try:
        value = loads_doc(raw)
    except JSONDocError as exc:
        kept = kept_as_written(exc)
        if problems is not None and (kept is not None or labelled):
            problems.append(kept or "invalid JSON in a json code block")
        return None
    return value if type(value) in _CONTAINERS else None


def find_documents(text: str, problems: list[str] | None = None) -> list[Span]:
    """The JSON objects/arrays in `text`: the whole text, else its ```json / ``` blocks.

    Candidates that are not documents are passed over; a document with duplicate keys
    (or a ```json block that does not parse) is left out and, when `problems` is given,
    the reason is appended to it.
    """
    if not text:
        return []
    first = text[0]
    if first in "{[" or (first in _JSON_WS and text.lstrip(_JSON_WS)[:1] in ("{", "[")):
        if first in "{[" and text[-1] in "}]":
            start, end, raw = 0, len(text), text
        else:
            start = len(text) - len(text.lstrip(_JSON_WS))
            end = len(text.rstrip(_JSON_WS))
            raw = text[start:end]
        if raw[-1] in "}]":
            try:
                value = loads_doc(raw)
            except JSONDocError as exc:
                kept = kept_as_written(exc)
                if kept is not None:
                    if problems is not None:
                        problems.append(kept)
                    return []
                value = None
            if type(value) in _CONTAINERS:
                return [Span(start, end, value, detect_style(raw), raw, None, start, end)]
    if "```" not in text:
        return []
    spans: list[Span] = []
    for block in fenced_blocks(text):
        lang = block.lang
        labelled = lang.lower() == "json"
        if lang and not labelled:
            continue
        b0, b1 = block.body_start, block.body_end
        body = text[b0:b1]
        stripped = body.strip(_JSON_WS)
        if not stripped or stripped[0] not in "{[":
            if labelled and stripped and problems is not None:
                problems.append("invalid JSON in a json code block")
            continue
        start = b0 + len(body) - len(body.lstrip(_JSON_WS))
        end = start + len(stripped)
        value = _as_doc(stripped, problems, labelled)
        if value is None:
            continue
        margin = block.margin
        style = detect_style(stripped, margin)
        spans.append(Span(start, end, value, style, stripped, lang, block.start, block.end, margin))
    return spans


def splice(text: str, edits: Iterable[tuple[Span, str]]) -> str:
    """`text` with each span's JSON replaced by its new document; everything else kept."""
    items = list(edits)
    if len(items) == 1:
        span, doc = items[0]
        return text[: span.start] + (doc.replace("\n", "\n" + span.margin) if span.margin else doc) + text[span.end :]
    parts: list[str] = []
    pos = 0
    for span, doc in sorted(items, key=lambda e: e[0].start):
        parts.append(text[pos : span.start])
        parts.append(doc.replace("\n", "\n" + span.margin) if span.margin else doc)
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


def render(span: Span, value: Any, style: Style | None = None) -> str:
    """`value` written in `style` (default: the span's own style)."""
    s = span.style if style is None else style
    return dumps_doc(value, indent=s.indent, ensure_ascii=s.ensure_ascii, compact=s.compact)


def number_text(value: int | float) -> str:
    """The canonical text of a number (str of an int, repr of a finite float): exact both ways."""
    return str(value) if type(value) is int else repr(value)


def parse_number_text(text: str) -> int | float | None:
    """The number `text` stands for, only when `number_text` of it gives `text` back.

    So "1.10", "1e5", "-0" and "007" stay None: converting them would lose how they read.
    """
    if not text or len(text) > 4000 or _NUMBER.fullmatch(text) is None:
        return None
    if "." in text or "e" in text or "E" in text:
        value: int | float = float(text)
        return value if repr(value) == text else None  # inf never reprs back to the text
    value = int(text)
    return value if str(value) == text else None


# -- value transforms (the key shuffle and null injection are in structural.py) ------------------

class NotApplicable(Exception):
    """The transform does not apply to this value or would change nothing; str() says why.

    Reasons are counted per run, so they never name keys or positions.
    """


def _check_key(key: str, sep: str) -> None:
    if sep in key:
        raise NotApplicable("keys already contain the separator")
    if not key:
        raise NotApplicable("an empty key cannot be flattened")


def _flatten_into(out: dict[str, Any], prefix: str, obj: dict[str, Any], levels: int, sep: str) -> None:
    for k, x in obj.items():
        _check_key(k, sep)
        name = prefix + sep + k
        if type(x) is dict and x and levels != 1:
            _flatten_into(out, name, x, levels - 1, sep)
        else:
            out[name] = x


def _flatten_obj(obj: dict[str, Any], depth: int, sep: str) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    changed = False
    for k, x in obj.items():
        if sep in k:
            raise NotApplicable("keys already contain the separator")
        if type(x) is dict and x:
            _check_key(k, sep)
            _flatten_into(out, k, x, depth, sep)
            changed = True
        else:
            out[k] = x
    return out if changed else None


def flatten_value(value: Any, depth: int = 0, sep: str = ".") -> Any:
    """Nested objects merged into dotted keys: depth 0 all levels, n at most n levels.

    Arrays and empty objects are leaves; a top-level array has each object element
    flattened. Keys that already hold `sep` (or empty keys) would make it ambiguous.
    """
    if type(value) is dict:
        out = _flatten_obj(value, depth, sep)
        if out is None:
            raise NotApplicable("no nested object to flatten")
        return out
    if type(value) is list:
        items = [_flatten_obj(x, depth, sep) if type(x) is dict else None for x in value]
        if any(x is not None for x in items):
            return [value[i] if x is None else x for i, x in enumerate(items)]
    raise NotApplicable("no nested object to flatten")


def _nest_obj(obj: dict[str, Any], sep: str, count: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    made: set[int] = set()  # ids of the objects nesting created, the only ones keys may merge into
    for k, x in obj.items():
        if type(x) is dict:
            x = _nest_obj(x, sep, count)
        parts = k.split(sep) if sep in k else None
        if parts is None or "" in parts:
            if k in out:
                raise NotApplicable("conflicting dotted and plain keys")
            out[k] = x
            continue
        count[0] += 1
        node = out
        for part in parts[:-1]:
            child = node.get(part, _MISSING)
            if child is _MISSING:
                child = node[part] = {}
                made.add(id(child))
            elif type(child) is not dict or id(child) not in made:
                raise NotApplicable("conflicting dotted and plain keys")
            node = child
        if parts[-1] in node:
            raise NotApplicable("conflicting dotted and plain keys")
        node[parts[-1]] = x
    return out


def nest_value(value: Any, sep: str = ".") -> Any:
    """Dotted keys expanded into nested objects: the inverse of `flatten_value`.

    Keys with an empty part ("a..b", "e.g.") stay as they are; a key that is both a value
    and a prefix ("a" and "a.b") is a conflict.
    """
    count = [0]
    if type(value) is dict:
        out: Any = _nest_obj(value, sep, count)
    elif type(value) is list:
        out = [_nest_obj(x, sep, count) if type(x) is dict else x for x in value]
    else:
        out = value
    if not count[0]:
        raise NotApplicable("no dotted keys to nest")
    return out


def _retype(value: Any, to_string: bool, count: list[int], keep: frozenset[str] = frozenset()) -> Any:
    t = type(value)
    if t is dict or t is list:
        out = None
        for k, x in (value.items() if t is dict else enumerate(value)):
            if t is dict and k in keep:
                continue
            y = _retype(x, to_string, count, keep)
            if y is not x:
                if out is None:
                    out = value.copy()
                out[k] = y
        return value if out is None else out
    if to_string:
        if t is int or t is float:
            text = number_text(value)
            if parse_number_text(text) is not None:
                count[0] += 1
                return text
    elif t is str:
        number = parse_number_text(value)
        if number is not None:
            count[0] += 1
            return number
    return value


def retype_value(value: Any, direction: str, keep: frozenset[str] = frozenset()) -> tuple[Any, int]:
    """(numbers written as strings, or canonical numeric strings as numbers; how many changed).

    Only strings that read back to exactly the same text convert, so "1.10" stays "1.10"
    and to_number(to_string(x)) == x for values without numeric strings. Members named in `keep`
    (a record's own fields, when the record is the target) are left as they are, subtrees included.
    """
    count = [0]
    out = _retype(value, direction == "to_string", count, keep)
    if not count[0]:
        raise NotApplicable("no number to retype" if direction == "to_string" else "no numeric string to retype")
    return out, count[0]


_META_FIELDS = ("schema_version", "record_id", "key_count", "total_keys", "max_depth")
# every non-empty subset of the fields, in field order, indexed by a 5-bit mask (0 reads as key_count)
_META_SUBSETS = [tuple(n for i, n in enumerate(_META_FIELDS) if mask >> i & 1) or ("key_count",) for mask in range(32)]
_SCHEMA_VERSIONS = ("1.0", "1.1", "2.0", "2024-06")


def _shape(value: Any, depth: int) -> tuple[int, int]:
    """(keys in all objects, deepest nesting level) below and including `value`."""
    keys, deepest = 0, depth
    if type(value) is dict:
        keys = len(value)
        value = value.values()
    for x in value:
        if type(x) is dict or type(x) is list:
            k, d = _shape(x, depth + 1)
            keys += k
            if d > deepest:
                deepest = d
    return keys, deepest


def add_fields_value(value: Any, rng: Rng, key: str = "_meta", record_id: str | None = None) -> tuple[Any, list[str]]:
    """(the object with a redundant metadata object under `key`, the metadata fields chosen)."""
    if type(value) is not dict:
        raise NotApplicable("document is not an object")
    if key in value:
        raise NotApplicable("metadata key already present")
    bits = rng.next64()
    names = _META_SUBSETS[bits & 31]
    if record_id is None and "record_id" in names:
        names = tuple(n for n in names if n != "record_id") or ("key_count",)
    meta: dict[str, Any] = {}
    for n in names:
        if n == "schema_version":
            meta[n] = _SCHEMA_VERSIONS[(bits >> 8) % len(_SCHEMA_VERSIONS)]
        elif n == "record_id":
            meta[n] = record_id
        elif n == "key_count":
            meta[n] = len(value)
        else:
            total, deepest = _shape(value, 1)
            meta[n] = total if n == "total_keys" else deepest
    if bits >> 16 & 1:
        out = {key: meta}
        out.update(value)
    else:
        out = value.copy()
        out[key] = meta
    return out, list(names)
