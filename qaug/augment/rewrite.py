"""`rewrite`: N paraphrases of the instruction (or the chosen fields) that keep its intent."""

from __future__ import annotations

from typing import Any

from qaug.augment.base import Failure, Outcome, Param
from qaug.augment.registry import register
from qaug.augment.model_base import GATE_PARAMS, ModelAugmenter, Unit
from qaug.llm.engine import Result
from qaug.quality import textgates


def variants_schema(n: int) -> dict[str, Any]:
    """Exactly n non-empty strings."""
    return {"type": "object", "additionalProperties": False, "required": ["variants"],
            "properties": {"variants": {"type": "array", "minItems": n, "maxItems": n,
                                        "items": {"type": "string", "minLength": 1}}}}


@register
class Rewrite(ModelAugmenter):
    name = "rewrite"
    description = "N paraphrases of the instruction / user turns: same intent, new verbs, structure and tone"
    prompt_name = "rewrite"
    gates = textgates.PARAPHRASE_GATES
    support_check = True  # a paraphrase carries every word of its source and adds none
    PARAMS = (Param("n", int, 5, "paraphrases per record", min=1, max=20),) + GATE_PARAMS

    def plan(self, unit: Unit, index: int) -> None:
        schema = variants_schema(self.n)
        for k, (_, text) in enumerate(unit.texts):
            keep = self.keep_list(text, unit.lang)
            msgs = self.messages(unit.lang, n=self.n, text=text, language=unit.lang, keep=keep)
            budget = min(self.sampling.max_tokens, 64 + self.n * (2 * len(text) + 32))
            unit.jobs.append(self.job(f"{index}/{k}", msgs, schema, unit.rng, max_tokens=budget))

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        answers = self.answers(unit, results, "variants")
        if isinstance(answers, Failure):
            return [answers]
        siblings: dict[int, list[str]] = {}
        out: list[Outcome] = []
        for i in range(self.n):
            out.append(self.variant_from(unit, [a[i] for a in answers], {"lang": unit.lang, "variant": i}, siblings))
        return out
