"""Structural augmenters: value transforms as properties, augmenters on realistic records."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_jsondoc import FAST, STYLES, json_docs, same, strict_loads
from conftest import pure_outcome

from qaug.augment.base import Failure, Skip, Variant
from qaug.augment.catalog import groups, registry
from qaug.augment.jsondoc import dumps_doc, find_documents, parse_number_text
from qaug.augment.structural import (
    NotApplicable, Perturb, add_fields_value, flatten_value, nest_value, null_inject_value, retype_value,
    shuffle_keys_value,
)
from qaug.errors import UsageError
from qaug.records import Record
from qaug.rng import Rng

PLAIN_KEYS = st.text(alphabet=st.characters(blacklist_characters="."), min_size=1, max_size=6)
INDIVIDUAL = ("shuffle_keys", "null_inject", "flatten", "nest", "add_fields", "retype", "reformat")


def key_orders(value: Any) -> list:
    """Every object's key sequence, in document order."""
    if type(value) is dict:
        return [list(value)] + [o for x in value.values() for o in key_orders(x)]
    if type(value) is list:
        return [o for x in value for o in key_orders(x)]
    return []


def eligible_leaves(value: Any, protect: set[str], path: tuple = ()) -> list[tuple]:
    """Paths of the non-null scalar object members outside protected keys: what null_inject may null."""
    if type(value) is dict:
        out = []
        for k, x in value.items():
            if k in protect:
                continue
            if type(x) in (dict, list):
                out += eligible_leaves(x, protect, path + (k,))
            elif x is not None:
                out.append(path + (k,))
        return out
    if type(value) is list:
        return [p for i, x in enumerate(value) if type(x) in (dict, list)
                for p in eligible_leaves(x, protect, path + (i,))]
    return []


def has_object_with_two_keys(value: Any) -> bool:
    return any(len(keys) >= 2 for keys in key_orders(value))


def roundtrip(value: Any) -> Any:
    """What a transform's output becomes once written: reparsed by an independent strict parser."""
    return strict_loads(dumps_doc(value))


def leaves(value: Any, path: tuple = ()) -> dict[tuple, Any]:
    if type(value) is dict:
        return {p: v for k, x in value.items() for p, v in leaves(x, path + (k,)).items()}
    if type(value) is list:
        return {p: v for i, x in enumerate(value) for p, v in leaves(x, path + (i,)).items()}
    return {path: value}


# -- value transforms: properties over arbitrary JSON ------------------------------------------------

@FAST
@given(json_docs(), st.integers(0, 2**64 - 1))
def test_shuffle_keeps_the_value_and_changes_the_order(value: Any, seed: int) -> None:
    before = copy.deepcopy(value)
    try:
        out = shuffle_keys_value(value, Rng(seed))
    except NotApplicable:
        assert not has_object_with_two_keys(value)
        return
    assert same(value, before, order=True)  # input untouched
    assert same(roundtrip(out), value)  # same value (key order aside), strictly valid once written
    assert key_orders(out) != key_orders(value)


@FAST
@given(json_docs(), st.integers(0, 2**64 - 1), st.floats(0, 1), st.sets(PLAIN_KEYS, max_size=3))
def test_null_inject_nulls_only_unprotected_leaves(value: Any, seed: int, p: float, protect: set[str]) -> None:
    before = copy.deepcopy(value)
    try:
        out, paths = null_inject_value(value, Rng(seed), p, protect.__contains__)
    except NotApplicable:
        assert not eligible_leaves(value, protect)  # refused only when no leaf may become null
        return
    assert same(value, before, order=True)
    assert paths
    old, new = leaves(value), leaves(roundtrip(out))
    assert old.keys() == new.keys()
    changed = [p for p in old if not same(old[p], new[p])]
    assert sorted(map(repr, changed)) == sorted(map(repr, paths))
    for path in changed:
        assert new[path] is None and old[path] is not None
        assert not any(type(step) is str and step in protect for step in path)
        assert type(path[-1]) is str  # an object member, never an array element


def test_null_inject_with_p_zero_nulls_exactly_one_leaf() -> None:
    value = {"a": 1, "b": {"c": "x", "d": [1, {"e": True}]}, "f": None, "g": []}
    seen = set()
    for seed in range(40):
        out, paths = null_inject_value(value, Rng(seed), 0.0, lambda k: False)
        assert len(paths) == 1
        assert leaves(out)[paths[0]] is None
        seen.add(paths[0])
    assert seen == {("a",), ("b", "c"), ("b", "d", 1, "e")}
    assert value == {"a": 1, "b": {"c": "x", "d": [1, {"e": True}]}, "f": None, "g": []}


