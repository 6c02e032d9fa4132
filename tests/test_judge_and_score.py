"""The judge in a run (codes in the rejects file, cost in the report, the cache) and `qaug score`."""

from __future__ import annotations

import json
from pathlib import Path

from qaug.llm.cached import CachedEngine, ResultCache
from qaug.config import RunConfig
from qaug.llm.engine import Job, Sampling
from scripted import ScriptedEngine
from qaug.pipeline import Pipeline
from qaug.quality import judge

from conftest import read_jsonl, run_cli, write_jsonl

ROWS = [{"instruction": "Summarise the lease in two sentences.", "input": "", "output": "The tenant rents the flat."},
        {"instruction": "列出三种常见的水果。", "input": "", "output": "苹果、香蕉、橙子。"}]
REWRITES = {"Summarise the lease in two sentences.": ["Give a two-sentence summary of the lease.",
                                                      "The tenant rents the flat."],
            "列出三种常见的水果。": ["请说出三种常见的水果。", "苹果、香蕉和橙子是常见水果。"]}


def _answer(job: Job, n: int) -> str:
    user = job.messages[-1]["content"]
    if "<variant>" in user:
        variant = user.split("<variant>")[1]
        bad = "tenant" in variant or "苹果" in variant
        return json.dumps({**{f: False for f in judge.FLAGS}, "constraint_added": bad, "same_meaning": not bad})
    src = user.split("<text>\n")[1].split("\n</text>")[0]
    return json.dumps({"variants": REWRITES[src]}, ensure_ascii=False)


def _run(tmp_path: Path, name: str, verify: bool, calls: list[Job]) -> dict:
    def answer(job: Job, n: int) -> str:
        calls.append(job)
        return _answer(job, n)

    engine = CachedEngine(lambda: ScriptedEngine(answer), ResultCache(tmp_path / "cache"), "scripted-v1", "scripted")
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    cfg = RunConfig(inputs=(src,), output=tmp_path / f"{name}.jsonl", methods=("rewrite",),
                    method_params={"rewrite": {"n": 2}}, max_aug_ratio=1.0, verify=verify)
    try:
        Pipeline(cfg, engine=engine).run()
    finally:
        engine.close()
    return json.loads((tmp_path / f"{name}.report.json").read_text())


def test_adding_the_judge_to_a_finished_run_computes_only_the_judge(tmp_path: Path) -> None:
    first: list[Job] = []
    report = _run(tmp_path, "a", False, first)
    assert not any("<variant>" in j.messages[-1]["content"] for j in first)
    # the gates alone keep the paraphrases and reject the stated answers
    assert report["methods"]["rewrite"]["written"] == 2 and report["methods"]["rewrite"]["rejected"] == {"answered": 2}
    second: list[Job] = []
    report = _run(tmp_path, "b", True, second)
    assert second and all("<variant>" in j.messages[-1]["content"] for j in second)  # only judge answers computed
    assert report["methods"]["rewrite"]["judge"]["jobs"] == 2


def test_rejects_carry_codes_and_judge_verdicts(tmp_path: Path) -> None:
    REWRITES["Summarise the lease in two sentences."][0] = "Give a two-sentence summary of the tenant's lease."
    try:
        report = _run(tmp_path, "c", True, [])
    finally:
        REWRITES["Summarise the lease in two sentences."][0] = "Give a two-sentence summary of the lease."
    rejects = read_jsonl(tmp_path / "c.rejects.jsonl")
    assert {r["code"] for r in rejects} == {"answered", "judge_constraint_added"}
    assert all(r["reason"] and r["stage"] in ("gate", "verify") for r in rejects)
    assert report["methods"]["rewrite"]["rejected"] == {"answered": 2, "judge_constraint_added": 1}
    kept = [r for r in read_jsonl(tmp_path / "c.jsonl") if r["_qaug"]["method"] == "rewrite"]
    assert kept and all(json.loads(r["_qaug"]["info"])["judge"]["same_meaning"] for r in kept)  # info is a JSON string


