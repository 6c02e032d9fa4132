"""`steps`: the same worked solution with its reasoning steps reordered or regrouped.

A model that always sees "Step 1 ... Step 4" in one order learns the layout along with the
reasoning. The variant keeps the result: the final answer line and the numbers in it must
survive verbatim, no number of the solution may vanish, and Python code must still parse
and define the same names. A pure reorder keeps almost every character 3-gram, so the
near-duplicate gate here is order-aware (difflib) instead of the shared bag-of-3-grams one.

The answer-side helpers (which text is the answer, what task it solves, numbers, Python
blocks) live in `answers`, shared with `bugfix` and `translate`.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from typing import Any

from qaug.augment.answers import (
    AnswerMethod,
    PyCode,
    answer_line,
    is_json_document,
    is_math,
    lost_number,
    numbers_in,
    numbers_of,
    path_name,
    prose_lines,
    python_code,
    task_of,
)
from qaug.augment.base import Failure, Outcome, Param, Skip, Variant
from qaug.augment.registry import register
from qaug.augment.model_base import GATE_PARAMS, Unit
from qaug.llm.prompts import prompt_file
from qaug.llm.engine import Result
from qaug.quality import filters
from qaug.quality.textgates import GateInput, Reject

SOLUTION_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["solution"],
    "properties": {"solution": {"type": "string", "minLength": 1}},
}

# Step and list labels ("Step 3:", "3.", "(3)", "第3步"): regrouping renumbers them, so their numbers may go.
_LABEL = re.compile(r"^([ \t>*#-]*)(?:step\s*\d+\s*[:.)：]?|第\s*\d+\s*步|[(（]\d+[)）]|\d+\s*[.)、](?=\s))",
                    re.IGNORECASE | re.MULTILINE)
_SENTENCE = re.compile(r"[.!?。！？；;](?:\s+|$)")


# -- the final answer and the steps of a solution --------------------------------------------
def strip_labels(text: str) -> str:
    """`text` without step and list labels at line starts."""
    return _LABEL.sub(r"\1", text)


@dataclass
class FinalAnswer:
    """What the result of a solution is: an explicit line, or the last line / last number."""

    text: str
    explicit: bool
    last: bool  # the explicit line is the solution's last prose line


def final_answer(text: str) -> FinalAnswer | None:
    """The result a reordering must keep: the answer line, else a last line with a number, else the last number."""
    lines = prose_lines(text)
    line = answer_line(text)
    if line is not None:
        return FinalAnswer(line, True, bool(lines) and lines[-1] == line)
    if lines and numbers_of(lines[-1]):
        return FinalAnswer(lines[-1], False, True)
    found = numbers_in(text)
    return FinalAnswer(found[-1], False, False) if found else None


def final_answer_reason(final: FinalAnswer, variant: str) -> str | None:
    """Every number of the original final answer survives; an explicit answer line is kept (and kept last)."""
    have = numbers_of(variant)
    missing = sorted(n for n in numbers_of(final.text) if n not in have)
    if missing:
        return f"lost final-answer number {missing[0]!r}"
    if final.explicit:
        lines = [filters.normalize(ln) for ln in prose_lines(variant)]
        want = filters.normalize(final.text)
        if want not in lines:
            return "final answer line changed or dropped"
        if final.last and lines[-1] != want:
            return "final answer line is no longer last"
    return None


def step_count(text: str) -> int:
    """Lines, or sentences for a one-paragraph answer."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 2:
        return len(lines)
    return len([s for s in _SENTENCE.split(text) if s.strip()])


def order_similarity(a: str, b: str) -> float:
    """difflib ratio of the normalised texts: moving a step lowers it, a bag of 3-grams would not notice."""
    na, nb = filters.normalize(a), filters.normalize(b)
    if max(len(na), len(nb)) > 6000:  # keep it cheap on very long answers: compare lines
        return difflib.SequenceMatcher(None, na.split("\n"), nb.split("\n"), autojunk=False).ratio()
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio()


