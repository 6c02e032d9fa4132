"""jsondoc: strict parsing, exact writing in every layout, finding and splicing documents."""

from __future__ import annotations

import json
import math
import os
import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qaug.augment.jsondoc import (
    COMPACT, INDENT2, INEXACT, SPACED, DuplicateKeyError, InexactNumberError, JSONDocError, Style, detect_style,
    dumps_doc, fenced_blocks, find_documents, loads_doc, number_text, parse_number_text, splice,
)

# -- shared helpers (test_structural imports them) ----------------------------------------------

BIG = st.one_of(st.integers(min_value=2**64, max_value=2**200),
                st.integers(min_value=-(2**200), max_value=-(2**63) - 1))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), BIG, st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.text(alphabet="名前城市,:.\"\\ \n\t\x00\x1f\u2028é😀ab", max_size=8),
)
KEYS = st.one_of(st.text(max_size=8), st.text(alphabet="ab名.: _\"\\", max_size=4))


def json_values(keys: st.SearchStrategy[str] = KEYS,
                scalars: st.SearchStrategy[Any] = SCALARS) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values: nulls, bools, ints of any size, finite floats, unicode text, nesting."""
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
        max_leaves=16,
    )


def json_docs(keys: st.SearchStrategy[str] = KEYS) -> st.SearchStrategy[Any]:
    """Objects and arrays only: what find_documents returns."""
    vals = json_values(keys)
    return st.one_of(st.dictionaries(keys, vals, max_size=5), st.lists(vals, max_size=4))


def _refuse(name: str) -> Any:
    raise ValueError(f"constant {name}")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate key")
    return out


def strict_loads(text: str) -> Any:
    """An independent strict parser: the stdlib with NaN/Infinity and duplicate keys refused."""
    value = json.loads(text, parse_constant=_refuse, object_pairs_hook=_unique)
    _assert_finite(value)
    return value


def _assert_finite(value: Any) -> None:
    if type(value) is float:
        assert math.isfinite(value)
    elif type(value) is list:
        for x in value:
            _assert_finite(x)
    elif type(value) is dict:
        for x in value.values():
            _assert_finite(x)


def same(a: Any, b: Any, *, order: bool = False) -> bool:
    """Equal as JSON: same types all the way down (1, 1.0 and True differ), -0.0 is not 0.0;
    with `order`, object keys in the same order too."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        if (list(a) != list(b)) if order else (a.keys() != b.keys()):
            return False
        return all(same(a[k], b[k], order=order) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y, order=order) for x, y in zip(a, b))
    if type(a) is float:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


STYLES = [
    Style(None, False, True), Style(None, False, False), Style(2, False, False), Style(4, False, False),
    Style(None, True, True), Style(None, True, False), Style(2, True, False), Style(4, True, False),
    Style(0, False, False), Style("\t", False, False),
]

