"""The pipeline: accounting, provenance, gates and determinism, with a minimal real augmenter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from qaug.augment.base import Augmenter, Failure, Outcome, Param, Skip, Variant
from qaug.config import RunConfig
from qaug.errors import RunFailed, UsageError
from qaug.llm.engine import EngineStats
from qaug.pipeline import Pipeline
from qaug.records import Record, with_texts
from qaug.rng import Rng

from conftest import read_jsonl, write_jsonl


class Suffix(Augmenter):
    """Appends a random tag to the first selected text; fails on texts that say 'boom'."""

    name = "suffix"
    description = "test method"
    PARAMS = (Param("tag", str, "v", "tag prefix"),)

    def augment(self, record: Record, rng: Rng) -> Iterator[Outcome]:
        texts = record.texts(self.fields_for(record))
        if not texts:
            yield Skip("no text")
            return
        if any("boom" in t for _, t in texts):
            yield Failure("exploded", text="boom")
            return
        if any("same" in t for _, t in texts):
            yield Variant(dict(record.data))
            return
        path, text = texts[0]  # two possible tags: three tries must collide (pigeonhole)
        yield Variant(with_texts(record.data, {path: f"{text} [{self.tag}{rng.randrange(2)}]"}), info={"n": len(texts)})


def _run(tmp_path: Path, rows: list, **kw) -> tuple[list[dict], list[dict], dict]:
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    kw.setdefault("max_aug_ratio", 1.0)
    cfg = RunConfig(inputs=(src,), output=out, methods=("suffix",), **kw)
    Pipeline(cfg, augmenters=[Suffix(**dict(kw.get("method_params", {}).get("suffix", {})))]).run(overwrite=True)
    report = json.loads((tmp_path / "out.report.json").read_text())
    return read_jsonl(out), read_jsonl(tmp_path / "out.rejects.jsonl"), report


ROWS = [
    {"instruction": "one", "output": "a"},
    "broken {",
    {"instruction": "boom", "output": "b"},
    {"instruction": "same", "output": "c"},
    {"id": "x9", "instruction": "two", "output": "d"},
]


def test_accounting_provenance_and_rejects(tmp_path: Path) -> None:
    out, rejects, report = _run(tmp_path, ROWS, variants=3, seed=7)
    originals = [r for r in out if r["_qaug"]["parent"] is None]
    # input lines = originals + input rejects
    assert report["input_lines"] == 5 == len(originals) + report["input_rejects"]
    assert [o["_qaug"]["id"] for o in originals] == ["in.jsonl:1", "in.jsonl:3", "in.jsonl:4", "x9"]
    children = [r for r in out if r["_qaug"]["parent"] is not None]
    assert children and all(c["_qaug"]["method"] == "suffix" for c in children)
    # with 3 tries and 3 possible tags, siblings collide: those are rejected as duplicates, not written twice
    bodies = [json.dumps({k: v for k, v in c.items() if k != "_qaug"}) for c in children]
    assert len(bodies) == len(set(bodies)) <= 4
    assert "duplicate of a sibling variant" in {r["reason"] for r in rejects}
    reasons = {r["reason"] for r in rejects}
    assert {"exploded", "identical to source"} <= reasons
    assert any(r["stage"] == "read" and r["line"] == 2 for r in rejects)
    # the record's own fields keep their types; _qaug has the same fields and types on every line
    keys = {tuple(r["_qaug"]) for r in out}
    assert len(keys) == 1
    for field in ("params", "info"):
        assert all(isinstance(r["_qaug"][field], str) for r in out)
    assert json.loads(children[0]["_qaug"]["params"]) == {"tag": "v"}
    assert report["methods"]["suffix"]["written"] == len(children)


def test_same_command_twice_is_byte_identical_whatever_the_window(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    _run(a, ROWS, variants=2, seed=3, window=1)
    _run(b, ROWS, variants=2, seed=3, window=256)
    assert (a / "out.jsonl").read_bytes() == (b / "out.jsonl").read_bytes()
    assert (a / "out.rejects.jsonl").read_bytes() == (b / "out.rejects.jsonl").read_bytes()


def test_no_originals_and_strict(tmp_path: Path) -> None:
    out, _, report = _run(tmp_path, [{"instruction": "one", "output": "a"}], keep_originals=False)
    assert all(r["_qaug"]["parent"] == "in.jsonl:1" for r in out) and report["originals_written"] == 0
    with pytest.raises(RunFailed, match="line|:2"):
        _run(tmp_path, ROWS, strict=True)
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["status"] == "failed"


def test_output_equal_to_input_is_refused_before_writing(tmp_path: Path) -> None:
    # the output itself, or a file written beside it (o.jsonl writes o.rejects.jsonl)
    for src, out in ((tmp_path / "in.jsonl", tmp_path / "in.jsonl"),
                     (tmp_path / "o.rejects.jsonl", tmp_path / "o.jsonl")):
        write_jsonl(src, ROWS)
        before = src.read_bytes()
        cfg = RunConfig(inputs=(src,), output=out, methods=("suffix",))
        with pytest.raises(UsageError, match="is also an input"):
            Pipeline(cfg, augmenters=[Suffix()])
        assert src.read_bytes() == before


def test_bad_parameter_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="suffix: unknown parameter nope"):
        Suffix(nope=1)


def test_input_record_is_never_mutated(tmp_path: Path) -> None:
    rec = Record(id="a", data={"messages": [{"role": "user", "content": "hi"}]}, fmt="messages", source="s", line=1)
    snapshot = json.dumps(rec.data)
    outcomes = list(Suffix().augment(rec, Rng(1)))
    assert json.dumps(rec.data) == snapshot
    assert outcomes[0].data["messages"][0]["content"].startswith("hi [v")


def test_max_aug_ratio_holds_at_every_batch_and_says_so(tmp_path: Path) -> None:
    rows = [{"instruction": f"task {i}", "output": "x"} for i in range(40)]
    out, rejects, report = _run(tmp_path, rows, variants=2, max_aug_ratio=0.3, window=10)
    augmented = originals = 0
    for row in out:
        if row["_qaug"]["parent"] is None:
            if originals and originals % 10 == 0:  # a batch boundary: the cap holds here
                assert augmented <= 0.3 * (augmented + originals) + 1e-9
            originals += 1
        else:
            augmented += 1
    assert augmented / len(out) <= 0.3 and augmented == int(40 * 0.3 / 0.7)
    # over the cap is no quality reject: counted per method, not written to the rejects file
    assert not [r for r in rejects if r["stage"] == "cap"] and "cap" not in report["rejects"]
    assert (report["cap_dropped"] == report["methods"]["suffix"]["capped"]
            == report["methods"]["suffix"]["accepted"] - augmented > 0)
    assert report["originals_written"] == 40


def test_cap_that_does_not_bind_keeps_every_variant_whatever_the_order(tmp_path: Path) -> None:
    rows = [{"instruction": f"task {i}", "output": "x"} for i in range(20)]
    rows[3]["instruction"] = rows[7]["instruction"] = "boom"  # fewer variants than the budget allows
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    out_a, _, _ = _run(a, rows[:3], max_aug_ratio=0.5)
    out_b, _, _ = _run(b, list(reversed(rows[:3])), max_aug_ratio=0.5)
    assert sorted(r["_qaug"]["id"] for r in out_a) == sorted(r["_qaug"]["id"] for r in out_b)


def test_ids_stay_unique_across_inputs_and_duplicates_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "d1").mkdir(), (tmp_path / "d2").mkdir()
    a = write_jsonl(tmp_path / "d1" / "data.jsonl", [{"instruction": "one", "output": "a"},
                                                     {"id": 7, "instruction": "two", "output": "b"}])
    b = write_jsonl(tmp_path / "d2" / "data.jsonl", [{"instruction": "one", "output": "a"},
                                                     {"id": 7, "instruction": "dup", "output": "c"}])
    cfg = RunConfig(inputs=(a, b), output=tmp_path / "out.jsonl", methods=("suffix",), max_aug_ratio=1.0)
    Pipeline(cfg, augmenters=[Suffix()]).run()
    ids = [r["_qaug"]["id"] for r in read_jsonl(tmp_path / "out.jsonl")]
    assert len(ids) == len(set(ids))
    assert f"{a}:1" in ids and f"{b}:1" in ids  # same file names: the paths tell them apart
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert [(r["line"], r["reason"]) for r in rejects if r["stage"] == "read"] == \
        [(2, "duplicate record id '7' (the first one was kept)")]
    with pytest.raises(UsageError, match="given twice"):
        Pipeline(RunConfig(inputs=(a, a), output=tmp_path / "o2.jsonl", methods=("suffix",)), augmenters=[Suffix()])


def test_the_cap_deals_variants_round_the_methods(tmp_path: Path) -> None:
    from conftest import EXAMPLES

    methods = ("shuffle_keys", "flatten", "reformat", "table_convert", "rename_identifiers")
    cfg = RunConfig(inputs=(EXAMPLES / "alpaca_en.jsonl",), output=tmp_path / "out.jsonl", methods=methods)
    stats = Pipeline(cfg).run()
    written = {name: stats.methods[name].written for name in methods}
    assert stats.cap_dropped > 0  # the cap binds: 20 originals allow 8 variants
    assert all(n >= 1 for n in written.values()), written  # and no method asked for is crowded out
    assert sum(written.values()) <= 0.3 / 0.7 * stats.originals_written + 1


def test_output_ids_are_unique_even_when_an_input_id_looks_like_a_variant_id(tmp_path: Path) -> None:
    """Issue 11: input ids r1 and r1/flatten/0 with -m flatten gave two lines with _qaug.id r1/flatten/0."""
    from conftest import run_cli

    src = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "r1", "instruction": "x", "output": '{"a": {"b": 1}}'},
        {"id": "r1/flatten/0", "instruction": "y", "output": '{"a": {"b": 2}}'},
        {"id": "50%/x", "instruction": "z", "output": '{"a": {"b": 3}}'},
    ])
    proc = run_cli("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "flatten", "--max-aug-ratio", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    ids = [r["_qaug"]["id"] for r in read_jsonl(tmp_path / "o.jsonl")]
    assert len(ids) == len(set(ids)) == 6
    assert {"r1", "r1%2Fflatten%2F0", "50%25%2Fx", "r1/flatten/0", "r1%2Fflatten%2F0/flatten/0"} <= set(ids)


class ModelSuffix(Suffix):
    """Suffix posing as a model method, counting the units it is asked to compute."""

    name = "model_suffix"
    pure = False

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.computed = 0

    def bind(self, engine, sampling, verify=True) -> None:
        pass

    def augment_many(self, units):
        self.computed += len(units)
        return super().augment_many(units)


class _Engine:
    model_id = "fake.gguf@sha256:000000000000"
    listener = None

    def __init__(self) -> None:
        self.stats = EngineStats()


def _model_run(tmp_path: Path, files: list[list[dict]], ratio: float, methods=None, **kw):
    inputs = tuple(write_jsonl(tmp_path / f"in{i}.jsonl", rows) for i, rows in enumerate(files))
    aug = ModelSuffix()
    augs = [aug] + list(methods or [])
    cfg = RunConfig(inputs=inputs, output=tmp_path / "out.jsonl", methods=tuple(a.name for a in augs),
                    max_aug_ratio=ratio, **kw)
    stats = Pipeline(cfg, augmenters=augs, engine=_Engine()).run()
    return aug, stats


def test_the_cap_is_decided_before_model_work(tmp_path: Path) -> None:
    """Issue 12: two one-record files used 22 s of model time, then kept 0 of 4 variants."""
    aug, stats = _model_run(tmp_path,
                            [[{"instruction": "one", "output": "a"}], [{"instruction": "two", "output": "b"}]],
                            0.3, variants=2)
    assert aug.computed == 0 and stats.variants_written == 0 and stats.cap_dropped == 0
    assert stats.methods["model_suffix"].not_planned == 4
    # a larger input: the units computed follow what the cap lets through (yield 1 here: no over-planning)
    rows = [{"instruction": f"task {i}", "output": "x"} for i in range(40)]
    (tmp_path / "b").mkdir()
    aug, stats = _model_run(tmp_path / "b", [rows[:15], rows[15:]], 0.3, variants=3, window=10)
    assert stats.variants_written == int(40 * 0.3 / 0.7) == aug.computed
    assert stats.cap_dropped == 0 and stats.methods["model_suffix"].not_planned == 120 - aug.computed


class ModelOnMath(ModelSuffix):
    """A model method that applies to math tasks only, as steps and bugfix apply to some answers only."""

    name = "model_on_math"

    def applies(self, record: Record) -> bool:
        return "math" in record.data["instruction"]

    def augment_many(self, units):
        self.computed += len(units)
        self.asked = getattr(self, "asked", 0) + sum(self.applies(rec) for rec, _ in units)
        return [[Skip("not a math task")] if not self.applies(rec) else outs
                for (rec, _), outs in zip(units, Suffix.augment_many(self, units))]


def test_the_cap_plans_model_work_among_the_records_a_method_applies_to(tmp_path: Path) -> None:
    """A reasoning recipe on mostly non-math data: the cap's few planned units went to records the method skips,
    and the run made no model call at all. Now the model work goes to the records it applies to; the others are
    skips at no cost, with their reason in the report."""
    rows = [{"instruction": f"math task {i}" if i % 4 == 0 else f"chat task {i}", "output": "x"} for i in range(40)]
    aug = ModelOnMath()
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    cfg = RunConfig(inputs=(src,), output=tmp_path / "out.jsonl", methods=(aug.name,), max_aug_ratio=0.3, window=40)
    stats = Pipeline(cfg, augmenters=[aug], engine=_Engine()).run()
    ms = stats.methods[aug.name]
    assert aug.asked == 10 and stats.variants_written == 10  # every math record: 10 fit under the cap (17)
    assert sum(ms.skipped.values()) == 30 and ms.not_planned == 0


def test_model_work_is_overplanned_by_the_reject_rate_seen(tmp_path: Path) -> None:
    # every other record fails: after the first batch, about two units are planned per variant kept
    rows = [{"instruction": f"task {i}" if i % 2 else "boom", "output": "x"} for i in range(70)]
    aug, stats = _model_run(tmp_path, [rows], 0.3, window=10)
    allowed = int(70 * 0.3 / 0.7)
    assert stats.variants_written >= allowed - 3  # what one batch can leave unused is carried to the next
    assert allowed < aug.computed < 70 and stats.methods["model_suffix"].tried == aug.computed


def test_every_method_gets_its_share_across_files(tmp_path: Path) -> None:
    """Issue 12: 9 records in 6 files with three methods gave 3 shuffle_keys variants and nothing else."""
    from conftest import run_cli

    rows = [{"instruction": f"Return record {i} as JSON.", "output": f'{{"id": {i}, "meta": {{"k": "v{i}"}}, "b": 2}}'}
            for i in range(9)]
    paths = [str(write_jsonl(tmp_path / f"p{i}.jsonl", chunk))
             for i, chunk in enumerate([rows[0:2], rows[2:3], rows[3:5], rows[5:6], rows[6:8], rows[8:9]])]
    proc = run_cli("run", *paths, "-o", str(tmp_path / "o.jsonl"), "-m", "shuffle_keys,flatten,add_fields", "-q")
    assert proc.returncode == 0, proc.stderr
    methods = [r["_qaug"]["method"] for r in read_jsonl(tmp_path / "o.jsonl") if r["_qaug"]["parent"]]
    assert sorted(methods) == ["add_fields", "flatten", "shuffle_keys"]
    report = json.loads((tmp_path / "o.report.json").read_text())
    assert report["cap_dropped"] == 3 * 9 - 3 and not (tmp_path / "o.rejects.jsonl").read_text()


def test_strict_is_about_quality_rejects_not_the_cap(tmp_path: Path) -> None:
    rows = [{"instruction": f"task {i}", "output": "x"} for i in range(20)]
    out, rejects, report = _run(tmp_path, rows, max_aug_ratio=0.3, strict=True)
    assert report["status"] == "ok" and report["cap_dropped"] > 0 and not rejects
    from conftest import run_cli

    help_text = run_cli("run", "--help", env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}).stdout
    assert "variants over --max-aug-ratio are not rejects" in help_text
