"""`translate`: the whole record in another language, with the domain's terms as the user fixed them.

Every text of the record is translated (one constrained job per text, so each answer is short
and a failure names its field). Code blocks never reach the model: each is replaced by a
marker such as [[CODE1]] and put back afterwards, so code is verbatim by construction and a
lost or duplicated marker is a named failure. Texts with nothing to translate (a JSON
document, a code field, text already in the target language) are kept as they are.

A glossary (TSV: source term, tab, target term; an empty target keeps the term) is loaded
once; every glossary term found in a source text must appear as its target in the translation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from qaug.augment.answers import is_json_document, lost_number, path_name, python_code, record_lang
from qaug.augment.base import Failure, Outcome, Param, Skip, Variant
from qaug.augment.registry import register
from qaug.augment.fences import find_fences
from qaug.augment.model_base import GATE_PARAMS, TRANSLATION_SCHEMA, ModelAugmenter, Unit, failure_of
from qaug.llm.prompts import prompt_file
from qaug.errors import UsageError
from qaug.llm.engine import Result
from qaug.quality import textgates
from qaug.quality.lang import NAMES, detect, is_cjk
from qaug.quality.terms import is_request
from qaug.quality.textgates import GateInput, Reject, foreign_words
from qaug.records import FieldPath, Record, text_role, with_texts

_NOT_PROSE = re.compile(r"\[\[[A-Z]+\d+\]\]|`[^`\n]+`|https?://\S+|[\w.+-]+@[\w-]+\.[\w.-]+|\{\{?[\w.\s]*\}\}?|%[sdif]")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Term:
    """One glossary entry; `target` == `source` means 'keep the term as it is'."""

    source: str
    target: str
    line: int

    def pattern(self, text: str) -> re.Pattern[str]:
        return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(text)}(?![A-Za-z0-9_])", re.IGNORECASE)


def load_glossary(path: str) -> tuple[Term, ...]:
    """Terms of a TSV glossary, longest source first; a UsageError names the file and line of any problem."""
    try:
        raw = FilePath(path).expanduser().read_bytes()
    except OSError as exc:
        raise UsageError(f"translate.glossary: cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lineno = raw[:exc.start].count(b"\n") + 1
        raise UsageError(f"{path}:{lineno}: glossary is not UTF-8 text") from None
    terms: dict[str, Term] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            found = "no tab" if len(parts) == 1 else f"{len(parts)} columns"
            raise UsageError(f"{path}:{n}: expected 'source_term<TAB>target_term', found {found}")
        source, target = parts[0].strip(), parts[1].strip() or parts[0].strip()
        if not source:
            raise UsageError(f"{path}:{n}: empty source term")
        old = terms.get(source.casefold())
        if old is not None and old.target != target:
            raise UsageError(f"{path}:{n}: term {source!r} already has another translation on line {old.line}")
        terms[source.casefold()] = Term(source, target, n)
    if not terms:
        raise UsageError(f"{path}: glossary has no terms")
    return tuple(sorted(terms.values(), key=lambda t: (-len(t.source), t.line)))


def offered_label(record: Record) -> tuple[FieldPath, list[str]] | None:
    """The record's answer when it is a class label the prompt offers ("positive or negative" ... "positive"),
    with the other options offered beside it: the label is copied through, and every option is kept as is
    inside the translated prompt, so the label space stays the same across the dataset."""
    from qaug.augment.classification import forms_in, label_of, short_label
    from qaug.quality.terms import key_terms

    label = label_of(record)
    if label is None or short_label(label[1]) is None:
        return None
    word = label[1].strip()
    prompt = " ".join(t for p, t in record.texts() if p != label[0])
    if not forms_in(word, prompt):
        return None
    options = [t.text for t in key_terms(prompt) if t.kind == "option"]
    return label[0], list(dict.fromkeys([word, *(options if word in options else [])]))


def terms_in(text: str, terms: Sequence[Term]) -> list[Term]:
    """Glossary terms in `text`; a term found only inside a longer found term does not count."""
    found, rest = [], text
    for term in terms:
        rx = term.pattern(term.source)
        if rx.search(rest):
            found.append(term)
            rest = rx.sub(lambda m: "\0" * len(m.group()), rest)
    return found


def mask_code(text: str) -> tuple[str, list[tuple[str, str]]]:
    """`text` with each fenced block replaced by a marker, and the (marker, block) pairs."""
    stem = next(s for s in ("CODE", "BLOCK", "SNIPPET", "QAUGCODE") if f"[[{s}" not in text)
    out, at = [], 0
    blocks: list[tuple[str, str]] = []
    for fence in find_fences(text):  # a block ends at its closing fence: the newline after it stays prose
        marker = f"[[{stem}{len(blocks) + 1}]]"
        out += [text[at:fence.start], marker]
        blocks.append((marker, text[fence.start:fence.end]))
        at = fence.end
    out.append(text[at:])
    return "".join(out), blocks


def prose_of(masked: str) -> str:
    """What is left to read once markers, inline code, URLs, e-mails and placeholders are gone."""
    return _NOT_PROSE.sub(" ", masked)


@register
class Translate(ModelAugmenter):
    name = "translate"
    description = "translate every text of a record (zh<->en, or translate.to=L); code verbatim, glossary enforced"
    prompt_name = "translate"
    default_fields = "all"
    PARAMS = (
        Param("to", str, "", "target language (default: en for Chinese records, zh otherwise)",
              choices=("", *NAMES)),
        Param("glossary", str, "", "TSV file 'source_term<TAB>target_term' (empty target: keep the term)"),
    ) + tuple(p for p in GATE_PARAMS if p.name in ("min_len_ratio", "max_len_ratio"))
    same_language = False

    def setup(self) -> None:
        super().setup()
        self.terms: tuple[Term, ...] = load_glossary(self.glossary) if self.glossary else ()

    def target_for(self, lang: str) -> str:
        return self.to or ("en" if lang == "zh" else "zh")

    def needs_translation(self, text: str, target: str) -> bool:
        """False for texts with nothing to translate: JSON, a code field, only code, or already in `target`."""
        if is_json_document(text.strip()) or python_code(text).whole:
            return False
        prose = prose_of(mask_code(text)[0])
        return bool(_LETTER.search(prose)) and detect(prose) != target

    def plan(self, unit: Unit, index: int) -> None:
        prose = " ".join(prose_of(mask_code(t)[0]) for _, t in unit.texts)
        unit.lang = record_lang(unit.record, prose)
        target = self.target_for(unit.lang)
        if unit.lang == target:
            unit.skip = Skip(f"record is already in {target}")
            return
        p = prompt_file(self.prompt_name)["zh" if unit.lang == "zh" else "en"]
        label = offered_label(unit.record)
        keep = self.kept_terms(label)
        for k, (path, text) in enumerate(unit.texts):
            if not self.needs_translation(text, target) or (label and path == label[0]):
                continue  # a label from the prompt's own option set stays as is: the label space must not change
            masked, blocks = mask_code(text)
            terms = terms_in(prose_of(masked), keep)
            glossary = ""
            if terms:
                rows = [f"- {t.source} → {t.target}" if t.target != t.source else f"- {t.source} → {p['keep_term']}"
                        for t in terms]
                glossary = p["glossary"] + "\n" + "\n".join(rows) + "\n\n"
            msgs = self.messages(unit.lang, text=masked, source=unit.lang, target=target, glossary=glossary,
                                 markers=p["markers"] if blocks else "")
            budget = min(self.sampling.max_tokens, 64 + 3 * len(masked))
            unit.jobs.append(self.job(f"{index}/{k}", msgs, TRANSLATION_SCHEMA, unit.rng, max_tokens=budget,
                                      tag=(k,)))
        if not unit.jobs:
            unit.skip = Skip(f"nothing to translate: only code, JSON or text already in {target}")

    def kept_terms(self, label: tuple[FieldPath, list[str]] | None) -> tuple[Term, ...]:
        """The glossary, plus the record's offered label options as terms kept as they are (line 0)."""
        return self.terms + tuple(Term(w, w, 0) for w in (label[1] if label else ()))

    def translation_reason(self, source: str, translation: str, target: str, role: str = "data",
                           keep: tuple[Term, ...] | None = None) -> tuple[Reject | None, str]:
        """(why to reject or None, the translation with code blocks put back); `keep`: kept_terms (the glossary
        when not given)."""
        if not translation.strip():
            return Reject("empty", "empty translation"), translation
        masked, blocks = mask_code(source)
        for marker, _ in blocks:
            count = translation.count(marker)
            if count != 1:
                return Reject("code_changed",
                              f"code block {marker} {'lost' if count == 0 else 'repeated'}"), translation
        if translation.count("```") > masked.count("```"):
            return Reject("code_changed", "translation adds a code block"), translation
        restored = translation
        for marker, block in blocks:
            restored = restored.replace(marker, block)
        if any(block not in restored for _, block in blocks) or len(find_fences(restored)) != len(find_fences(source)):
            return Reject("code_changed", "code block not kept verbatim"), restored
        got = detect(prose_of(translation))
        if got != target:
            return Reject("language_changed", f"translation is in {got}, not {target}"), restored
        keep = self.terms if keep is None else keep
        for term in terms_in(prose_of(masked), keep):
            if not term.pattern(term.target).search(prose_of(translation)):
                if term.line == 0:
                    return Reject("label_lost",
                                  f"label {term.source!r} not kept as is (the label space must not change)"), restored
                return Reject("glossary_term",
                              f"glossary term {term.source!r} not translated as {term.target!r}"), restored
        # into Chinese, only the source's names (capitalised words, acronyms) may stay in Latin script
        names = " ".join(re.findall(r"\b[A-Z][\w'-]*", prose_of(masked))) if is_cjk(target) else ""
        foreign = foreign_words(prose_of(translation), target, " ".join([names, *(t.target for t in keep)]))
        if foreign:
            return Reject("mixed_script", f"{foreign[0]!r} left untranslated in the {target} translation"), restored
        if role == "instruction" and is_request(prose_of(masked)) and not is_request(prose_of(translation)):
            return Reject("not_a_request", "the instruction became a statement"), restored
        lost = lost_number(source, restored)
        if lost is not None:
            return Reject("number_lost", lost), restored
        return textgates.length_ratio(GateInput(masked, translation), self.gate_settings()), restored

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        target = self.target_for(unit.lang)
        keep = self.kept_terms(offered_label(unit.record))
        changes, done = {}, []
        used: set[str] = set()
        for job in unit.jobs:
            result = results.get(job.key)
            if result is None or not result.ok:
                return [failure_of(result)]
            path, source = unit.texts[job.tag[0]]
            reject, restored = self.translation_reason(source, result.value["translation"], target,
                                                       text_role(unit.record, path), keep)
            if reject is not None:
                return [Failure(f"{path_name(path)}: {reject.detail}", stage="gate", text=restored, code=reject.code)]
            changes[path] = restored
            done.append(path_name(path))
            used.update(t.source for t in terms_in(prose_of(mask_code(source)[0]), self.terms))
        data = with_texts(unit.record.data, changes)
        if data == unit.record.data:
            return [Failure("identical to source", stage="gate", code="identical")]
        info: dict[str, Any] = {"source_lang": unit.lang, "target_lang": target, "translated": done,
                                "kept": [path_name(p) for p, _ in unit.texts if p not in changes]}
        if used:
            info["glossary"] = sorted(used)
        return [Variant(data, info=info)]