@register
class Steps(AnswerMethod):
    name = "steps"
    description = "reorder or regroup the reasoning steps of a math/code answer; final answer and every number kept"
    prompt_name = "steps"
    #: the judge asks about instructions; a reordered solution is checked by its final answer, numbers and code
    verifiable = False
    # Reordered steps keep every word by design, so the near-copy ceiling is the order-aware 0.95, not 0.85.
    PARAMS = (Param("how", str, "any", "reorder the steps, regroup them, or pick one per variant",
                    choices=("any", "reorder", "regroup")),) + tuple(
        dataclasses.replace(p, default=0.95) if p.name == "max_similarity" else p for p in GATE_PARAMS)

    def plan(self, unit: Unit, index: int) -> None:
        path, text = self.focus(unit)
        if is_json_document(text.strip()):
            unit.skip = Skip("answer is a JSON document, not a worked solution")
            return
        if step_count(text) < 2:
            unit.skip = Skip("answer has no reasoning steps (fewer than 2 lines or sentences)")
            return
        code = python_code(text)
        if not code.trees and code.error:
            unit.skip = Skip(f"code does not parse as Python: {code.error}")
            return
        if not code.trees and not is_math(text):
            unit.skip = Skip("answer is not a math or Python code solution")
            return
        how = self.how if self.how != "any" else ("reorder", "regroup")[unit.rng.derive("how").randrange(2)]
        p = prompt_file(self.prompt_name)["zh" if unit.lang == "zh" else "en"]
        keep = p["keep_line"] if answer_line(text) is not None else p["keep_result"]
        msgs = self.messages(unit.lang, text=text, task=task_of(unit.record, path) or "-", how=p[how], keep=keep,
                             language=unit.lang)
        budget = min(self.sampling.max_tokens, 64 + 3 * len(text))
        unit.jobs.append(self.job(f"{index}/{how}", msgs, SOLUTION_SCHEMA, unit.rng, max_tokens=budget, tag=(how,)))

    #: a worked solution may repeat itself and mix scripts (code in prose); near-copies and lost numbers
    #: are checked in extra_gate, order-aware and label-blind
    gates = ("empty", "identical", "duplicate", "length_ratio", "literal_lost")

    def extra_gate(self, g: GateInput) -> Reject | None:
        """Order-aware closeness (a pure reorder has the same 3-grams, so the bag measure would call it a copy),
        and every number kept (CJK-aware) except the step labels that regrouping renumbers."""
        sim = order_similarity(g.source, g.variant)
        if sim > self.max_similarity:
            return Reject("near_duplicate", f"near-duplicate of source (order-aware similarity {sim:.2f} > "
                                            f"{self.max_similarity:g})")
        missing = lost_number(strip_labels(g.source), strip_labels(g.variant))
        return Reject("number_lost", missing) if missing else None

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        result = self.one_answer(unit, results)
        if isinstance(result, Failure):
            return [result]
        path, source = unit.texts[0]
        new = result.value["solution"]
        final = final_answer(source)
        if final is not None:
            reason = final_answer_reason(final, new)
            if reason:
                return [Failure(reason, stage="gate", text=new, code="final_answer_changed")]
        code = python_code(source)
        if code.trees:
            reason = self._code_reason(code, new)
            if reason:
                return [Failure(reason, stage="gate", text=new, code="code_changed")]
        info: dict[str, Any] = {"lang": unit.lang, "how": result.job.tag[0],
                                "kind": "code" if code.trees else "math", "field": path_name(path)}
        if final is not None:
            info["final_answer"] = final.text
        out = self.variant_from(unit, [new], info, {})
        if isinstance(out, Variant) and out.data == unit.record.data:
            return [Failure("identical to source", stage="gate", text=new, code="identical")]
        return [out]

    @staticmethod
    def _code_reason(code: PyCode, new: str) -> str | None:
        """Regrouped code may be split or merged, but must parse and define the same names."""
        got = python_code(new)
        if got.error:
            return f"code no longer parses: {got.error}"
        if not got.trees:
            return "lost the Python code"
        missing = sorted(code.names() - got.names())
        if missing:
            return f"code no longer defines {missing[0]!r}"
        return None
