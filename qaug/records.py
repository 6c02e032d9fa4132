"""Records and the four dataset formats: which texts of a record an augmenter may touch.

A record keeps its input format; an augmenter reads texts through `texts()` and writes
them back with `with_texts()`, so no augmenter has to know the difference between an
Alpaca record and a ShareGPT conversation.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Union, cast

#: where a text sits in a record: keys and list indices from the top (a JSON path, not a file)
FieldPath = tuple[Union[str, int], ...]
#: the path of a conversation turn's text: (list key, turn index, body key)
TurnPath = tuple[str, int, str]

FORMATS = ("alpaca", "sharegpt", "messages", "text", "completion")

# ShareGPT speaker names mapped to the role names used by --fields.
_SHAREGPT_ROLES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
    "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "model": "assistant",
    "system": "system", "tool": "tool", "function": "tool", "function_call": "assistant",
    "observation": "tool",
}

# Default texts for model methods: the prompt side of a sample.
DEFAULT_FIELDS = {
    "alpaca": ("instruction",),
    "sharegpt": ("user",),
    "messages": ("user",),
    "text": ("text",),
    "completion": ("prompt",),
}
# The answer side of a sample: what a model trained on it learns to write. A plain `text` record is all
# model-written text, so its one text is the answer (table_convert converts tables there); steps and bugfix
# need a task before the answer and take nothing from it (answers.answer_fields says so where they read this).
ANSWER_FIELDS = {
    "alpaca": ("output",),
    "sharegpt": ("assistant",),
    "messages": ("assistant",),
    "text": ("text",),
    "completion": ("completion",),
}
FIELD_NAMES = ("instruction", "input", "output", "system", "user", "assistant", "tool", "text", "prompt", "completion")
ALL_FIELDS = {
    "alpaca": ("instruction", "input", "output"),
    "sharegpt": ("system", "user", "assistant", "tool"),
    "messages": ("system", "user", "assistant", "tool"),
    "text": ("text",),
    "completion": ("prompt", "completion"),
}


@dataclass(frozen=True, slots=True)
class Record:
    """One input sample: a stable id, its data in the input format, and where it came from."""

    id: str
    data: dict[str, Any]
    fmt: str
    source: str
    line: int

    def texts(self, fields: Sequence[str] | None = None) -> list[tuple[FieldPath, str]]:
        """(path, text) for every text the given fields name, in record order."""
        return list(iter_texts(self.data, self.fmt, fields))


def detect_format(data: Any) -> str | None:
    """The format a record's keys say it is in, or None for an unknown shape."""
    if not isinstance(data, dict):
        return None
    if "conversations" in data:
        return "sharegpt"
    if "messages" in data:
        return "messages"
    if "instruction" in data or ("output" in data and "input" in data):
        return "alpaca"
    if "prompt" in data and "completion" in data:  # the OpenAI legacy / many SFT datasets' pair
        return "completion"
    if "text" in data:
        return "text"
    return None


def validate(data: Any, fmt: str) -> str | None:
    """None when `data` is a well-formed record of `fmt`, else the reason it is not."""
    if not isinstance(data, dict):
        return f"record is a JSON {_json_type(data)}, not an object"
    if fmt == "alpaca":
        if "instruction" not in data and "output" not in data:
            return "alpaca record has neither 'instruction' nor 'output'"
        for key in ("instruction", "input", "output"):
            if key in data and data[key] is not None and not isinstance(data[key], str):
                return f"field '{key}' is a {_json_type(data[key])}, expected a string"
        return None
    if fmt == "text":
        if not isinstance(data.get("text"), str):
            return "field 'text' is missing or not a string"
        return None
    if fmt == "completion":
        for key in ("prompt", "completion"):
            if not isinstance(data.get(key), str):
                return (f"field '{key}' is {'missing' if key not in data else 'a ' + _json_type(data[key])}, "
                        "expected a string")
        return None
    if fmt in ("sharegpt", "messages"):
        key, speaker, body = (("conversations", "from", "value") if fmt == "sharegpt"
                              else ("messages", "role", "content"))
        turns = data.get(key)
        if not isinstance(turns, list):
            return f"field '{key}' is {'missing' if turns is None else 'a ' + _json_type(turns)}, expected a list"
        if not turns:
            return f"field '{key}' is an empty list"
        for i, turn in enumerate(turns):
            if not isinstance(turn, dict):
                return f"{key}[{i}] is a {_json_type(turn)}, expected an object"
            if not isinstance(turn.get(speaker), str):
                return f"{key}[{i}].{speaker} is missing or not a string"
            content = turn.get(body)
            if content is not None and not isinstance(content, str):
                if fmt == "messages" and isinstance(content, list):
                    continue  # multimodal content parts: kept, never augmented
                return f"{key}[{i}].{body} is a {_json_type(content)}, expected a string"
        return None
    return f"unknown format '{fmt}'"


