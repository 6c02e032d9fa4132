"""Model support: does each content word of the source survive in the variant, and the reverse?

The failures a small model makes most often when rewriting are fluent and differ from the source
by one qualifier ("briefly", "months", 法律风险 -> 风险, an added "Show your work"). Neither a named
gate nor a yes/no judge of the same size sees them. The model itself can: asked to rewrite the
VARIANT, how surprised is it by each word of the SOURCE (teacher forcing, one forward pass, no
generated tokens)? A word the variant kept or paraphrased becomes likely; a word the variant dropped
or changed stays surprising. The same in the other direction finds what the variant added.

A content word is *unsupported* when its surprisal given the other text is at least `lost_nats`
(a source word) or `added_nats` (a variant word). Words a rewrite is free to choose (request verbs
such as write/convert/概括, deictic words such as following/下面, function words) never count.

The thresholds were chosen on three runs of Qwen2.5-Coder-1.5B rewrites and back-translations on
examples/, every candidate labelled by hand (BENCHMARKS.md). A comparison with the same words' surprisal
given no text at all (their pointwise mutual information) was measured and did not separate better, so
it is not computed. The check is a filter for precision: it also drops faithful rewrites that pick a
rarer synonym (审查 -> 检查), since a wrong variant kept costs more than a good one dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qaug.llm.engine import Engine, ScoreRequest, Surprisal
from qaug.llm.prompts import Messages, prompt_file
from qaug.quality.textgates import Reject

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[^a-z0-9]")

#: English words a faithful rewrite may drop or choose anew without changing the task
FREE_EN = frozenset("""
a an the this that these those of to in on for with by from at as and or but if then than so such is are be been
being was were do does did not no any all each every some it its i you your we our they their he she his her them
me my us what which who whom whose how when where why please can could would should will shall may might must into
onto about over under up down out off also just very more most less least
write create convert turn parse summarize summarise explain describe rewrite rephrase paraphrase generate list give
provide make produce find calculate compute determine identify include put use using implement develop build design
construct draft compose prepare outline tell answer return returns output outputs transform extract classify
translate following below above given here there
""".split())
#: Chinese request verbs and deictic words a faithful rewrite may choose anew (each a whole model token)
FREE_ZH = frozenset({"写", "编写", "撰写", "写出", "请", "用", "将", "把", "生成", "给出", "列出", "解释", "说明",
                     "总结", "概括", "提取", "转换", "转为", "改写", "重写", "计算", "求", "下面", "以下", "下列",
                     "如下", "给定", "这段", "这篇", "该"})
#: Chinese function characters: a piece made only of these carries no content of its own. Narrower than
#: terms.ZH_FUNCTION_CHARS on purpose: 我, 你, 中, 下 and the like do carry meaning here
#: (我父亲 -> 父亲 changes who asks)
FUNCTION_ZH = frozenset("的了是在和与及并或等把将被请这那个一些中为以对从而且也都就之其此该")


@dataclass(frozen=True)
class SupportSettings:
    """Surprisal (nats) from which a content word is unsupported: lost (a source word given the variant)
    and added (a variant word given the source)."""

    lost_nats: float = 7.5
    added_nats: float = 8.0


@dataclass(frozen=True)
class Word:
    """One word (English) or model token (Chinese) and its surprisal given the other text."""

    text: str
    nats: float


def requests(source: str, variant: str) -> list[ScoreRequest]:
    """The two scorings of a pair: the source as a rewrite of the variant, and the variant as one of the source."""
    p = prompt_file("support")["en"]
    return [ScoreRequest(_messages(p, p["rewrite"].format(text=variant)), source),
            ScoreRequest(_messages(p, p["rewrite"].format(text=source)), variant)]


def _messages(p: dict[str, str], user: str) -> Messages:
    return ({"role": "system", "content": p["system"]}, {"role": "user", "content": user})


def words(scored: Surprisal) -> list[Word]:
    """Join token pieces into words: a piece that goes on a Latin word (no leading space) extends it;
    every Chinese token is a word of its own (Qwen's tokens for Chinese are mostly whole words)."""
    out: list[Word] = []
    for piece, x in zip(scored.pieces, scored.nats):
        if out and piece[:1].isalnum() and not _HAN.search(piece) and out[-1].text[-1:].isalnum() \
                and not _HAN.search(out[-1].text[-1:]):
            out[-1] = Word(out[-1].text + piece, out[-1].nats + x)
        else:
            out.append(Word(piece, x))
    return out


def is_content(text: str) -> bool:
    """Whether a word carries content a rewrite must keep (see FREE_EN, FREE_ZH, FUNCTION_ZH)."""
    t = text.strip().lower()
    if _HAN.search(t):
        if t in FREE_ZH:
            return False
        return any(_HAN.match(c) and c not in FUNCTION_ZH for c in t)
    w = _LATIN.sub("", t)
    return len(w) >= 3 and w not in FREE_EN and not w.isdigit()


def unsupported(scored: Surprisal, min_nats: float) -> list[Word]:
    """Content words of a text that the other text does not make likely, most surprising first."""
    hits = [w for w in words(scored) if is_content(w.text) and w.nats >= min_nats]
    return sorted(hits, key=lambda w: -w.nats)


def verdict(scores: Sequence[Surprisal | None],
            settings: SupportSettings = SupportSettings()) -> tuple[Reject | None, dict]:
    """The Reject for a pair's two scorings (support_lost before support_added), and the words it names.

    A pair the model could not score (longer than its context) is not kept unchecked: support_error."""
    source_given_variant, variant_given_source = scores
    if source_given_variant is None or variant_given_source is None:
        return Reject("support_error", "the pair is too long for the model's context to be checked (--ctx)"), {}
    lost = unsupported(source_given_variant, settings.lost_nats)
    added = unsupported(variant_given_source, settings.added_nats)
    summary = {"lost": [w.text.strip() for w in lost[:3]], "added": [w.text.strip() for w in added[:3]]}
    if lost:
        return Reject("support_lost", f"the variant does not carry {_names(lost)} of the source "
                                      f"(model surprisal {lost[0].nats:.1f} nats)"), summary
    if added:
        return Reject("support_added", f"the variant adds {_names(added)}, which the source does not support "
                                       f"(model surprisal {added[0].nats:.1f} nats)"), summary
    return None, summary


def _names(ws: list[Word]) -> str:
    shown = ", ".join(repr(w.text.strip()) for w in ws[:3])
    return shown + (f" and {len(ws) - 3} more" if len(ws) > 3 else "")


def check_pairs(engine: Engine, pairs: Sequence[tuple[str, str]],
                settings: SupportSettings = SupportSettings()) -> list[tuple[Reject | None, dict]]:
    """Verdicts for many (source, variant) pairs, scored in one engine call (shared prompt prefixes)."""
    reqs = [r for s, v in pairs for r in requests(s, v)]
    try:
        scored = _scored(engine, reqs)
    except RuntimeError as exc:  # llama.cpp could not decode: the pairs stay unchecked, so none is kept
        failed = Reject("support_error", f"the support check failed: {exc}")
        return [(failed, {}) for _ in pairs]
    return [verdict(scored[2 * i:2 * i + 2], settings) for i in range(len(pairs))]


def _scored(engine: Engine, reqs: list[ScoreRequest]) -> list[Surprisal | None]:
    """Each request's scoring, in the order given."""
    # requests with the same prompt one after another: the engine then evaluates that prompt once (a record's
    # variants each scored given the same source), then only each target
    order = sorted(range(len(reqs)), key=lambda i: reqs[i].messages[-1]["content"])
    scored = engine.surprisal([reqs[i] for i in order]) if reqs else []
    scores: list[Surprisal | None] = [None] * len(reqs)
    for i, sc in zip(order, scored):
        scores[i] = sc
    return scores
