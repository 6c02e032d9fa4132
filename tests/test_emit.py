"""--emit llama-factory / axolotl: the configs a trainer reads, checked against each trainer's documented schema.

LLaMA-Factory: data/README.md and src/llamafactory/data/parser.py + converter.py of hiyouga/LLaMA-Factory
(read at ff6d4d12eeb0). axolotl: docs/dataset-formats/{index,conversation,inst_tune}.qmd and
docs/dataset_loading.qmd of axolotl-ai-cloud/axolotl (read at 067b021c8b87).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import read_jsonl, run_cli, write_jsonl

yaml = pytest.importorskip("yaml")

# dataset_info.json keys as data/README.md documents them (parser.py's DatasetAttr reads exactly these)
LF_ATTRS = {"hf_hub_url", "ms_hub_url", "script_url", "cloud_file_name", "file_name", "formatting", "ranking",
            "subset", "split", "folder", "num_samples", "columns", "tags"}
LF_COLUMNS = {"prompt", "query", "response", "history", "messages", "system", "tools", "images", "videos", "audios",
              "chosen", "rejected", "kto_tag"}
LF_TAGS = {"role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag", "system_tag"}
LF_COLUMN_DEFAULTS = {"prompt": "instruction", "query": "input", "response": "output", "messages": "conversations"}
LF_TAG_DEFAULTS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                   "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}


def lf_check(dataset_dir: Path, info: dict) -> int:
    """Validate entries as LLaMA-Factory would load them; returns the records it would accept."""
    accepted = 0
    for name, attr in info.items():
        assert set(attr) <= LF_ATTRS, name
        assert attr.get("formatting", "alpaca") in ("alpaca", "sharegpt")
        assert set(attr.get("columns", {})) <= LF_COLUMNS and set(attr.get("tags", {})) <= LF_TAGS
        path = dataset_dir / attr["file_name"]
        assert path.is_file() and path.suffix == ".jsonl"  # json, jsonl, csv, parquet, arrow are accepted
        # parser.py: once "columns" (or "tags") is given, every attribute it does not name is None, not its default
        columns = LF_COLUMN_DEFAULTS if "columns" not in attr else {k: attr["columns"].get(k) for k in LF_COLUMNS}
        tags = LF_TAG_DEFAULTS if "tags" not in attr else {k: attr["tags"].get(k) for k in LF_TAGS}
        for row in read_jsonl(path):
            if attr.get("formatting", "alpaca") == "alpaca":
                assert isinstance(row[columns["prompt"]], str)
                if columns.get("response"):
                    assert isinstance(row[columns["response"]], str)
                if columns.get("query"):
                    assert columns["query"] in row
            else:  # converter.py's SharegptDatasetConverter: optional leading system, then odd/even roles
                messages = row[columns["messages"]]
                if tags["system_tag"] and messages and messages[0][tags["role_tag"]] == tags["system_tag"]:
                    messages = messages[1:]
                odd, even = (tags["user_tag"], tags["observation_tag"]), (tags["assistant_tag"], tags["function_tag"])
                for i, turn in enumerate(messages):
                    assert turn[tags["role_tag"]] in (odd, even)[i % 2], (name, row)
                    assert isinstance(turn[tags["content_tag"]], str)
                assert len(messages) % 2 == 0, "LLaMA-Factory skips an odd number of turns"
            accepted += 1
    return accepted


def _split_emit(tmp_path: Path, rows: list, emit: str, *extra: str) -> tuple[Path, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "mydata"
    proc = run_cli("split", str(src), "-o", str(out), "--eval", "0.3", "--seed", "4", "--emit", emit, *extra)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


ALPACA = [{"instruction": f"Translate word {i}", "input": f"w{i}", "output": f"t{i}", "system": "Be terse."}
          for i in range(30)]
SHAREGPT = [{"conversations": [{"from": "system", "value": "You help."}, {"from": "human", "value": f"Q{i} here"},
                               {"from": "gpt", "value": f"A{i}"}]} for i in range(30)]
MESSAGES = [{"messages": [{"role": "user", "content": f"Question {i} ok"}, {"role": "assistant", "content": f"{i}"}],
             "tools": "[]"} for i in range(30)]


def test_llama_factory_alpaca(tmp_path: Path) -> None:
    out, stdout = _split_emit(tmp_path, ALPACA, "llama-factory")
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"mydata_train", "mydata_eval"} and "dataset: mydata_train" in stdout
    assert info["mydata_train"] == {"file_name": "train.jsonl", "formatting": "alpaca",
                                    "columns": {"prompt": "instruction", "query": "input", "response": "output",
                                                "system": "system"}}
    assert lf_check(out, info) == 30


def test_llama_factory_sharegpt_and_openai_messages(tmp_path: Path) -> None:
    out, _ = _split_emit(tmp_path / "a", SHAREGPT, "llama-factory")
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["mydata_eval"]["formatting"] == "sharegpt"
    assert info["mydata_eval"]["tags"] == {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                                           "assistant_tag": "gpt", "system_tag": "system"}
    assert lf_check(out, info) == 30
    out, _ = _split_emit(tmp_path / "b", MESSAGES, "llama-factory")
    info = json.loads((out / "dataset_info.json").read_text())
    # data/README.md's OpenAI format: sharegpt with role/content tags
    assert info["mydata_train"]["columns"] == {"messages": "messages", "tools": "tools"}
    assert info["mydata_train"]["tags"] == {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                            "assistant_tag": "assistant"}
    assert lf_check(out, info) == 30


def test_llama_factory_on_a_real_run(tmp_path: Path) -> None:
    """A real qaug output (with _qaug) split and emitted: every train line is one LLaMA-Factory accepts."""
    rows = [{"instruction": f"Give item {i} {'abc' * (i % 5)} as JSON", "input": "",
             "output": json.dumps({"id": i, "tags": {"x": i, "y": [1, 2]}})} for i in range(20)]
    src = write_jsonl(tmp_path / "src.jsonl", rows)
    proc = run_cli("run", str(src), "-o", str(tmp_path / "aug.jsonl"), "-m", "shuffle_keys", "--max-aug-ratio", "1",
                   "-q")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "split"
    proc = run_cli("split", str(tmp_path / "aug.jsonl"), "-o", str(out), "--emit", "llama-factory")
    assert proc.returncode == 0, proc.stderr
    info = json.loads((out / "dataset_info.json").read_text())
    assert lf_check(out, info) == sum(1 for p in ("train.jsonl", "eval.jsonl") for _ in open(out / p))


def test_mixed_formats_refused_in_one_line(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA[:3] + MESSAGES[:3])
    proc = run_cli("split", str(src), "-o", str(tmp_path / "s"), "--emit", "llama-factory")
    assert proc.returncode == 2 and "one record format per file" in proc.stderr
    assert "alpaca 3, messages 3" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "s" / "train.jsonl").exists()  # the split itself was written


AXOLOTL_KEYS = {"path", "ds_type", "type", "split", "field_messages", "message_property_mappings", "roles",
                "roles_to_train"}


def test_axolotl_alpaca_block(tmp_path: Path) -> None:
    out, stdout = _split_emit(tmp_path, ALPACA, "axolotl")
    block = yaml.safe_load(stdout[stdout.index("datasets:"):])
    assert block["datasets"] == [{"path": str((out / "train.jsonl").resolve()), "ds_type": "json", "type": "alpaca"}]
    assert block["test_datasets"] == [{"path": str((out / "eval.jsonl").resolve()), "ds_type": "json",
                                       "type": "alpaca", "split": "train"}]


def test_axolotl_chat_template_block_maps_the_file(tmp_path: Path) -> None:
    out, stdout = _split_emit(tmp_path, SHAREGPT, "axolotl")
    block = yaml.safe_load(stdout[stdout.index("datasets:"):])
    (entry,) = block["datasets"]
    assert set(entry) <= AXOLOTL_KEYS and entry["type"] == "chat_template"
    mapping = entry["message_property_mappings"]
    roles = {v: k for k, vs in entry["roles"].items() for v in vs}
    for row in read_jsonl(Path(entry["path"])):  # every turn is found through the mapping
        for turn in row[entry["field_messages"]]:
            assert roles[turn[mapping["role"]]] in ("system", "user", "assistant")
            assert isinstance(turn[mapping["content"]], str)
    assert entry["roles_to_train"] == ["assistant"]
    text = [{"text": f"document {i} body"} for i in range(5)]
    _, stdout = _split_emit(tmp_path / "t", text, "axolotl")
    assert yaml.safe_load(stdout[stdout.index("datasets:"):])["datasets"][0]["type"] == "completion"


def test_prompt_completion_records(tmp_path: Path) -> None:
    rows = [{"prompt": f"Capital of country {i}?", "completion": f"City {i}"} for i in range(12)]
    out, _ = _split_emit(tmp_path / "lf", rows, "llama-factory")
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["mydata_train"]["columns"] == {"prompt": "prompt", "response": "completion"}
    assert lf_check(out, info) == 12
    _, stdout = _split_emit(tmp_path / "ax", rows, "axolotl")
    entry = yaml.safe_load(stdout[stdout.index("datasets:"):])["datasets"][0]
    assert entry["type"]["field_instruction"] == "prompt" and entry["type"]["field_output"] == "completion"
