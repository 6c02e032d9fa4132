"""The dataset card beside a split: an HF YAML header naming the split files, and the run's methods and model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import read_jsonl, run_cli, write_jsonl

yaml = pytest.importorskip("yaml")


def _card(folder: Path) -> tuple[dict, str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_card_from_a_real_run(tmp_path: Path) -> None:
    rows = [{"instruction": f"Item {i} of {'xyz' * i} as JSON", "input": "", "output": json.dumps({"a": i, "b": [i]})}
            for i in range(15)]
    src = write_jsonl(tmp_path / "src.jsonl", rows)
    proc = run_cli("run", str(src), "-o", str(tmp_path / "out.jsonl"), "-m", "shuffle_keys", "--max-aug-ratio", "1",
                   "-q")
    assert proc.returncode == 0, proc.stderr
    run = json.loads((tmp_path / "out.report.json").read_text())
    proc = run_cli("split", str(tmp_path / "out.jsonl"), "-o", str(tmp_path / "ds"), "--eval", "0.2", "--test", "0.2")
    assert proc.returncode == 0, proc.stderr
    header, body = _card(tmp_path / "ds")
    files = header["configs"][0]["data_files"]
    assert [f["split"] for f in files] == ["train", "validation", "test"]
    assert all((tmp_path / "ds" / f["path"]).is_file() for f in files)
    split = json.loads((tmp_path / "ds" / "split.report.json").read_text())
    assert sum(len(read_jsonl(tmp_path / "ds" / f["path"])) for f in files) == \
        sum(s["lines"] for s in split["sides"].values())
    q = header["qaug"]
    assert q["methods"]["shuffle_keys"]["written"] == run["methods"]["shuffle_keys"]["written"] > 0
    assert q["methods"]["shuffle_keys"]["params"] == {} and q["max_aug_ratio"] == 1.0 and q["model"] is None
    assert q["split"]["groups"] == split["groups"] and header["size_categories"] == ["n<1K"]
    assert "| shuffle_keys |" in body
    assert "cap `--max-aug-ratio 1.0`, model: none (pure-Python methods only)" in body  # no judge where no model


def test_card_names_model_sha_and_reject_rates(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "out.jsonl", [{"instruction": f"q{i} {'ab' * i}", "output": "a"} for i in range(6)])
    (tmp_path / "out.report.json").write_text(json.dumps({
        "config": {"seed": 3, "max_aug_ratio": 0.3, "verify": True, "method_params": {"rewrite": {"n": 5}}},
        "model": {"model": "qwen2.5-7b-instruct-q4_k_m.gguf@sha256:0123456789ab"},
        "methods": {"rewrite": {"written": 6, "accepted": 8, "rejected": {"key_term_lost": 1, "judge_answered": 1},
                                "capped": 2}}}))
    proc = run_cli("split", str(src), "-o", str(tmp_path / "ds"))
    assert proc.returncode == 0, proc.stderr
    header, body = _card(tmp_path / "ds")
    q = header["qaug"]
    assert q["model"] == "qwen2.5-7b-instruct-q4_k_m.gguf" and q["model_sha256_prefix"] == "0123456789ab"
    assert q["methods"]["rewrite"] == {"params": {"n": 5}, "written": 6, "rejected": 2, "reject_rate": 0.2, "capped": 2}
    assert "20.0%" in body and "--max-aug-ratio 0.3" in body


def test_card_without_a_run_report(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "plain.jsonl", [{"text": f"doc {i}"} for i in range(4)])
    assert run_cli("split", str(src), "-o", str(tmp_path / "ds")).returncode == 0
    header, body = _card(tmp_path / "ds")
    assert "methods" not in header["qaug"] and "No run report" in body


def test_card_gives_the_whole_sha256_of_a_local_model(tmp_path: Path) -> None:
    import hashlib

    model = tmp_path / "tiny-test.gguf"
    model.write_bytes(b"GGUF not really a model")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    src = write_jsonl(tmp_path / "out.jsonl", [{"text": f"doc {i} {'z' * i}"} for i in range(4)])
    (tmp_path / "out.report.json").write_text(json.dumps({
        "config": {"model": {"gguf": str(model)}, "method_params": {}},
        "model": {"model": f"tiny-test.gguf@sha256:{digest[:12]}"}, "methods": {}}))
    assert run_cli("split", str(src), "-o", str(tmp_path / "ds")).returncode == 0
    header, body = _card(tmp_path / "ds")
    assert header["qaug"]["model_sha256"] == digest and digest in body
    model.write_bytes(b"another file under that name")  # not the model the run used: only the prefix is given
    assert run_cli("split", str(src), "-o", str(tmp_path / "ds"), "--overwrite").returncode == 0
    header, _ = _card(tmp_path / "ds")
    assert header["qaug"]["model_sha256"] is None and header["qaug"]["model_sha256_prefix"] == digest[:12]
