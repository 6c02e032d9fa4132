"""The HTML report's figures, gathered while the run writes: bounded, sampled evenly, and the same
whether fed line by line or read back from the files (which is what --resume relies on)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from qaug import report_measures
from qaug.config import RunConfig
from qaug.pipeline import Pipeline
from qaug.report_measures import Measures
from conftest import write_jsonl


def _state(m: Measures) -> dict:
    return {"seen": dict(m.seen), "stride": dict(m.stride),
            "kept": {k: [i for i, _, _ in v] for k, v in m.kept.items()},
            "chrf": (m.chrf_kept, m.chrf_rejected), "judge": (m.judged, dict(m.judge_flags), dict(m.judge_codes)),
            "sampled": {k: m.sampled(k) for k in m.kept}}


def test_the_sample_stays_bounded_and_spread_over_the_whole_run() -> None:
    m = Measures(cap=100)
    for i in range(100_000):
        m.variant("perturb", json.dumps({"text": f"a b c {i}"}).encode(), b'{"text": "a b c"}', {"paths": ["$"]})
    kept = m.kept["perturb"]
    stride = m.stride["perturb"]
    assert 50 <= len(kept) <= 100 and m.seen["perturb"] == 100_000
    assert all(i % stride == 0 for i, _, _ in kept)
    assert kept[0][0] == 0 and kept[-1][0] > 99_000 - stride  # the end of the run is in it, not only the start
    s = m.sampled("perturb")
    assert s.n == len(kept) and sum(s.sim) == len(kept) and s.stride == stride


def test_counts_cover_every_variant_and_reject_not_only_the_sample() -> None:
    m = Measures(cap=2)
    for _ in range(10):
        m.variant("rewrite", b'{"t": "x y"}', b'{"t": "y x"}', {"judge": {"answered": True, "same_meaning": True},
                                                               "chrf": 55.0})
    m.reject("judge_answered", "answered the prompt")
    m.reject("chrf_high", "round trip is a near-copy: chrF 97.5 above 92")
    assert m.judged == 10 and m.judge_flags == {"answered": 10} and sum(m.chrf_kept) == 10
    assert m.judge_codes == {"judge_answered": 1} and m.chrf_rejected[19] == 1


@pytest.mark.parametrize("keep_originals", [True, False])
def test_fed_while_writing_equals_read_back_from_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           keep_originals: bool) -> None:
    monkeypatch.setattr(report_measures, "SAMPLE", 7)  # small enough that the stride doubles several times
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "instruction": f"Give the figures of report {i}.", "input": "",
                                       "output": json.dumps({"a": i, "b": [1, "two"], "c": {"d": f"x{i}"}})}) + "\n"
                           for i in range(120)) + "{broken\n")
    cfg = RunConfig(inputs=(src,), output=tmp_path / "out.jsonl", methods=("perturb", "shuffle_keys"), seed=2,
                    max_aug_ratio=1.0, variants=2, keep_originals=keep_originals)
    pipe = Pipeline(cfg)
    pipe.run()
    fed = pipe._measures
    assert fed is not None and fed.cap == 7 and fed.stride["perturb"] > 1
    back = Measures.from_files(cfg.output, cfg.rejects_path)
    assert _state(fed) == _state(back)
    if keep_originals:
        assert sum(fed.sampled("perturb").sim) > 0
    page = (tmp_path / "out.report.html").read_text()
    assert "sample of each method" in page and "every 2nd, 4th" in page


def test_model_time_per_method_and_tokens_per_second_over_the_run(tmp_path: Path, tiny_gguf: Path) -> None:
    """Issue 13: the report gives each method's model time and a tokens/s timeline, and the page draws it."""
    pytest.importorskip("llama_cpp")
    from qaug.llm.engine import Sampling
    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    rows = [{"instruction": f"Explain clause {i} of the lease in plain words.", "input": "", "output": "It says."}
            for i in range(6)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    cfg = RunConfig(inputs=(src,), output=tmp_path / "out.jsonl", methods=("rewrite", "shuffle_keys"),
                    method_params={"rewrite": {"n": 1}}, max_aug_ratio=1.0, window=2, verify=False)
    engine = LlamaCppEngine(tiny_gguf, EngineOptions(n_ctx=2048, n_threads=1, parallel=2))  # rewrite's prompt: 1.5k
    try:
        Pipeline(replace(cfg, sampling=Sampling(max_tokens=24)), engine=engine).run()
    finally:
        engine.close()
    report = json.loads((tmp_path / "out.report.json").read_text())
    rewrite, pure = report["methods"]["rewrite"], report["methods"]["shuffle_keys"]
    assert 0 < rewrite["model_seconds"] <= rewrite["seconds"] + 1e-3
    assert pure["model_seconds"] == 0
    timeline = report["timings"]["model_timeline"]
    assert len(timeline) == 3  # one point per window of 2 records
    assert [t for t, _ in timeline] == sorted(t for t, _ in timeline)
    assert [n for _, n in timeline] == sorted(n for _, n in timeline) and timeline[-1][1] > 0
    page = (tmp_path / "out.report.html").read_text()
    assert 'class="chart rate"' in page and "rewrite: of it, the model" in page


def test_the_timeline_stays_bounded_and_goes_on_after_a_resume() -> None:
    from qaug.stats import TIMELINE_POINTS, RunStats

    stats = RunStats()
    for n in range(1, 1001):
        stats.mark_model(n)
    assert len(stats.timeline) <= TIMELINE_POINTS and stats.timeline[-1][1] > stats.timeline[0][1]
    snap = json.loads(json.dumps(stats.snapshot()))
    resumed = RunStats()
    resumed.restore(snap)
    # the resumed run's engine counts on from the checkpoint's counters (1000 tokens), and has generated 5 more:
    # the timeline shows that count, not the earlier run's tokens twice
    resumed.mark_model(1000 + 5)
    assert resumed.timeline[-1][1] == 1005
    assert resumed.timeline[-1][0] >= stats.timeline[-1][0]


def test_a_reason_keeps_the_numbers_of_names_and_loses_its_details() -> None:
    from qaug.stats import reason_code, reason_key

    assert reason_key("invalid UTF-8 at byte 12") == "invalid UTF-8 at byte N"  # not "UTF-N"
    assert reason_code("invalid UTF-8 at byte 12") == "invalid_utf_8_at_byte_n"
    assert reason_key("line 5 is longer than 8.5 MB") == "line N is longer than N MB"
    assert reason_key("UTF-16 in x123, value -3") == "UTF-16 in x123, value -N"