def role_of(fmt: str, turn: dict[str, Any]) -> str:
    """The --fields name of a conversation turn (ShareGPT speakers mapped to roles)."""
    if fmt == "sharegpt":
        return _SHAREGPT_ROLES.get(str(turn.get("from", "")).lower(), str(turn.get("from")))
    return str(turn.get("role"))


def iter_texts(data: dict[str, Any], fmt: str, fields: Sequence[str] | None = None) -> Iterator[tuple[FieldPath, str]]:
    """Yield (path, text) for the string texts that `fields` selects (None: every text)."""
    wanted = set(fields) if fields is not None else set(ALL_FIELDS[fmt])
    if fmt == "alpaca":
        for key in ("instruction", "input", "output"):
            value = data.get(key)
            if key in wanted and isinstance(value, str) and value:
                yield (key,), value
    elif fmt == "text":
        if "text" in wanted and isinstance(data.get("text"), str):
            yield ("text",), data["text"]
    elif fmt == "completion":
        for key in ("prompt", "completion"):
            value = data.get(key)
            if key in wanted and isinstance(value, str) and value:
                yield (key,), value
    else:
        key, body = ("conversations", "value") if fmt == "sharegpt" else ("messages", "content")
        for i, turn in enumerate(data.get(key, ())):
            value = turn.get(body)
            if isinstance(value, str) and value and role_of(fmt, turn) in wanted:
                yield (key, i, body), value


def with_texts(data: dict[str, Any], changes: dict[FieldPath, str]) -> dict[str, Any]:
    """A copy of `data` with the texts at the given paths replaced; the input is never mutated."""
    if not changes:
        return data
    out = dict(data)
    copied: set[tuple] = set()
    for path, text in changes.items():
        node: Any = out
        for depth, step in enumerate(path[:-1]):
            prefix = path[: depth + 1]
            child = node[step]
            if prefix not in copied:
                child = copy.copy(child)
                node[step] = child
                copied.add(prefix)
            node = child
        node[path[-1]] = text
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def text_role(record: Record, path: FieldPath) -> str:
    """What a text is to its sample, for the text gates: "instruction" (a request), "data" (text a task
    works on: an Alpaca input, a system prompt, a plain text) or "answer"."""
    if record.fmt == "alpaca":
        return {"instruction": "instruction", "output": "answer"}.get(str(path[0]), "data")
    if record.fmt == "completion":
        return "instruction" if path[0] == "prompt" else "answer"
    if record.fmt in ("sharegpt", "messages") and len(path) == 3:
        key, i, _ = cast(TurnPath, path)
        turn = record.data.get(key, [])[i]
        return {"user": "instruction", "assistant": "answer"}.get(role_of(record.fmt, turn), "data")
    return "data"


def answer_to(record: Record, path: FieldPath) -> str:
    """The answer a prompt-side text gets in its sample (Alpaca output, the next assistant turn), or ""."""
    if record.fmt == "alpaca":
        out = record.data.get("output")
        return out if path[0] != "output" and isinstance(out, str) else ""
    if record.fmt == "completion":
        out = record.data.get("completion")
        return out if path[0] == "prompt" and isinstance(out, str) else ""
    if record.fmt in ("sharegpt", "messages") and len(path) == 3:
        key, body = ("conversations", "value") if record.fmt == "sharegpt" else ("messages", "content")
        turns = record.data.get(key, [])
        for turn in turns[int(path[1]) + 1:]:
            if isinstance(turn, dict) and role_of(record.fmt, turn) == "assistant":
                value = turn.get(body)
                return value if isinstance(value, str) else ""
    return ""


def context_of(record: Record, path: FieldPath) -> str:
    """The rest of an Alpaca prompt (the input beside an instruction, and the reverse); "" elsewhere."""
    if record.fmt != "alpaca" or path[0] == "output":
        return ""
    other = record.data.get("input" if path[0] == "instruction" else "instruction")
    return other if isinstance(other, str) else ""
