"""`qaug show` (qaug.show, qaug.cli_show): an original, its variants and rejects, as a CJK-aware diff."""

from __future__ import annotations

import json
from pathlib import Path

from qaug.show import diff_text, tokens

from conftest import EXAMPLES, run_cli, write_jsonl


def test_tokens_join_back_and_cjk_is_diffed_by_character() -> None:
    for text in ("请写一首关于春天的诗", "rate_per_day_pct: 0.05 — ok?", "混合 mixed 文本 42 個", "é\u0301 \t\n"):
        assert "".join(tokens(text)) == text
    assert diff_text("请写一首关于春天的诗", "请创作一首关于春天的诗") == "请[-写-]{+创作+}一首关于春天的诗"
    assert diff_text("Explain the code", "Describe the code") == "[-Explain-]{+Describe+} the code"


def _q(id_, parent=None, method="original", **kw):
    base = {"id": id_, "parent": parent, "method": method, "version": "1", "seed": 0, "index": 0, "params": "{}",
            "source": "in.jsonl:1", "model": None, "info": "{}", "score": None, "review": False}
    base.update(kw)
    return base


def test_show_an_original_with_its_variants_rejects_and_decoded_provenance(tmp_path: Path) -> None:
    out = write_jsonl(tmp_path / "o.jsonl", [
        {"instruction": "写一首关于春天的诗", "output": "x", "_qaug": _q("r1")},
        {"instruction": "创作一首关于春天的诗", "output": "x",
         "_qaug": _q("r1/rewrite/0", "r1", "rewrite", model="m.gguf@sha256:abc", params='{"n": 5}',
                     info='{"judge": {"same_meaning": true}}')},
        {"instruction": "another", "output": "y", "_qaug": _q("r2")},
    ])
    write_jsonl(tmp_path / "o.rejects.jsonl", [
        {"source": "in.jsonl", "line": 1, "parent": "r1", "method": "rewrite", "stage": "gate", "code": "off_topic",
         "reason": "shares 0.05 content", "raw": "写一首关于秋天的诗", "truncated": False},
        {"source": "in.jsonl", "line": 1, "parent": "r1", "method": "rewrite", "stage": "model", "code": "model_error",
         "reason": "answer cut off at max_tokens=32", "raw": '{"variants": ["春天的诗', "truncated": False},
    ])
    proc = run_cli("show", str(out), "--id", "r1")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "== r1 (from in.jsonl:1)" in text and "r2" not in text
    assert 'rewrite v1 #0 · seed 0 · model m.gguf@sha256:abc · params {"n": 5} · ' \
        'info {"judge": {"same_meaning": true}}' in text
    assert "instruction: {+创作+}[-写-]" not in text and "instruction: [-写-]{+创作+}一首关于春天的诗" in text
    assert "xx rejected rewrite (gate: off_topic): shares 0.05 content" in text
    assert "instruction: 写一首关于[-春-]{+秋+}天的诗" in text  # a rejected text, diffed against its source text
    assert '  answer: {"variants": ["春天的诗' in text  # a model's cut-off answer is shown as it is, not diffed
    assert "\x1b[" not in text  # no colour into a pipe
    other = run_cli("show", str(out), "--method", "swap")
    assert other.returncode == 0 and "has a variant or a rejected candidate of swap" in other.stdout
    unknown = run_cli("show", str(out), "--method", "rewirte")
    assert unknown.returncode == 2 and "unknown method 'rewirte'; did you mean rewrite?" in unknown.stderr
    folder = run_cli("show", str(tmp_path))
    assert folder.returncode == 2 and "is a folder" in folder.stderr
    # an original whose only candidates were rejected is shown too (here r2, whose rewrite was rejected)
    with open(tmp_path / "o.rejects.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"source": "in.jsonl", "line": 2, "parent": "r2", "method": "rewrite", "stage": "gate",
                             "code": "near_copy", "reason": "a near-copy", "raw": "anothers"}) + "\n")
    both = run_cli("show", str(out), "--method", "rewrite")
    assert both.returncode == 0 and "== r1 " in both.stdout and "== r2 " in both.stdout
    missing = run_cli("show", str(out), "--id", "nope")
    assert missing.returncode == 2 and "no original with id 'nope'" in missing.stderr


def test_show_a_real_run(tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    assert run_cli("run", str(EXAMPLES / "alpaca_zh.jsonl"), "-o", str(out), "-m", "flatten", "--max-aug-ratio", "1",
                   "-q").returncode == 0
    proc = run_cli("show", str(out), "--max", "1", "--method", "flatten")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("== alpaca_zh.jsonl:") and "/flatten/0: flatten v1 #0" in proc.stdout
    assert '"depth": 0' in proc.stdout and "{+" in proc.stdout
    import subprocess
    import sys

    from conftest import ROOT

    # piped into head, which stops reading: no failure, and no traceback
    command = f'set -o pipefail; "{sys.executable}" -m qaug show "{out}" --max 20 | head -1'
    piped = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert piped.returncode == 0 and piped.stdout.startswith("== ") and not piped.stderr
    assert json.loads(out.read_text(encoding="utf-8"))  # the array output is read as well
