"""Readers: every input line becomes a Record or a line-numbered reject; nothing is dropped."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from qaug.readers import InputReject, read_items
from qaug.writers import companion_paths
from qaug.records import Record

from conftest import read_jsonl, run_cli, write_jsonl


def _split(items):
    recs = [i for i in items if isinstance(i, Record)]
    rejs = [i for i in items if isinstance(i, InputReject)]
    return recs, rejs


def test_jsonl_bad_lines_become_rejects_with_line_numbers(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [
        {"instruction": "a", "output": "b"},
        "{not json",
        b'{"instruction": "\xff\xfe bad", "output": "x"}',
        "",
        '{"foo": 1, "bar": 2}',
        {"instruction": 5, "output": "x"},
        "[1, 2, 3]",
        '{"instruction": "ok", "output": NaN}',
        {"instruction": "c", "output": "d"},
    ])
    recs, rejs = _split(list(read_items(path)))
    assert [r.line for r in recs] == [1, 9]
    by_line = {r.line: r.reason for r in rejs}
    assert set(by_line) == {2, 3, 4, 5, 6, 7, 8}
    assert by_line[2].startswith("invalid JSON")
    assert by_line[3].startswith("invalid UTF-8")
    assert by_line[4] == "blank line"
    assert "unknown record shape" in by_line[5]
    assert "field 'instruction' is a number" in by_line[6]
    assert "array" in by_line[7]
    assert by_line[8].startswith("invalid JSON")
    assert all(r.source == "d.jsonl" for r in rejs)
    assert next(r for r in rejs if r.line == 2).raw == "{not json"


def test_bom_is_stripped_and_ids_are_stable(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"instruction": "a", "output": "b"}\n{"id": 7, "text": "x"}\n')
    recs, rejs = _split(list(read_items(path)))
    assert recs[0].line == 1 and recs[0].data == {"instruction": "a", "output": "b"}
    assert recs[0].id == "bom.jsonl:1" and recs[0].fmt == "alpaca"
    # the second line is text-shaped in an alpaca file: formats are detected per record (issue 12)
    assert not rejs and recs[1].fmt == "text" and recs[1].id == "7"
    again, _ = _split(list(read_items(path)))
    assert [r.id for r in again] == [r.id for r in recs]


def test_empty_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    items = list(read_items(path))
    assert len(items) == 1 and isinstance(items[0], InputReject)
    assert items[0].line is None and items[0].reason == "file is empty"


def test_oversize_line_is_rejected_without_holding_it(tmp_path: Path) -> None:
    big = '{"text": "' + "x" * (11 * 1024 * 1024) + '"}'
    path = write_jsonl(tmp_path / "big.jsonl", [big, {"text": "small"}])
    recs, rejs = _split(list(read_items(path, max_line_bytes=10 * 1024 * 1024)))
    assert [r.line for r in recs] == [2]
    assert rejs[0].line == 1 and "over the 10 MB limit" in rejs[0].reason and rejs[0].truncated  # not 10.5
    assert len(rejs[0].raw) <= 4096


def test_big_integers_survive_reading(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "n.jsonl", ['{"text": "t", "n": 123456789012345678901234567890}'])
    recs, _ = _split(list(read_items(path)))
    assert recs[0].data["n"] == 123456789012345678901234567890


def test_gzip_json_array_csv_and_tsv(tmp_path: Path) -> None:
    gz = tmp_path / "a.jsonl.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write(b'{"text": "one"}\n{"text": "two"}\n')
    assert [r.data["text"] for r in read_items(gz)] == ["one", "two"]

    arr = tmp_path / "a.json"
    arr.write_text(json.dumps([{"instruction": "i", "output": "o"}, 3]), encoding="utf-8")
    recs, rejs = _split(list(read_items(arr)))
    assert recs[0].fmt == "alpaca" and rejs[0].line == 2

    csv_path = tmp_path / "a.csv"
    csv_path.write_text('instruction,input,output\n"Sum, please","1,2","3"\nonly-one-field\n', encoding="utf-8")
    recs, rejs = _split(list(read_items(csv_path)))
    assert recs[0].data == {"instruction": "Sum, please", "input": "1,2", "output": "3"}
    assert recs[0].line == 2 and rejs[0].line == 3 and "fields" in rejs[0].reason

    tsv = tmp_path / "a.tsv"
    tsv.write_text("text\thint\nhello\tworld\n", encoding="utf-8")
    assert [r.data for r in read_items(tsv)] == [{"text": "hello", "hint": "world"}]
    header_only = tmp_path / "h.csv"
    header_only.write_text("instruction,output\n", encoding="utf-8")
    assert [(r.line, r.reason) for r in read_items(header_only)] == [(1, "the CSV has a header and no rows")]


def test_format_override_and_conversation_formats(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
        {"conversations": "nope"},
        {"conversations": [{"from": "human", "value": 3}]},
    ])
    recs, rejs = _split(list(read_items(path)))
    assert recs[0].fmt == "sharegpt"
    assert [p for p, _ in recs[0].texts(["user"])] == [("conversations", 0, "value")]
    assert "expected a list" in rejs[0].reason and "expected a string" in rejs[1].reason
    forced = list(read_items(path, fmt="text"))
    assert all(isinstance(i, InputReject) for i in forced)


def test_companion_paths() -> None:
    assert companion_paths(Path("x/out.jsonl")) == (Path("x/out.rejects.jsonl"), Path("x/out.report.json"))
    assert companion_paths(Path("out")) == (Path("out.rejects.jsonl"), Path("out.report.json"))


def test_qaug_output_read_back_uses_the_unique_provenance_id(tmp_path: Path) -> None:
    prov = {"method": "perturb", "parent": "en-1"}
    src = write_jsonl(tmp_path / "out.jsonl", [
        {"id": "en-1", "text": "a", "_qaug": {**prov, "id": "en-1", "parent": None, "method": "original"}},
        {"id": "en-1", "text": "b", "_qaug": {**prov, "id": "en-1/perturb/0"}},
        {"id": "en-1", "text": "c", "_qaug": {**prov, "id": "en-1/perturb/1"}}])
    items = list(read_items(src))
    assert [i.id for i in items if isinstance(i, Record)] == ["en-1", "en-1/perturb/0", "en-1/perturb/1"]
    assert all("_qaug" not in i.data and i.data["id"] == "en-1" for i in items)


POISON = {
    "lone surrogate beside a long number": b'{"instruction": "a \\ud83d b", "n": 12345678901234567890}',
    "invalid UTF-8 beside a long number": b'{"instruction": "\xff\xfe", "n": 12345678901234567890}',
    "a 5000-digit integer": b'{"instruction": "x", "n": ' + b"1" * 5000 + b"}",
    "100k-deep nesting": b'{"n": 12345678901234567890, "x": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    "990-deep nesting": b'{"instruction": "x", "x": ' + b"[" * 990 + b"]" * 990 + b"}",
}


def test_poison_lines_become_rejects_and_the_run_goes_on(tmp_path: Path) -> None:
    """Each line that used to end a run (UnicodeEncodeError, ValueError, RecursionError) is one read reject."""
    good = [json.dumps({"instruction": f"Say {i}.", "output": str(i)}).encode() for i in range(4)]
    lines = [good[0], *POISON.values(), *good[1:]]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "o.jsonl"
    proc = run_cli("run", str(src), "-o", str(out), "-m", "shuffle_keys", "-q")
    assert proc.returncode == 0, proc.stderr
    rejects = read_jsonl(tmp_path / "o.rejects.jsonl")
    assert sorted(r["line"] for r in rejects) == list(range(2, 2 + len(POISON)))
    assert all(r["stage"] == "read" and r["reason"] and r["code"] for r in rejects)
    report = json.loads((tmp_path / "o.report.json").read_text())
    assert report["input_lines"] == report["originals_written"] + report["input_rejects"] == len(lines)


def test_stdin_and_pipes_are_read_once_and_nothing_is_lost(tmp_path: Path) -> None:
    """Issue 11: a piped input was hashed first, so the run saw an empty file and wrote 0 records."""
    import os
    import subprocess
    import sys
    import threading

    from conftest import ROOT

    rows = [{"instruction": f"Say {i}.", "output": str(i)} for i in range(5)]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    for name, arg in (("dash", "-"), ("devstdin", "/dev/stdin")):
        out = tmp_path / f"{name}.jsonl"
        proc = subprocess.run([sys.executable, "-m", "qaug", "run", arg, "-o", str(out), "-m", "shuffle_keys", "-q"],
                              input=data, capture_output=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 0, proc.stderr
        report = json.loads((tmp_path / f"{name}.report.json").read_text())
        assert report["records"] == 5 and report["originals_written"] == 5
        assert not list(tmp_path.glob(".qaug-stdin-*"))  # the private copy is gone
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(data))
    writer.start()
    proc = run_cli("run", str(fifo), "-o", str(tmp_path / "f.jsonl"), "-m", "shuffle_keys", "-q")
    writer.join(10)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "f.report.json").read_text())["records"] == 5
    proc = subprocess.run([sys.executable, "-m", "qaug", "run", "-", "-o", str(tmp_path / "dash.jsonl"), "-m",
                           "shuffle_keys", "-q", "--resume"], input=data, capture_output=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and b"read only once" in proc.stderr
    # without --resume the existing output is refused, pointing at --overwrite: --resume cannot work on a stream
    proc = subprocess.run([sys.executable, "-m", "qaug", "run", "-", "-o", str(tmp_path / "dash.jsonl"), "-m",
                           "shuffle_keys", "-q"], input=data, capture_output=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and b"pass --overwrite to replace it (a run from stdin" in proc.stderr
    both = subprocess.run([sys.executable, "-m", "qaug", "run", "-", "-", "-o", str(tmp_path / "twice.jsonl"), "-m",
                           "shuffle_keys"], input=data, capture_output=True, cwd=ROOT, timeout=120)
    assert both.returncode == 2 and b"stdin (-) is given twice" in both.stderr
    src = write_jsonl(tmp_path / "src.jsonl", rows)
    subst = subprocess.run(["bash", "-c", f'"{sys.executable}" -m qaug run <(cat "{src}") -o "{tmp_path / "ps.jsonl"}" '
                            "-m shuffle_keys -q"], capture_output=True, cwd=ROOT, timeout=120)
    assert subst.returncode == 0, subst.stderr
    labels = {r["_qaug"]["source"].split(":")[0] for r in read_jsonl(tmp_path / "ps.jsonl")}
    assert len(labels) == 1 and re.fullmatch(r"pipe\d+", labels.pop())  # bash's <(...) named as a pipe, not "63"


def test_csv_rejects_keep_the_row_as_written_and_big_fields_are_read(tmp_path: Path) -> None:
    """Issue 11: a field over 131,072 characters was rejected with raw "" (the row kept nowhere)."""
    big = "x" * 200_000
    path = tmp_path / "d.csv"
    path.write_text(f'instruction,output\n"Say ""hi"", then stop",ok\n{big},long\n"a","b","c"\n', encoding="utf-8")
    recs, rejs = _split(list(read_items(path)))
    assert [r.data["instruction"][:5] for r in recs] == ['Say "', "xxxxx"]
    assert len(recs[1].data["instruction"]) == 200_000
    assert [(r.line, r.raw) for r in rejs] == [(4, '"a","b","c"')]  # the row as written, quotes and all
    recs, rejs = _split(list(read_items(path, max_line_bytes=100_000)))
    assert [r.line for r in rejs] == [3, 4] and rejs[0].truncated and rejs[0].raw.startswith("xxxx")


INEXACT = {
    '{"text": "t", "n": -0}': "-0 would be written as 0",
    '{"text": "t", "n": 1e-400}': "1e-400 would be written as 0.0",
    '{"text": "t", "n": 12345678901234567890.5}': "12345678901234567890.5 would be written as 1.2345678901234567e+19",
    '{"text": "t", "n": 3.14159265358979323846}': "3.14159265358979323846 would be written as 3.141592653589793",
    '{"text": "t", "n": 1e400}': "infinity when parsed as double",
}


def test_numbers_a_double_cannot_hold_and_duplicate_keys_are_rejected_with_the_reason(tmp_path: Path) -> None:
    """Issue 11, item 10: -0, 1e-400, long decimals and a repeated key were changed without a word."""
    rows = [*INEXACT, '{"text": "a", "text": "b"}', '{"text": "x", "o": {"k": 1, "k": 2}}',
            '{"text": "kept", "a": 1.50, "b": 1E5, "c": -0.0, "d": "-0", "e": 123456789012345678901234567890}']
    recs, rejs = _split(list(read_items(write_jsonl(tmp_path / "n.jsonl", rows))))
    assert [r.line for r in recs] == [8]
    assert recs[0].data == {"text": "kept", "a": 1.5, "b": 1e5, "c": -0.0, "d": "-0",
                            "e": 123456789012345678901234567890}
    for rej, (line, expected) in zip(rejs, INEXACT.items()):
        assert rej.reason.startswith("inexact number: ") and expected in rej.reason and rej.raw == line
    assert rejs[5].reason.startswith("duplicate key: 'text'") and rejs[6].reason.startswith("duplicate key: 'k'")


def test_an_original_is_written_exactly_as_read(tmp_path: Path) -> None:
    """Issue 11, item 10: the original's number text, spacing and escapes are kept, not re-serialised."""
    line = '{ "instruction": "Add \\u00e9.",  "output": "3", "x": 1.50, "y": 1E5, "z": -0.0, "w": 1e300 }'
    src = write_jsonl(tmp_path / "in.jsonl", [line])
    out = tmp_path / "o.jsonl"
    proc = run_cli("run", str(src), "-o", str(out), "-m", "shuffle_keys", "-q")
    assert proc.returncode == 0, proc.stderr
    written = out.read_bytes().decode().splitlines()[0]
    assert written.startswith(line.rstrip(" }") + ',"_qaug":')
    assert json.loads(written)["_qaug"]["method"] == "original"


