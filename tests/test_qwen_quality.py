"""The judge on a real Qwen2.5 (the 0.5B from scripts/fetch_qwen.py): skipped when the model is absent.

CI does not download it; `python scripts/fetch_qwen.py --size 0.5b` puts it in models/.
"""

from __future__ import annotations


import pytest

from conftest import ROOT

QWEN = ROOT / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


@pytest.fixture(scope="module")
def qwen():
    if not QWEN.exists():
        pytest.skip(f"{QWEN.name} absent: run `python scripts/fetch_qwen.py --size 0.5b`")
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    engine = LlamaCppEngine(QWEN, EngineOptions(n_ctx=2048, parallel=4))
    yield engine
    engine.close()


def test_the_judge_answers_every_question_on_qwen(qwen) -> None:
    """Grammar-constrained: every answer of the real model has all seven booleans, and the verdict is greedy
    (the same on a second call)."""
    from qaug.augment.catalog import registry
    from qaug.llm.engine import Sampling
    from qaug.quality import judge
    from qaug.score import pair_from, score_pairs

    reg = registry()
    pairs = [pair_from(p, reg, "t") for p in (
        {"source": "写一首关于春天的诗", "candidate": "请创作一首以春天为主题的诗", "answer": "春风拂面百花开。"},
        {"source": "What is the capital of Australia?", "candidate": "Which city is Australia's capital?",
         "answer": "Canberra"},
    )]
    first = list(score_pairs(pairs, qwen, Sampling(), judge_all=True))
    again = list(score_pairs(pairs, qwen, Sampling(), judge_all=True))
    for row in first:
        assert set(row["scores"]["judge"]) == {*judge.FLAGS, "same_meaning"}
    assert [r["scores"]["judge"] for r in first] == [r["scores"]["judge"] for r in again]
