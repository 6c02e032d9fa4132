"""The model support check: teacher-forced surprisal through real llama.cpp, the word rules, and a run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qaug.llm.cached import CachedEngine, ResultCache
from qaug.config import RunConfig
from qaug.llm.engine import Job, Sampling, ScoreRequest, Surprisal
from scripted import ScriptedEngine
from qaug.pipeline import Pipeline
from qaug.quality import judge, support
from qaug.quality.textgates import GateInput, GateSettings, copied_share, near_copy

from conftest import read_jsonl, write_jsonl


# -- teacher forcing through llama.cpp -------------------------------------------------------------

def test_surprisal_covers_the_target_and_reuse_changes_nothing(llama) -> None:
    msgs = ({"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Rewrite this instruction.\n\nWrite a poem about spring."})
    targets = ["写一首关于春天的诗", "Compose a poem about springtime.", "写一首关于春天的诗"]
    scored = llama.surprisal([ScoreRequest(msgs, t) for t in targets])
    for t, sc in zip(targets, scored):
        assert "".join(sc.pieces) == t  # every piece is whole text, Han characters split into bytes rejoined
        assert len(sc.nats) == len(sc.pieces) and all(math.isfinite(x) and x >= -1e-4 for x in sc.nats)
    # the third request reuses the prompt's KV from the second: the numbers match a fresh scoring
    fresh = llama.surprisal([ScoreRequest(msgs, targets[2])])[0]
    assert fresh.pieces == scored[2].pieces == scored[0].pieces
    assert (fresh.nats == pytest.approx(scored[2].nats, abs=1e-2)
            and fresh.nats == pytest.approx(scored[0].nats, abs=1e-2))
    # generation still works after scoring: the scoring sequence is left empty
    job = Job("j", msgs, {"type": "object", "properties": {"a": {"type": "boolean"}}, "required": ["a"],
                          "additionalProperties": False}, seed=1, sampling=Sampling(max_tokens=32))
    result = next(iter(llama.generate([job])))
    assert result.ok, result.error


def test_surprisal_is_cached(tmp_path: Path, tiny_gguf: Path) -> None:
    pytest.importorskip("llama_cpp")
    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    built: list[int] = []

    def load() -> LlamaCppEngine:
        built.append(1)
        return LlamaCppEngine(tiny_gguf, EngineOptions(n_ctx=512, n_threads=1, parallel=1))

    reqs = support.requests("Summarise the lease in two sentences.", "Give a two-sentence summary of the lease.")
    assert [r.target for r in reqs] == ["Summarise the lease in two sentences.",
                                        "Give a two-sentence summary of the lease."]
    engine = CachedEngine(load, ResultCache(tmp_path / "cache"), "tiny-v1", "tiny")
    first = engine.surprisal(reqs)
    engine.close()
    engine = CachedEngine(load, ResultCache(tmp_path / "cache"), "tiny-v1", "tiny")
    again = engine.surprisal(reqs)
    assert again == first and len(built) == 1  # the second engine never loaded the model
    assert engine.stats.scored_cached == 2
    engine.close()


# -- the word rules -------------------------------------------------------------------------------

def _sc(pairs: list[tuple[str, float]]) -> Surprisal:
    return Surprisal(tuple(p for p, _ in pairs), tuple(x for _, x in pairs))


def test_words_join_latin_pieces_and_keep_chinese_tokens_apart() -> None:
    scored = _sc([("Parse", 7.0), (" the", 0.1), (" acc", 3.0), ("ounts", 2.0), ("-pay", 1.0), ("able", 1.0),
                  ("法律", 6.0), ("风险", 1.0)])
    ws = support.words(scored)
    assert [w.text for w in ws] == ["Parse", " the", " accounts", "-payable", "法律", "风险"]
    assert ws[2].nats == pytest.approx(5.0)


@pytest.mark.parametrize("word,content", [
    (" briefly", True), (" months", True), (" clinic", True), ("法律", True), ("修改", True), ("我", True),
    (" the", False), (" Convert", False), (" following", False), ("概括", False), ("下面", False), ("的", False),
    (" 2023", False), (",", False)])
def test_what_counts_as_content(word: str, content: bool) -> None:
    assert support.is_content(word) is content


def test_only_surprising_content_words_are_unsupported() -> None:
    # "briefly" stayed surprising given the variant: dropped. "concise" became likely; "Turn" is a free verb.
    scored = _sc([("Turn", 9.0), (" briefly", 10.9), (" concise", 2.0), (" the", 8.0)])
    assert [w.text for w in support.unsupported(scored, min_nats=7.5)] == [" briefly"]


def test_verdict_names_the_words_lost_before_the_words_added() -> None:
    plain = _sc([("ok", 0.1)])
    lost = _sc([(" clinic", 9.7), (" months", 8.0)])
    added = _sc([(" hospital", 9.9)])
    reject, summary = support.verdict([lost, added])
    assert reject is not None and reject.code == "support_lost" and "'clinic', 'months'" in reject.detail
    assert summary == {"lost": ["clinic", "months"], "added": ["hospital"]}
    reject, _ = support.verdict([plain, added])
    assert reject is not None and reject.code == "support_added" and "'hospital'" in reject.detail
    assert support.verdict([plain, plain])[0] is None
    assert support.verdict([lost, plain], support.SupportSettings(lost_nats=10.0))[0] is None


# -- the near-copy gate ----------------------------------------------------------------------------

@pytest.mark.parametrize("source,variant,copy", [
    ("将下面的英文翻译成中文，金额、日期等信息保持准确。", "将下面的英文翻译成中文，金额和日期保持准确。", True),
    ("Write a short, polite reply to a customer whose order arrived damaged, and say the refund takes five days.",
     "Write a short, polite answer to a customer whose order arrived damaged, and say the refund takes five days.",
     True),
    ("Summarize the following paragraph in two sentences.", "Condense this paragraph into just two sentences.", False),
    ("用两句话概括下面这段文字的主要内容。", "这段文字主要讲了什么？用两句话概括。", False)])
def test_near_copy_gate_on_zh_and_en(source: str, variant: str, copy: bool) -> None:
    reject = near_copy(GateInput(source, variant), GateSettings())
    assert (reject is not None) is copy, copied_share(source, variant)
    if copy:
        assert reject.code == "near_copy"


# -- in a run -------------------------------------------------------------------------------------

ROWS = [{"instruction": "Turn the invoice below into JSON for our accounts-payable system and point out anything "
                         "inconsistent.", "input": "", "output": "{}"}]
GOOD = "Convert the invoice that follows to JSON for the accounts-payable system, noting whatever looks inconsistent."
BAD = "Please produce JSON from the invoice that follows and flag whatever seems inconsistent in it."


def _answer(job: Job, n: int) -> str:
    """Two rewrites of the one record; the judge (asked only about what the support check kept) agrees."""
    if "<variant>" in job.messages[-1]["content"]:
        return json.dumps({**{f: False for f in judge.FLAGS}, "same_meaning": True})
    return json.dumps({"variants": [GOOD, BAD]})


def _scorer(req: ScoreRequest) -> Surprisal:
    """A scripted model: 'accounts-payable' is surprising unless the text it rewrites names it too."""
    helped = "accounts-payable" in req.messages[-1]["content"]
    words = req.target.split(" ")
    return Surprisal(tuple((" " if i else "") + w for i, w in enumerate(words)),
                     tuple((2.0 if helped else 11.0) if w == "accounts-payable" else 0.5 for w in words))


def _config(tmp_path: Path) -> RunConfig:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    return RunConfig(inputs=(src,), output=tmp_path / "out.jsonl", methods=("rewrite",),
                     method_params={"rewrite": {"n": 2}}, max_aug_ratio=1.0, verify=True)


def test_a_run_rejects_what_the_model_does_not_support(tmp_path: Path) -> None:
    from rich.console import Console

    from qaug.cli_summary import print_summary

    engine = ScriptedEngine(_answer, scorer=_scorer)
    config = _config(tmp_path)
    stats = Pipeline(config, engine=engine).run()
    console = Console(record=True, width=200)
    print_summary(console, stats, config)
    assert "support check on rewrite: 2 variants scored" in console.export_text()
    assert len(engine.scored) == 4  # each variant: the source given it, it given the source
    kept = [r["instruction"] for r in read_jsonl(tmp_path / "out.jsonl") if r["_qaug"]["method"] == "rewrite"]
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert kept == [GOOD]
    assert [(r["code"], r["stage"]) for r in rejects] == [("support_lost", "verify")]
    assert "'accounts-payable'" in rejects[0]["reason"]
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["methods"]["rewrite"]["judge"]["support_pairs"] == 2
    assert report["methods"]["rewrite"]["judge"]["jobs"] == 1  # the judge only sees what the support check kept


def test_an_engine_that_cannot_score_skips_the_check_and_says_so(tmp_path: Path) -> None:
    Pipeline(_config(tmp_path), engine=ScriptedEngine(_answer)).run()
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["methods"]["rewrite"]["judge"]["support_unavailable"] == 2
    assert report["methods"]["rewrite"]["written"] == 2


def test_qaug_score_runs_the_support_check_only_when_asked() -> None:
    """Measured on the model's own variants, the check drops most paraphrases people write: opt-in for pairs."""
    from qaug.augment.catalog import registry
    from qaug.score import pair_from, score_pairs

    pairs = [pair_from({"source": ROWS[0]["instruction"], "candidate": c}, registry(), f"row {i}", i)
             for i, c in enumerate((GOOD, BAD))]
    plain = list(score_pairs(pairs, ScriptedEngine(_answer, scorer=_scorer)))
    assert all("support" not in ln["scores"] for ln in plain)
    checked = list(score_pairs(pairs, ScriptedEngine(_answer, scorer=_scorer), support_check=True))
    assert [ln["keep"] for ln in checked] == [True, False]
    assert (checked[1]["reasons"][-1]["code"] == "support_lost"
            and checked[1]["scores"]["support"]["lost"] == ["accounts-payable"])


