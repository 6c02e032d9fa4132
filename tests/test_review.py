"""qaug review without a browser: the index, the decision log, --apply, the server's API and the HTML report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, read_jsonl, run_cli
from review_fixtures import change_second_field, make_run

from qaug.review.decisions import DecisionLog
from qaug.review.index import ReviewIndex
from qaug.review.view import diff, group_view


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_run(tmp_path)


def test_index_groups_kept_and_rejected_by_original(run: Path) -> None:
    ix = ReviewIndex(run)
    assert ix.group_keys == ["e1", "z1"]
    assert list(ix.matching(status="rejected")) == [0, 1]
    assert list(ix.matching(code="answered")) == [0, 1]
    assert list(ix.matching(text="香蕉")) == [1]
    assert list(ix.matching(method="nope")) == []
    view = group_view(ix, 1)
    assert [it["status"] for it in view["items"]] == ["kept", "rejected", "rejected"]
    kept = view["items"][0]
    assert kept["judge"]["same_meaning"] is True and kept["model"] == "scripted"
    codes = {it["code"] for it in view["items"][1:]}
    assert codes == {"answered", "judge_constraint_added"}
    # a gate reject keeps only its text: it is shown at the path its kept sibling changed
    gate = next(it for it in view["items"] if it.get("code") == "answered")
    assert gate["fields"][0]["path"] == ["instruction"] and gate["promotable"]


def test_diff_is_by_words_in_english_and_by_characters_in_chinese() -> None:
    assert diff("the big dog", "the small dog") == [["=", "the "], ["-", "big"], ["+", "small"], ["=", " dog"]]
    assert diff("列出三种水果", "说出三种水果") == [["-", "列"], ["+", "说"], ["=", "出三种水果"]]


def test_decisions_last_per_id_wins_and_undo_restores(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "r.jsonl")
    log.append({"id": "a", "decision": "accept", "reviewer": "x"})
    log.append({"id": "a", "decision": "reject", "reviewer": "y"})
    assert DecisionLog(tmp_path / "r.jsonl").latest["a"]["decision"] == "reject"
    log.append({"id": "a", "decision": "undo", "reviewer": "y"})
    again = DecisionLog(tmp_path / "r.jsonl")  # a reopened review reads the same state
    assert again.latest["a"]["decision"] == "accept" and len(again.entries) == 3
    with pytest.raises(ValueError, match="decision must be"):
        log.append({"id": "a", "decision": "maybe"})
    other = DecisionLog(tmp_path / "r.jsonl")  # a second server on the same file sees what the first appends
    log.append({"id": "b", "decision": "promote", "reviewer": "x"})
    assert [e["id"] for e in other.since(3)] == ["b"] and other.latest["b"]["decision"] == "promote"


def _decide(url: str, body: dict) -> dict:
    req = urllib.request.Request(url + "api/decide", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def start_server(out: Path) -> tuple[subprocess.Popen, str]:
    """`qaug review --no-browser` as a user runs it; the URL is read from its first line."""
    proc = subprocess.Popen([sys.executable, "-m", "qaug", "review", str(out), "--no-browser"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, m.group(0)


def test_server_api_and_apply_through_the_cli(run: Path, tmp_path: Path) -> None:
    proc, url = start_server(run)
    try:
        # another site's page cannot record decisions, nor a rebound host name read the data
        for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/json", "Origin": "http://evil.example"}):
            req = urllib.request.Request(url + "api/decide", data=b'{"id": "e1/rewrite/0", "decision": "reject"}',
                                         method="POST", headers=headers)
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(req, timeout=10)
            assert err.value.code == 403
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(url + "api/meta", headers={"Host": "evil.example"}),
                                   timeout=10)
        assert err.value.code == 403
        with urllib.request.urlopen(url, timeout=10) as r:
            page = r.read().decode()
        assert "<script src=\"/app.js\">" in page and "http" not in page.replace("http-equiv", "")
        meta = json.loads(urllib.request.urlopen(url + "api/meta", timeout=10).read())
        assert meta["groups"] == 2 and meta["methods"] == ["rewrite"]
        _decide(url, {"id": "e1/rewrite/0", "parent": "e1", "decision": "reject", "reviewer": "t"})
        _decide(url, {"id": "z1/rewrite/0", "parent": "z1", "decision": "edit", "field": ["instruction"],
                      "text": "请写出三种常见的水果。", "reviewer": "t"})
        _decide(url, {"id": "z1/rewrite/r0", "parent": "z1", "decision": "promote", "field": ["instruction"],
                      "text": "苹果、香蕉和橙子是常见水果。", "reviewer": "t"})
        group = json.loads(urllib.request.urlopen(url + "api/group?g=1", timeout=10).read())
        assert group["items"][0]["decision"]["decision"] == "edit"
    finally:
        proc.terminate()
        proc.wait(10)
    final = tmp_path / "final.jsonl"
    res = run_cli("review", str(run), "--apply", "-o", str(final))
    assert res.returncode == 0, res.stderr
    assert "rewrite" in res.stderr and "edited 1" in res.stderr and "promoted 1" in res.stderr
    rows = read_jsonl(final)
    ids = [r["_qaug"]["id"] for r in rows]
    assert ids == ["e1", "z1", "z1/rewrite/0", "z1/rewrite/r0"]  # rejected dropped, promoted after its original
    assert {type(r["_qaug"]["review"]) for r in rows} == {str}
    assert rows[2]["instruction"] == "请写出三种常见的水果。" and rows[2]["_qaug"]["review"] == "edited"
    assert rows[3]["instruction"] == "苹果、香蕉和橙子是常见水果。" and rows[3]["output"] == "苹果、香蕉和橙子。"
    assert rows[3]["_qaug"]["review"] == "promoted"
    assert json.loads(rows[3]["_qaug"]["info"])["promoted_from"]["code"] == "answered"
    # an original is kept byte for byte apart from its review field
    first = final.read_bytes().split(b"\n")[0]
    assert first.startswith(run.read_bytes().split(b",\"_qaug\"")[0])
    again = tmp_path / "again.jsonl"
    assert run_cli("review", str(run), "--apply", "-o", str(again)).returncode == 0
    assert again.read_bytes() == final.read_bytes()


def test_review_usage_errors_are_one_line(run: Path, tmp_path: Path) -> None:
    res = run_cli("review", str(tmp_path / "missing.jsonl"), "--no-browser")
    assert res.returncode == 2 and "no such file" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("review", str(run), "--apply")
    assert res.returncode == 2 and "--apply needs -o" in res.stderr
    for own in (run, run.with_name("out.rejects.jsonl"), run.with_name("out.review.jsonl"),
                run.with_name("out.report.json")):  # the run's own files, the reviewer's decisions among them
        res = run_cli("review", str(run), "--apply", "-o", str(own))
        assert res.returncode == 2 and f"-o {own} is the reviewed run's" in res.stderr, res.stderr
    res = run_cli("review", str(run), "--apply", "-o", str(tmp_path / "new" / "final.jsonl"))
    assert res.returncode == 0 and (tmp_path / "new" / "final.jsonl").exists()
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"instruction": "x"}\n')
    res = run_cli("review", str(plain), "--no-browser")
    assert res.returncode == 2 and "not a qaug output" in res.stderr


def test_every_run_writes_a_small_self_contained_html_report(run: Path) -> None:
    page = (run.parent / "out.report.html").read_text()
    assert page.count("<svg") >= 6
    for section in ("written", "lengths", "similarity", "chrf", "judge", "distinct", "speed", "config"):
        assert f'id="{section}"' in page
    assert "judge_constraint_added" in page and "constraint added (rejected)" in page
    report = json.loads((run.parent / "out.report.json").read_text())
    assert report["methods"]["rewrite"]["seconds"] > 0  # the time per method the page charts
    assert "rewrite: method time" in page and "rewrite: of it, the judge" in page
    assert not re.search(r"(src|href)=\"?https?:", page) and "@import" not in page and "<script" not in page


def test_cli_run_of_a_pure_method_writes_the_html_report(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "instruction": "Convert to JSON.", "input": "",
                                       "output": json.dumps({"a": i, "b": [1, 2], "c": {"d": "x"}})}) + "\n"
                           for i in range(20)))
    res = run_cli("run", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", "shuffle_keys", "--max-aug-ratio", "1", "-q")
    assert res.returncode == 0, res.stderr
    page = (tmp_path / "o.report.html").read_text()
    assert "shuffle_keys" in page and page.count("<svg") >= 6


def test_flagged_variants_come_first_and_filter(tmp_path: Path) -> None:
    from qaug import jsonio
    from qaug.provenance import output_line, provenance

    out = tmp_path / "out.jsonl"
    with open(out, "wb") as fh:
        fh.write(output_line(jsonio.dumps({"text": "the cat sat"}), provenance(id="a", parent=None, method="original",
                                                                                seed=0, source="in:1")))
        for k, flag in enumerate((False, True)):
            fh.write(output_line(jsonio.dumps({"text": f"the cat sat {k}"}),
                                 provenance(id=f"a/m/{k}", parent="a", method="m", seed=0, index=k, source="in:1",
                                            review=flag)))
    ix = ReviewIndex(out)
    assert [it["id"] for it in group_view(ix, 0)["items"]] == ["a/m/1", "a/m/0"]
    assert list(ix.matching(status="flagged")) == [0] and list(ix.matching(status="rejected")) == []


def test_bench_scripts_run_small() -> None:
    res = subprocess.run([sys.executable, "scripts/bench_report_html.py", "--records", "300"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "out.report.html" in res.stdout
    res = subprocess.run([sys.executable, "scripts/bench_review.py", "--records", "300"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "--apply" in res.stdout


def test_a_json_array_output_is_reviewed_and_reported(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "instruction": "x", "input": "",
                                       "output": json.dumps({"a": i, "b": 2, "c": 3})}) + "\n" for i in range(3)))
    out = tmp_path / "out.json"
    res = run_cli("run", str(src), "-o", str(out), "-m", "shuffle_keys", "--max-aug-ratio", "1", "-q")
    assert res.returncode == 0, res.stderr
    assert "shuffle_keys (n=3)" in (tmp_path / "out.json.report.html").read_text()
    assert ReviewIndex(out).group_keys == ["r0", "r1", "r2"]
    final = tmp_path / "final.jsonl"
    res = run_cli("review", str(out), "--apply", "-o", str(final))
    assert res.returncode == 0, res.stderr
    assert [r["_qaug"]["review"] for r in read_jsonl(final)] == ["unreviewed"] * 6


def test_an_edit_sets_every_changed_field_of_a_variant(tmp_path: Path) -> None:
    """A variant that changed its instruction and its input is edited in both, as the page sends it."""
    run = make_run(tmp_path)
    change_second_field(run)
    view = group_view(ReviewIndex(run), 0)
    item = next(it for it in view["items"] if it["id"] == "e1/rewrite/0")
    assert [f["path"] for f in item["fields"]] == [["instruction"], ["input"]]
    log = DecisionLog(tmp_path / "out.review.jsonl")
    edits = [{"field": ["instruction"], "text": "Name three ways exercise helps people over 65."},
             {"field": ["input"], "text": "For a clinic leaflet."}]
    with pytest.raises(ValueError):
        log.append({"id": "e1/rewrite/0", "decision": "edit", "field": ["instruction"], "text": "x", "edits": ["x"]})
    log.append({"id": "e1/rewrite/0", "parent": "e1", "decision": "edit", "field": edits[0]["field"],
                "text": edits[0]["text"], "edits": edits, "reviewer": "t"})
    final = tmp_path / "final.jsonl"
    res = run_cli("review", str(run), "--apply", "-o", str(final))
    assert res.returncode == 0, res.stderr
    edited = next(r for r in read_jsonl(final) if r["_qaug"]["id"] == "e1/rewrite/0")
    assert edited["instruction"] == edits[0]["text"] and edited["input"] == edits[1]["text"]
    assert edited["_qaug"]["review"] == "edited"


def test_apply_refuses_to_promote_a_model_error_and_counts_the_decisions_it_ignores(run: Path, tmp_path: Path) -> None:
    """A model error's raw text is the model's unfinished answer, not a candidate; a decision with a typo or an id
    this run does not have is not applied, and --apply says how many."""
    rejects = run.with_name("out.rejects.jsonl")
    before = sum(1 for line in rejects.read_text(encoding="utf-8").splitlines()
                 if json.loads(line).get("parent") == "e1" and json.loads(line).get("method") == "rewrite")
    with open(rejects, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"source": "in.jsonl", "line": 1, "parent": "e1", "method": "rewrite", "stage": "model",
                             "code": "model_error", "reason": "answer cut off at max_tokens=32",
                             "raw": '{"variants": ["Name three', "truncated": False}) + "\n")
    log = DecisionLog(run.with_name("out.review.jsonl"))
    log.append({"id": f"e1/rewrite/r{before}", "parent": "e1", "decision": "promote", "reviewer": "t"})
    log.append({"id": "zzz/swap/0", "parent": "zzz", "decision": "reject", "reviewer": "t"})
    with open(run.with_name("out.review.jsonl"), "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "e1/rewrite/0", "decision": "accepted"}) + "\n")
    res = run_cli("review", str(run), "--apply", "-o", str(tmp_path / "final.jsonl"))
    assert res.returncode == 0, res.stderr
    text = " ".join(res.stderr.split())
    assert "promotion refused (a model error or a cut-off candidate) 1" in text
    assert "ignored: an id no candidate of this run has 1" in text and "ignored: not a valid decision line 1" in text
    rows = read_jsonl(tmp_path / "final.jsonl")
    assert not any('{"variants"' in json.dumps(r, ensure_ascii=False) for r in rows)

