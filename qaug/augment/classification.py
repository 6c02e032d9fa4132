"""Methods for classification data, where the label must never change: `synonym` and `template`.

`synonym` varies the text being classified by a few synonyms only, so the label stays right;
`template` varies the instruction around it, so a model stops keying on one fixed wording. Both
keep the label field untouched (it is never among the texts they send to the model) and check the
label words themselves: a label named in the source must survive verbatim, and a label the source
did not name must not appear, since that would hand the answer to the prompt.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from qaug.augment.base import Failure, Outcome, Param, Skip
from qaug.augment.registry import register
from qaug.augment.model_base import GATE_PARAMS, ModelAugmenter, Unit, failure_of
from qaug.llm.engine import Result
from qaug.quality import filters, textgates
from qaug.quality.textgates import GateInput, Reject
from qaug.records import FieldPath, Record, role_of

MAX_LABEL = 64  # longer "labels" are answers, not class names: no label-word checks for them
_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_TOKEN = re.compile(f"[{_CJK_CLASS}]|[^\\W_{_CJK_CLASS}]+")
_QUOTED = re.compile(r"\"([^\"\n]{1,24})\"|(?<![A-Za-z])'([^'\n]{1,24})'(?![A-Za-z])|"
                     r"“([^”\n]{1,24})”|‘([^’\n]{1,24})’|「([^」\n]{1,24})」")


def label_of(record: Record) -> tuple[FieldPath, str] | None:
    """The label: alpaca `output`, or the last assistant turn of a conversation."""
    data = record.data
    if record.fmt == "alpaca":
        out = data.get("output")
        return (("output",), out) if isinstance(out, str) and out.strip() else None
    if record.fmt in ("sharegpt", "messages"):
        key, body = ("conversations", "value") if record.fmt == "sharegpt" else ("messages", "content")
        turns = data.get(key) or []
        for i in range(len(turns) - 1, -1, -1):
            if role_of(record.fmt, turns[i]) == "assistant":
                value = turns[i].get(body)
                return ((key, i, body), value) if isinstance(value, str) and value.strip() else None
    return None


def lexical_similarity(a: str, b: str) -> float:
    """Dice overlap of word multisets (characters for CJK): a substitution of k words costs about k
    tokens whatever their length, where character 3-grams punish short texts for every swap."""
    ta, tb = Counter(_TOKEN.findall(filters.normalize(a))), Counter(_TOKEN.findall(filters.normalize(b)))
    total = sum(ta.values()) + sum(tb.values())
    return 1.0 if total == 0 else 2.0 * sum((ta & tb).values()) / total


def _word_rx(word: str, ignore_case: bool) -> re.Pattern[str]:
    """The word as a whole word (letters/digits must not touch it); CJK words match as substrings."""
    core = re.escape(word)
    if not _CJK.search(word):
        core = rf"(?<![A-Za-z0-9]){core}(?![A-Za-z0-9])"
    return re.compile(core, re.IGNORECASE if ignore_case else 0)


def forms_in(word: str, text: str) -> list[str]:
    """The spellings under which `word` appears in `text`, in order, each once: case-insensitively,
    except for one- or two-letter labels ("A" must not match the article "a")."""
    rx = _word_rx(word, len(word) > 2)
    return list(dict.fromkeys(m.group(0) for m in rx.finditer(text)))


def has_word(word: str, text: str) -> bool:
    """`word` exactly as spelt, as a whole word."""
    return _word_rx(word, False).search(text) is not None


def short_label(label: str) -> str | None:
    """The label as a class name, or None when it is too long or multi-line to be one."""
    label = label.strip()
    return label if label and len(label) <= MAX_LABEL and "\n" not in label else None


def label_reason(label: str | None, source: str, variant: str) -> str | None:
    """The record's own label keeps its spellings in the variant, and is not added where the source lacks it."""
    if label is None:
        return None
    forms = forms_in(label, source)
    for form in forms:
        if not has_word(form, variant):
            return f"label word {form!r} missing"
    if not forms and forms_in(label, variant):
        return f"variant adds the label {label!r}"
    return None


def label_code(reason: str) -> str:
    """The reject code of a label_reason (or template's missing label word)."""
    return "label_added" if reason.startswith("variant adds") else "label_lost"


