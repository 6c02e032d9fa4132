"""The HTML report's figures, gathered while the run writes: bounded, sampled evenly, and the same
whether fed line by line or read back from the files (which is what --resume relies on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qaug import report_measures
from qaug.config import RunConfig
from qaug.pipeline import Pipeline
from qaug.report_measures import Measures


def _state(m: Measures) -> dict:
    return {"seen": dict(m.seen), "stride": dict(m.stride), "kept": {k: [i for i, _, _ in v] for k, v in m.kept.items()},
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
    for i in range(10):
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
