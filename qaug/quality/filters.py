"""Text gates for model variants: same meaning markers kept, really different, sensible length.

Each function returns None (keep) or the reason for rejecting, so the pipeline can write the
reason beside the candidate in the rejects file.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from qaug.quality.lang import detect, is_cjk

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = re.compile(r"^[\s\W_]+|[\s\W_]+$", re.UNICODE)
_PLACEHOLDER = re.compile(r"\{\{\s*[\w.]+\s*\}\}|\{[A-Za-z_][\w.]*\}|%[sdif]|%\([\w]+\)[sdif]|#\{[\w.]+\}|\$\{[\w.]+\}")
_URL = re.compile(r"https?://[^\s<>\"'）)\]]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_CODE = re.compile(r"`[^`\n]+`")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])[-+]?\d+(?:[.,]\d+)*(?:%|‰)?")
_EN_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
             "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
_ZH_WORDS = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]


def normalize(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed, edge punctuation dropped: 'the same text' for gates."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _EDGE_PUNCT.sub("", _SPACE.sub(" ", text)).strip()


def char_ngrams(text: str, n: int = 3) -> Counter:
    """Character n-grams of the normalised text: works for Chinese, where word n-grams do not."""
    t = normalize(text).replace(" ", "")
    if len(t) < n:
        return Counter([t]) if t else Counter()
    return Counter(t[i:i + n] for i in range(len(t) - n + 1))


def similarity(a: str, b: str, n: int = 3) -> float:
    """Dice overlap of character n-gram multisets, 0..1."""
    ca, cb = char_ngrams(a, n), char_ngrams(b, n)
    total = sum(ca.values()) + sum(cb.values())
    if total == 0:
        return 1.0
    return 2.0 * sum((ca & cb).values()) / total


def length_units(text: str) -> int:
    """Characters for CJK text, words otherwise."""
    return len(_SPACE.sub("", text)) if is_cjk(detect(text)) else len(text.split())


def length_ratio_reason(source: str, variant: str, low: float, high: float) -> str | None:
    s, v = max(length_units(source), 1), length_units(variant)
    ratio = v / s
    if ratio < low or ratio > high:
        return f"length ratio {ratio:.2f} outside [{low}, {high}]"
    return None


def _numbers(text: str) -> Counter:
    return Counter(m.replace(",", "") for m in _NUMBER.findall(unicodedata.normalize("NFKC", text)))


def preservation_reason(source: str, variant: str, *, numbers: bool = True) -> str | None:
    """Placeholders, URLs, e-mails, inline code and (optionally) numbers of the source must survive."""
    for name, rx in (("placeholder", _PLACEHOLDER), ("URL", _URL), ("e-mail", _EMAIL), ("inline code", _CODE)):
        missing = [x for x in set(rx.findall(source)) if x not in variant]
        if missing:
            return f"lost {name} {sorted(missing)[0]!r}"
    if numbers:
        src, var = _numbers(source), _numbers(variant)
        missing = [n for n in src if n not in var and not _spelled_out(n, variant)]
        if missing:
            return f"lost number {sorted(missing)[0]!r}"
    return None


def _spelled_out(number: str, text: str) -> bool:
    """'3' written as 'three' / '三' (or '两' for 2) keeps the number."""
    if not number.isdigit() or int(number) > 20:
        return False
    n = int(number)
    low = text.casefold()
    if re.search(rf"\b{_EN_WORDS[n]}\b", low):
        return True
    return n <= 10 and (_ZH_WORDS[n] in text or (n == 2 and "两" in text))
