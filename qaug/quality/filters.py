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
PLACEHOLDER = re.compile(r"\{\{\s*[\w.]+\s*\}\}|\{[A-Za-z_][\w.]*\}|%[sdif]|%\([\w]+\)[sdif]|#\{[\w.]+\}|\$\{[\w.]+\}")
URL = re.compile(r"https?://[^\s<>\"'）)\]]+")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
CODE = re.compile(r"`[^`\n]+`")
# Digits with CJK neighbours count ("为1200万元"); a digit run inside a Latin word ("mp3", "H2O") does not.
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


def length_ratio(source: str, variant: str) -> float:
    """Variant length over source length, in length_units."""
    return length_units(variant) / max(length_units(source), 1)


def numbers(text: str) -> Counter:
    """Digit numbers of a text, thousands separators dropped, signs kept; 20万 counts as 200000, 3亿 as 300000000."""
    return Counter(value for value, _ in number_forms(text))


def number_forms(text: str) -> list[tuple[str, str]]:
    """(value, as written) of each digit number: ('200000', '20') for 20万, ('42', '42') for 42."""
    out = []
    for m in _NUMBER.finditer(unicodedata.normalize("NFKC", text)):
        n = m.group(0).replace(",", "").lstrip("+")
        value, scale = n, _SCALES.get(text_after(m, 1))
        if scale and re.fullmatch(r"-?\d+(?:\.\d+)?", n):
            scaled = float(n) * scale
            value = str(int(scaled)) if scaled.is_integer() else n
        out.append((value, n))
    return out


_SCALES = {"万": 10_000, "亿": 100_000_000}


def text_after(m: re.Match, n: int) -> str:
    """The n characters after a match."""
    return m.string[m.end():m.end() + n]


def lost_literal(source: str, variant: str) -> tuple[str, str] | None:
    """(kind, text) of the first placeholder, URL, e-mail or inline code of the source the variant lacks."""
    for name, rx in (("placeholder", PLACEHOLDER), ("URL", URL), ("e-mail", EMAIL), ("inline code", CODE)):
        missing = [x for x in set(rx.findall(source)) if x not in variant]
        if missing:
            return name, sorted(missing)[0]
    return None


def lost_number(source: str, variant: str) -> str | None:
    """The first number of the source the variant lacks (a small one may be spelled out: 3 -> three / 三; 20万 may
    be 200000, or 20 with the unit said in words)."""
    forms = number_forms(variant)
    var = {v for v, _ in forms} | {raw for _, raw in forms}
    missing = [n for n, raw in number_forms(source)
               if not ({n, n.lstrip("-"), raw} & var) and not spelled_out(n, variant)]
    return sorted(missing)[0] if missing else None


def added_number(source: str, variant: str) -> str | None:
    """The first number of the variant the source lacks, digits or spelled out (three / 三 for 3)."""
    src = numbers(source)
    extra = [n for n in numbers(variant) if n not in src and n.lstrip("-") not in src and not spelled_out(n, source)]
    return sorted(extra)[0] if extra else None


def preservation_reason(source: str, variant: str, *, numbers: bool = True) -> str | None:
    """Placeholders, URLs, e-mails, inline code and (optionally) numbers of the source must survive."""
    literal = lost_literal(source, variant)
    if literal:
        return f"lost {literal[0]} {literal[1]!r}"
    if numbers:
        missing = lost_number(source, variant)
        if missing:
            return f"lost number {missing!r}"
    return None


def spelled_out(number: str, text: str) -> bool:
    """'3' written as 'three' / '三' (or '两' for 2), '15' as 十五, '10000' as 一万: the number is kept."""
    if not number.isdigit():
        return False
    n = int(number)
    low = text.casefold()
    if n <= 20 and re.search(rf"\b{_EN_WORDS[n]}\b", low):
        return True
    zh = zh_numeral(n)
    return zh is not None and (zh in text or (n == 2 and "两" in text))


def zh_numeral(n: int) -> str | None:
    """The usual Chinese numeral of 0 <= n < 100,000,000 (15 -> 十五, 305 -> 三百零五, 10000 -> 一万), or None."""
    if n < 0 or n >= 100_000_000:
        return None
    if n <= 10:
        return _ZH_WORDS[n]
    if n < 20:
        return "十" + _ZH_WORDS[n - 10]

    def below_10k(x: int) -> str:
        out, zero = "", False
        for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = x // value % 10
            if d:
                out += ("零" if zero and out else "") + _ZH_WORDS[d] + unit
                zero = False
            else:
                zero = True
        return out

    high, low = divmod(n, 10_000)
    if not high:
        return below_10k(low)
    return below_10k(high) + "万" + (("零" if low < 1000 else "") + below_10k(low) if low else "")
