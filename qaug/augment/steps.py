"""`steps`: the same worked solution with its reasoning steps reordered or regrouped.

A model that always sees "Step 1 ... Step 4" in one order learns the layout along with the
reasoning. The variant keeps the result: the final answer line and the numbers in it must
survive verbatim, no number of the solution may vanish, and Python code must still parse
and define the same names. A pure reorder keeps almost every character 3-gram, so the
near-duplicate gate here is order-aware (difflib) instead of the shared bag-of-3-grams one.

The answer-side helpers below (which text is the answer, what task it solves, the final
answer, numbers, Python blocks) are shared with `bugfix`.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from qaug.augment.base import Failure, Outcome, Param, Skip, Variant, register
from qaug.augment.code import _PY_LABELS, _fences, _has_def, _make_block, _parse, _whole_field_is_code
from qaug.augment.model_base import GATE_PARAMS, ModelAugmenter, Unit, failure_of
from qaug.llm.prompts import prompt_file
from qaug.llm.engine import Result
from qaug.quality import filters
from qaug.quality.lang import detect
from qaug.quality.textgates import GateInput, Reject
from qaug.records import DEFAULT_FIELDS, FieldPath, Record, TurnPath, role_of

ANSWER_FIELDS = {"alpaca": ("output",), "sharegpt": ("assistant",), "messages": ("assistant",), "text": (),
                 "completion": ("completion",)}
SOLUTION_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["solution"],
    "properties": {"solution": {"type": "string", "minLength": 1}},
}

_ANSWER_LINE = re.compile(r"^[\s*#>_-]*(?:final\s+answer|the\s+answer\s+is|answer|最终答案|答案|答)[\s*_]*[:：]",
                          re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{")
# Digits as written (为1200万元 -> 1200; filters reads the amount, 12000000): final answers and worked steps are
# compared by the digits they show.
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d+(?:[.,]\d+)*(?:%|‰)?")
_CALC = re.compile(r"\d\s*(?:\*\*|[-+*/×÷^=<>≤≥−])\s*[-(（$¥\d]|[=≈]\s*[-$¥(（]?\s*\d")
# Step and list labels ("Step 3:", "3.", "(3)", "第3步"): regrouping renumbers them, so their numbers may go.
_LABEL = re.compile(r"^([ \t>*#-]*)(?:step\s*\d+\s*[:.)：]?|第\s*\d+\s*步|[(（]\d+[)）]|\d+\s*[.)、](?=\s))",
                    re.IGNORECASE | re.MULTILINE)
_SENTENCE = re.compile(r"[.!?。！？；;](?:\s+|$)")



# -- which text is the answer, and what task it answers ----------------------------------
def path_name(path: FieldPath) -> str:
    """'output' or 'conversations.3.value', for info and reasons."""
    return ".".join(str(p) for p in path)


def answer_fields(augmenter: ModelAugmenter, record: Record) -> Sequence[str]:
    """--fields when given, else the answer side of the format (nothing for plain text records)."""
    return augmenter.fields if augmenter.fields is not None else ANSWER_FIELDS[record.fmt]


def task_index(record: Record, answer_path: FieldPath) -> int | None:
    """Index of the last non-empty user turn before the answer turn of a conversation."""
    if record.fmt not in ("sharegpt", "messages") or len(answer_path) != 3:
        return None
    key, at, body = cast(TurnPath, answer_path)
    turns = record.data.get(key, [])
    for j in range(int(at) - 1, -1, -1):
        value = turns[j].get(body)
        if role_of(record.fmt, turns[j]) == "user" and isinstance(value, str) and value.strip():
            return j
    return None


def task_of(record: Record, answer_path: FieldPath) -> str:
    """The prompt the answer replies to: instruction (+ input), or the last user turn before it."""
    data = record.data
    if record.fmt == "alpaca":
        parts = [data.get("instruction"), data.get("input")]
        return "\n\n".join(p for p in parts if isinstance(p, str) and p.strip())
    j = task_index(record, answer_path)
    return data[cast(str, answer_path[0])][j][answer_path[2]] if j is not None else ""


def record_lang(record: Record, fallback: str) -> str:
    """The prompt side says which language a record is in; code-heavy answers would read as English."""
    prompt = " ".join(t for _, t in record.texts(DEFAULT_FIELDS[record.fmt]))
    return detect(prompt) if prompt.strip() else detect(fallback)


# -- numbers and the final answer ----------------------------------------------------------
def numbers_of(text: str) -> Counter:
    """Digit numbers, thousands separators dropped, CJK neighbours allowed; signs ignored."""
    return Counter(m.replace(",", "") for m in _NUMBER.findall(unicodedata.normalize("NFKC", text)))


def lost_number(source: str, variant: str) -> str | None:
    """filters.preservation_reason, then the digits as written: nothing of the source's numbers may vanish."""
    reason = filters.preservation_reason(source, variant, numbers=True)
    if reason:
        return reason
    have = numbers_of(variant)
    missing = sorted(n for n in numbers_of(source) if n not in have)
    return f"lost number {missing[0]!r}" if missing else None


def strip_labels(text: str) -> str:
    """`text` without step and list labels at line starts."""
    return _LABEL.sub(r"\1", text)