def test_a_library_run_gets_the_cli_window_default(tmp_path: Path) -> None:
    """RunConfig(window=None): 32 records a batch with a model method (a checkpoint per batch of model work), 256
    without one, as the CLI does (issue 14: Pipeline(RunConfig(...)) from Python used to get 256 always)."""
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    model = Pipeline(_config(tmp_path), engine=ScriptedEngine(_answer, scorer=_scorer))
    pure = Pipeline(RunConfig(inputs=(src,), output=tmp_path / "pure.jsonl", methods=("shuffle_keys",)))
    assert model.config.window == 32 and pure.config.window == 256
    pure.run()
    assert json.loads((tmp_path / "pure.report.json").read_text())["config"]["window"] == 256


def test_long_texts_are_scored_in_chunks_and_too_long_ones_refused(tiny_gguf: Path) -> None:
    """A target longer than the batch is forced in several decodes; the numbers match one decode of it all. One
    over the context gets None, the others in the same call are still scored, and the pair is a support_error."""
    pytest.importorskip("llama_cpp")
    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    msgs = ({"role": "user", "content": "Rewrite this."},)
    target = "Turn the invoice below into JSON for our accounts-payable system, and briefly point out " * 3
    scores = []
    for n_batch, deterministic in ((512, False), (16, False), (16, True)):
        engine = LlamaCppEngine(tiny_gguf, EngineOptions(n_ctx=512, n_threads=1, parallel=1, n_batch=n_batch,
                                                         deterministic=deterministic))
        try:
            scores.append(engine.surprisal([ScoreRequest(msgs, target)])[0])
            if n_batch == 16 and not deterministic:
                long, fine = engine.surprisal([ScoreRequest(msgs, target * 20), ScoreRequest(msgs, target)])
                assert long is None and fine is not None and fine.pieces == scores[0].pieces
                reject, _ = support.verdict([long, fine])
                assert reject is not None and reject.code == "support_error"
        finally:
            engine.close()
    assert len(scores[0].pieces) > 40  # well past one batch of 16
    for other in scores[1:]:
        assert other.pieces == scores[0].pieces
        assert other.nats == pytest.approx(scores[0].nats, abs=0.05)


def test_a_scoring_failure_rejects_the_unchecked_variants_and_the_run_goes_on(tmp_path: Path) -> None:
    def broken(req: ScoreRequest) -> Surprisal:
        raise RuntimeError("llama_decode failed with code 1")

    Pipeline(_config(tmp_path), engine=ScriptedEngine(_answer, scorer=broken)).run()
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert [r["code"] for r in rejects] == ["support_error", "support_error"]
    assert "llama_decode failed" in rejects[0]["reason"]
    assert [r["_qaug"]["method"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["original"]


def test_qaug_score_reports_a_scoring_failure_per_pair_too() -> None:
    from qaug.augment.catalog import registry
    from qaug.score import pair_from, score_pairs

    def broken(req: ScoreRequest) -> Surprisal:
        raise RuntimeError("llama_decode failed with code 1")

    pairs = [pair_from({"source": ROWS[0]["instruction"], "candidate": GOOD}, registry(), "row 0", 0)]
    [line] = score_pairs(pairs, ScriptedEngine(_answer, scorer=broken), support_check=True)
    assert not line["keep"] and line["reasons"][-1]["code"] == "support_error"
