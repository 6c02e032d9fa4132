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

from dataclasses import replace
from typing import Any

from qaug.llm.engine import Job, Sampling
from qaug.llm.prompts import Messages, chat
from qaug.quality.textgates import Reject

#: the failure questions, in the order the model answers them (before its overall same_meaning)
FLAGS = ("answered", "not_a_request", "entity_or_language_changed", "constraint_dropped", "constraint_added",
         "negation_changed")
SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": [*FLAGS, "same_meaning"],
    "properties": {k: {"type": "boolean"} for k in (*FLAGS, "same_meaning")},
}
#: the questions whose "yes" rejects a variant, and whether a "no" to same_meaning does (MEANING_DECIDES), chosen
#: on the dev set with Qwen2.5-Coder-1.5B (BENCHMARKS.md). With the few-shot prompt these four were said of 15 of 200
#: faithful and 34/28/10/24 of 200 wrong dev pairs; `answered`, `not_a_request` and a "no" to same_meaning were said
#: of nearly every pair, good or bad, so they are recorded but do not decide (the deterministic answered and
#: not_a_request gates cover those failures). Without the few-shot turns same_meaning did discriminate, but kept
#: only 65% of the faithful pairs for no better precision on the held-out set.
DECIDING: tuple[str, ...] = ("entity_or_language_changed", "constraint_dropped", "constraint_added", "negation_changed")
MEANING_DECIDES = False
#: characters of the record's answer shown to the judge: enough to recognise it inside a variant
ANSWER_EXCERPT = 600
MAX_TOKENS = 120


def messages(lang: str, source: str, variant: str, answer: str = "") -> Messages:
    """The judge's chat for one (source, variant) pair; the answer lets it tell a rewrite from an answer."""
    shown = answer.strip()
    if len(shown) > ANSWER_EXCERPT:
        shown = shown[:ANSWER_EXCERPT] + " …"
    none = "（无）" if lang == "zh" else "(none)"
    return chat("verify", lang, source=source, variant=variant, answer=shown or none)


def job(key: str, lang: str, source: str, variant: str, answer: str, seed: int, sampling: Sampling) -> Job:
    """A judge job: greedy (temperature 0), so a verdict is the same on every run and machine."""
    judged = replace(sampling, temperature=0.0, max_tokens=MAX_TOKENS)
    return Job(key=key, messages=messages(lang, source, variant, answer), schema=SCHEMA, seed=seed, sampling=judged)


def verdict(value: dict[str, Any], deciding: tuple[str, ...] = DECIDING,
            meaning_decides: bool = MEANING_DECIDES) -> Reject | None:
    """The judge's Reject for an answer (code judge_<flag> or judge_meaning_changed), or None to keep."""
    for flag in deciding:
        if value.get(flag):
            return Reject(f"judge_{flag}", f"the judge says {flag.replace('_', ' ')} ({flags_text(value)})")
    if meaning_decides and not value.get("same_meaning", False):
        return Reject("judge_meaning_changed", f"the judge says the meaning changed ({flags_text(value)})")
    return None


def flags_text(value: dict[str, Any]) -> str:
    """The flags the judge raised, for a person reading the reason: 'flags: answered, constraint_dropped'."""
    raised = [f for f in FLAGS if value.get(f)]
    return "flags: " + (", ".join(raised) if raised else "none")