@FAST
@given(json_docs(PLAIN_KEYS), st.sampled_from([0, 1, 2]))
def test_nest_inverts_flatten(value: Any, depth: int) -> None:
    try:
        flat = flatten_value(value, depth)
    except NotApplicable as exc:
        assert str(exc) == "no nested object to flatten"
        return
    written = roundtrip(flat)
    assert same(written, flat)
    if depth == 0:  # no non-empty object is left inside an object
        items = written if type(written) is list else [written]
        for obj in items:
            if type(obj) is dict:
                assert not any(type(x) is dict and x for x in obj.values())
    assert same(nest_value(written), value)


@FAST
@given(json_docs())
def test_flatten_refuses_keys_holding_the_separator(value: Any) -> None:
    try:
        flat = flatten_value(value)
    except NotApplicable as exc:
        keys = [k for ks in key_orders(value) for k in ks]
        if "separator" in str(exc):  # refused: a key of an object it would flatten holds the separator
            assert any("." in k for k in keys)
        elif "empty key" in str(exc):  # or is empty: "" and "a" would both flatten to "a"
            assert "" in keys
        else:
            assert str(exc) == "no nested object to flatten"
        return
    assert same(nest_value(flat), value) or any("." in k or not k for keys in key_orders(value) for k in keys)