def _prompt_fields_default(record: Record) -> Sequence[str]:
    return {"alpaca": ("instruction",), "sharegpt": ("user",), "messages": ("user",),
            "completion": ("prompt",)}.get(record.fmt, ("text",))


class _LabelKeeping(ModelAugmenter):
    """Shared planning: the label is found, removed from the texts, and its absence is a Skip."""

    def labels_given(self) -> bool:
        """Whether the user named the label set (template's `labels`), which marks the data as classification."""
        return bool(self._params.get("labels"))

    def narrow(self, unit: Unit) -> str | None:
        """Drop the label from unit.texts; the label text, or None after setting unit.skip."""
        label = label_of(unit.record)
        if label is None:
            unit.skip = Skip("no label (alpaca output / last assistant turn) to keep", code="no_label")
            return None
        if short_label(label[1]) is None and not self.labels_given():
            unit.skip = Skip(f"not a classification record: the answer is not a short label (over {MAX_LABEL} "
                             f"characters or several lines)", code="not_classification")
            return None
        unit.texts = [(p, t) for p, t in unit.texts if p != label[0]]
        if not unit.texts:
            unit.skip = Skip(f"the selected fields hold only the label, which {self.name} never changes")
            return None
        return label[1]


@register
class Synonym(_LabelKeeping):
    name = "synonym"
    description = "classification data: a few words of the input replaced by synonyms; the label never changes"
    prompt_name = "synonym"
    # A few swapped words leave a long text above the usual 0.85 overlap, so the ceiling is higher; the floor
    # is measured on whole words, since a substitution of k words should cost about k tokens.
    PARAMS = (Param("n", int, 3, "variants per record", min=1, max=20),) + tuple(
        dataclasses.replace(p, default=0.99) if p.name == "max_similarity" else p
        for p in GATE_PARAMS if p.name != "min_overlap") + (
        Param("min_word_overlap", float, 0.5, "reject variants sharing less than this Dice overlap of words (CJK: "
              "characters) with the source: more than a lexical substitution", min=0.0, max=1.0),)
    gates = tuple(g for g in textgates.REWRITE_GATES if g != "off_topic")

    def fields_for(self, record: Record) -> Sequence[str] | None:
        """The text being classified: alpaca `input`, else the instruction; the user turns of a conversation."""
        if self.fields is not None:
            return self.fields
        if record.fmt == "alpaca":
            inp = record.data.get("input")
            return ("input",) if isinstance(inp, str) and inp.strip() else ("instruction",)
        return _prompt_fields_default(record)

    def extra_gate(self, g: GateInput) -> Reject | None:
        """Measured on words: character 3-grams punish every swap in a short text."""
        lex = lexical_similarity(g.source, g.variant)
        if lex < self.min_word_overlap:
            return Reject("off_topic", f"too different for a synonym substitution (word overlap {lex:.2f} < "
                                       f"{self.min_word_overlap:g})")
        return None

    def plan(self, unit: Unit, index: int) -> None:
        label = self.narrow(unit)
        if label is None:
            return
        shown = label.strip() if len(label.strip()) <= 80 else label.strip()[:80] + "…"
        for k, (_, text) in enumerate(unit.texts):
            msgs = self.messages(unit.lang, n=self.n, text=text, language=unit.lang, label=shown)
            budget = min(self.sampling.max_tokens, 64 + self.n * (2 * len(text) + 32))
            unit.jobs.append(self.job(f"{index}/{k}", msgs, _strings_schema("variants", self.n), unit.rng,
                                      max_tokens=budget))

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        answers = self.answers(unit, results, "variants")
        if isinstance(answers, Failure):
            return [answers]
        label_path, label = label_of(unit.record) or ((), "")
        word = short_label(label)
        siblings: dict[int, list[str]] = {}
        out: list[Outcome] = []
        for i in range(self.n):
            texts = [a[i] for a in answers]
            reason = next((r for (_, src), new in zip(unit.texts, texts) if (r := label_reason(word, src, new))), None)
            if reason:
                out.append(Failure(reason, stage="gate", text=texts[0], code=label_code(reason)))
                continue
            out.append(self.variant_from(unit, texts, {"lang": unit.lang, "variant": i,
                                                       "label_path": list(label_path)}, siblings))
        return out


