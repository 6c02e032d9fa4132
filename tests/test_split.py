"""qaug split: groups (original + variants, shared record ids, near-duplicates) never straddle sides."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conftest import read_jsonl, run_cli, write_jsonl

VOCAB = ("river mountain cloud harbor lantern violin copper meadow glacier falcon orchid canyon ember willow "
         "saturn prairie quartz tundra maple comet").split()


def _sources(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = " ".join(rng.sample(VOCAB, 6))
        rows.append({"instruction": f"Return record {i} about {words} as JSON.", "input": "",
                     "output": json.dumps({"name": f"item{i}", "n": i, "tags": {"a": i, "b": [1, 2]}})})
    return rows


@pytest.fixture(scope="module")
def augmented(tmp_path_factory) -> Path:
    """A real qaug output: 60 originals, each with shuffle_keys and reformat variants (pure methods, no model)."""
    d = tmp_path_factory.mktemp("split")
    src = write_jsonl(d / "src.jsonl", _sources(60))
    out = d / "aug.jsonl"
    proc = run_cli("run", str(src), "-o", str(out), "-m", "shuffle_keys,reformat", "--max-aug-ratio", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    rows = read_jsonl(out)
    assert sum(r["_qaug"]["parent"] is not None for r in rows) >= 60
    return out


def _split(src: Path, out: Path, *extra: str) -> dict:
    proc = run_cli("split", str(src), "-o", str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "split.report.json").read_text())


def _sides(out: Path) -> dict[str, list[dict]]:
    return {p.name[:-len(".jsonl")]: read_jsonl(p) for p in sorted(out.glob("*.jsonl"))}


def _group(row: dict) -> str:
    q = row["_qaug"]
    return q["parent"] or q["id"]


def test_no_group_straddles_sides_and_nothing_is_lost(augmented: Path, tmp_path: Path) -> None:
    report = _split(augmented, tmp_path / "s", "--eval", "0.3", "--test", "0.2", "--seed", "3")
    files = _sides(tmp_path / "s")
    where: dict[str, set[str]] = {}
    for name, rows in files.items():
        side = name.split(".")[0]
        for row in rows:
            where.setdefault(_group(row), set()).add(side)
    assert all(len(sides) == 1 for sides in where.values()), [g for g, s in where.items() if len(s) > 1]
    # every side got groups, and eval/test hold originals only (their variants are kept out, not dropped)
    assert {s for sides in where.values() for s in sides} == {"train", "eval", "test"}
    for side in ("eval", "test"):
        assert files[side] and all(r["_qaug"]["parent"] is None for r in files[side])
        assert all(r["_qaug"]["parent"] is not None for r in files[f"{side}.variants"])
        assert report["held_out_variants"][side] == len(files[f"{side}.variants"])
    assert any(r["_qaug"]["parent"] for r in files["train"])
    # byte for byte: the split files together are the input's lines
    lines = sorted(augmented.read_bytes().splitlines())
    written = sorted(line for p in (tmp_path / "s").glob("*.jsonl") for line in p.read_bytes().splitlines())
    assert written == lines
    assert report["lines"] == len(lines) and report["groups"] == 60
    assert sum(s["lines"] for s in report["sides"].values()) + sum(report["held_out_variants"].values()) == len(lines)
    assert report["sides"]["train"]["methods"].keys() == {"original", "shuffle_keys", "reformat"}


def test_keep_eval_variants_writes_them_into_eval(augmented: Path, tmp_path: Path) -> None:
    _split(augmented, tmp_path / "s", "--eval", "0.3", "--keep-eval-variants", "--seed", "3")
    files = _sides(tmp_path / "s")
    assert "eval.variants" not in files
    assert any(r["_qaug"]["parent"] for r in files["eval"])
    assert {_group(r) for r in files["eval"]}.isdisjoint({_group(r) for r in files["train"]})


def test_shared_record_id_is_one_group(tmp_path: Path) -> None:
    rows = [{"id": "q7", "instruction": f"Totally different prompt number {i} {w}", "output": "x"}
            for i, w in enumerate(VOCAB)]
    rows += [{"id": f"u{i}", "instruction": f"unique {w} {i} zz", "output": "y"} for i, w in enumerate(VOCAB)]
    src = write_jsonl(tmp_path / "plain.jsonl", rows)
    for seed in range(5):
        _split(src, tmp_path / f"s{seed}", "--eval", "0.5", "--seed", str(seed))
        sides = {name for name, found in _sides(tmp_path / f"s{seed}").items()
                 if any(r.get("id") == "q7" for r in found)}
        assert len(sides) == 1


def test_near_duplicate_originals_merge(tmp_path: Path) -> None:
    rows = [{"instruction": "What is the capital city of France?", "input": "", "output": "Paris"},
            {"instruction": "what is the capital city of France ?!", "input": "", "output": "Paris."},
            {"instruction": "What's the capital city of France?", "input": "", "output": "Paris"}]
    rows += [{"instruction": f"Sort these numbers: {i}, {i * 7 % 11}, {w}", "input": "", "output": "..."}
             for i, w in enumerate(VOCAB)]
    src = write_jsonl(tmp_path / "dups.jsonl", rows)
    report = _split(src, tmp_path / "s", "--eval", "0.5", "--seed", "1")
    assert report["groups"] == len(rows) - 2
    assert report["merged_pairs"] == 2
    example = report["merged_examples"][0]
    assert example["a"] == "dups.jsonl:1" and example["similarity"] >= 0.85 and "France" in example["b_text"]
    for seed in range(8):  # whichever side the group lands on, all three land together
        _split(src, tmp_path / f"t{seed}", "--eval", "0.5", "--seed", str(seed))
        found = [name for name, got in _sides(tmp_path / f"t{seed}").items()
                 for r in got if "France" in r["instruction"]]
        assert len(found) == 3 and len(set(found)) == 1
    # a stricter threshold keeps the reworded one apart
    strict = _split(src, tmp_path / "u", "--eval", "0.5", "--near-dup", "0.99")
    assert strict["merged_pairs"] == 1


def test_near_duplicates_found_among_many_similar_prompts(tmp_path: Path) -> None:
    """MinHash proposes the pairs at scale: 40 reworded copies hidden among 1,500 prompts of one small vocabulary."""
    rng = random.Random(5)
    rows = [{"text": " ".join(rng.choices(VOCAB, k=12)) + f" #{i}"} for i in range(1500)]
    planted = []
    for _ in range(40):
        i = rng.randrange(1500)
        rows.append({"text": rows[i]["text"].upper() + "!"})  # the same prompt, shouted
        planted.append((i, len(rows) - 1))
    src = write_jsonl(tmp_path / "many.jsonl", rows)
    report = _split(src, tmp_path / "s", "--eval", "0.5", "--seed", "2")
    assert report["merged_pairs"] >= 40 and report["groups"] <= 1500
    files = _sides(tmp_path / "s")
    side = {r["text"]: name for name, got in files.items() for r in got}
    assert all(side[rows[i]["text"]] == side[rows[j]["text"]] for i, j in planted)


def test_deterministic_and_shard_stable(augmented: Path, tmp_path: Path) -> None:
    _split(augmented, tmp_path / "a", "--eval", "0.2", "--seed", "11")
    _split(augmented, tmp_path / "b", "--eval", "0.2", "--seed", "11")
    for p in (tmp_path / "a").iterdir():  # the card is named after its folder
        other = (tmp_path / "b" / p.name).read_bytes()
        assert p.read_bytes() == (other.replace(b"# b\n", b"# a\n").replace(b'"b"', b'"a"') if p.name == "README.md"
                                  else other), p.name
    full = {r["_qaug"]["id"]: name for name, rows in _sides(tmp_path / "a").items() for r in rows}
    # a shard (every third original with its variants) puts each line on the side the whole file did
    lines = augmented.read_bytes().splitlines()
    keep = {json.loads(line)["_qaug"]["id"] for i, line in enumerate(lines)
            if json.loads(line)["_qaug"]["parent"] is None and i % 3 == 0}
    shard = tmp_path / "shard.jsonl"
    shard.write_bytes(b"".join(line + b"\n" for line in lines if _group(json.loads(line)) in keep))
    _split(shard, tmp_path / "c", "--eval", "0.2", "--seed", "11")
    part = {r["_qaug"]["id"]: name for name, rows in _sides(tmp_path / "c").items() for r in rows}
    assert part and all(full[i] == side for i, side in part.items())
    _split(augmented, tmp_path / "d", "--eval", "0.2", "--seed", "12")  # the seed does move groups
    assert {r["_qaug"]["id"] for r in read_jsonl(tmp_path / "d" / "eval.jsonl")} != \
        {i for i, side in full.items() if side == "eval"}


def test_unreadable_lines_are_rejects_not_lost(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "bad.jsonl", [{"text": "fine"}, "not json", "[1, 2]", {"text": "also fine"}])
    report = _split(src, tmp_path / "s", "--eval", "0.1")
    rejects = read_jsonl(tmp_path / "s" / "rejects.jsonl")
    assert [r["line"] for r in rejects] == [2, 3] and report["rejects"] == 2 and report["lines"] == 4


@pytest.mark.parametrize("args, message", [
    (["--eval", "1.5"], "--eval must be"),
    (["--eval", "0.6", "--test", "0.5"], "below 1"),
    (["--near-dup", "0"], "--near-dup"),
    (["--emit", "trl"], "--emit must be"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    src = write_jsonl(tmp_path / "x.jsonl", [{"text": "a"}])
    proc = run_cli("split", str(src), "-o", str(tmp_path / "s"), *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 6


def test_missing_input_and_existing_split(tmp_path: Path) -> None:
    proc = run_cli("split", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "s"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    src = write_jsonl(tmp_path / "x.jsonl", [{"text": "a"}, {"text": "b"}])
    _split(src, tmp_path / "s")
    proc = run_cli("split", str(src), "-o", str(tmp_path / "s"))
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    _split(src, tmp_path / "s", "--overwrite")


def test_overwrite_removes_the_earlier_splits_files(augmented: Path, tmp_path: Path) -> None:
    """A split without --test over one with it: the earlier test.jsonl (and its config entry) would share records
    with the new train.jsonl, so every file of the earlier split goes."""
    out = tmp_path / "s"
    first = run_cli("split", str(augmented), "-o", str(out), "--eval", "0.2", "--test", "0.1", "--emit",
                    "llama-factory")
    assert first.returncode == 0, first.stderr
    assert (out / "test.jsonl").exists() and "s_test" in (out / "dataset_info.json").read_text()
    _split(augmented, out, "--eval", "0.2", "--overwrite", "--seed", "5")
    assert not (out / "test.jsonl").exists() and not (out / "test.variants.jsonl").exists()
    assert not (out / "dataset_info.json").exists()
    names = {p.name for p in out.iterdir()}
    assert {"train.jsonl", "eval.jsonl", "split.report.json", "README.md"} <= names


def test_a_json_array_output_is_split_like_its_lines(augmented: Path, tmp_path: Path) -> None:
    rows = read_jsonl(augmented)
    array = tmp_path / "aug.json"
    array.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    from_lines = _split(augmented, tmp_path / "a")
    from_array = _split(array, tmp_path / "b")
    assert from_array["rejects"] == 0 and from_array["lines"] == from_lines["lines"] == len(rows)
    assert from_array["sides"] == from_lines["sides"]
    for side in ("train", "eval"):
        assert read_jsonl(tmp_path / "b" / f"{side}.jsonl") == read_jsonl(tmp_path / "a" / f"{side}.jsonl")


def test_a_file_of_the_split_as_its_input_is_refused_and_nothing_is_removed(augmented: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    _split(augmented, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = run_cli("split", str(out / "train.jsonl"), "-o", str(out), "--overwrite")
    assert proc.returncode == 2 and "is a file of the split in" in proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_folder_or_a_file_in_the_wrong_place_is_one_line(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "x.jsonl", [{"text": "a"}])
    folder = run_cli("split", str(tmp_path), "-o", str(tmp_path / "s"))
    assert folder.returncode == 2 and "is a folder, not a file" in folder.stderr
    onto_file = run_cli("split", str(src), "-o", str(src))
    assert onto_file.returncode == 2 and "is a file; -o names the folder" in onto_file.stderr
    report = tmp_path / "r.json"
    report.write_text('{\n  "records": 3\n}\n')  # a run's report, not its output
    nothing = run_cli("split", str(report), "-o", str(tmp_path / "r"))
    assert nothing.returncode == 0 and "warning: no records were read" in nothing.stderr
