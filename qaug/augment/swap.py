"""`swap`: input/output inversion: given the answer, the new sample asks for its question.

The inverse structure is deterministic (the answer moves to the prompt side, the question becomes
the target), so the new sample is right by construction; the model only writes the wording of the
inverse instruction, in the record's language, so that several variants differ and the instruction
can name the kind of answer (an email, a poem, code...). The wording is checked not to give the
question away, since a target that the prompt already spells out teaches nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from qaug.augment.base import Failure, Outcome, Param, Skip, Variant
from qaug.augment.registry import register
from qaug.augment.model_base import ModelAugmenter, Unit
from qaug.llm.engine import Result
from qaug.quality.textgates import Reject
from qaug.quality import filters, terms
from qaug.quality.lang import detect
from qaug.records import FieldPath, Record, TurnPath, role_of

#: The plain inverse instruction, shown to the model as the example to vary.
FIXED = {
    "en": "Write the question or instruction that this answer responds to.",
    "zh": "请写出这段回答所对应的问题或指令。",
}
#: an inverse instruction must ask for the question: it names it (question, instruction, prompt, 问题, 指令...)
ASKS_FOR_QUESTION = re.compile(r"\b(?:questions?|instructions?|prompts?|requests?|messages?|tasks?|queries|query|"
                               r"asked|ask)\b|"
                               r"问题|指令|提问|题目|请求|任务|问的|问了", re.IGNORECASE)
#: answers shorter than this (content units: CJK characters, English word stems) cannot identify their question
MIN_ANSWER_UNITS = 5
EXCERPT = 1200  # characters of the answer the prompt shows: enough to tell its kind, bounded for the context
MAX_INSTRUCTION = 300


def instructions_schema(n: int) -> dict[str, Any]:
    """Exactly n short non-empty strings."""
    return {"type": "object", "additionalProperties": False, "required": ["instructions"],
            "properties": {"instructions": {"type": "array", "minItems": n, "maxItems": n,
                                            "items": {"type": "string", "minLength": 1,
                                                      "maxLength": MAX_INSTRUCTION}}}}


@dataclass(frozen=True)
class Pair:
    """The question/answer pair of a record and where each part lives."""

    question: str
    answer: str
    q_path: FieldPath
    a_path: FieldPath


def find_pair(record: Record) -> Pair | str:
    """The pair to invert, or the reason the record has none."""
    data, fmt = record.data, record.fmt
    if fmt == "alpaca":
        answer = data.get("output")
        if not isinstance(answer, str) or not answer.strip():
            return "no output to swap"
        parts = [data.get(k) for k in ("instruction", "input")]
        question = "\n\n".join(p for p in parts if isinstance(p, str) and p.strip())
        if not question:
            return "no instruction to swap"
        q_key = "instruction" if isinstance(parts[0], str) and parts[0].strip() else "input"
        return Pair(question, answer, (q_key,), ("output",))
    if fmt in ("sharegpt", "messages"):
        key, body = ("conversations", "value") if fmt == "sharegpt" else ("messages", "content")
        turns = data.get(key) or []
        if len(turns) < 2 or role_of(fmt, turns[-1]) != "assistant" or role_of(fmt, turns[-2]) != "user":
            return "no final user/assistant pair to swap"
        question, answer = turns[-2].get(body), turns[-1].get(body)
        if not isinstance(question, str) or not question.strip() or not isinstance(answer, str) or not answer.strip():
            return "no final user/assistant pair to swap"
        return Pair(question, answer, (key, len(turns) - 2, body), (key, len(turns) - 1, body))
    return "swap needs a question/answer pair (text records have none)"


def swapped(record: Record, pair: Pair, instruction: str) -> dict[str, Any]:
    """A new record in the same format: instruction + answer on the prompt side, the question as the target."""
    out = dict(record.data)
    if record.fmt == "alpaca":
        out["instruction"], out["input"], out["output"] = instruction, pair.answer, pair.question
        return out
    key, qi, body = cast(TurnPath, pair.q_path)
    ai = cast(TurnPath, pair.a_path)[1]
    turns = list(out[key])
    turns[qi] = {**turns[qi], body: f"{instruction}\n\n{pair.answer}"}
    turns[ai] = {**turns[ai], body: pair.question}
    out[key] = turns
    return out


@register
class Swap(ModelAugmenter):
    name = "swap"
    description = "inverse task: given the answer, ask for the instruction / last user turn that produced it"
    prompt_name = "swap"
    verifiable = False  # the variant asks the inverse question by design: "same meaning" cannot hold
    PARAMS = (
        Param("n", int, 1, "wordings of the inverse instruction, one variant each", min=1, max=10),
        Param("max_leak", float, 0.6, "reject an inverse instruction whose character 3-gram overlap with the "
              "question is above this", min=0.0, max=1.0),
    )

    def fields_for(self, record: Record) -> None:
        """Every text: the pair is found from the record's shape, not from --fields."""
        return None

    def plan(self, unit: Unit, index: int) -> None:
        pair = find_pair(unit.record)
        if isinstance(pair, str):
            unit.skip = Skip(pair)
            return
        if filters.normalize(pair.question) == filters.normalize(pair.answer):
            unit.skip = Skip("question and answer are the same text", code="same_text")
            return
        if len(terms.content_units(pair.answer)) < MIN_ANSWER_UNITS:
            unit.skip = Skip("the answer is too short to identify its question (a label, a number, a name): "
                             "its inverse would teach guessing", code="answer_too_short")
            return
        unit.lang = detect(f"{pair.question}\n{pair.answer}")
        answer = pair.answer if len(pair.answer) <= EXCERPT else pair.answer[:EXCERPT] + " …"
        msgs = self.messages(unit.lang, n=self.n, text=answer, language=unit.lang,
                             example=FIXED["zh" if unit.lang == "zh" else "en"])
        budget = min(self.sampling.max_tokens, 48 + self.n * 200)
        unit.jobs.append(self.job(f"{index}/swap", msgs, instructions_schema(self.n), unit.rng, max_tokens=budget))

    def gate(self, unit: Unit, pair: Pair, text: str, siblings: list[str]) -> Reject | None:
        """Why an inverse instruction is rejected, or None."""
        norm = filters.normalize(text)
        if not norm:
            return Reject("empty", "empty variant")
        if any(norm == filters.normalize(t) for t in (pair.question, pair.answer, *(t for _, t in unit.texts))):
            return Reject("identical", "identical to a source text")
        if any(norm == filters.normalize(s) for s in siblings):
            return Reject("duplicate", "duplicate of a sibling variant")
        got = detect(text)
        if got != unit.lang:
            return Reject("language_changed", f"inverse instruction is in {got}, not {unit.lang}")
        q, a = filters.normalize(pair.question), filters.normalize(pair.answer)
        if len(q) >= 8 and q in norm:
            return Reject("question_leaked", "inverse instruction quotes the question")
        if len(a) >= 8 and a in norm:
            return Reject("answered", "inverse instruction copies the answer")
        sim = filters.similarity(text, pair.question)
        if sim > self.max_leak:
            return Reject("question_leaked", f"inverse instruction gives the question away (similarity {sim:.2f})")
        if not ASKS_FOR_QUESTION.search(text) or not terms.is_request(text):
            return Reject("not_inverse", "does not ask for the question or instruction the answer responds to")
        return None

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        result = self.one_answer(unit, results)
        if isinstance(result, Failure):
            return [result]
        pair = find_pair(unit.record)
        assert isinstance(pair, Pair)  # plan() skipped every record without one
        out: list[Outcome] = []
        siblings: list[str] = []
        for i, raw in enumerate(result.value["instructions"]):
            text = raw.strip()
            reject = self.gate(unit, pair, text, siblings)
            if reject:
                out.append(Failure(reject.detail, stage="gate", text=raw, code=reject.code))
                continue
            siblings.append(text)
            info = {"lang": unit.lang, "variant": i, "inverse_instruction": text,
                    "question_path": list(pair.q_path), "answer_path": list(pair.a_path)}
            out.append(Variant(swapped(unit.record, pair, text), info=info))
        return out
