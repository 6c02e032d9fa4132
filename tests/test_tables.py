"""table_convert: Markdown tables, JSON arrays of records and CSV blocks, each into the others, values kept."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_jsondoc import FAST, same, strict_loads

from qaug.augment.base import Skip, Variant
from qaug.augment.catalog import registry
from qaug.augment.tables import cells_to_records, convert_tables, find_tables, records_to_cells, render_table
from qaug.records import Record
from qaug.rng import Rng

MD = ("Here are the results:\n\n"
      "| name | age | score | note |\n"
      "|:-----|----:|:-----:|------|\n"
      "| Bob \\| Jr | 3 | 0.5 | a, \"quoted\" |\n"
      "| 李雷 | 41 | 12 | |\n"
      "\nThat is all.")
ROWS = [{"name": "Bob | Jr", "age": 3, "score": 0.5, "note": 'a, "quoted"'},
        {"name": "李雷", "age": 41, "score": 12, "note": ""}]


def convert(text: str, to: str, seed: int = 0) -> str:
    new, done, why = convert_tables(text, to, Rng(seed))
    assert done, why
    return new


def fenced_body(text: str, lang: str) -> str:
    start = text.index(f"```{lang}\n") + len(lang) + 4
    return text[start:text.index("```", start)]


def test_markdown_is_found_with_escaped_pipes() -> None:
    [table] = find_tables(MD)
    assert table.kind == "markdown"
    assert table.header == ("name", "age", "score", "note")
    assert table.rows[0] == ("Bob | Jr", "3", "0.5", 'a, "quoted"')
    assert MD[table.start:table.end].startswith("| name") and MD[table.start:table.end].endswith("| 李雷 | 41 | 12 | |")


def test_markdown_to_json_types_columns() -> None:
    out = convert(MD, "json")
    assert out.startswith("Here are the results:\n\n```json\n") and out.endswith("\n```\n\nThat is all.")
    assert same(strict_loads(fenced_body(out, "json")), ROWS, order=True)


def test_markdown_to_csv_quotes_with_the_csv_module() -> None:
    out = convert(MD, "csv")
    rows = list(csv.reader(io.StringIO(fenced_body(out, "csv"))))
    assert rows == [["name", "age", "score", "note"], ["Bob | Jr", "3", "0.5", 'a, "quoted"'], ["李雷", "41", "12", ""]]


@pytest.mark.parametrize("via", ["json", "csv"])
def test_round_trips_back_to_the_same_markdown_values(via: str) -> None:
    back = convert(convert(MD, via), "markdown")
    [table] = find_tables(back)
    assert table.kind == "markdown" and table.rows == find_tables(MD)[0].rows
    assert "Bob \\| Jr" in back and back.endswith("\n\nThat is all.")


def test_json_answer_to_markdown_and_csv() -> None:
    text = json.dumps(ROWS, ensure_ascii=False, indent=2)
    md = convert(text, "markdown")
    assert md.splitlines()[:2] == ["| name | age | score | note |", "| --- | --- | --- | --- |"]
    assert same(strict_loads(fenced_body(convert(md, "json"), "json")), ROWS, order=True)
    csv_text = convert(text, "csv")
    assert same(strict_loads(fenced_body(convert(csv_text, "json"), "json")), ROWS, order=True)


def test_json_whose_values_would_not_survive_is_left_alone() -> None:
    # "1" and "2" are strings: as table cells they would come back as numbers
    new, done, why = convert_tables('[{"code": "1"}, {"code": "2"}]', "any", Rng(0))
    assert (new, done, why) == ('[{"code": "1"}, {"code": "2"}]', [], "table values would not survive the conversion")
    # a line break cannot live in a Markdown cell, but CSV can carry it
    text = '```json\n[{"a": "x\\ny"}]\n```'
    assert convert_tables(text, "markdown", Rng(0))[2] == "table values would not survive the conversion"
    out = convert(text, "csv")
    assert list(csv.reader(io.StringIO(fenced_body(out, "csv")))) == [["a"], ["x\ny"]]


def test_mixed_columns_stay_strings() -> None:
    text = "| id | v |\n|---|---|\n| 007 | 1 |\n| 8 | true |\n"
    records = strict_loads(fenced_body(convert(text, "json"), "json"))
    assert records == [{"id": "007", "v": "1"}, {"id": "8", "v": "true"}]


def test_not_tables() -> None:
    for text in ["no table | here", "```\n| a | b |\n|---|---|\n| 1 | 2 |\n```", '[{"a": {"b": 1}}]', "[1, 2]",
                 '[{"a": 1}, {"b": 2}]', "```csv\nonly,header\n```", "| a | b |\n|---|---|\n| 1 | 2 | 3 |"]:
        assert find_tables(text) == [], text


@FAST
@given(st.lists(st.fixed_dictionaries({
    "name": st.text(alphabet="ab |\\,\"名", min_size=1, max_size=6).map(str.strip).filter(bool),
    "n": st.one_of(st.integers(-10**20, 10**20), st.none()),
    "x": st.floats(allow_nan=False, allow_infinity=False),
    "ok": st.booleans(),
}), min_size=1, max_size=4), st.sampled_from(["markdown", "csv"]))
def test_json_records_survive_a_round_trip(records: list[dict[str, Any]], via: str) -> None:
    if all(r["n"] is None for r in records):
        return  # an all-empty column reads back as text: the conversion refuses it
    text = json.dumps(records, ensure_ascii=False)
    new, done, why = convert_tables(text, via, Rng(1))
    if not done:
        assert why == "table values would not survive the conversion"
        assert any(str(r["name"]) in ("true", "false") or r["name"].lstrip("-").isdigit() for r in records)
        return
    back = convert(new, "json")
    assert same(strict_loads(fenced_body(back, "json")), records)  # columns follow the first row


def test_cells_helpers() -> None:
    assert records_to_cells([{"a": 1, "b": None}, {"b": "x", "a": 2.5}]) == (("a", "b"), (("1", ""), ("2.5", "x")))
    assert (records_to_cells([{"a": [1]}]) is None and records_to_cells([]) is None
            and records_to_cells({"a": 1}) is None)
    assert cells_to_records(("a", "a"), (("1", "2"),)) is None
    assert render_table(("a",), ((" x",),), "markdown") is None
    assert render_table(("a", "b"), (("1", "|"),), "markdown") == "| a | b |\n| --- | --- |\n| 1 | \\| |"


def _record(output: str) -> Record:
    return Record("t1", {"instruction": "Tabulate | the data", "input": "", "output": output}, "alpaca", "t", 1)


def test_table_convert_augmenter() -> None:
    aug = registry()["table_convert"]()
    record = _record(MD)
    [out] = list(aug.augment(record, Rng(3)))
    assert type(out) is Variant
    assert out.data["instruction"] == record.data["instruction"] and record.data["output"] == MD
    [info] = out.info["tables"]
    assert (info["text"] == "output" and info["from"] == "markdown" and info["to"] in ("json", "csv")
            and info["rows"] == 2)
    assert [list(aug.augment(record, Rng(3)))] == [[out]]
    kinds = {next(iter(aug.augment(record, Rng(s)))).info["tables"][0]["to"] for s in range(20)}
    assert kinds == {"json", "csv"}


def test_table_convert_skips() -> None:
    assert list(registry()["table_convert"]().augment(_record("No tables here."), Rng(0))) == [
        Skip("no table in the selected texts")]
    assert list(registry()["table_convert"](to="markdown").augment(_record(MD), Rng(0))) == [
        Skip("table is already in the target layout")]
    assert list(registry()["table_convert"](target="record").augment(_record(MD), Rng(0))) == [
        Skip("table_convert does not apply to target=record")]
    # only the answer by default: a table in the instruction is the prompt, not the answer
    rec = Record("t2", {"instruction": MD, "input": "", "output": "ok"}, "alpaca", "t", 1)
    assert list(registry()["table_convert"]().augment(rec, Rng(0))) == [Skip("no table in the selected texts")]
    [out] = list(registry()["table_convert"](fields=["instruction"]).augment(rec, Rng(0)))
    assert type(out) is Variant


def test_table_convert_in_messages() -> None:
    rec = Record("m", {"messages": [{"role": "user", "content": "Table please"},
                                    {"role": "assistant", "content": MD}]}, "messages", "m", 1)
    [out] = list(registry()["table_convert"](to="json").augment(rec, Rng(0)))
    assert out.info["tables"][0]["text"] == "messages.1.content"
    assert "```json" in out.data["messages"][1]["content"]


def test_a_cell_holding_a_fence_does_not_cut_the_csv_block() -> None:
    """Issue 11, item 8: a ``` line inside a quoted CSV cell closed the block early and rows leaked into the prose."""
    records = [{"name": "a", "code": "x\n```\ny"}, {"name": "b", "code": "run ````tick```` twice"}]
    text = "Here:\n```json\n" + json.dumps(records) + "\n```\nAfter the table."
    new = convert(text, "csv")
    assert new.startswith("Here:\n`````csv\n") and new.endswith("\n`````\nAfter the table.")
    [table] = find_tables(new)
    assert table.kind == "csv" and table.rows == (("a", "x\n```\ny"), ("b", "run ````tick```` twice"))
    assert new[table.end:] == "\nAfter the table."


def test_many_unclosed_csv_fences_are_scanned_in_linear_time() -> None:
    import time

    text = "````csv\n" * 16000 + "```csv\na,b\n1,2\n```\n"
    start = time.perf_counter()
    tables = find_tables(text)
    assert time.perf_counter() - start < 2.0
    assert [(t.kind, t.rows) for t in tables] == [("csv", (("1", "2"),))]
