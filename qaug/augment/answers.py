"""The answer side of a record, as the methods that rework solutions read it (steps, bugfix, translate).

Which text is the answer and what task it solves, the numbers and the final answer line a
solution must keep, and the Python code in it: fenced blocks (found by `fences.find_fences`,
labelled or holding a def) or a whole field that is code. rename_identifiers (code.py) finds
Python with the same helpers, so a method that checks code after a rewrite sees the blocks
that method would rename.
"""

from __future__ import annotations

import ast
import json
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from qaug.augment.fences import Fence, find_fences
from qaug.augment.model_base import ModelAugmenter, Unit
from qaug.augment.pyscope import LINE
from qaug.quality import filters
from qaug.quality.lang import detect
from qaug.records import ANSWER_FIELDS, DEFAULT_FIELDS, FieldPath, Record, TurnPath, role_of

__all__ = [
    "AnswerMethod", "Block", "PY_LABELS", "PyCode", "answer_fields", "answer_line", "code_label", "has_def",
    "is_json_document", "is_math", "line_end", "lost_number", "make_block", "numbers_in", "numbers_of", "parse",
    "path_name", "prose_lines", "python_at", "python_code", "record_lang", "syntax_detail", "task_index", "task_of",
    "whole_field_is_code",
]

#: fence labels that say Python; an unlabelled fence is Python when it parses and defines a function
PY_LABELS = {"python", "py", "python3", "py3"}

