"""Fuzzing the reader and the run (issue 11): random bytes, JSON with extreme values, deep nesting.

No input may end a run: every line or element becomes a record or a reject with its number, and the
report's accounting, input_lines = originals + input rejects, holds for every file.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qaug.config import RunConfig
from qaug.readers import InputReject, read_items
from qaug.pipeline import Pipeline
from qaug.records import Record

from conftest import run_cli

EXTREME_NUMBERS = ["-0", "-0.0", "1e-400", "1e400", "-1e999", "12345678901234567890.5", "3.14159265358979323846",
                   "1E5", "1.50", "18446744073709551616", "-9223372036854775809", "1" * 5000, "0." + "0" * 400 + "1",
                   "2.2250738585072014e-308", "5e-324", "1e-320", "NaN", "Infinity", "01", "1.", ".5", "+1"]
ODD_STRINGS = ['"\\ud83d"', '"\\udc00x"', '"a\\u0000b"', '"k\\u003av"', '"tab\tin"', '"é 名前 😀"', '""']

numbers = st.one_of(st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
                    st.floats(allow_nan=False, allow_infinity=False).map(repr), st.sampled_from(EXTREME_NUMBERS))
strings = st.one_of(st.text(max_size=12).map(json.dumps), st.sampled_from(ODD_STRINGS))
keys = st.one_of(st.sampled_from(['"instruction"', '"output"', '"input"', '"text"', '"id"', '"_qaug"', '"a"']), strings)


def _obj(members: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in members) + "}"


values = st.recursive(
    st.one_of(numbers, strings, st.sampled_from(["true", "false", "null"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
                            st.lists(st.tuples(keys, inner), max_size=4).map(_obj)),
    max_leaves=12,
)
deep = st.integers(0, 3000).map(lambda n: '{"text": "d", "x": ' + "[" * n + "]" * n + "}")
records = st.one_of(
    st.tuples(strings, values, values).map(lambda t: _obj([('"instruction"', t[0]), ('"output"', t[1]),
                                                           ('"x"', t[2])])),
    st.lists(st.tuples(keys, values), max_size=5).map(_obj),
    values, deep,
)
lines = st.one_of(records.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=80),
                  st.sampled_from([b"", b"   ", b"\xef\xbb\xbf{}", b"\xff\xfe", b'{"text": "a"}\r']))

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])


def _numbered(items: list) -> list[int]:
    return sorted(i.line for i in items if isinstance(i, Record) or (isinstance(i, InputReject) and i.line is not None))


@FUZZ
@given(st.lists(lines, max_size=12), st.booleans())
def test_every_jsonl_line_is_a_record_or_a_reject(tmp_path_factory, rows: list[bytes], final_newline: bool) -> None:
    path = tmp_path_factory.mktemp("fz") / "f.jsonl"
    data = b"\n".join(rows) + (b"\n" if final_newline and rows else b"")
    path.write_bytes(data)
    items = list(read_items(path))
    n = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
    assert _numbered(items) == list(range(1, n + 1))
    assert all(isinstance(i, Record) or (i.reason and isinstance(i.raw, str)) for i in items)


@FUZZ
@given(st.lists(st.one_of(records, deep), min_size=1, max_size=8),
       st.one_of(st.none(), st.tuples(st.integers(0, 8),
                                      st.sampled_from(["", "[", "]", "{", '"open', '"esc\\"', "1 2"]))),
       st.integers(0, 50))
def test_every_json_array_element_is_a_record_or_a_reject(tmp_path_factory, elements: list[str],
                                                          broken: tuple[int, str] | None, cut: int) -> None:
    path = tmp_path_factory.mktemp("fz") / "a.json"
    if broken is not None:  # an element that breaks the array's structure
        elements = elements[: broken[0]] + [broken[1]] + elements[broken[0]:]
    data = ("[" + ",\n".join(elements) + "]").encode("utf-8", "surrogatepass")
    whole = cut <= 40
    path.write_bytes(data if whole else data[: max(1, len(data) - cut)])  # sometimes cut short
    items = list(read_items(path))
    numbered = _numbered(items)
    assert numbered == list(range(1, len(numbered) + 1))  # elements in order, none lost or doubled
    if whole and broken is None:  # a well-formed array: one record or reject per element, nothing for the file
        assert len(numbered) == len(elements) and all(i.line is not None for i in items)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(lines, min_size=1, max_size=10))
def test_a_run_over_random_lines_accounts_for_every_line(tmp_path_factory, rows: list[bytes]) -> None:
    folder = tmp_path_factory.mktemp("run")
    src = folder / "in.jsonl"
    data = b"\n".join(rows) + b"\n"
    src.write_bytes(data)
    cfg = RunConfig(inputs=(src,), output=folder / "o.jsonl", methods=("perturb", "shuffle_keys"), max_aug_ratio=1.0)
    stats = Pipeline(cfg).run(overwrite=True)
    report = json.loads((folder / "o.report.json").read_text())
    assert report["input_lines"] == data.count(b"\n") == report["originals_written"] + report["input_rejects"]
    assert stats.status == "ok"
    for line in (folder / "o.jsonl").read_bytes().splitlines():
        json.loads(line)  # every output line is JSON


HOSTILE = [
    b'{"instruction": "a \\ud83d b", "n": 12345678901234567890}', b'{"instruction": "\xff\xfe", "n": 1}',
    b'{"instruction": "x", "n": ' + b"1" * 5000 + b"}", b'{"x": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    b'{"instruction": "x", "x": ' + b"[" * 990 + b"]" * 990 + b"}", b'{"instruction": "a", "instruction": "b"}',
    b'{"text": "t", "n": -0}', b'{"text": "t", "n": 1e-400}', b'{"text": "t", "n": 3.14159265358979323846}',
    b'{"text": "```\\n' + b"```json\\n" * 3000 + b'"}', b'{"output": "```' + b" " * 5000 + b'x`"}', b"",
    b'{"instruction": "Say hi.", "output": "{\\"a\\": 1, \\"b\\": [1, 2]}"}',
]


def test_the_cli_over_hostile_files_exits_0_and_accounts_for_every_file(tmp_path: Path) -> None:
    jsonl = tmp_path / "h.jsonl"
    jsonl.write_bytes(b"\n".join(HOSTILE) + b"\n")
    array = tmp_path / "h.json"
    array.write_bytes(b"[" + b",".join(h for h in HOSTILE if h and not h.startswith(b'{"instruction": "\xff')) + b"]")
    cut = tmp_path / "cut.json"
    cut.write_bytes(b'[{"text": "one"}, {"text": "tw')
    out = tmp_path / "o.jsonl"
    proc = run_cli("run", str(jsonl), str(array), str(cut), "-o", str(out), "-m",
                   "perturb,structural,rename_identifiers", "-q", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    report = json.loads((tmp_path / "o.report.json").read_text())
    assert report["input_lines"] == report["originals_written"] + report["input_rejects"]
    for name, fs in report["files"].items():
        assert fs["lines"] == fs["records"] + fs["rejects"], name
    assert report["files"]["h.jsonl"]["lines"] == len(HOSTILE)