# QAUG_HYPOTHESIS_EXAMPLES=5000 for a long soak; the default keeps the suite quick.
FAST = settings(max_examples=int(os.environ.get("QAUG_HYPOTHESIS_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# -- loads_doc -------------------------------------------------------------------------------------

def test_loads_keeps_big_integers_exact() -> None:
    assert loads_doc('{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
    assert loads_doc("[-18446744073709551617, 18446744073709551615]") == [-18446744073709551617, 2**64 - 1]
    assert type(loads_doc('{"n": 123456789012345678901234567890}')["n"]) is int
    assert loads_doc("123456789012345678901234") == 123456789012345678901234


@pytest.mark.parametrize("n", [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**30)])
def test_loads_is_exact_at_the_64_bit_edges(n: int) -> None:
    for text in (f"[{n}]", f'{{"n": {n}}}', str(n)):
        value = loads_doc(text)
        got = value if type(value) is int else (value[0] if type(value) is list else value["n"])
        assert type(got) is int and got == n


def test_loads_keeps_long_floats_and_digit_strings() -> None:
    assert loads_doc('{"x": 1e300, "s": "12345678901234567890123"}') == {"x": 1e300, "s": "12345678901234567890123"}


@pytest.mark.parametrize("text", [
    "NaN", "[NaN]", '{"a": Infinity}', "[-Infinity]", "[1e400]", '{"a": -1e999}', "{'a': 1}", "[1,]", '{"a" 1}',
    "[1] [2]", "", "nul",
])
def test_loads_refuses_what_is_not_strict_json(text: str) -> None:
    with pytest.raises(JSONDocError):
        loads_doc(text)


@pytest.mark.parametrize("text", [
    '{"a": 1, "a": 2}',
    '{"a": 1, "b": {"c": "x:y", "c": "z"}}',
    '[{"k": "v"}, {"k": 1, "k": 1}]',
    '{"x": "\\u003a", "a": 1, "a": 2}',       # an escaped colon must not hide the duplicate
    '{"a": "::::", "a": 1}',
    '{"n": 123456789012345678901234567890, "a": 1, "a": 2}',
])
def test_duplicate_keys_are_a_clear_error(text: str) -> None:
    with pytest.raises(DuplicateKeyError, match="duplicate key"):
        loads_doc(text)


def test_duplicate_error_is_a_json_doc_error() -> None:
    assert issubclass(DuplicateKeyError, JSONDocError) and issubclass(JSONDocError, ValueError)


def test_colons_in_strings_and_escapes_are_not_duplicates() -> None:
    text = '{"url": "http://x:80/", "k:v": "a\\u003ab", "q": "\\"::\\""}'
    assert loads_doc(text) == {"url": "http://x:80/", "k:v": "a:b", "q": '"::"'}


@FAST
@given(json_values())
def test_loads_reads_what_the_stdlib_writes(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=2)):
        assert same(loads_doc(text), value, order=True)


# -- dumps_doc ---------------------------------------------------------------------------------------

@FAST
@given(json_values())
def test_dumps_every_style_reparses_exactly(value: Any) -> None:
    for style in STYLES:
        text = dumps_doc(value, indent=style.indent, ensure_ascii=style.ensure_ascii, compact=style.compact)
        assert same(strict_loads(text), value, order=True), style
        if style.ensure_ascii:
            assert text.isascii()


@FAST
@given(json_values())
def test_dumps_matches_the_stdlib_layouts(value: Any) -> None:
    # the fast paths (orjson + rewriting) write byte for byte what json.dumps writes, floats aside
    if "float" in repr(type(value)) or _has_float(value):
        return
    assert dumps_doc(value, compact=False) == json.dumps(value, ensure_ascii=False)
    assert dumps_doc(value, indent=4) == json.dumps(value, ensure_ascii=False, indent=4)
    assert dumps_doc(value, ensure_ascii=True) == json.dumps(value, separators=(",", ":"))


def _has_float(value: Any) -> bool:
    if type(value) is float:
        return True
    if type(value) is list:
        return any(_has_float(x) for x in value)
    if type(value) is dict:
        return any(_has_float(x) for x in value.values())
    return False


def test_dumps_refuses_nan_on_the_stdlib_path() -> None:
    with pytest.raises(ValueError):
        dumps_doc([float("nan")], indent=3)


def test_detect_style_reads_back_each_layout() -> None:
    value = {"name": "Zoë", "tags": ["a", "b"], "n": {"x": 1}}
    for style in (COMPACT, SPACED, INDENT2, Style(4, False, False), Style(None, True, True), Style(2, True, False)):
        text = dumps_doc(value, indent=style.indent, ensure_ascii=style.ensure_ascii, compact=style.compact)
        assert detect_style(text) == style, text
    assert detect_style("[1, 2]") == SPACED and detect_style("[1,2]") == COMPACT


# -- numbers as text ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [("12", 12), ("-3", -3), ("1.5", 1.5), ("0.1", 0.1), ("1e+16", 1e16),
                                         ("123456789012345678901234567890", 123456789012345678901234567890)])
def test_canonical_number_texts_convert(text: str, value: Any) -> None:
    assert same(parse_number_text(text), value)
    assert number_text(value) == text


@pytest.mark.parametrize("text", ["1.10", "1e5", "1E5", "-0", "007", "+1", "1.", ".5", "0x10", "١٢", " 1", "1e400",
                                  "NaN", "Infinity", "", "12a"])
def test_non_canonical_number_texts_stay_strings(text: str) -> None:
    assert parse_number_text(text) is None


@FAST
@given(st.one_of(st.integers(), BIG, st.floats(allow_nan=False, allow_infinity=False)))
def test_number_text_round_trips(value: Any) -> None:
    assert same(parse_number_text(number_text(value)), value)


# -- find_documents and splice ------------------------------------------------------------------------

def test_whole_text_document_keeps_surrounding_whitespace() -> None:
    text = '\n  {"a": 1, "b": [1, 2]}  \n'
    [span] = find_documents(text)
    assert span.fence is None and span.value == {"a": 1, "b": [1, 2]}
    assert text[span.start:span.end] == span.raw == '{"a": 1, "b": [1, 2]}'
    assert span.style == SPACED
    assert splice(text, [(span, '{"b":[1,2],"a":1}')]) == '\n  {"b":[1,2],"a":1}  \n'


def test_fenced_blocks_in_prose() -> None:
    text = ("Here is the result:\n\n```json\n{\n  \"city\": \"北京\",\n  \"pop\": 21893095\n}\n```\n\n"
            "and the raw one:\n```\n[1, 2]\n```\nnot this:\n```python\n{\"a\": 1}\n```\nor ```JSON\n{\"z\": 0}\n```")
    spans = find_documents(text)
    assert [s.value for s in spans] == [{"city": "北京", "pop": 21893095}, [1, 2]]
    assert [s.fence for s in spans] == ["json", ""]
    assert spans[0].style == INDENT2
    new = splice(text, [(spans[0], '{"pop":21893095,"city":"北京"}'), (spans[1], "[2,1]")])
    assert new == text.replace('{\n  "city": "北京",\n  "pop": 21893095\n}', '{"pop":21893095,"city":"北京"}').replace(
        "```\n[1, 2]\n```", "```\n[2,1]\n```")
    assert text[spans[0].outer_start:spans[0].outer_end].startswith("```json\n")
    assert text[spans[0].outer_start:spans[0].outer_end].endswith("\n```")