_ANSWER_LINE = re.compile(r"^[\s*#>_-]*(?:final\s+answer|the\s+answer\s+is|answer|最终答案|答案|答)[\s*_]*[:：]",
                          re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{")
# Digits as written (为1200万元 -> 1200; filters reads the amount, 12000000): final answers and worked steps are
# compared by the digits they show.
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d+(?:[.,]\d+)*(?:%|‰)?")
_CALC = re.compile(r"\d\s*(?:\*\*|[-+*/×÷^=<>≤≥−])\s*[-(（$¥\d]|[=≈]\s*[-$¥(（]?\s*\d")


# -- which text is the answer, and what task it answers ----------------------------------
def path_name(path: FieldPath) -> str:
    """'output' or 'conversations.3.value', for info and reasons."""
    return ".".join(str(p) for p in path)


def answer_fields(augmenter: ModelAugmenter, record: Record) -> Sequence[str]:
    """--fields when given, else the answer side of the format. Not a plain text's one text, though
    records.ANSWER_FIELDS counts it as an answer (table_convert converts tables there): steps and bugfix rework
    a solution to a task, and a plain text has no task before it, so such a record is skipped as before."""
    if augmenter.fields is not None:
        return augmenter.fields
    return () if record.fmt == "text" else ANSWER_FIELDS[record.fmt]


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


# -- numbers and the final answer ----------------------------------------------------------
def numbers_in(text: str) -> list[str]:
    """Digit numbers as written, in order (CJK neighbours allowed; signs ignored)."""
    return _NUMBER.findall(unicodedata.normalize("NFKC", text))


def numbers_of(text: str) -> Counter:
    """Digit numbers, thousands separators dropped, CJK neighbours allowed; signs ignored."""
    return Counter(m.replace(",", "") for m in numbers_in(text))


def lost_number(source: str, variant: str) -> str | None:
    """filters.preservation_reason, then the digits as written: nothing of the source's numbers may vanish."""
    reason = filters.preservation_reason(source, variant, numbers=True)
    if reason:
        return reason
    have = numbers_of(variant)
    missing = sorted(n for n in numbers_of(source) if n not in have)
    return f"lost number {missing[0]!r}" if missing else None


def line_end(text: str, fence: Fence) -> int:
    """Where the line after `fence` starts (its closing line's newline included): prose resumes there."""
    return fence.end + 1 if fence.end < len(text) else fence.end


def prose_lines(text: str) -> list[str]:
    """Non-empty lines outside fenced code blocks."""
    out, at = [], 0
    for fence in find_fences(text):
        out.append(text[at:fence.start])
        at = line_end(text, fence)
    out.append(text[at:])
    return [ln.strip() for part in out for ln in part.splitlines() if ln.strip()]


def answer_line(text: str) -> str | None:
    """The last 'Answer: …' / '答案：…' / \\boxed line outside code, if there is one."""
    for line in reversed(prose_lines(text)):
        if _ANSWER_LINE.match(line) or _BOXED.search(line):
            return line
    return None


def is_json_document(text: str) -> bool:
    """A whole JSON object or array: data, not a worked solution or prose to translate."""
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False


def is_math(text: str) -> bool:
    """A worked calculation: an answer line with a calculation, or two calculation lines."""
    calcs = sum(1 for ln in prose_lines(text) if _CALC.search(ln))
    return calcs >= 2 or (calcs >= 1 and answer_line(text) is not None)


# -- Python code in a text -------------------------------------------------------------------
@dataclass
class Block:
    """A Python source found in a text: `text[start:end]` is its body, `indented` the lines that lost `indent`."""

    path: FieldPath
    start: int
    end: int
    source: str
    tree: ast.Module
    indent: str = ""
    indented: list[bool] = field(default_factory=list)


def parse(source: str) -> ast.Module:
    """`ast.parse` without the SyntaxWarnings that answers' odd escapes would print mid-run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def syntax_detail(exc: BaseException) -> str:
    """A parse error for a reason: 'invalid syntax (line 3)'."""
    if isinstance(exc, SyntaxError):
        return f"{exc.msg} (line {exc.lineno})" if exc.lineno else str(exc.msg)
    return str(exc)


def has_def(tree: ast.AST) -> bool:
    """Whether the code defines a function: what makes an unlabelled fence Python."""
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(tree))


def whole_field_is_code(tree: ast.Module, text: str) -> bool:
    """A field is code when it defines something or is several statements with assignments."""
    if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(tree)):
        return True
    assigns = any(isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)) for n in ast.walk(tree))
    return len(tree.body) >= 2 and "\n" in text.strip() and assigns


def code_label(fence: Fence) -> str:
    """A fence's language as the code methods read it: the first word of its info string, lowercased, with
    pandoc's braces and dot dropped (```{.python}), so 'Python' and '{py}' say Python."""
    return fence.info.split()[0].strip("{}.").lower() if fence.info.strip() else ""


def make_block(path: FieldPath, text: str, start: int, end: int, indent: str) -> Block:
    """Parse `text[start:end]`, dropping a fence's indent from every line that has it; raises SyntaxError."""
    body = text[start:end]
    lines = LINE.findall(body)
    indented = [bool(indent) and ln.startswith(indent) for ln in lines]
    if indent and not all(flag or not ln.strip() for flag, ln in zip(indented, lines)):
        indented = [False] * len(lines)
    source = "".join(ln[len(indent):] if flag else ln for flag, ln in zip(indented, lines))
    return Block(path, start, end, source, parse(source), indent, indented)


@dataclass
class PyCode:
    """The Python in a text: parsed blocks, and which fences (by index) hold them; whole=True for a code field."""

    trees: list[ast.Module] = field(default_factory=list)
    fence_index: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    whole: bool = False
    error: str | None = None

    def dumps(self) -> list[str]:
        """The blocks' syntax trees, to tell a real code change from an edited comment."""
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


def python_code(text: str) -> PyCode:
    """Python blocks as code.py finds them: labelled python fences, unlabelled ones with a def, a code field."""
    fences = find_fences(text)
    code = PyCode(labels=[code_label(f) for f in fences])
    if not fences:
        try:
            tree = parse(text)
        except (SyntaxError, ValueError):
            return code
        if whole_field_is_code(tree, text):
            code.trees, code.whole = [tree], True
        return code
    for i, (fence, label) in enumerate(zip(fences, code.labels)):
        if label and label not in PY_LABELS:
            continue
        try:
            block = make_block(("x",), text, fence.body_start, fence.body_end, fence.margin)
        except (SyntaxError, ValueError) as exc:
            if label and code.error is None:
                code.error = syntax_detail(exc)
            continue
        if label or has_def(block.tree):
            code.trees.append(block.tree)
            code.fence_index.append(i)
    return code


def python_at(text: str, like: PyCode) -> tuple[list[ast.Module], str | None]:
    """Parse the Python of `text` where `like` had it (same fences, or the whole field); (trees, error)."""
    if like.whole:
        try:
            return [parse(text)], None
        except (SyntaxError, ValueError) as exc:
            return [], syntax_detail(exc)
    fences = find_fences(text)
    if len(fences) != len(like.labels):
        return [], f"{len(fences)} code blocks instead of {len(like.labels)}"
    trees = []
    for i in like.fence_index:
        fence = fences[i]
        try:
            trees.append(make_block(("x",), text, fence.body_start, fence.body_end, fence.margin).tree)
        except (SyntaxError, ValueError) as exc:
            return [], syntax_detail(exc)
    return trees, None
