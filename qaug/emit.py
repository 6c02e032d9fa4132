"""Trainer configs for a split: LLaMA-Factory's dataset_info.json and axolotl's `datasets:` block.

The mappings follow each trainer's own documentation, not guesses: LLaMA-Factory's data/README.md
(`file_name`, `formatting` alpaca|sharegpt, `columns`, `tags`; the OpenAI `messages` layout is
sharegpt with role/content tags) and axolotl's docs/dataset-formats (`type: alpaca`,
`type: chat_template` with `field_messages`, `message_property_mappings` and `roles`,
`type: completion` for plain text; `test_datasets:` for eval).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qaug.errors import UsageError
from qaug.writers import write_json_atomic
from qaug.split import SplitReport

# LLaMA-Factory's documented keys (data/README.md), which the test checks the file against.
USER_ROLES = ("human", "user")
ASSISTANT_ROLES = ("gpt", "assistant", "model", "chatgpt")
SYSTEM_ROLES = ("system",)
OBSERVATION_ROLES = ("observation", "tool", "function")
FUNCTION_ROLES = ("function_call",)


def file_format(report: SplitReport) -> str:
    """The one record format of the split's files; trainers map one layout per dataset."""
    formats = {f: n for f, n in report.formats.items() if n}
    if len(formats) != 1 or "unknown" in formats:
        seen = ", ".join(f"{f} {n}" for f, n in sorted(formats.items())) or "no records"
        raise UsageError(f"a trainer config needs one record format per file; this split holds {seen}")
    return next(iter(formats))


def _role(report: SplitReport, choices: tuple[str, ...], what: str, required: bool = True) -> str | None:
    found = [r for r in choices if report.roles.get(r)]
    if len(found) > 1:
        raise UsageError(f"the conversations name the {what} both {found[0]!r} and {found[1]!r}; "
                         "a trainer config takes one")
    if not found and required:
        raise UsageError(f"no {what} turn found in the conversations (roles seen: {', '.join(sorted(report.roles))})")
    return found[0] if found else None


def llama_factory_entry(report: SplitReport, file_name: str) -> dict[str, Any]:
    """One dataset_info.json entry for a split file, in the layout LLaMA-Factory documents."""
    fmt = file_format(report)
    if fmt == "alpaca":
        columns = {"prompt": "instruction", "query": "input", "response": "output"}
        for extra in ("system", "history"):
            if report.keys.get(extra):
                columns[extra] = extra
        return {"file_name": file_name, "formatting": "alpaca", "columns": columns}
    if fmt == "text":  # pre-training: only the text column is learned
        return {"file_name": file_name, "columns": {"prompt": "text"}}
    if fmt == "completion":  # prompt/completion pairs are alpaca with the columns renamed
        return {"file_name": file_name, "formatting": "alpaca",
                "columns": {"prompt": "prompt", "response": "completion"}}
    column, role_tag, content_tag = ("conversations", "from", "value") if fmt == "sharegpt" else \
        ("messages", "role", "content")
    columns = {"messages": column}
    for extra in ("system", "tools"):
        if report.keys.get(extra):
            columns[extra] = extra
    tags = {"role_tag": role_tag, "content_tag": content_tag,
            "user_tag": _role(report, USER_ROLES, "user"), "assistant_tag": _role(report, ASSISTANT_ROLES, "assistant")}
    for tag, choices, what in (("system_tag", SYSTEM_ROLES, "system"), ("observation_tag", OBSERVATION_ROLES, "tool"),
                               ("function_tag", FUNCTION_ROLES, "function call")):
        value = _role(report, choices, what, required=False)
        if value is not None:
            tags[tag] = value
    return {"file_name": file_name, "formatting": "sharegpt", "columns": columns, "tags": tags}


def dataset_name(out_dir: Path) -> str:
    """The dataset's name in dataset_info.json: the folder's name, made a plain identifier."""
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in out_dir.resolve().name).strip("_")
    return name or "qaug"


def write_llama_factory(out_dir: Path, report: SplitReport) -> Path:
    """dataset_info.json beside the split: `<name>_train`, `<name>_eval` (and `_test`), trained on by name."""
    name = dataset_name(out_dir)
    info = {f"{name}_{side}": llama_factory_entry(report, f"{side}.jsonl") for side in report.sides}
    path = out_dir / "dataset_info.json"
    write_json_atomic(path, info)
    return path


def axolotl_block(out_dir: Path, report: SplitReport) -> str:
    """The `datasets:` (train) and `test_datasets:` (eval) blocks of an axolotl YAML config."""
    fmt = file_format(report)
    if fmt == "alpaca":
        body = ["type: alpaca"]
    elif fmt == "text":
        body = ["type: completion"]
    elif fmt == "completion":  # inst_tune.qmd's custom prompt format, mapped onto prompt/completion
        body = ["type:", '  system_prompt: ""', "  field_instruction: prompt", "  field_output: completion",
                '  format: "{instruction}"', '  no_input_format: "{instruction}"']
    else:
        column, role, content = ("conversations", "from", "value") if fmt == "sharegpt" else \
            ("messages", "role", "content")
        user = _role(report, USER_ROLES, "user")
        assistant = _role(report, ASSISTANT_ROLES, "assistant")
        body = ["type: chat_template", f"field_messages: {column}", "message_property_mappings:",
                f"  role: {role}", f"  content: {content}", "roles:", f"  user: [{_q(user)}]",
                f"  assistant: [{_q(assistant)}]"]
        system = _role(report, SYSTEM_ROLES, "system", required=False)
        if system:
            body.append(f"  system: [{_q(system)}]")
        body.append('roles_to_train: ["assistant"]')

    def entry(side: str) -> list[str]:
        path = (out_dir / f"{side}.jsonl").resolve()
        return [f"  - path: {_q(str(path))}", "    ds_type: json", *(f"    {line}" for line in body)] + \
            (["    split: train"] if side != "train" else [])

    lines = ["datasets:", *entry("train")]
    if "eval" in report.sides:
        lines += ["test_datasets:", *entry("eval")]
    return "\n".join(lines) + "\n"


def _q(text: str | None) -> str:
    """A YAML scalar: JSON's double-quoted strings are valid YAML."""
    return json.dumps(text, ensure_ascii=False)


def emit_config(kind: str, out_dir: Path, report: SplitReport) -> str:
    """Write or build the trainer config `kind`; returns text for the terminal."""
    if kind == "llama-factory":
        path = write_llama_factory(out_dir, report)
        return (f"wrote {path}: train with dataset: {dataset_name(out_dir)}_train, "
                f"eval_dataset: {dataset_name(out_dir)}_eval, dataset_dir: {out_dir}\n")
    if kind == "axolotl":
        return axolotl_block(out_dir, report)
    raise UsageError(f"--emit must be llama-factory or axolotl, not {kind!r}")
