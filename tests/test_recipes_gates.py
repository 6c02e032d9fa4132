"""Recipes, --task, --verify, the back-translation chrF gate and the text gates, with a scripted engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qaug.quality import judge

from qaug.augment.backtranslate import BackTranslate
from qaug.augment.base import Failure, Skip, Variant
from qaug.augment.catalog import resolve_methods
from qaug.augment.rewrite import Rewrite
from qaug.errors import UsageError
from qaug.llm.engine import Job, Sampling
from scripted import ScriptedEngine
from qaug.quality import filters
from qaug.recipe import TASKS, load_recipe, methods_for
from qaug.records import Record
from qaug.rng import Rng

from conftest import EXAMPLES, run_cli, write_jsonl

EN = Record(id="r1", data={"instruction": "Summarise the 2023 report for {company} in 3 bullet points.", "input": "",
                           "output": "..."}, fmt="alpaca", source="t", line=1)
ZH = Record(id="r2", data={"instruction": "请总结{company}的2023年年报，列出3个要点。", "output": "..."}, fmt="alpaca",
            source="t", line=2)


def scripted(answers):
    """answers(job) -> JSON text; the engine records the jobs it saw."""
    return ScriptedEngine(lambda job, n: answers(job))


def test_every_shipped_recipe_loads_and_resolves() -> None:
    recipes = sorted((EXAMPLES / "recipes").glob("*.toml"))
    assert {p.stem for p in recipes} == set(TASKS)
    from qaug.augment.catalog import registry

    for path in recipes:
        rc = load_recipe(path)
        names = resolve_methods(methods_for(rc.get("methods"), rc.get("task")))
        assert names, path
        for name in names:  # every parameter the recipe sets is one the method takes and accepts
            registry()[name](**rc.get("params", {}).get(name, {}))


def test_recipe_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text('methods = ["rewrite"]\nsedd = 3\n')
    with pytest.raises(UsageError, match="unknown key.*sedd"):
        load_recipe(bad)
    bad.write_text("[model]\nthreds = 2\n")
    with pytest.raises(UsageError, match=r"\[model\]: unknown key.*threds"):
        load_recipe(bad)
    bad.write_text("methods = [")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_recipe(bad)


def test_task_picks_methods_and_explicit_methods_win() -> None:
    assert methods_for(None, "sft") == ["swap"]  # rewrite and roleplay are below the precision bar (recipe.BELOW_BAR)
    assert methods_for("perturb", "sft") == ["perturb"]
    assert methods_for(None, None) == ["rewrite"]
    with pytest.raises(UsageError):
        methods_for(None, "poetry")


def test_flags_override_recipe_and_report_has_effective_config(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "x", "output": '{"a": 1, "b": {"c": 2}}'}])
    recipe = tmp_path / "r.toml"
    recipe.write_text('methods = ["flatten"]\nseed = 4\nmax_aug_ratio = 1.0\n[params.flatten]\nsep = "/"\n')
    proc = run_cli("run", str(src), "-o", str(tmp_path / "o.jsonl"), "--recipe", str(recipe), "--seed", "9", "-q")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "o.report.json").read_text())
    cfg = report["config"]
    assert (cfg["seed"] == 9 and cfg["methods"] == ["flatten"]
            and cfg["method_params"] == {"flatten": {"depth": 0, "sep": "/"}})
    assert cfg["recipe"] == str(recipe) and cfg["max_aug_ratio"] == 1.0
    out = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert json.loads(out[1]["output"]) == {"a": 1, "b/c": 2}


def test_rewrite_prompt_language_delimiters_and_gates() -> None:
    aug = Rewrite(n=4)
    answers = {
        "r1": ["Give three bullet points summarising the 2023 report of {company}.",
               "Summarise the 2023 report for {company} in 3 bullet points.",           # identical
               "Summarise the report for {company} in 3 bullet points.",                # lost 2023
               "For {company}: three bullet points from its 2023 report, please."],
    }
    eng = scripted(lambda job: json.dumps({"variants": answers["r1"]}))
    aug.bind(eng, Sampling())
    (outs,) = aug.augment_many([(EN, Rng(1))])
    job = eng.jobs_seen[0]
    user = job.messages[-1]["content"]
    assert "<text>\nSummarise the 2023 report for {company} in 3 bullet points.\n</text>" in user
    # the gates' terms, told up front
    assert "Must keep: bullet points, 2023, 3, {company}" in user and "Do not answer" in user
    assert len(job.messages) > 2 and job.messages[1]["role"] == "user"  # few-shot turns before the request
    assert [type(o).__name__ for o in outs] == ["Variant", "Failure", "Failure", "Variant"]
    assert outs[1].reason == "identical to source after normalisation" and outs[2].reason == "lost number '2023'"
    zh = Rewrite(n=1)
    eng = scripted(lambda job: json.dumps({"variants": ["请列出{company}2023年年报的3个要点并加以总结。"]}))
    zh.bind(eng, Sampling())
    (outs,) = zh.augment_many([(ZH, Rng(1))])
    assert "必须保留" in eng.jobs_seen[0].messages[-1]["content"] and isinstance(outs[0], Variant)


def test_judge_names_the_failure_and_sees_the_answer() -> None:
    judged: list[Job] = []

    def answer(job: Job) -> str:
        if "<variant>" in job.messages[-1]["content"]:
            judged.append(job)
            variant = job.messages[-1]["content"].split("<variant>")[1]
            flags = {f: False for f in judge.FLAGS}
            if "poem" in variant:
                return json.dumps({**flags, "constraint_dropped": True, "same_meaning": False})
            if "please" in variant:
                return json.dumps({**flags, "negation_changed": True, "same_meaning": True})
            return json.dumps({**flags, "same_meaning": True})
        return json.dumps({"variants": ["Give three bullet points summarising the 2023 report of {company}.",
                                        "For {company}: three bullet points from its 2023 report, please.",
                                        "Write a poem about {company} in 2023 with 3 bullet points."]})
    aug = Rewrite(n=3)
    aug.bind(scripted(answer), Sampling(), verify=True)
    (outs,) = aug.augment_many([(EN, Rng(2))])
    assert isinstance(outs[0], Variant) and outs[0].info["judge"]["same_meaning"] is True
    assert isinstance(outs[1], Failure) and outs[1].stage == "verify" and outs[1].code == "judge_negation_changed"
    assert isinstance(outs[2], Failure) and outs[2].code == "judge_constraint_dropped"
    assert "flags: constraint_dropped" in outs[2].reason  # the raised flags are in the reason
    assert len(judged) == 3 and all(j.sampling.temperature == 0 for j in judged)
    assert f"<answer>\n{EN.data['output']}" in judged[0].messages[-1]["content"]
    usage = aug.take_judge_usage()
    assert usage["jobs"] == 3 and aug.take_judge_usage() == {}


def test_judge_verdict_decides_by_the_measured_questions() -> None:
    base = {f: False for f in judge.FLAGS}
    assert judge.verdict({**base, "same_meaning": True}) is None
    for flag in judge.DECIDING:
        assert judge.verdict({**base, flag: True, "same_meaning": True}).code == f"judge_{flag}"
    # recorded, not deciding: said of good and bad pairs alike on the 1.5B (see judge.DECIDING)
    assert judge.verdict({**base, "answered": True, "not_a_request": True, "same_meaning": True}) is None
    assert judge.verdict({**base, "same_meaning": False}) is None
    assert judge.verdict({**base, "same_meaning": False}, meaning_decides=True).code == "judge_meaning_changed"
    assert judge.verdict({**base, "answered": True, "same_meaning": True}, deciding=("answered",)).code == \
        "judge_answered"


def test_backtranslate_hops_languages_and_chrf_floor_and_ceiling() -> None:
    src = Record(id="b", data={"instruction": "Explain the termination clause of this contract in plain words."},
                 fmt="alpaca", source="t", line=1)
    backs = {
        "good": "Explain in plain language the contract's termination clause.",
        "copy": "Explain the termination clause of this contract in plain words!",
        "drift": "Bake a cake.",
    }
    for case, expect in (("good", Variant), ("copy", "near-copy"), ("drift", "drifted")):
        def answer(job: Job, case=case) -> str:
            if ("from English into Chinese" in job.messages[1]["content"]
                    or "从英文翻译成中文" in job.messages[1]["content"]):
                return json.dumps({"translation": "用通俗的话解释本合同的终止条款。"})
            return json.dumps({"translation": backs[case]})
        aug = BackTranslate()
        aug.bind(scripted(answer), Sampling())
        (outs,) = aug.augment_many([(src, Rng(3))])
        if expect is Variant:
            assert isinstance(outs[0], Variant)
            info = outs[0].info
            assert info["pivot_lang"] == "zh" and info["pivot"] == ["用通俗的话解释本合同的终止条款。"]
            assert 15 <= info["chrf"] <= 92
        else:
            assert isinstance(outs[0], Failure) and expect in outs[0].reason


def test_backtranslate_rejects_a_pivot_hop_in_the_wrong_language() -> None:
    aug = BackTranslate()
    aug.bind(scripted(lambda job: json.dumps({"translation": "Still English, not Chinese at all."})), Sampling())
    (outs,) = aug.augment_many([(EN, Rng(4))])
    assert isinstance(outs[0], Failure) and outs[0].reason == "pivot hop is in en, not zh"


def test_backtranslate_says_why_when_the_only_pivot_is_the_records_language() -> None:
    """The classification recipe's pivots=["en"] on English records: nothing to round-trip through, said as a skip
    (before, such a record was planned, asked nothing and reported nothing)."""
    aug = BackTranslate(pivots=("en",))
    engine = scripted(lambda job: json.dumps({"translation": "unused"}))
    aug.bind(engine, Sampling())
    (outs,) = aug.augment_many([(EN, Rng(4))])
    assert outs == [Skip("the record is in en, the only pivot language given (backtranslate.pivots=en)",
                         code="pivot_is_source")]
    assert not engine.jobs_seen


def test_a_bug_in_one_units_second_hop_fails_that_unit_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The back hop is planned under the same per-unit guard as the first: one bad unit, one Failure."""
    other = Record(id="r2", data={"instruction": "List three primary colors.", "input": "", "output": "Red."},
                   fmt="alpaca", source="t", line=2)
    pivots = {"Summarise": "BOOM 用三个要点总结报告。", "List": "列出三种原色。"}

    def answer(job: Job) -> str:
        content = job.messages[1]["content"]
        if "BOOM" in content or "列出三种原色" in content:  # the back hop
            return json.dumps({"translation": "Name the three primary colours."})
        return json.dumps({"translation": next(v for k, v in pivots.items() if k in content)})

    aug = BackTranslate()
    aug.bind(scripted(answer), Sampling())
    real = aug._translate_job

    def translate_job(key, text, source, target, rng, tag):
        if "BOOM" in text:
            raise RuntimeError("a bug in planning this unit's back hop")
        return real(key, text, source, target, rng, tag)

    monkeypatch.setattr(aug, "_translate_job", translate_job)
    outs_a, outs_b = aug.augment_many([(EN, Rng(3)), (other, Rng(4))])
    assert len(outs_a) == 1 and isinstance(outs_a[0], Failure) and outs_a[0].code == "internal_error"
    assert "a bug in planning this unit's back hop" in outs_a[0].reason
    assert len(outs_b) == 1 and not (isinstance(outs_b[0], Failure) and outs_b[0].code == "internal_error")


