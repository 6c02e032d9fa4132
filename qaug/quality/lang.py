"""Script-based language identification: enough to choose a prompt language and to check a pivot hop.

Counting scripts is exact for what qaug needs (zh/ja/ko against Latin-script text) and has no
model to ship; telling en from fr/es/de uses stop-word hits, which is reliable on sentences.
"""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-zÀ-ÿ]")
_WORD = re.compile(r"[a-zà-ÿ]+")
_STOP = {
    "en": {"the", "and", "of", "to", "is", "in", "that", "for", "with", "this", "are", "be", "it", "as", "what", "how"},
    "fr": {"le", "la", "les", "et", "des", "est", "une", "un", "du", "que", "pour", "dans", "qui", "pas", "sur", "au"},
    "es": {"el", "la", "los", "las", "y", "de", "que", "es", "en", "un", "una", "por", "para", "con", "del", "se"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "mit", "den", "von", "für", "auf", "sie"},
}
NAMES = {"zh": "Chinese", "en": "English", "fr": "French", "es": "Spanish", "de": "German", "ja": "Japanese",
         "ko": "Korean"}
NAMES_ZH = {"zh": "中文", "en": "英文", "fr": "法文", "es": "西班牙文", "de": "德文", "ja": "日文", "ko": "韩文"}


def detect(text: str) -> str:
    """zh, ja, ko, en, fr, es or de; 'en' when nothing says otherwise."""
    kana, han, hangul = len(_KANA.findall(text)), len(_HAN.findall(text)), len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    if kana and kana + han >= 0.3 * (kana + han + latin):
        return "ja"
    if hangul and hangul >= 0.3 * (hangul + latin):
        return "ko"
    if han and han >= 0.2 * (han + latin):
        return "zh"
    words = _WORD.findall(text.lower())
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOP.items()}
    best = max(scores, key=lambda k: (scores[k], k == "en"))
    return best if scores[best] > 0 else "en"


def is_cjk(lang: str) -> bool:
    return lang in ("zh", "ja", "ko")