def test_score_cli_gates_only(tmp_path: Path) -> None:
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [
        {"source": "写一首关于春天的诗", "candidate": "请创作一首以春天为主题的诗"},
        {"source": "Write a Python function that reverses a string.", "candidate": "Write a C++ function that "
         "reverses a string."},
        {"source": "What is the capital of Australia?", "candidate": "The capital of Australia is Canberra.",
         "answer": "Canberra", "note": "kept through"},
        {"source": "把这句话翻译成英文：你好", "candidate": "请将这句话译为英文：你好", "method": "backtranslate"},
    ])
    out = tmp_path / "scored.jsonl"
    proc = run_cli("score", str(pairs), "-o", str(out), "--no-verify")
    assert proc.returncode == 0, proc.stderr
    rows = read_jsonl(out)
    assert [r["keep"] for r in rows] == [True, False, False, True]
    assert rows[0]["reasons"] == [] and rows[0]["scores"]["overlap"] > 0.15
    assert rows[1]["reasons"][0]["code"] == "key_term_lost" and "Python" in rows[1]["reasons"][0]["detail"]
    assert "answered" in [r["code"] for r in rows[2]["reasons"]] and rows[2]["note"] == "kept through"
    assert "chrf" in rows[3]["scores"]
    assert "2 of 4 kept" in proc.stderr


def test_score_cli_bad_file_exits_2_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "a", "candidate": "b"}\n{"source": "a"}\n', encoding="utf-8")
    proc = run_cli("score", str(bad), "-o", str(tmp_path / "o.jsonl"), "--no-verify")
    assert proc.returncode == 2 and f"{bad}:2" in proc.stderr and "'candidate'" in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()
    bad.write_text('{"source": "a", "candidate": "b", "method": "flatten"}\n', encoding="utf-8")
    proc = run_cli("score", str(bad), "-o", str(tmp_path / "o.jsonl"), "--no-verify")
    assert proc.returncode == 2 and "has no text gates" in proc.stderr
    bad.write_text('{"source": "a b", "candidate": "a c", "source": "dup"}\n', encoding="utf-8")
    proc = run_cli("score", str(bad), "-o", str(tmp_path / "o.jsonl"), "--no-verify")
    assert proc.returncode == 2 and f"{bad}:1: invalid JSON: duplicate key: 'source'" in proc.stderr
    bad.write_bytes(b'{"source": "a b", "candidate": "a \xff c"}\n')
    proc = run_cli("score", str(bad), "-o", str(tmp_path / "o.jsonl"), "--no-verify")
    assert proc.returncode == 2 and f"{bad}:1: invalid UTF-8 at byte 34" in proc.stderr


def test_score_reads_a_bom_writes_into_a_new_folder_and_notes_what_no_verify_leaves_out(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_bytes(b"\xef\xbb\xbf" + json.dumps({"source": "Name three fruits.",
                                                   "candidate": "List three kinds of fruit."}).encode() + b"\n")
    out = tmp_path / "new" / "scored.jsonl"
    proc = run_cli("score", str(pairs), "-o", str(out), "--no-verify", "--support")
    assert proc.returncode == 0, proc.stderr
    assert len(read_jsonl(out)) == 1
    assert "note: --support not used: --no-verify runs the text gates only" in proc.stderr


def test_score_with_the_judge_is_the_same_judge(tmp_path: Path) -> None:
    from qaug.score import pair_from, score_pairs
    from qaug.augment.catalog import registry

    reg = registry()
    pairs = [pair_from({"source": "列出三种常见的水果。", "candidate": c, "answer": "苹果、香蕉、橙子。"}, reg, "t")
             for c in ("请说出三种常见的水果。", "请列举三种常见水果，比如苹果。")]
    engine = ScriptedEngine(_answer)
    rows = list(score_pairs(pairs, engine, Sampling()))
    assert rows[0]["keep"] and rows[0]["scores"]["judge"]["same_meaning"]
    assert not rows[1]["keep"] and "judge_constraint_added" in [r["code"] for r in rows[1]["reasons"]]