def test_a_poison_element_of_a_json_array_is_one_reject_for_that_element(tmp_path: Path) -> None:
    good = [b'{"instruction": "Say %d.", "output": "%d"}' % (i, i) for i in range(3)]
    poison = [*POISON.values(), b'{"instruction": "a", "instruction": "b"}', b'{"text": "t", "n": -0}']
    elements = [good[0], *poison, *good[1:]]
    src = tmp_path / "arr.json"
    src.write_bytes(b"[\n  " + b",\n  ".join(elements) + b"\n]\n")
    recs, rejs = _split(list(read_items(src)))
    assert [r.line for r in recs] == [1, len(elements) - 1, len(elements)]
    assert [r.line for r in rejs] == list(range(2, 2 + len(poison)))
    assert all(r.reason and r.raw for r in rejs)
    out = tmp_path / "o.jsonl"
    proc = run_cli("run", str(src), "-o", str(out), "-m", "shuffle_keys", "-q")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "o.report.json").read_text())
    assert report["input_lines"] == report["originals_written"] + report["input_rejects"] == len(elements)


def test_a_json_array_cut_short_keeps_its_whole_elements(tmp_path: Path) -> None:
    src = tmp_path / "cut.json"
    src.write_bytes(b'[{"text": "one"}, {"text": "two"}, {"text": "thr')
    items = list(read_items(src))
    recs, rejs = _split(items)
    assert [r.data["text"] for r in recs] == ["one", "two"]
    assert [(r.line, r.raw) for r in rejs] == [(3, '{"text": "thr'), (None, "")]
    assert "never closed" in rejs[0].reason or "never closed" in rejs[1].reason


