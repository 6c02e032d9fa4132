"""Named text gates: each compares a candidate variant with its source and returns a Reject or None.

A Reject carries a stable `code` (what the rejects file and the report count by) and a `detail`
for a person (which term was lost, which ratio was out of bounds). Methods declare which gates
they run, in order; the first Reject wins. `qaug score` runs the same gates on pairs made
anywhere, so there is one implementation of every check.

The gates favour dropping a good variant over keeping a wrong one: a variant that answers its
instruction, loses a name, a count or a "do not", adds a constraint, or stops being a request
would teach a fine-tune the wrong task.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qaug.quality import filters, terms
from qaug.quality.lang import detect, is_cjk


@dataclass(frozen=True, slots=True)
class Reject:
    """Why a candidate was not kept: a stable code and a detail for a person."""

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True)
class GateInput:
    """What a gate sees: one text of a candidate beside its source text.

    role: "instruction" (a request: the prompt side), "data" (text a task works on, e.g. a review to
    classify) or "answer". Request-shaped gates (answered, not_a_request) apply to instructions only.
    context: the rest of the prompt (an Alpaca input, say): a term or number found there is not new
    when a variant names it ("fix this Python function" where the input is Python code).
    """

    source: str
    variant: str
    answer: str = ""
    siblings: tuple[str, ...] = ()
    role: str = "instruction"
    context: str = ""


@dataclass(frozen=True)
class GateSettings:
    """The thresholds of the gates; each name means one measure (see the README's gate table)."""

    min_len_ratio: float = 0.3
    max_len_ratio: float = 3.0
    #: near-duplicate ceiling: character 3-gram Dice similarity to the source or a sibling (0.85: a variant that
    #: changes two or three words adds no new sample, and the blind labels call such near-copies bad)
    max_similarity: float = 0.85
    #: near-copy ceiling: share of the variant's words (Chinese: characters) that are the source's words in the
    #: source's order, and the same share of the source (both must be above it). Word swaps inside an unchanged
    #: sentence frame are no new sample; the strict blind labels call them near-copies (BENCHMARKS.md).
    max_copied: float = 0.85
    #: off-topic floor: Dice overlap of content units (CJK characters, English word stems; function words out)
    min_overlap: float = 0.15
    keep_numbers: bool = True
    same_language: bool = True


Gate = Callable[[GateInput, GateSettings], "Reject | None"]


# -- identity and form -------------------------------------------------------------------------------
def empty(g: GateInput, s: GateSettings) -> Reject | None:
    return Reject("empty", "empty variant") if not g.variant.strip() else None


def identical(g: GateInput, s: GateSettings) -> Reject | None:
    if filters.normalize(g.variant) == filters.normalize(g.source):
        return Reject("identical", "identical to source after normalisation")
    return None


def duplicate(g: GateInput, s: GateSettings) -> Reject | None:
    norm = filters.normalize(g.variant)
    if any(norm == filters.normalize(x) for x in g.siblings):
        return Reject("duplicate", "duplicate of a sibling variant")
    return None


_SENTENCE_SPLIT = re.compile(r"[.!?。！？;；\n]+")
_EN_WORD = re.compile(r"[A-Za-z]+")
_ZH_STUTTER = re.compile(f"([{terms._HAN}]{{2,6}})\\1")


def _sentences(text: str) -> Counter:
    return Counter(n for part in _SENTENCE_SPLIT.split(text) if len(n := filters.normalize(part)) >= 4)


def _word_trigrams(text: str) -> Counter:
    words = [w.lower() for w in _EN_WORD.findall(text)]
    return Counter(tuple(words[i:i + 3]) for i in range(len(words) - 2))


def repetition(g: GateInput, s: GateSettings) -> Reject | None:
    """Degenerate output: a repeated sentence, a stutter ('steps step', 春天春天) or a repeated 3-word run."""
    v, src = _without_literals(g.variant), _without_literals(g.source)  # `f(s string) string` is code, not a stutter
    src_sentences = _sentences(src)
    for sent, n in _sentences(v).items():
        if n > 1 and src_sentences[sent] < n:
            return Reject("repetition", f"sentence repeated: {sent[:40]!r}")
    words = _EN_WORD.findall(v)
    src_low = src.lower()
    for a, b in zip(words, words[1:]):
        if terms.stem(a) == terms.stem(b) and len(a) > 2 and f"{a} {b}".lower() not in src_low:
            return Reject("repetition", f"word repeated: {a} {b}")
    for m in _ZH_STUTTER.finditer(v):
        if m.group(0) not in src:
            return Reject("repetition", f"characters repeated: {m.group(0)}")
    src_tri = _word_trigrams(src)
    for tri, n in _word_trigrams(v).items():
        if n > 1 and n > src_tri[tri] and not set(tri) <= {"the", "a", "of", "and", "to", "in"}:
            return Reject("repetition", f"phrase repeated: {' '.join(tri)!r}")
    return None


def mixed_script(g: GateInput, s: GateSettings) -> Reject | None:
    """Han in an English variant, or Latin words in a Chinese one, that the source does not have."""
    lang = detect(g.source)
    foreign = foreign_words(g.variant, lang, g.source)
    if foreign:
        what = "Latin word" if is_cjk(lang) else "CJK characters"
        return Reject("mixed_script", f"{what} {foreign[0]!r} in a {lang} variant (not in the source)")
    return None


def foreign_words(text: str, lang: str, allowed: str = "") -> list[str]:
    """Words of the other script in a `lang` text that `allowed` (its source) does not have: Latin words in
    Chinese, CJK characters in English. Placeholders, URLs, code, programming languages and formats are exempt."""
    src, v = terms.nfkc(allowed), terms.nfkc(_without_literals(text))
    if is_cjk(lang):
        known = {t.casefold() for t in terms.PROGRAMMING + terms.FORMATS}
        out = []
        for m in terms.LATIN_WORD.finditer(v):
            word = m.group(0).rstrip("'’-")
            if len(word) < 2 or word.casefold() in known or re.search(
                    rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", src, re.IGNORECASE):
                continue
            out.append(word)
        return out
    new = sorted(set(terms.CJK.findall(v)) - set(terms.CJK.findall(src)))
    return ["".join(new[:6])] if new else []


def _without_literals(text: str) -> str:
    """Placeholders, URLs, e-mails and inline code are exempt from script checks."""
    for rx in (filters.PLACEHOLDER, filters.URL, filters.EMAIL, filters.CODE):
        text = rx.sub(" ", text)
    return text


def language_changed(g: GateInput, s: GateSettings) -> Reject | None:
    if not s.same_language:
        return None
    got, want = detect(g.variant), detect(g.source)
    return Reject("language_changed", f"variant is in {got}, the source in {want}") if got != want else None


def length_ratio(g: GateInput, s: GateSettings) -> Reject | None:
    ratio = filters.length_ratio(g.source, g.variant)
    if ratio < s.min_len_ratio or ratio > s.max_len_ratio:
        return Reject("length_ratio", f"length ratio {ratio:.2f} outside [{s.min_len_ratio:g}, {s.max_len_ratio:g}]")
    return None


# -- the task itself ------------------------------------------------------------------------------------
_ANSWER_CORE_SPLIT = re.compile(r"[,，。.;；:：!！?？\n(（]")


def _answer_core(answer: str) -> str | None:
    """The answer's first clause when it is short enough to be the answer itself ('Canberra', '长江', 'positive')."""
    parts = _ANSWER_CORE_SPLIT.split(answer.strip(), 1)
    head = parts[0].strip()
    if not head or (len(parts) > 1 and answer.strip()[len(parts[0]):][:1] in (":", "：")):
        return None  # "Daily dose: 1700 mg": the head is a label of the answer, not the answer
    short = len(head) <= 12 if terms.CJK.search(head) else len(head.split()) <= 4 and len(head) <= 40
    return head if short else None


def answered(g: GateInput, s: GateSettings) -> Reject | None:
    """The variant gives (part of) the record's answer instead of asking for it."""
    if g.role != "instruction" or not g.answer.strip():
        return None
    src_norm, var_norm = filters.normalize(g.source), filters.normalize(g.variant)
    core = _answer_core(g.answer)
    if core is not None:
        c = filters.normalize(core)
        if len(c) >= 2 and c not in src_norm and _has_unit(var_norm, c):
            return Reject("answered", f"the variant contains the answer {core!r}")
    src_numbers, answer_numbers = filters.numbers(f"{g.source}\n{g.context}"), filters.numbers(g.answer)
    leaked = [n for n in filters.numbers(g.variant) if n not in src_numbers and n in answer_numbers
              and not filters.spelled_out(n, f"{g.source}\n{g.context}")]
    if leaked:
        return Reject("answered", f"the variant contains {leaked[0]!r} from the answer, not from the instruction")
    var_units = terms.content_units(g.variant)
    from_answer = (var_units - terms.content_units(f"{g.source}\n{g.context}")) & terms.content_units(g.answer)
    if len(from_answer) >= 3 and len(from_answer) >= 0.3 * len(var_units):
        shown = "".join(sorted(from_answer)[:6]) if is_cjk(detect(g.variant)) else ", ".join(sorted(from_answer)[:4])
        return Reject("answered", f"{len(from_answer)} of the variant's {len(var_units)} content words come from the "
                                  f"answer, not the instruction ({shown})")
    return None


def _has_unit(text: str, unit: str) -> bool:
    if terms.CJK.search(unit):
        return unit in text
    return re.search(rf"(?<![a-z0-9]){re.escape(unit)}(?![a-z0-9])", text) is not None


def not_a_request(g: GateInput, s: GateSettings) -> Reject | None:
    """An instruction must stay a request or a question; 'X is Y.' states instead of asking."""
    if g.role != "instruction" or not terms.is_request(g.source) or terms.is_request(g.variant):
        return None
    return Reject("not_a_request", "the variant states something instead of asking for it")


# -- what must be kept, and what must not be added -----------------------------------------------------------
def literal_lost(g: GateInput, s: GateSettings) -> Reject | None:
    missing = filters.lost_literal(g.source, g.variant)
    return Reject("literal_lost", f"lost {missing[0]} {missing[1]!r}") if missing else None


def number_lost(g: GateInput, s: GateSettings) -> Reject | None:
    if not s.keep_numbers:
        return None
    missing = filters.lost_number(g.source, g.variant)
    return Reject("number_lost", f"lost number {missing!r}") if missing else None


def key_term_lost(g: GateInput, s: GateSettings) -> Reject | None:
    """Names, languages, formats, quoted strings, identifiers, counts and offered options survive."""
    in_context = set(terms.code_languages(g.context))
    for term in terms.key_terms(g.source):
        if (term.kind == "count" and not s.keep_numbers) or (term.kind in ("restriction", "length")
                                                              and g.role != "instruction"):
            continue  # "only", "briefly" shape an answer in an instruction; in data they are just words
        if _brevity_moot(term, g.source):
            continue  # "a short story of exactly five sentences": the count says how short
        if term.kind == "language" and term.text in in_context:
            continue  # "fix this code" still says JavaScript when the code beside it is JavaScript
        if not term.found_in(terms.nfkc(g.variant)):
            return Reject("key_term_lost", f"lost {term.kind} {term.text!r}")
    return None


_PART_SPLIT = re.compile(r"(?<=[.!?])(?=\s|$)|[。！？；;\n]+")
_BRACKETED = re.compile(r"[（(]([^（）()]{2,80})[)）]")
_HAN_RUN = re.compile(f"[{terms._HAN}]+")


def source_parts(text: str) -> list[str]:
    """The sentences of a text and its bracketed notes, each on its own: the parts a variant may not drop."""
    notes = [m.group(1) for m in _BRACKETED.finditer(text)]
    return [p.strip() for p in [*_PART_SPLIT.split(_BRACKETED.sub(" ", text)), *notes] if p.strip()]


def part_units(text: str) -> set[str]:
    """What shows a part is still there: English content-word stems, and Chinese character pairs that are
    not made of function characters only (single characters recur across unrelated clauses)."""
    units = {u for u in terms.content_units(text) if not terms.CJK.match(u)}
    for run in _HAN_RUN.findall(terms.nfkc(text)):
        units |= {run[i:i + 2] for i in range(len(run) - 1) if not set(run[i:i + 2]) <= terms.ZH_FUNCTION_CHARS}
    return units


def part_dropped(g: GateInput, s: GateSettings) -> Reject | None:
    """A whole sentence or bracketed note of the source with none of its content left in the variant.

    What a small model drops when it paraphrases is mostly a trailing qualifier sentence ("Show your
    work.", 请分步计算。) or a note in brackets (（本金加利息）); the key-term gates cannot name those,
    and none of their words surviving is a sign they are gone. A part with fewer than two units is too
    short to tell. Precision first: a part said again wholly in new words is dropped with it.
    """
    kept = part_units(g.variant)
    for part in source_parts(g.source):
        units = part_units(part)
        if len(units) >= 2 and not units & kept:
            return Reject("part_dropped", f"nothing of {part[:60]!r} is left in the variant")
    return None


def negation_changed(g: GateInput, s: GateSettings) -> Reject | None:
    src, var = terms.negations(g.source), terms.negations(g.variant)
    if (src > 0) != (var > 0):
        what = "drops the source's negation" if src else "adds a negation the source does not have"
        return Reject("negation_changed", what)
    return None


# the asker as subject or owner; "tell me" is only a request's object
_ASKER_EN = re.compile(r"\b(?:I|[Mm]y|[Mm]ine|[Mm]yself)\b")
_FIRST_EN = re.compile(r"\b(?:I|me|my|mine|myself)\b", re.IGNORECASE)
_SECOND_EN = re.compile(r"\b(?:you|your|yours|yourself)\b", re.IGNORECASE)


def person_changed(g: GateInput, s: GateSettings) -> Reject | None:
    """The asker's own situation ("my lab report", "whether I have the flu", 我父亲) turned into the reader's
    ("your lab report", "can you check if you have", 你父亲): a question about someone else."""
    if g.role != "instruction":
        return None
    if terms.HAN.search(g.source):
        if "我" in g.source and "我" not in g.variant and ("你" in g.variant or "您" in g.variant):
            return Reject("person_changed", "the asker (我) became the reader (你)")
        return None
    if _ASKER_EN.search(g.source) and not _FIRST_EN.search(g.variant) and _SECOND_EN.search(g.variant):
        return Reject("person_changed", "the asker (I, my) became the reader (you, your)")
    return None


_LIMITS = re.compile(r"不超过|不多于|不少于|不低于|不高于|至少|至多|最多|最少|最长|最短|"
                     r"(?<=[\d一二两三四五六七八九十百千万字个词句行条页])"
                     r"(?:以内|以上|以下)|超过|少于|多于|高于|低于|大于|小于|"
                     r"\b(?:at most|at least|no more than|no less than|no fewer than|not more than|not less than|"
                     r"up to|more than|less than|fewer than|greater than|higher than|lower than|exceeds?|"
                     r"exceeding|under|over|within|maximum|minimum|max|min)\b",
                     re.IGNORECASE)
_UPPER = {"不超过", "不多于", "不高于", "至多", "最多", "最长", "以内", "以下", "少于", "低于", "小于", "at most",
          "no more than", "not more than", "up to", "less than", "fewer than", "lower than", "under", "within",
          "maximum", "max"}


def _limit_directions(text: str) -> set[str]:
    return {"upper" if m.group(0).lower() in _UPPER else "lower" for m in _LIMITS.finditer(text)}


def _brevity_moot(term: terms.Term, text: str) -> bool:
    """A brevity word ("briefly", 简洁) added or dropped beside a bound the text already sets on the answer's
    length (two sentences, no more than 20 words, 不超过15个字) changes nothing."""
    return (term.kind == "length" and term.forms == terms.LENGTH_FORMS["brief"]
            and (bool(terms.count_terms(text)) or "upper" in _limit_directions(text)))


def constraint_added(g: GateInput, s: GateSettings) -> Reject | None:
    """Numbers, counts, languages, formats or limits the source does not have."""
    known = f"{g.source}\n{g.context}"
    added = [t for t in terms.terms_added(known, g.variant, detect(g.source))
             if t.kind != "length" or (g.role == "instruction"  # "short" in a rewritten review asks for nothing
                                       and not _brevity_moot(t, known))]
    if added:
        return Reject("constraint_added", f"adds {added[0].kind} {added[0].text!r}")
    new_slots = sorted(set(filters.PLACEHOLDER.findall(g.variant)) - set(filters.PLACEHOLDER.findall(known)))
    if new_slots:
        return Reject("constraint_added", f"adds placeholder {new_slots[0]!r}")
    if s.keep_numbers:
        new = filters.added_number(known, g.variant)
        if new is not None:
            return Reject("constraint_added", f"adds number {new!r}")
    new_limits = _limit_directions(g.variant) - _limit_directions(g.source)
    if new_limits and _limit_directions(g.source) != _limit_directions(g.variant):
        return Reject("constraint_added", f"adds {'an upper' if 'upper' in new_limits else 'a lower'} limit")
    return None


# -- distance to the source -----------------------------------------------------------------------------------
def off_topic(g: GateInput, s: GateSettings) -> Reject | None:
    ov = overlap(g.source, g.variant)
    if ov < s.min_overlap:
        return Reject("off_topic", f"content overlap {ov:.2f} with the source is below {s.min_overlap:g}")
    return None


def overlap(a: str, b: str) -> float:
    """Dice overlap of content units (terms.content_units), 0..1; 1 when neither has any."""
    ua, ub = terms.content_units(a), terms.content_units(b)
    if not ua and not ub:
        return 1.0
    return 2.0 * len(ua & ub) / (len(ua) + len(ub))


def near_duplicate(g: GateInput, s: GateSettings) -> Reject | None:
    sim = filters.similarity(g.source, g.variant)
    if sim > s.max_similarity:
        return Reject("near_duplicate", f"character 3-gram similarity {sim:.2f} to the source is above "
                                        f"{s.max_similarity:g}")
    for other in g.siblings:
        sim = filters.similarity(other, g.variant)
        if sim > s.max_similarity:
            return Reject("near_duplicate", f"character 3-gram similarity {sim:.2f} to a sibling is above "
                                            f"{s.max_similarity:g}")
    return None


_COPY_UNIT = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+")


def copied_share(source: str, variant: str) -> float:
    """The smaller of: the share of the variant's words that are the source's words in the source's order
    (longest common subsequence; Chinese counts characters), and the same share of the source."""
    a, b = _COPY_UNIT.findall(source.casefold()), _COPY_UNIT.findall(variant.casefold())
    if not a or not b:
        return 0.0
    same = sum(block.size for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    return min(same / len(a), same / len(b))


def near_copy(g: GateInput, s: GateSettings) -> Reject | None:
    share = copied_share(g.source, g.variant)
    if share >= s.max_copied:
        return Reject("near_copy", f"{share:.0%} of the variant is the source's words in the source's order "
                                   f"(at most {s.max_copied:.0%}): a few words swapped in the same sentence")
    return None


GATES: dict[str, Gate] = {
    "empty": empty, "identical": identical, "duplicate": duplicate, "repetition": repetition,
    "mixed_script": mixed_script, "language_changed": language_changed, "length_ratio": length_ratio,
    "answered": answered, "not_a_request": not_a_request, "literal_lost": literal_lost, "number_lost": number_lost,
    "key_term_lost": key_term_lost, "part_dropped": part_dropped, "negation_changed": negation_changed,
    "person_changed": person_changed, "constraint_added": constraint_added,
    "off_topic": off_topic, "near_duplicate": near_duplicate, "near_copy": near_copy,
}
#: the gates of every model method that changes an instruction, in the order they run
REWRITE_GATES: tuple[str, ...] = tuple(g for g in GATES if g != "near_copy")
#: a paraphrase must also change the sentence, not only swap words in it (rewrite, backtranslate); methods
#: that swap words by design (synonym) or keep the frame (template) do not run near_copy
PARAPHRASE_GATES: tuple[str, ...] = (*REWRITE_GATES, "near_copy")


def check(g: GateInput, settings: GateSettings, gates: Sequence[str] = REWRITE_GATES) -> Reject | None:
    """The first Reject of `gates` (in order), or None when the variant passes them all."""
    for name in gates:
        reject = GATES[name](g, settings)
        if reject is not None:
            return reject
    return None


def all_rejects(g: GateInput, settings: GateSettings, gates: Sequence[str] = REWRITE_GATES) -> list[Reject]:
    """Every gate's Reject, for scoring and for measuring each gate on a labelled set."""
    return [r for name in gates if (r := GATES[name](g, settings)) is not None]