def test_text_filters_work_for_chinese() -> None:
    assert filters.similarity("今天天气很好", "今天天气很好") == 1.0
    assert filters.similarity("今天天气很好", "明日有雨") < 0.2
    assert filters.length_units("今天 天气") == 4 and filters.length_units("two words") == 2
    assert filters.preservation_reason("Pay %s by {date} at https://x.io/a", "Pay by {date} at https://x.io/a") == \
        "lost placeholder '%s'"
    assert filters.preservation_reason("共3个，价格1,200元", "一共3个，价格1200元") is None


def test_command_line_methods_and_task_replace_the_recipes(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "x", "output": '{"a": 1, "b": {"c": 2}}'}])
    recipe = EXAMPLES / "recipes" / "structured.toml"
    proc = run_cli("run", str(src), "-o", str(tmp_path / "a.jsonl"), "--recipe", str(recipe), "-m", "perturb", "-q")
    assert proc.returncode == 0, proc.stderr  # the recipe's null_inject/flatten parameters are not an error
    cfg = json.loads((tmp_path / "a.report.json").read_text())["config"]
    assert cfg["methods"] == ["perturb"] and cfg["method_params"]["perturb"]["null_p"] == 0.3
    proc = run_cli("run", str(src), "-o", str(tmp_path / "b.jsonl"), "--recipe", str(recipe), "--task", "structured",
                   "--fields", "output", "-q")
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads((tmp_path / "b.report.json").read_text())["config"]
    assert "flatten" in cfg["methods"] and cfg["method_params"]["null_inject"]["protect"] == ["id", "amount"]
    bad = run_cli("run", str(src), "-o", str(tmp_path / "c.jsonl"), "-m", "perturb", "--fields", "answer")
    assert bad.returncode == 2 and "unknown field answer" in bad.stderr