@register
class Template(_LabelKeeping):
    name = "template"
    description = "classification data: the instruction rephrased, label words kept verbatim; input and label unchanged"
    prompt_name = "template"
    PARAMS = (
        Param("n", int, 3, "instruction templates per record", min=1, max=20),
        Param("labels", tuple, (), "the dataset's label set (comma-separated): those the instruction names must stay"),
    ) + GATE_PARAMS

    def fields_for(self, record: Record) -> Sequence[str] | None:
        """The instruction: alpaca `instruction`, the system turn of a conversation (the user turn is the data)."""
        if self.fields is not None:
            return self.fields
        return {"alpaca": ("instruction",), "sharegpt": ("system",), "messages": ("system",)}.get(record.fmt, ("text",))

    def known_labels(self, unit: Unit, text: str) -> list[str]:
        """Label spellings the instruction holds that we know without the model: the record's label,
        the `labels` parameter, and short quoted words ("positive" or "negative")."""
        words: list[str] = []
        label = label_of(unit.record)
        own = short_label(label[1]) if label else None
        for cand in ([own] if own else []) + list(self.labels):
            words += forms_in(cand, text)
        for m in _QUOTED.finditer(text):
            q = next(g for g in m.groups() if g is not None)
            if q == q.strip() and len(q.split()) <= 3:
                words.append(q)
        return list(dict.fromkeys(words))

    def plan(self, unit: Unit, index: int) -> None:
        if unit.record.fmt == "text":
            unit.skip = Skip("template needs an instruction and a label (text records have neither)")
            return
        inp = unit.record.data.get("input")
        if unit.record.fmt == "alpaca" and not (isinstance(inp, str) and inp.strip()):
            unit.skip = Skip("the instruction holds the text to classify (empty input): use synonym")
            return
        if self.narrow(unit) is None:
            return
        none = "（无）" if unit.lang == "zh" else "(none known)"
        for k, (_, text) in enumerate(unit.texts):
            known = self.known_labels(unit, text)
            msgs = self.messages(unit.lang, n=self.n, text=text, language=unit.lang,
                                 labels=", ".join(known) if known else none)
            budget = min(self.sampling.max_tokens, 96 + self.n * (2 * len(text) + 32))
            unit.jobs.append(self.job(f"{index}/{k}", msgs, _template_schema(self.n), unit.rng, max_tokens=budget))

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        answers: list[list[str]] = []
        required: list[list[str]] = []
        for job, (_, text) in zip(unit.jobs, unit.texts):
            result = results.get(job.key)
            if result is None or not result.ok:
                return [failure_of(result)]
            answers.append(result.value["templates"])
            # the model's list counts only where it names a short word really in the instruction
            named = [w.strip() for w in result.value["labels"]]
            named = [w for w in named if w and len(w) <= 40 and len(w.split()) <= 3 and has_word(w, text)]
            required.append(list(dict.fromkeys(self.known_labels(unit, text) + named)))
        label = label_of(unit.record)
        own = short_label(label[1]) if label else None
        siblings: dict[int, list[str]] = {}
        out: list[Outcome] = []
        for i in range(self.n):
            texts = [a[i] for a in answers]
            reason = None
            for (_, src), new, words in zip(unit.texts, texts, required):
                missing = [w for w in words if not has_word(w, new)]
                reason = f"label word {missing[0]!r} missing" if missing else label_reason(own, src, new)
                if reason:
                    break
            if reason:
                out.append(Failure(reason, stage="gate", text=texts[0], code=label_code(reason)))
                continue
            labels = list(dict.fromkeys(w for ws in required for w in ws))
            out.append(self.variant_from(unit, texts, {"lang": unit.lang, "variant": i, "labels": labels}, siblings))
        return out


def _strings_schema(key: str, n: int) -> dict[str, Any]:
    """{key: exactly n non-empty strings}."""
    return {"type": "object", "additionalProperties": False, "required": [key],
            "properties": {key: {"type": "array", "minItems": n, "maxItems": n,
                                 "items": {"type": "string", "minLength": 1}}}}


def _template_schema(n: int) -> dict[str, Any]:
    """The label words the instruction names (checked against it), then n templates."""
    schema = _strings_schema("templates", n)
    schema["required"] = ["labels", "templates"]
    schema["properties"] = {"labels": {"type": "array", "minItems": 0, "maxItems": 12,
                                       "items": {"type": "string", "minLength": 1, "maxLength": 40}},
                            **schema["properties"]}
    return schema
