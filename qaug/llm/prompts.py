"""Prompt data files: per-language system text, user template and optional few-shot turns.

The files live in qaug/augment/prompts/<name>.json so prompts can be read and tuned without code.
A language entry has "system", "user" (a str.format template) and optionally "shots": a list of
{"user": ..., "assistant": ...} turns placed between the system text and the real request, which
show a small model what a faithful answer (and a refusal of each failure) looks like.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from qaug.quality.lang import NAMES, NAMES_ZH

Messages = tuple[dict[str, str], ...]


@functools.lru_cache(maxsize=None)
def prompt_file(name: str) -> dict[str, dict[str, Any]]:
    """Prompt templates of one method, per language, from qaug/augment/prompts/<name>.json."""
    text = resources.files("qaug.augment").joinpath("prompts").joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def chat(name: str, lang: str, **fields: Any) -> Messages:
    """The chat messages of prompt `name` in `lang` (zh, else en): system, shots, then the filled user turn.

    Fields named language/source/target are language codes, shown as language names in the prompt's language.
    """
    p = prompt_file(name)["zh" if lang == "zh" else "en"]
    names = NAMES_ZH if lang == "zh" else NAMES
    fmt = {k: (names.get(v, v) if k in ("language", "source", "target") else v) for k, v in fields.items()}
    msgs: list[dict[str, str]] = [{"role": "system", "content": p["system"]}]
    for shot in p.get("shots", ()):
        msgs += [{"role": "user", "content": shot["user"]}, {"role": "assistant", "content": shot["assistant"]}]
    msgs.append({"role": "user", "content": p["user"].format(**fmt)})
    return tuple(msgs)
