"""`roleplay`: the same request as different askers would put it (student, expert, manager...).

Real users ask the same thing in very different voices; a model tuned on one voice answers the
others worse. One job per record asks for one restatement per persona; the answer stays as it is,
since the request (and so the right answer) does not change.
"""

from __future__ import annotations

import json
from typing import Any

from qaug.augment.base import Failure, Outcome, Param, Skip
from qaug.augment.registry import register
from qaug.augment.model_base import GATE_PARAMS, ModelAugmenter, Unit
from qaug.errors import UsageError
from qaug.llm.engine import Result

DEFAULT_PERSONAS = ("student", "domain expert", "busy manager", "non-native speaker")
#: Chinese names of the default personas, used as the answer's keys in the zh prompt.
PERSONAS_ZH = {"student": "学生", "domain expert": "领域专家", "busy manager": "忙碌的经理",
               "non-native speaker": "非母语者"}


def personas_schema(keys: list[str]) -> dict[str, Any]:
    """One non-empty string per persona, keyed by its name: the grammar itself rules out a
    missing or repeated persona, which an array of {persona, text} objects would not."""
    return {"type": "object", "additionalProperties": False, "required": list(keys),
            "properties": {k: {"type": "string", "minLength": 1} for k in keys}}


@register
class Roleplay(ModelAugmenter):
    name = "roleplay"
    description = "the instruction / first user turn restated as each persona would ask it; the answer is kept"
    prompt_name = "roleplay"
    PARAMS = (Param("personas", tuple, DEFAULT_PERSONAS, "askers, one variant each (comma-separated)"),) + GATE_PARAMS

    def setup(self) -> None:
        super().setup()
        if not self.personas:
            raise UsageError("roleplay.personas: give at least one persona")
        if len(set(self.personas)) != len(self.personas):
            raise UsageError(f"roleplay.personas: repeated persona in {', '.join(self.personas)}")

    def persona_keys(self, lang: str) -> list[str]:
        """The personas as named in the prompt's language (raw names if translating would merge two)."""
        if lang != "zh":
            return list(self.personas)
        keys = [PERSONAS_ZH.get(p, p) for p in self.personas]
        return keys if len(set(keys)) == len(keys) else list(self.personas)

    def plan(self, unit: Unit, index: int) -> None:
        if unit.record.fmt == "text":
            unit.skip = Skip("roleplay needs an instruction or user turn (text records have none)")
            return
        # One text per record: the opening request. Later user turns follow the conversation and
        # keep their own voice; restating only the first keeps every assistant turn a valid reply.
        unit.texts = unit.texts[:1]
        text = unit.texts[0][1]
        keys = self.persona_keys(unit.lang)
        example = json.dumps({k: "..." for k in keys}, ensure_ascii=False)
        keep = self.keep_list(text, unit.lang)
        msgs = self.messages(unit.lang, personas=("、" if unit.lang == "zh" else ", ").join(keys), n=len(keys),
                             text=text, language=unit.lang, example=example, keep=keep)
        budget = min(self.sampling.max_tokens, 64 + len(keys) * (2 * len(text) + 48))
        unit.jobs.append(self.job(f"{index}/roleplay", msgs, personas_schema(keys), unit.rng, max_tokens=budget))

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        result = self.one_answer(unit, results)
        if isinstance(result, Failure):
            return [result]
        keys = self.persona_keys(unit.lang)
        siblings: dict[int, list[str]] = {}
        path = list(unit.texts[0][0])
        return [self.variant_from(unit, [result.value[key]], {"persona": persona, "lang": unit.lang, "path": path},
                                  siblings)
                for persona, key in zip(self.personas, keys)]