def prose_lines(text: str) -> list[str]:
    """Non-empty lines outside fenced code blocks."""
    out, at = [], 0
    for open_at, _, _, close_end, _, _ in _fences(text):
        out.append(text[at:open_at])
        at = close_end
    out.append(text[at:])
    return [ln.strip() for part in out for ln in part.splitlines() if ln.strip()]


def answer_line(text: str) -> str | None:
    """The last 'Answer: …' / '答案：…' / \\boxed line outside code, if there is one."""
    for line in reversed(prose_lines(text)):
        if _ANSWER_LINE.match(line) or _BOXED.search(line):
            return line
    return None


@dataclass
class FinalAnswer:
    """What the result of a solution is: an explicit line, or the last line / last number."""

    text: str
    explicit: bool
    last: bool  # the explicit line is the solution's last prose line


def final_answer(text: str) -> FinalAnswer | None:
    lines = prose_lines(text)
    line = answer_line(text)
    if line is not None:
        return FinalAnswer(line, True, bool(lines) and lines[-1] == line)
    if lines and numbers_of(lines[-1]):
        return FinalAnswer(lines[-1], False, True)
    found = _NUMBER.findall(unicodedata.normalize("NFKC", text))
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


def is_json_document(text: str) -> bool:
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False


def is_math(text: str) -> bool:
    """A worked calculation: an answer line with a calculation, or two calculation lines."""
    calcs = sum(1 for ln in prose_lines(text) if _CALC.search(ln))
    return calcs >= 2 or (calcs >= 1 and answer_line(text) is not None)


# -- Python code in a solution --------------------------------------------------------------
@dataclass
class PyCode:
    """The Python in a text: parsed blocks, and which fences (by index) hold them; whole=True for a code field."""

    trees: list[ast.Module] = field(default_factory=list)
    fence_index: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    whole: bool = False
    error: str | None = None

    def dumps(self) -> list[str]:
        return [ast.dump(t) for t in self.trees]

    def names(self) -> set[str]:
        """Functions, classes and imports defined: what a reader of the solution relies on."""
        out: set[str] = set()
        for tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    out.add(node.name)
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    out.update(a.asname or a.name for a in node.names)
        return out


def _syntax(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{exc.msg} (line {exc.lineno})" if exc.lineno else str(exc.msg)
    return str(exc)


def python_code(text: str) -> PyCode:
    """Python blocks as code.py finds them: labelled python fences, unlabelled ones with a def, a code field."""
    fences = _fences(text)
    code = PyCode(labels=[f[4] for f in fences])
    if not fences:
        try:
            tree = _parse(text)
        except (SyntaxError, ValueError):
            return code
        if _whole_field_is_code(tree, text):
            code.trees, code.whole = [tree], True
        return code
    for i, (_, b0, b1, _, label, indent) in enumerate(fences):
        if label and label not in _PY_LABELS:
            continue
        try:
            block = _make_block(("x",), text, b0, b1, indent)
        except (SyntaxError, ValueError) as exc:
            if label and code.error is None:
                code.error = _syntax(exc)
            continue
        if label or _has_def(block.tree):
            code.trees.append(block.tree)
            code.fence_index.append(i)
    return code


def python_at(text: str, like: PyCode) -> tuple[list[ast.Module], str | None]:
    """Parse the Python of `text` where `like` had it (same fences, or the whole field); (trees, error)."""
    if like.whole:
        try:
            return [_parse(text)], None
        except (SyntaxError, ValueError) as exc:
            return [], _syntax(exc)
    fences = _fences(text)
    if len(fences) != len(like.labels):
        return [], f"{len(fences)} code blocks instead of {len(like.labels)}"
    trees = []
    for i in like.fence_index:
        _, b0, b1, _, _, indent = fences[i]
        try:
            trees.append(_make_block(("x",), text, b0, b1, indent).tree)
        except (SyntaxError, ValueError) as exc:
            return [], _syntax(exc)
    return trees, None


# -- order-aware similarity ------------------------------------------------------------------
def order_similarity(a: str, b: str) -> float:
    """difflib ratio of the normalised texts: moving a step lowers it, a bag of 3-grams would not notice."""
    na, nb = filters.normalize(a), filters.normalize(b)
    if max(len(na), len(nb)) > 6000:  # keep it cheap on very long answers: compare lines
        return difflib.SequenceMatcher(None, na.split("\n"), nb.split("\n"), autojunk=False).ratio()
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio()


class AnswerMethod(ModelAugmenter):
    """Base of methods that work on a record's answer (steps, bugfix): one text, the last answer."""

    def fields_for(self, record: Record) -> Sequence[str] | None:
        return answer_fields(self, record)

    def focus(self, unit: Unit) -> tuple[FieldPath, str]:
        """Narrow the unit to its last answer text; the language comes from the prompt side."""
        path, text = unit.texts[-1]
        unit.texts = [(path, text)]
        unit.lang = record_lang(unit.record, text)
        return path, text


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
        unit.jobs.append(self.job(f"{index}/{how}", msgs, SOLUTION_SCHEMA, unit.rng, max_tokens=budget))

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
        job = unit.jobs[0]
        result = results.get(job.key)
        if result is None or not result.ok:
            return [failure_of(result)]
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
        info: dict[str, Any] = {"lang": unit.lang, "how": job.key.rsplit("/", 1)[1],
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
