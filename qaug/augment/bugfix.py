"""`bugfix`: a "find and fix the error" sample made from a correct code or math solution.

The model injects one plausible error; the new sample asks to repair it and answers with
the original solution, which is known to be right. So the training target is never model
text. What is checked is the corrupted side: Python must still parse and its syntax tree
must differ from the original's (an edited comment is not a bug); a calculation must differ
in at least one number or operator; and it must stay close to the original (one error, not
a rewrite).
"""

from __future__ import annotations

import ast
import re
import unicodedata
from typing import Any, cast

from qaug.augment.answers import AnswerMethod, is_math, path_name, python_at, python_code, task_index, task_of
from qaug.augment.base import Failure, Outcome, Param, Skip, Variant
from qaug.augment.registry import register
from qaug.augment.model_base import GATE_PARAMS, Unit
from qaug.llm.prompts import prompt_file
from qaug.llm.engine import Result
from qaug.quality import filters, textgates
from qaug.quality.textgates import GateInput, Reject
from qaug.records import TurnPath, with_texts

CORRUPTION_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["corrupted", "error"],
    "properties": {"corrupted": {"type": "string", "minLength": 1},
                   "error": {"type": "string", "minLength": 1, "maxLength": 300}},
}
_MATH_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?|(?<=[\w)）%])\s*(?:\*\*|[-+*/×÷^=<>≤≥−])\s*(?=[\w(（$¥])")


def math_tokens(text: str) -> list[str]:
    """Numbers and operators in order: an injected arithmetic error changes this sequence."""
    return [t.strip().replace(",", "") for t in _MATH_TOKEN.findall(unicodedata.normalize("NFKC", text))]


@register
class BugFix(AnswerMethod):
    name = "bugfix"
    description = "pseudo-error repair: model injects one error into a code/math answer; sample asks to fix it"
    prompt_name = "bugfix"
    PARAMS = (
        Param("min_similarity", float, 0.6, "the corrupted solution must stay at least this close to the original "
              "(one error, not a rewrite)", min=0.0, max=1.0),
    ) + tuple(p for p in GATE_PARAMS if p.name in ("min_len_ratio", "max_len_ratio"))
    #: the new sample asks to repair a wrong solution: "same meaning as the source" cannot hold
    verifiable = False

    def plan(self, unit: Unit, index: int) -> None:
        path, text = self.focus(unit)
        task = task_of(unit.record, path)
        if not task.strip():
            unit.skip = Skip("no task (instruction or user turn) before the answer")
            return
        code = python_code(text)
        if code.trees:
            kind = "code"
        elif code.error:
            unit.skip = Skip(f"code does not parse as Python: {code.error}")
            return
        elif is_math(text):
            kind = "math"
        else:
            unit.skip = Skip("answer is neither Python code nor a worked calculation")
            return
        p = prompt_file(self.prompt_name)["zh" if unit.lang == "zh" else "en"]
        msgs = self.messages(unit.lang, text=text, task=task, hint=p[kind], language=unit.lang)
        budget = min(self.sampling.max_tokens, 96 + 3 * len(text))
        unit.jobs.append(self.job(f"{index}/{kind}", msgs, CORRUPTION_SCHEMA, unit.rng, max_tokens=budget,
                                  tag=(kind,)))

    def corruption_reason(self, kind: str, original: str, corrupted: str) -> Reject | None:
        """Why `corrupted` is not one real, well-formed error in `original`, or None."""
        if not corrupted.strip():
            return Reject("empty", "empty corrupted solution")
        if filters.normalize(corrupted) == filters.normalize(original):
            return Reject("identical", "corrupted solution is identical to the original")
        ratio = textgates.length_ratio(GateInput(original, corrupted), self.gate_settings())
        if ratio is not None:
            return ratio
        sim = filters.similarity(original, corrupted)
        if sim < self.min_similarity:
            return Reject("not_one_error", f"corrupted solution is a rewrite, not one error (similarity {sim:.2f})")
        if kind == "code":
            code = python_code(original)
            trees, error = python_at(corrupted, code)
            if error:
                return Reject("code_changed", f"corrupted code does not parse: {error}")
            if [ast.dump(t) for t in trees] == code.dumps():
                return Reject("no_error", "corrupted code has the same syntax tree as the original")
        elif math_tokens(corrupted) == math_tokens(original):
            return Reject("no_error", "corrupted solution changes no number or operator")
        return None

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        result = self.one_answer(unit, results)
        if isinstance(result, Failure):
            return [result]
        kind = result.job.tag[0]
        path, original = unit.texts[0]
        corrupted, error = result.value["corrupted"], " ".join(result.value["error"].split())
        reject = self.corruption_reason(kind, original, corrupted)
        if reject is not None:
            return [Failure(reject.detail, stage="gate", text=corrupted, code=reject.code)]
        data = self._sample(unit, original, corrupted)
        if data == unit.record.data:
            return [Failure("identical to source", stage="gate", text=corrupted, code="identical")]
        return [Variant(data, info={"lang": unit.lang, "kind": kind, "error": error, "field": path_name(path)})]

    def _sample(self, unit: Unit, original: str, corrupted: str) -> dict[str, Any]:
        """The new record in the parent's format: fixed instruction + task, corrupted solution, original answer."""
        record, (path, _) = unit.record, unit.texts[0]
        p = prompt_file(self.prompt_name)["zh" if unit.lang == "zh" else "en"]
        task = task_of(record, path)
        head = f"{p['instruction']}\n\n{p['task_label']}\n{task}"
        if record.fmt == "alpaca":
            return with_texts(record.data, {("instruction",): head, ("input",): corrupted, ("output",): original})
        key, i, body = cast(TurnPath, path)
        turns = record.data[key]
        user = task_index(record, path)
        assert user is not None  # plan skipped records without a task
        prompt = dict(turns[user])
        prompt[body] = f"{head}\n\n{p['solution_label']}\n{corrupted}"
        out = dict(record.data)
        out[key] = [*turns[:user], prompt, dict(turns[int(i)])]
        return out