def test_json_lines_named_json_are_read_line_by_line(tmp_path: Path) -> None:
    """Hugging Face's to_json writes JSON Lines under a .json name by default: every line a record, not one reject;
    one pretty-printed record in a .json file is still one record."""
    src = tmp_path / "hf.json"
    src.write_text('{"text": "one"}\n{"text": "two"}\nnot json\n{"text": "four"}\n', encoding="utf-8")
    recs, rejs = _split(list(read_items(src)))
    assert [(r.line, r.data["text"]) for r in recs] == [(1, "one"), (2, "two"), (4, "four")]
    assert [r.line for r in rejs] == [3]
    one = tmp_path / "one.json"
    one.write_text('{\n  "text": "pretty"\n}\n', encoding="utf-8")
    assert [r.data["text"] for r in _split(list(read_items(one)))[0]] == ["pretty"]


def test_dash_output_is_stdout_and_the_companions_go_to_the_current_folder(tmp_path: Path) -> None:
    """Issue 12: `-o -` wrote files named `-`, `-.rejects.jsonl`..."""
    import subprocess
    import sys

    from conftest import EXAMPLES

    src = EXAMPLES / "alpaca_en.jsonl"
    proc = run_cli("run", str(src), "-o", "-", "-m", "flatten", "--max-aug-ratio", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) >= 20 and all("_qaug" in r for r in rows)  # stdout holds only the output lines
    assert "note: -o -: the output goes to stdout; the rejects to ./qaug-stdout.rejects.jsonl" in proc.stderr
    assert "qaug run" in proc.stderr  # the summary goes to stderr
    assert not (tmp_path / "-").exists() and (tmp_path / "qaug-stdout.report.json").exists()
    report = json.loads((tmp_path / "qaug-stdout.report.json").read_text())
    assert report["originals_written"] + report["variants_written"] == len(rows)
    # a second -o - run in the same folder would replace the first one's rejects and report: refused, even quiet,
    # and its dry run says so
    dry = run_cli("run", str(src), "-o", "-", "-m", "flatten", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and "would be refused: -o -: ./qaug-stdout.rejects.jsonl" in dry.stderr
    again = run_cli("run", str(src), "-o", "-", "-m", "flatten", "-q", cwd=tmp_path)
    assert again.returncode == 2 and not again.stdout
    assert "./qaug-stdout.rejects.jsonl is an earlier run's; pass --overwrite" in again.stderr
    # stdin to stdout, replacing them
    piped = subprocess.run([sys.executable, "-m", "qaug", "run", "-", "-o", "-", "-m", "flatten", "-q", "--overwrite"],
                           cwd=tmp_path, input=src.read_bytes(), capture_output=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    lines = [json.loads(line) for line in piped.stdout.splitlines()]
    assert sum(1 for r in lines if r["_qaug"]["parent"] is None) == 20
    resumed = run_cli("run", str(src), "-o", "-", "-m", "flatten", "--resume", cwd=tmp_path)
    assert resumed.returncode == 2 and "a run into stdout (-o -) cannot be continued" in resumed.stderr


def test_a_file_mixing_formats_is_read_record_by_record(tmp_path: Path) -> None:
    """Issue 12: a file whose records alternate formats had every other line rejected."""
    rows = []
    for i in range(3):
        rows += [{"instruction": f"task {i}", "output": "x"}, {"text": f"plain {i}"},
                 {"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "yo"}]}]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    recs, rejs = _split(list(read_items(path)))
    assert not rejs and [r.fmt for r in recs] == ["alpaca", "text", "messages"] * 3
    forced, rejected = _split(list(read_items(path, "alpaca")))  # --format still forces one format
    assert len(forced) == 3 and len(rejected) == 6
    proc = run_cli("run", str(path), "-o", str(tmp_path / "o.jsonl"), "-m", "flatten", "-q")
    assert proc.returncode == 0 and json.loads((tmp_path / "o.report.json").read_text())["input_rejects"] == 0


def test_prompt_completion_records_are_a_format(tmp_path: Path, tiny_gguf: Path) -> None:
    """Issue 12: {"prompt", "completion"} records, a common format, were rejected as an unknown shape."""
    rows = [{"prompt": f"Return the figures of company {i} as JSON.",
             "completion": f'{{"company": "C{i}", "revenue": {{"value": {i}, "unit": "M"}}}}'} for i in range(4)]
    path = write_jsonl(tmp_path / "pc.jsonl", rows)
    recs, rejs = _split(list(read_items(path)))
    assert not rejs and {r.fmt for r in recs} == {"completion"}
    assert [p for p, _ in recs[0].texts(("prompt",))] == [("prompt",)]
    proc = run_cli("run", str(path), "-o", str(tmp_path / "o.jsonl"), "-m", "flatten", "--max-aug-ratio", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    variants = [r for r in read_jsonl(tmp_path / "o.jsonl") if r["_qaug"]["parent"]]
    assert len(variants) == 4 and all(set(v) == {"prompt", "completion", "_qaug"} for v in variants)
    assert '"revenue.value"' in variants[0]["completion"]
    model = run_cli("run", str(path), "-o", str(tmp_path / "m.jsonl"), "-m", "rewrite", "--gguf", str(tiny_gguf),
                    "--threads", "1", "--max-tokens", "24", "--max-aug-ratio", "1", "--no-verify", "-q")
    assert model.returncode == 0, model.stderr
    report = json.loads((tmp_path / "m.report.json").read_text())
    assert report["records"] == 4 and report["model"]["jobs"] >= 4  # the prompt is what rewrite works on


def test_a_run_from_a_stream_or_into_stdout_is_never_told_to_resume(tmp_path: Path) -> None:
    """--resume refuses both, so no stop or error message may point at it."""
    from qaug.config import RunConfig
    from qaug.session import existing_output

    spooled = tmp_path / ".qaug-stdin-123" / "stdin"
    spooled.parent.mkdir()
    spooled.write_text('{"text": "a"}\n')
    out = tmp_path / "out.jsonl"
    out.write_text("")
    from_stdin = RunConfig(inputs=(spooled,), output=out, methods=("flatten",))
    into_stdout = RunConfig(inputs=(out,), output=tmp_path / "qaug-stdout.jsonl", methods=("flatten",), stdout=True)
    plain = RunConfig(inputs=(spooled,), output=tmp_path / "plain.jsonl", methods=("flatten",))
    for config in (from_stdin, into_stdout):
        assert not config.resumable and "--resume" not in config.how_to_continue()
    refused = existing_output(from_stdin) or ""
    assert "pass --resume" not in refused and "pass --overwrite" in refused
    assert existing_output(into_stdout) is None  # no earlier -o - run in that folder
    assert existing_output(plain) is None
    json_out = RunConfig(inputs=(out,), output=tmp_path / "o.json", methods=("flatten",))
    assert json_out.resumable and "holds JSON Lines until the run finishes" in json_out.how_to_continue()