def test_a_bug_in_one_record_fails_that_record_only() -> None:
    class Fragile(Rewrite):
        def plan(self, unit, index):  # type: ignore[no-untyped-def]
            if "boom" in unit.texts[0][1]:
                raise KeyError("boom")
            super().plan(unit, index)

    aug = Fragile(n=1)
    aug.bind(scripted(lambda job: json.dumps({"variants": ["Give three bullet points on the 2023 report "
                                                           "of {company}."]})),
             Sampling())
    bad = Record(id="x", data={"instruction": "boom"}, fmt="alpaca", source="t", line=3)
    good, broken = aug.augment_many([(EN, Rng(1)), (bad, Rng(2))])
    assert isinstance(good[0], Variant)
    assert isinstance(broken[0], Failure) and broken[0].reason == "internal error in rewrite: KeyError: 'boom'"


def test_methods_below_the_precision_bar_leave_the_task_defaults_with_a_note(monkeypatch) -> None:
    from qaug import recipe

    for task, methods in recipe.TASKS.items():
        assert not set(methods) & set(recipe.BELOW_BAR)
        assert set(methods) | (set(recipe.TASK_METHODS[task]) & set(recipe.BELOW_BAR)) == set(recipe.TASK_METHODS[task])
    for good, kept in recipe.BELOW_BAR.values():  # each is under the bar, or too few to tell
        assert good / kept < recipe.MIN_PRECISION or kept < recipe.MIN_LABELLED
    monkeypatch.setattr(recipe, "BELOW_BAR", {"swap": (5, 10)})
    note = recipe.below_bar_note(["rewrite", "swap"])
    assert note is not None and "swap (5 of 10 kept variants signed off)" in note and "rewrite" not in note
    assert recipe.below_bar_note(["rewrite"]) is None


def test_a_task_with_no_method_over_the_bar_says_so() -> None:
    from qaug import recipe

    empty = [t for t, ms in recipe.TASKS.items() if not ms]
    for task in empty:
        with pytest.raises(UsageError, match="precision bar"):
            methods_for(None, task)
    assert methods_for(None, "structured") == ["structural"]
