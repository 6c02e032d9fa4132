"""The model judge: narrow yes/no questions about one candidate, one per failure kind.

Small models answer "does the variant contain the answer?" far more reliably than "score this 1-5",
so the judge's grammar-constrained answer is one boolean per failure kind plus `same_meaning`.
Which of them reject a variant is DECIDING: only the questions that, measured on the labelled dev set
(scripts/bench_quality.py), catch bad variants without dropping many faithful ones. Every answer
is kept in the variant's provenance (or the reject's reason), so a person can audit the judge.

Used by ModelAugmenter.verify_outcomes (`qaug run`, on by default) and by `qaug score`: one prompt,
one schema, one verdict function.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from qaug.llm.engine import Job, Sampling
from qaug.llm.prompts import Messages, chat
from qaug.quality import filters, terms
from qaug.quality.textgates import Reject

#: the failure questions, in the order the model answers them (before its overall same_meaning)
FLAGS = ("answered", "not_a_request", "entity_or_language_changed", "constraint_dropped", "constraint_added",
         "negation_changed")
#: the most parts of a source the judge is asked about, one boolean each (longer sources: the first ones)
MAX_PARTS = 8


def schema(n_parts: int) -> dict[str, Any]:
    """One boolean per listed part of the source (`parts_kept`, answered first), then one per failure kind."""
    props: dict[str, Any] = {"parts_kept": {"type": "array", "items": {"type": "boolean"},
                                            "minItems": n_parts, "maxItems": n_parts}}
    props.update({k: {"type": "boolean"} for k in (*FLAGS, "same_meaning")})
    return {"type": "object", "additionalProperties": False, "required": list(props), "properties": props}


SCHEMA = schema(0)
#: the questions whose "yes" rejects a variant, and whether a "no" to same_meaning does (MEANING_DECIDES), chosen
#: on the dev set with Qwen2.5-Coder-1.5B (BENCHMARKS.md). With the few-shot prompt these four were said of 15 of 200
#: faithful and 34/28/10/24 of 200 wrong dev pairs; `answered`, `not_a_request` and a "no" to same_meaning were said
#: of nearly every pair, good or bad, so they are recorded but do not decide (the deterministic answered and
#: not_a_request gates cover those failures). Without the few-shot turns same_meaning did discriminate, but kept
#: only 65% of the faithful pairs for no better precision on the held-out set.
DECIDING: tuple[str, ...] = ("entity_or_language_changed", "constraint_dropped", "constraint_added", "negation_changed")
MEANING_DECIDES = False
#: whether a part of the source the judge says is not kept rejects the variant (see `parts`)
PARTS_DECIDE = True
#: characters of the record's answer shown to the judge: enough to recognise it inside a variant
ANSWER_EXCERPT = 600
MAX_TOKENS = 160

_PART_SPLIT = re.compile(r"(?<=[.!?;:,])\s+|[。！？；：\n，、]+|[（(]|[)）]")
_SENTENCE_END = re.compile(r"[.!?。！？]$")
_OWNED_KINDS = frozenset({"quoted", "identifier", "restriction", "option", "item"})


def parts(text: str) -> list[str]:
    """The clauses of a source that the judge checks one by one: what a paraphrase most often drops.

    Clauses are cut at sentence ends, commas, colons and brackets; a clause of fewer than two content
    units joins the one before it. Clauses that hold a negation, an "only", a quoted string, code, a
    placeholder, an identifier or an offered option are left out: the deterministic gates check those
    exactly, and a 1.5B judge says a reworded 不要/只 is lost when it is not.
    """
    out: list[str] = []
    pending = ""  # a short clause that opens a sentence ("If it sells all of them,") joins the clause after it
    for seg in _PART_SPLIT.split(text.strip()):
        seg = seg.strip().strip(",，、?？")
        if not seg or not re.search(r"\w", seg):
            continue
        sep = "，" if terms.HAN.search(seg) else ", "
        if pending:
            seg, pending = f"{pending}{sep}{seg}", ""
        if len(terms.content_units(seg)) >= 2:
            out.append(seg)
        elif out and not _SENTENCE_END.search(out[-1]):
            out[-1] = f"{out[-1]}{sep}{seg}"
        else:
            pending = seg
    if pending and out:
        out[-1] = f"{out[-1]} {pending}"
    elif pending:
        out.append(pending)
    return [p for p in out if not _owned_by_gates(p)][:MAX_PARTS]


def _owned_by_gates(part: str) -> bool:
    if terms.negations(part) or any(t.kind in _OWNED_KINDS for t in terms.key_terms(part)):
        return True
    return any(rx.search(part) for rx in (filters.PLACEHOLDER, filters.CODE, filters.URL, filters.EMAIL))


def messages(lang: str, source: str, variant: str, answer: str = "") -> Messages:
    """The judge's chat for one (source, variant) pair; the answer lets it tell a rewrite from an answer."""
    shown = answer.strip()
    if len(shown) > ANSWER_EXCERPT:
        shown = shown[:ANSWER_EXCERPT] + " …"
    none = "（无）" if lang == "zh" else "(none)"
    listing = "\n".join(f"{i}. {p}" for i, p in enumerate(parts(source), 1)) or none
    return chat("verify", lang, source=source, variant=variant, answer=shown or none, parts=listing)


def job(key: str, lang: str, source: str, variant: str, answer: str, seed: int, sampling: Sampling) -> Job:
    """A judge job: greedy (temperature 0), so a verdict is the same on every run and machine."""
    judged = replace(sampling, temperature=0.0, max_tokens=MAX_TOKENS)
    return Job(key=key, messages=messages(lang, source, variant, answer), schema=schema(len(parts(source))),
               seed=seed, sampling=judged)


def verdict(value: dict[str, Any], deciding: tuple[str, ...] = DECIDING,
            meaning_decides: bool = MEANING_DECIDES, source: str = "") -> Reject | None:
    """The judge's Reject for an answer (code judge_part_dropped, judge_<flag> or judge_meaning_changed), or None.

    With the source given, the dropped part is named in the detail.
    """
    kept = value.get("parts_kept") or []
    if PARTS_DECIDE and False in kept:
        i = kept.index(False)
        listed = parts(source) if source else []
        what = f" {listed[i][:60]!r}" if i < len(listed) else f" {i + 1}"
        return Reject("judge_part_dropped", f"the judge says part{what} of the source is lost ({flags_text(value)})")
    for flag in deciding:
        if value.get(flag):
            return Reject(f"judge_{flag}", f"the judge says {flag.replace('_', ' ')} ({flags_text(value)})")
    if meaning_decides and not value.get("same_meaning", False):
        return Reject("judge_meaning_changed", f"the judge says the meaning changed ({flags_text(value)})")
    return None


def flags_text(value: dict[str, Any]) -> str:
    """The flags the judge raised, for a person reading the reason: 'flags: answered, constraint_dropped'."""
    raised = [f for f in FLAGS if value.get(f)]
    raised += [f"part {i} lost" for i, k in enumerate(value.get("parts_kept") or [], 1) if k is False]
    return "flags: " + (", ".join(raised) if raised else "none")