def test_flatten_and_nest_examples() -> None:
    value = {"a": {"b": {"c": 1}, "d": []}, "e": {}, "f": [{"g": {"h": 2}}]}
    assert flatten_value(value) == {"a.b.c": 1, "a.d": [], "e": {}, "f": [{"g": {"h": 2}}]}
    assert flatten_value(value, 1) == {"a.b": {"c": 1}, "a.d": [], "e": {}, "f": [{"g": {"h": 2}}]}
    assert flatten_value(value, sep="/") == {"a/b/c": 1, "a/d": [], "e": {}, "f": [{"g": {"h": 2}}]}
    assert flatten_value([{"a": {"b": 1}}, 3]) == [{"a.b": 1}, 3]
    for bad in ({"a.b": {"c": 1}}, {"x": {"a.b": 1}}):
        with pytest.raises(NotApplicable, match="separator"):
            flatten_value(bad)
    assert nest_value({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}
    assert nest_value({"e.g.": 1, "v.1": 2}) == {"e.g.": 1, "v": {"1": 2}}  # empty parts stay put
    for conflict in ({"a": 1, "a.b": 2}, {"a.b": 2, "a": 1}, {"a.b": {"c": 1}, "a.b.d": 2}, {"a": {"x": 1}, "a.b": 2}):
        with pytest.raises(NotApplicable, match="conflicting"):
            nest_value(conflict)
    with pytest.raises(NotApplicable, match="no dotted"):
        nest_value({"a": {"b": 1}})


def _without_numeric_strings(value: Any) -> bool:
    return not any(type(v) is str and parse_number_text(v) is not None for v in leaves(value).values())


@FAST
@given(json_docs())
def test_retype_round_trip(value: Any) -> None:
    assume(_without_numeric_strings(value))
    try:
        as_strings, count = retype_value(value, "to_string")
    except NotApplicable:
        assert not any(type(v) in (int, float) for v in leaves(value).values())
        return
    written = roundtrip(as_strings)
    assert not any(type(v) in (int, float) for v in leaves(written).values())
    back, count_back = retype_value(written, "to_number")
    assert count_back == count
    assert same(roundtrip(back), value, order=True)


def test_retype_keeps_text_that_would_change() -> None:
    value = {"a": "1.10", "b": "007", "c": "12", "d": "1e5", "e": "-0", "f": "123456789012345678901234567890",
             "g": 2.5, "h": True}
    out, n = retype_value(value, "to_number")
    assert n == 2 and out == {**value, "c": 12, "f": 123456789012345678901234567890}
    out, n = retype_value(value, "to_string")
    assert n == 1 and out["g"] == "2.5" and out["h"] is True


@FAST
@given(json_docs(), st.sampled_from(STYLES))
def test_reformat_never_changes_the_value(value: Any, style: Any) -> None:
    text = dumps_doc(value, indent=style.indent, ensure_ascii=style.ensure_ascii, compact=style.compact)
    record = Record("r", {"instruction": "Give JSON.", "output": text}, "alpaca", "t", 1)
    outcome = list(registry()["reformat"]().augment(record, Rng(3)))[0]
    if type(outcome) is Skip:
        assert outcome.reason in ("every layout gives the same text",)
        return
    new = outcome.data["output"]
    assert new != text
    assert same(strict_loads(new), value, order=True)


@FAST
@given(json_docs(), st.integers(0, 2**32))
def test_add_fields_only_adds_its_key(value: Any, seed: int) -> None:
    try:
        out, names = add_fields_value(value, Rng(seed), "_meta", "rec-1")
    except NotApplicable:
        assert type(value) is not dict or "_meta" in value
        return
    written = roundtrip(out)
    meta = written.pop("_meta")
    assert same(written, value, order=True)
    assert list(meta) == names and names
    if "key_count" in meta:
        assert meta["key_count"] == len(value)
    if "record_id" in meta:
        assert meta["record_id"] == "rec-1"


# -- augmenters on records -------------------------------------------------------------------------------

ANSWER = {"company": "ACME", "ticker": "ACM", "revenue": {"value": 5000000, "currency": "USD"}, "year": 2023,
          "audited": True, "auditor": None, "employees": 1200, "notes": "restated", "segments": [{"name": "cloud"}]}


def alpaca(output: str, instruction: str = "Extract the key figures as JSON.") -> Record:
    return Record("r1", {"instruction": instruction, "input": "ACME earned $5M in 2023.", "output": output},
                  "alpaca", "t.jsonl", 1)


FENCED = alpaca("Here you go:\n\n```json\n" + json.dumps(ANSWER, indent=2) + "\n```\n\nLet me know if you need more.")
MESSAGES = Record("m1", {"messages": [
    {"role": "system", "content": "You answer in JSON."},
    {"role": "user", "content": "List the city and its population."},
    {"role": "assistant", "content": json.dumps({"city": "北京", "population": 21893095, "districts": ["东城", "西城"],
                                                            "area": {"km2": 16410.5, "rank": 5}}, ensure_ascii=False)},
]}, "messages", "m.jsonl", 1)


def run(name: str, record: Record, seed: int = 1, **kw: Any) -> Variant | Skip:
    return pure_outcome(registry()[name](**kw), record, seed)


@pytest.mark.parametrize("name", INDIVIDUAL + ("perturb",))
@pytest.mark.parametrize("record", [alpaca(json.dumps(ANSWER)), FENCED, MESSAGES], ids=["alpaca", "fenced", "messages"])
def test_every_method_gives_a_valid_new_record_and_leaves_the_input_alone(name: str, record: Record) -> None:
    before = orjson.dumps(record.data)
    outcome = run(name, record)
    assert orjson.dumps(record.data) == before
    if name in ("nest",):
        assert outcome == Skip("no dotted keys to nest")
        return
    assert type(outcome) is Variant, outcome
    assert outcome.data != record.data
    json.dumps(outcome.info)  # small and JSON-serialisable
    assert len(json.dumps(outcome.info)) < 1000
    changed = [k for k in record.data if outcome.data[k] != record.data[k]]
    assert changed == (["messages"] if record.fmt == "messages" else ["output"])
    old_docs = [d for _, t in record.texts() for d in find_documents(t)]
    new_docs = [d for _, t in Record("x", outcome.data, record.fmt, "", 0).texts() for d in find_documents(t)]
    assert len(new_docs) == len(old_docs) == 1
    assert same(strict_loads(new_docs[0].raw), new_docs[0].value, order=True)
    if name in ("shuffle_keys", "reformat"):
        assert same(new_docs[0].value, old_docs[0].value)
    if record is FENCED:  # prose and fences kept
        out = outcome.data["output"]
        assert out.startswith("Here you go:\n\n```json\n") and out.endswith("\n```\n\nLet me know if you need more.")


def test_indented_fence_never_gives_the_same_text_back() -> None:
    text = ('Steps:\n  ```json\n  {\n    "a": 1,\n    "b": {"c": 2}\n  }\n  ```\n'
            .replace('{"c": 2}', '{\n      "c": 2\n    }'))
    record = alpaca(text)
    for name in ("reformat", "shuffle_keys", "perturb", "flatten"):
        for seed in range(10):
            out = run(name, record, seed=seed)
            assert type(out) is Variant and out.data["output"] != text
            [span] = find_documents(out.data["output"])
            assert span.margin == "  " and out.data["output"].startswith("Steps:\n  ```json\n  {")


def test_messages_only_touch_the_json_turn() -> None:
    out = run("shuffle_keys", MESSAGES)
    assert type(out) is Variant
    assert out.data["messages"][:2] == MESSAGES.data["messages"][:2]
    assert out.info == {"docs": [{"text": "messages.2.content", "doc": 0}]}


@pytest.mark.parametrize("name", INDIVIDUAL + ("perturb",))
def test_determinism(name: str) -> None:
    record = alpaca(json.dumps(ANSWER)) if name != "nest" else alpaca(json.dumps(flatten_value(ANSWER)))
    a, b = run(name, record, seed=42), run(name, record, seed=42)
    assert a == b
    if name in ("shuffle_keys", "null_inject", "add_fields", "perturb"):
        outs = {orjson.dumps(run(name, record, seed=s).data) for s in range(12)}
        assert len(outs) > 3


def test_perturb_records_its_choice_and_uses_each_method() -> None:
    record = alpaca(json.dumps(ANSWER))
    seen = set()
    for seed in range(60):
        out = run("perturb", record, seed=seed)
        assert type(out) is Variant
        seen.add(out.info["method"])
        assert list(out.info) == ["method", "docs"]
    assert seen == {"shuffle_keys", "null_inject", "flatten", "add_fields", "reformat"}  # nest never applies here
    flat = alpaca(json.dumps(flatten_value(ANSWER)))
    assert "nest" in {run("perturb", flat, seed=s).info["method"] for s in range(40)}


def test_perturb_falls_back_when_the_first_choice_skips() -> None:
    record = alpaca(json.dumps({"a": {"b": 1}}))
    for seed in range(30):
        out = run("perturb", record, seed=seed, methods=["nest", "flatten"])
        assert type(out) is Variant and out.info["method"] == "flatten"


def test_null_inject_spares_protected_and_mentioned_keys() -> None:
    record = alpaca(json.dumps(ANSWER), instruction="Give the company, its ticker and the auditor as JSON.")
    for seed in range(40):
        out = run("null_inject", record, seed=seed, p=1.0, protect=["year", "revenue"])
        assert type(out) is Variant
        value = json.loads(out.data["output"])
        for key in ("company", "ticker", "year"):
            assert value[key] == ANSWER[key]
        assert value["revenue"] == ANSWER["revenue"] and value["auditor"] is None
        assert value["employees"] is None and value["notes"] is None  # p=1: every eligible leaf


def test_null_inject_mentions_by_words_case_and_cjk() -> None:
    value = {"first_name": "Ada", "lastName": "L", "城市": "北京", "id": 7, "provider": "x"}
    record = alpaca(json.dumps(value, ensure_ascii=False), instruction="Return the First Name, last name and 城市.")
    for seed in range(20):
        out = json.loads(run("null_inject", record, seed=seed, p=1.0).data["output"])
        assert out["first_name"] == "Ada" and out["lastName"] == "L" and out["城市"] == "北京"
        assert out["id"] is None and out["provider"] is None  # "id" is not a word of the prompt


def test_null_inject_spares_keys_named_by_one_of_their_words() -> None:
    value = {"revenue_musd": 5, "net_income_musd": 1, "fiscal_year": 2023, "cik": 9}
    record = alpaca(json.dumps(value), instruction="Extract the revenue and the income as JSON.")
    for seed in range(20):
        out = run("null_inject", record, seed=seed, p=1.0)
        got = json.loads(out.data["output"])
        assert got["revenue_musd"] == 5 and got["net_income_musd"] == 1  # "revenue", "income" are named
        assert got["fiscal_year"] is None and got["cik"] is None  # neither "fiscal" nor "year" is in the prompt
        assert out.info["docs"][0]["nulled"] == ["/fiscal_year", "/cik"] and out.info["docs"][0]["count"] == 2


def test_null_inject_skips_when_nothing_is_eligible() -> None:
    record = alpaca('{"company": "ACME", "auditor": null}', instruction="Name the company.")
    assert run("null_inject", record) == Skip("no leaf that may become null")


def test_skip_reasons() -> None:
    assert run("shuffle_keys", alpaca("Hello there!")) == Skip("no JSON object or array in the selected texts")
    assert run("perturb", alpaca('{"a": 1, "a": 2}')) == Skip("duplicate keys in JSON")
    assert run("shuffle_keys", alpaca('{"a": 1}')) == Skip("no object with two or more keys")
    assert run("flatten", alpaca('{"a": 1}')) == Skip("no nested object to flatten")
    assert run("add_fields", alpaca('[1, 2]')) == Skip("document is not an object")
    assert run("add_fields", alpaca('{"_meta": 1}')) == Skip("metadata key already present")
    assert run("reformat", alpaca("{}")) == Skip("every layout gives the same text")
    assert run("perturb", alpaca("[]")) == Skip("no structural perturbation applies")
    assert run("retype", alpaca('{"a": "x"}')) == Skip("no number or numeric string to retype")


def test_fields_restrict_the_texts() -> None:
    record = Record("r", {"instruction": '{"q": 1, "r": 2}', "input": "", "output": '{"a": 1, "b": 2}'},
                    "alpaca", "t", 1)
    out = run("shuffle_keys", record, fields=["instruction"])
    assert out.data["output"] == record.data["output"] and out.data["instruction"] == '{"r": 2, "q": 1}'
    both = run("shuffle_keys", record)
    assert [d["text"] for d in both.info["docs"]] == ["instruction", "output"]


def test_target_record() -> None:
    record = Record("r", {"instruction": "Say hi", "input": "", "output": "hi", "meta": {"lang": "en", "src": "web"}},
                    "alpaca", "t", 1)
    out = run("shuffle_keys", record, target="record")
    assert type(out) is Variant and out.data == record.data and list(out.data) != list(record.data)
    out = run("flatten", record, target="record")
    assert out.data == {"instruction": "Say hi", "input": "", "output": "hi", "meta.lang": "en", "meta.src": "web"}
    out = run("null_inject", record, target="record", p=1.0)
    assert ({k: out.data[k] for k in ("instruction", "input", "output")}
            == {"instruction": "Say hi", "input": "", "output": "hi"})
    assert out.data["meta"] == {"lang": None, "src": None}
    assert run("add_fields", record, target="record").data["_meta"]
    assert run("reformat", record, target="record") == Skip("reformat does not apply to target=record")
    assert type(run("perturb", record, target="record")) is Variant
    assert record.data["meta"] == {"lang": "en", "src": "web"}


def test_target_record_never_nulls_or_retypes_a_formats_own_fields() -> None:
    """A completion record whose prompt reads as a number: retyped, it would no longer be a completion record."""
    record = Record("c", {"prompt": "42", "completion": "7", "n": 3, "system": "1"}, "completion", "t", 1)
    out = run("retype", record, target="record", direction="to_number")
    assert out == Skip("no numeric string to retype")
    out = run("retype", record, target="record", direction="to_string")
    assert type(out) is Variant and out.data == {"prompt": "42", "completion": "7", "n": "3", "system": "1"}
    out = run("null_inject", record, target="record", p=1.0)
    assert type(out) is Variant and out.data == {"prompt": "42", "completion": "7", "n": None, "system": "1"}


def test_big_integers_survive_every_method() -> None:
    big = 123456789012345678901234567890
    record = alpaca(json.dumps({"id": big, "nested": {"n": -big, "f": 0.1}, "k": "v"}))
    for name in INDIVIDUAL + ("perturb",):
        for seed in range(5):
            out = run(name, record, seed=seed)
            if type(out) is Variant:
                text = out.data["output"]
                numbers = [v for v in leaves(strict_loads(text)).values() if type(v) is int and abs(v) >= 2**64]
                assert all(abs(v) == big for v in numbers)
                if out.info.get("method", name) != "null_inject":
                    assert str(big) in text


def test_params_are_validated() -> None:
    reg = registry()
    for name, kw in [("null_inject", {"p": 2}), ("flatten", {"sep": ""}), ("flatten", {"depth": -1}),
                     ("perturb", {"methods": ["retype"]}), ("retype", {"direction": "up"}),
                     ("perturb", {"null_p": -1})]:
        with pytest.raises(UsageError):
            reg[name](**kw)
    assert Perturb(methods="flatten,nest", null_p="0.5").params() == {"methods": ["flatten", "nest"], "null_p": 0.5,
                                                                      "protect": []}


def test_registration_and_group() -> None:
    reg = registry()
    for name in INDIVIDUAL + ("perturb", "table_convert"):
        assert reg[name].description and "\n" not in reg[name].description
    assert set(groups()["structural"]) == {"shuffle_keys", "null_inject", "flatten", "nest", "add_fields", "reformat",
                                          "table_convert"}


def test_augment_many_matches_augment() -> None:
    aug = Perturb()
    records = [alpaca(json.dumps({**ANSWER, "i": i})) for i in range(10)] + [alpaca("no json")]
    batch = aug.augment_many([(r, Rng(i)) for i, r in enumerate(records)])
    assert batch == [list(aug.augment(r, Rng(i))) for i, r in enumerate(records)]
    assert type(batch[-1][0]) is Skip


def test_augment_many_turns_a_bug_into_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    aug = registry()["shuffle_keys"]()

    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(aug, "edit", broken)
    [[outcome]] = aug.augment_many([(alpaca('{"a": 1, "b": 2}'), Rng(0))])
    assert type(outcome) is Failure and "RuntimeError: boom" in outcome.reason


def test_add_fields_takes_the_record_id_only_from_the_records_own_id() -> None:
    no_id = Record("t.jsonl:1", {"instruction": "Extract as JSON.", "output": json.dumps(ANSWER)},
                   "alpaca", "t.jsonl", 1)
    own = Record("en-7", {"id": "en-7", "instruction": "Extract as JSON.", "output": json.dumps(ANSWER)}, "alpaca",
                 "t.jsonl", 1)
    ids_no, ids_own = set(), set()
    for seed in range(64):
        ids_no.add(json.loads(run("add_fields", no_id, seed=seed).data["output"])["_meta"].get("record_id"))
        ids_own.add(json.loads(run("add_fields", own, seed=seed).data["output"])["_meta"].get("record_id"))
    assert ids_no == {None}  # never "t.jsonl:1": file names do not belong in training answers
    assert ids_own == {None, "en-7"}


@pytest.mark.parametrize("name", ["shuffle_keys", "reformat", "perturb"])
@pytest.mark.parametrize("number", ["3.14159265358979323846", "-0", "1e-400", "12345678901234567890.5"])
def test_no_variant_changes_a_number(name: str, number: str) -> None:
    """Issue 11, item 10: shuffle_keys and reformat variants wrote 3.14159265358979323846 as 3.141592653589793."""
    record = alpaca('{"pi": %s, "name": "circle", "sides": 0}' % number)
    outcome = run(name, record)
    assert isinstance(outcome, Skip) and "would not keep its value" in outcome.reason, outcome
    same_value = run(name, alpaca('{"pi": 1.50, "name": "circle", "sides": 0}'))  # 1.50 is 1.5: a variant is made
    assert isinstance(same_value, Variant) and json.loads(same_value.data["output"])["pi"] == 1.5


def test_reformat_keeps_chinese_unescaped_unless_asked() -> None:
    """Issue 12: compact+ascii was a default style for zh records, writing 北京 as \\u5317\\u4eac."""
    text = json.dumps({"城市": "北京", "人口": 21893095, "区": ["东城", "西城"]}, ensure_ascii=False)
    record = alpaca(text)
    for seed in range(40):
        out = list(registry()["reformat"]().augment(record, Rng(seed)))[0]
        assert isinstance(out, Variant) and "北京" in out.data["output"] and "\\u" not in out.data["output"]
    asked = {json.dumps(list(registry()["reformat"](ascii=True).augment(record, Rng(seed)))[0].info)
             for seed in range(40)}
    assert any("ascii" in s for s in asked)


@pytest.mark.parametrize("name", INDIVIDUAL)
def test_an_answer_nested_too_deep_to_write_is_skipped_with_its_reason(name: str) -> None:
    """256 levels parse, but no strict writer here writes them back: a skip that says so, not an internal error."""
    doc: Any = {"a": 1}
    for _ in range(260):
        doc = {"k": doc}
    record = alpaca(json.dumps(doc))
    assert run(name, record) == Skip("JSON nested deeper than 255 levels")