def test_uppercase_label_and_indented_fence() -> None:
    text = 'Steps:\n  ```JSON\n  {\n    "a": 1\n  }\n  ```\n'
    [span] = find_documents(text)
    assert span.fence == "JSON" and span.margin == "  " and span.style.indent == 2
    out = splice(text, [(span, dumps_doc({"a": 1, "b": 2}, indent=2))])
    assert out == 'Steps:\n  ```JSON\n  {\n    "a": 1,\n    "b": 2\n  }\n  ```\n'


@pytest.mark.parametrize("text", ["", "hello", "{not json}", "[1, 2", "42", '"a string"', "```json\n42\n```",
                                  "```\n{broken\n```", "x ```json {\"a\": 1}``` inline"])
def test_texts_without_documents(text: str) -> None:
    assert find_documents(text) == []


def test_problems_are_reported() -> None:
    problems: list[str] = []
    assert find_documents('{"a": 1, "a": 2}', problems) == []
    assert problems == ["duplicate keys in JSON"]
    problems = []
    assert find_documents("Result:\n```json\n{\"a\": 1,}\n```\n", problems) == []
    assert problems == ["invalid JSON in a json code block"]
    problems = []
    text = "```json\n{\"a\": 1, \"a\": 1}\n```\n```json\n{\"b\": 2}\n```"
    assert [s.value for s in find_documents(text, problems)] == [{"b": 2}]
    assert problems == ["duplicate keys in JSON"]


@FAST
@given(json_docs(), st.sampled_from(STYLES), st.sampled_from(["", "\n", "  "]), st.booleans())
def test_find_then_splice_round_trips(value: Any, style: Style, margin: str, fenced: bool) -> None:
    doc = dumps_doc(value, indent=style.indent, ensure_ascii=style.ensure_ascii, compact=style.compact)
    if fenced:  # a fence indented by `margin`, its body indented with it
        pad = margin if margin.strip(" ") == "" else ""
        text = f"Answer:\n{pad}```json\n{pad}{doc.replace(chr(10), chr(10) + pad)}\n{pad}```\nThanks."
    else:
        text = f"{margin}{doc}\n"
    [span] = find_documents(text)
    assert same(span.value, value, order=True)
    assert span.style == detect_style(span.raw, span.margin)
    assert splice(text, [(span, doc)]) == text
    assert splice(text, [(span, "[]")]) == text.replace(span.raw, "[]", 1)


# -- issue 11: linear fence scanning, numbers a double cannot hold ------------------------------------

_OLD_FENCE = re.compile(  # the regex find_documents used before: the reference for what a fence is
    r"^(?P<margin>[ \t]{0,3})(?P<ticks>`{3,})[ \t]*(?P<lang>[^\s`]*)[^\n`]*\n"
    r"(?P<body>.*?)^[ \t]{0,3}(?P=ticks)[ \t]*$",
    re.M | re.S,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["```", "````", "`", "json", "csv", " ", "\t", "    ", "\n", "\n", "x", "{}", "\r",
                                 "\x0b"]), max_size=30).map("".join))
def test_fenced_blocks_finds_what_the_regex_found(text: str) -> None:
    old = [(m.start(), m.end(), m.span("body"), m.group("margin"), m.group("lang")) for m in _OLD_FENCE.finditer(text)]
    new = [(f.start, f.end, (f.body_start, f.body_end), f.margin, f.lang) for f in fenced_blocks(text)]
    assert new == old


def test_many_unclosed_fences_are_scanned_in_linear_time() -> None:
    """Issue 11, item 7: 16k ``` lines took 20 s (each unclosed opener was searched to the end)."""
    text = "````json\n" * 16000 + '```json\n{"a": 1}\n```\n'  # 4-backtick openers that nothing closes
    start = time.perf_counter()
    spans = find_documents(text)
    assert time.perf_counter() - start < 2.0
    assert [s.value for s in spans] == [{"a": 1}]


@pytest.mark.parametrize("text", ['{"pi": 3.14159265358979323846}', "[-0]", '{"tiny": 1e-400}', '{"huge": 1e400}',
                                  '{"n": 12345678901234567890.5}', '{"a": [1, {"b": 2.0000000000000000001}]}'])
def test_a_document_whose_number_a_double_cannot_hold_is_left_alone(text: str) -> None:
    """Issue 11, item 10: shuffle_keys and reformat variants wrote 3.14159265358979323846 as 3.141592653589793."""
    with pytest.raises(InexactNumberError, match="inexact number"):
        loads_doc(text)
    for wrapped in (text, f"Result:\n```json\n{text}\n```\n"):
        problems: list[str] = []
        assert find_documents(wrapped, problems) == [] and problems == [INEXACT]


def test_numbers_that_keep_their_value_are_documents() -> None:
    value = loads_doc('{"a": 1.50, "b": 1E5, "c": -0.0, "d": 1e300, "e": 123456789012345678901234567890, "s": "-0"}')
    assert value == {"a": 1.5, "b": 1e5, "c": -0.0, "d": 1e300, "e": 123456789012345678901234567890, "s": "-0"}
