"""The per-record pure path's shortcuts give the same answers as the plain code they replace."""

from __future__ import annotations

import random

import pytest

from qaug import jsonio


def _samples() -> list[bytes]:
    rng = random.Random(5)
    alphabet = "0123456789.-eE,:{}[]\" aé中\U0001f600"
    out = [b"", b"1" * 15, b"1" * 16, b"." * 16, b"0.123456789012345", b"x" * 40 + b"1234567.89012345",
           "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧".encode(), ("9" * 15 + "é" + "9").encode()]
    for _ in range(3000):
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))).encode("utf-8"))
    return out


def test_digit_run_is_the_regex_it_replaces() -> None:
    for data in _samples():
        assert jsonio.digit_run(data) is (jsonio._DIGIT_RUN.search(data) is not None), data


@pytest.mark.parametrize("text", ['{"a": 12345678901234567890}', '{"a": 0.1000000000000000055511151231257827}',
                                  '{"a": 1.5, "b": "1234567890123456789"}', '{"a": -0}', '{"a": 1e-400}',
                                  '{"a": 3.14159265358979323846}', '{"a": "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩"}'])
def test_number_checks_still_catch_what_they_did(text: str) -> None:
    big = "12345678901234567890" in text and '"1234' not in text
    if big:
        assert jsonio.loads(text)["a"] == 12345678901234567890
    problem = jsonio.number_problem(text)
    inexact = jsonio.inexact_number(text)
    assert problem == inexact


def test_variant_ids_are_child_ids_for_ids_that_need_escaping(tmp_path) -> None:
    import json

    from qaug.config import RunConfig
    from qaug.pipeline import Pipeline
    from qaug.provenance import child_id

    src = tmp_path / "in.jsonl"
    ids = ["r1/flatten/0", "a%b", "plain"]
    src.write_text("".join(json.dumps({"id": i, "instruction": "x", "input": "",
                                       "output": json.dumps({"a": 1, "b": [2, 3], "c": {"d": "e"}})}) + "\n"
                           for i in ids))
    cfg = RunConfig(inputs=(src,), output=tmp_path / "out.jsonl", methods=("shuffle_keys",), seed=1,
                    max_aug_ratio=1.0, variants=2)
    Pipeline(cfg).run()
    lines = [json.loads(x)["_qaug"] for x in cfg.output.read_text().splitlines()]
    variants = [q for q in lines if q["method"] != "original"]
    assert variants and {q["id"] for q in variants} == {child_id(i, "shuffle_keys", q["index"])
                                                        for i in ids for q in variants if q["parent"] ==
                                                        ("r1%2Fflatten%2F0" if i == "r1/flatten/0" else
                                                         "a%25b" if i == "a%b" else i)}


@pytest.mark.parametrize("rid", ["in.jsonl:1", "r1/flatten/0", "中文\ud800", ""])
def test_rng_for_unit_is_derive_seed(rid: str) -> None:
    from qaug.rng import Rng, derive_seed

    for seed, method, index in ((0, "perturb", 0), (2**63 + 5, "shuffle_keys", 7), (-3, "m", 1)):
        assert Rng.for_unit(seed, rid, method, index).next64() == Rng(derive_seed(seed, rid, method, index)).next64()
