"""The figures out.report.html charts, gathered while the run writes its lines.

Reading the whole output again at the end cost seconds per 100k records, most of it spent on
bigram sets. Instead the pipeline hands each written variant and each reject to `Measures`:
counts (judge verdicts, chrF) are kept for every one, while the per-variant measures (length
ratio, similarity, distinct-2) keep only an evenly spread sample of each method's variants,
every `stride`-th, at most `cap` of them (the stride doubles when the sample fills), and are
computed once, on that sample, when the page is drawn. Memory is bounded by `cap` lines per
method, and the sample depends only on the order of the lines, so `from_files` rebuilds exactly
the same state from a run's output and rejects (used on --resume, and for a finished run).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLE = 500  # variants per method kept for the per-variant measures: ~0.1 ms each when the page is drawn
BINS = 20
_CHRF = re.compile(r"chrF (\d+(?:\.\d+)?)")
_KEY = b'"_qaug":'
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", re.S)
_RECENT = 4096  # originals remembered while rebuilding, to find a variant's source


def _strings(value: Any, path: str = "") -> dict[str, str]:
    """Every string of a record by its path, `_qaug` left out: what a method may have changed."""
    if isinstance(value, str):
        return {path: value}
    if isinstance(value, dict):
        return {p: s for k, v in value.items() if k != "_qaug" for p, s in _strings(v, f"{path}/{k}").items()}
    if isinstance(value, list):
        return {p: s for n, v in enumerate(value) for p, s in _strings(v, f"{path}/{n}").items()}
    return {}


def _bigrams(text: str) -> set[tuple[str, str]]:
    text = " ".join(text.split())
    return set(zip(text, text[1:]))  # each character with the next: twice as fast as slicing pairs out


def similarity(a: str, b: str) -> float:
    """Dice of character bigrams: cheap enough for every sampled variant, and language-neutral."""
    x, y = _bigrams(a), _bigrams(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x or y else 1.0


def to_bin(x: float) -> int:
    """The bin of x in [0, 1) over BINS fixed bins (values outside go to the end bins)."""
    return min(BINS - 1, max(0, int(x * BINS)))


@dataclass
class Sampled:
    """The per-variant measures of one method, computed on its sample."""

    ratio: list[int] = field(default_factory=lambda: [0] * BINS)
    sim: list[int] = field(default_factory=lambda: [0] * BINS)
    grams: int = 0  # distinct word bigrams of the sampled variants' changed text
    gram_total: int = 0
    n: int = 0  # variants in the sample
    stride: int = 1  # every stride-th written variant of the method is in the sample

    @property
    def distinct2(self) -> float:
        """Distinct word bigrams over all word bigrams of the sample (0 when it has none)."""
        return self.grams / self.gram_total if self.gram_total else 0.0


class Measures:
    """Per-method counts and an evenly spread, bounded sample of variants, fed line by line."""

    def __init__(self, cap: int | None = None) -> None:
        self.cap = cap if cap is not None else SAMPLE
        self.seen: Counter[str] = Counter()  # variants written per method
        self.stride: dict[str, int] = {}
        self.kept: dict[str, list[tuple[int, bytes, bytes | None]]] = defaultdict(list)  # (index, variant, source)
        self.chrf_kept = [0] * BINS
        self.chrf_rejected = [0] * BINS
        self.judge_flags: Counter[str] = Counter()
        self.judged = 0
        self.judge_codes: Counter[str] = Counter()

    def variant(self, method: str, data: bytes, source: bytes | None, info: dict[str, Any] | None) -> None:
        """A variant as written: its record's serialisation (no `_qaug`), its source's (None when
        originals are not written), and its `info`. Cheap unless it joins the sample."""
        if info:
            judge = info.get("judge")
            if isinstance(judge, dict):
                self.judged += 1
                self.judge_flags.update(k for k, v in judge.items() if v is True and k != "same_meaning")
            chrf = info.get("chrf")
            if isinstance(chrf, (int, float)) and not isinstance(chrf, bool):
                self.chrf_kept[to_bin(chrf / 100)] += 1
        i = self.seen[method]
        self.seen[method] = i + 1
        stride = self.stride.get(method, 1)
        if i % stride:
            return
        kept = self.kept[method]
        kept.append((i, data, source))
        if len(kept) > self.cap:
            stride *= 2
            self.stride[method] = stride
            self.kept[method] = [k for k in kept if k[0] % stride == 0]

    def reject(self, code: str, reason: str) -> None:
        """A variant reject: judge verdicts and the chrF band's rejects are charted."""
        if code.startswith("judge_"):
            self.judge_codes[code] += 1
        elif code.startswith("chrf_"):
            m = _CHRF.search(reason)
            if m:
                self.chrf_rejected[to_bin(float(m.group(1)) / 100)] += 1

    def sampled(self, method: str) -> Sampled:
        """Length ratio and similarity histograms and distinct-2 over the method's sample."""
        out = Sampled(stride=self.stride.get(method, 1))
        grams: set[tuple[str, str]] = set()
        for _, data, src in self.kept.get(method, ()):
            try:
                texts = _strings(json.loads(data))
                source = _strings(json.loads(src)) if src is not None else None
            except (ValueError, TypeError):
                continue
            out.n += 1
            changed = [(source.get(p, "") if source else "", t) for p, t in texts.items()
                       if source is None or source.get(p) != t]
            new = " ".join(t for _, t in changed)
            toks = _TOKEN.findall(new.casefold())
            grams.update(zip(toks, toks[1:]))
            out.gram_total += max(0, len(toks) - 1)
            if source is not None and changed:
                old = " ".join(s for s, _ in changed)
                if old:
                    out.ratio[to_bin(len(new) / len(old) / 3)] += 1  # 0..3x
                out.sim[to_bin(similarity(old, new))] += 1
        out.grams = len(grams)
        return out

    @classmethod
    def from_files(cls, output: Path, rejects: Path, cap: int | None = None) -> "Measures":
        """The state the run's feeding would have built, read back from its output and rejects."""
        m = cls(cap)
        if output.exists():
            recent: dict[str, bytes] = {}
            with open(output, "rb") as fh:
                for line in fh:
                    try:
                        m._line(line, recent)
                    except (ValueError, TypeError, AttributeError):
                        pass  # a line that is not one qaug wrote (or a JSON array's framing): nothing to measure
        if rejects.exists():
            with open(rejects, "rb") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict):
                        m.reject(str(rec.get("code") or ""), str(rec.get("reason") or ""))
        return m

    def _line(self, line: bytes, recent: dict[str, bytes]) -> None:
        line = line.rstrip(b" \t\r\n,")  # a line of an -o out.json array ends in a comma
        pos = line.rfind(_KEY)
        if pos < 0:
            return
        q = json.loads(line[pos + len(_KEY):-1])
        body = line[:pos].rstrip(b",") + b"}"
        if q.get("method") == "original":
            recent[str(q.get("id"))] = body
            if len(recent) > _RECENT:
                del recent[next(iter(recent))]
            return
        try:
            info = json.loads(q.get("info") or "{}")
        except ValueError:
            info = {}
        self.variant(str(q.get("method")), body, recent.get(str(q.get("parent"))),
                     info if isinstance(info, dict) else None)
