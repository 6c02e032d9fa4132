"""`qaug score`: the run's text gates and judge applied to (source, candidate) pairs made anywhere.

A pair is {"source", "candidate"} plus optional "method" (default rewrite: which gates and thresholds
apply), "answer" (the sample's answer, for the answered gate and the judge), "context" (the rest of
the prompt, e.g. an Alpaca input) and "role" (instruction, data or answer). Each scored line is the
pair plus "keep", "reasons" (every gate's reject, then the judge's; empty when kept) and "scores".
The gates and the judge are the ones `qaug run` uses: this module only feeds them pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from qaug import jsonio
from qaug.readers import BOM
from qaug.augment.catalog import registry
from qaug.augment.model_base import ModelAugmenter
from qaug.errors import ModelError, UsageError
from qaug.llm.engine import Engine, Sampling
from qaug.quality import filters, judge, support, textgates
from qaug.quality.lang import detect
from qaug.quality.textgates import GateInput, Reject

ROLES = ("instruction", "data", "answer")
BATCH = 64  # pairs judged in one engine call: enough for prefix reuse, bounded memory


@dataclass(frozen=True)
class Pair:
    """One validated input line."""

    line: int
    data: dict[str, Any]
    method: str
    gate_input: GateInput


def read_pairs(path: Path) -> list[Pair]:
    """Every pair of a JSONL file, checked; UsageError naming the first bad line (exit 2)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    reg = registry()
    pairs = []
    if raw.startswith(BOM):  # as `qaug run` reads it
        raw = raw[len(BOM):]
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path}:{n}: invalid UTF-8 at byte {exc.start}") from None
        try:
            data = jsonio.loads_exact(line)  # a key given twice is refused, as `qaug run` refuses it
        except ValueError as exc:
            raise UsageError(f"{path}:{n}: invalid JSON: {exc}") from None
        pairs.append(pair_from(data, reg, f"{path}:{n}", n))
    if not pairs:
        raise UsageError(f"{path}: no pairs (expected JSON lines with source and candidate)")
    return pairs


def pair_from(data: Any, reg: dict[str, Any], where: str, line: int = 0) -> Pair:
    """A Pair from one parsed line; UsageError saying what is wrong with it."""
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a JSON object with source and candidate")
    for key in ("source", "candidate"):
        if not isinstance(data.get(key), str):
            raise UsageError(f"{where}: '{key}' must be a string")
    for key in ("answer", "context"):
        if key in data and not isinstance(data[key], str):
            raise UsageError(f"{where}: '{key}' must be a string when given")
    method = data.get("method", "rewrite")
    cls = reg.get(method) if isinstance(method, str) else None
    if cls is None or not issubclass(cls, ModelAugmenter):
        model_methods = sorted(n for n, c in reg.items() if issubclass(c, ModelAugmenter))
        raise UsageError(f"{where}: method {method!r} has no text gates (one of: {', '.join(model_methods)})")
    role = data.get("role", "instruction")
    if role not in ROLES:
        raise UsageError(f"{where}: role must be one of {', '.join(ROLES)}, not {role!r}")
    g = GateInput(data["source"], data["candidate"], answer=data.get("answer", ""), role=role,
                  context=data.get("context", ""))
    return Pair(line, data, method, g)


def gate_pair(pair: Pair, methods: dict[str, ModelAugmenter]) -> tuple[list[Reject], dict[str, Any]]:
    """Every gate's Reject for a pair (the method's gates, then backtranslate's chrF band), and its scores."""
    aug = methods.get(pair.method)
    if aug is None:
        # pair_from lets through model methods only
        aug = methods[pair.method] = cast(ModelAugmenter, registry()[pair.method]())
    g = pair.gate_input
    rejects = aug.text_rejects(g)
    scores: dict[str, Any] = {"overlap": round(textgates.overlap(g.source, g.variant), 3),
                              "similarity": round(filters.similarity(g.source, g.variant), 3),
                              "length_ratio": round(filters.length_ratio(g.source, g.variant), 3)}
    if pair.method == "backtranslate":
        from qaug.augment.backtranslate import chrf

        score = chrf(g.variant, g.source)
        scores["chrf"] = round(score, 2)
        band = aug.chrf_reject(score)
        if band is not None:
            rejects.append(band)
    return rejects, scores


def score_pairs(pairs: Iterable[Pair], engine: Engine | None = None, sampling: Sampling | None = None,
                judge_all: bool = False, support_check: bool = False) -> Iterator[dict[str, Any]]:
    """Scored lines, in input order. With an engine, the judge (and with support_check, the support check of
    methods that have it) sees the pairs the gates kept (all pairs with judge_all, to measure each alone).

    The support check is off by default here: it was measured on the model's own variants, where it doubles
    the share of good ones kept, while on paraphrases written by people it drops most of them (BENCHMARKS.md)."""
    methods: dict[str, ModelAugmenter] = {}
    batch: list[tuple[Pair, list[Reject], dict[str, Any]]] = []

    def flush() -> Iterator[dict[str, Any]]:
        verdicts: dict[str, Any] = {}
        supported: dict[int, tuple[Reject | None, dict[str, Any]]] = {}
        if engine is not None and support_check:
            todo = [i for i, (p, rejects, _) in enumerate(batch)
                    if (judge_all or not rejects) and methods[p.method].support_check]
            try:
                found = support.check_pairs(engine, [(batch[i][0].gate_input.source, batch[i][0].gate_input.variant)
                                                     for i in todo])
                supported = dict(zip(todo, found))
            except ModelError:
                pass  # an engine that cannot score: the judge alone, as before
        if engine is not None:
            jobs = [judge.job(str(i), detect(p.gate_input.source), p.gate_input.source, p.gate_input.variant,
                              p.gate_input.answer, 0, sampling or Sampling())
                    for i, (p, rejects, _) in enumerate(batch) if judge_all or not rejects]
            verdicts = {r.job.key: r for r in engine.generate(jobs)}
        for i, (p, rejects, scores) in enumerate(batch):
            if i in supported:
                reject, scores["support"] = supported[i]
                if reject is not None:
                    rejects = [*rejects, reject]
            r = verdicts.get(str(i))
            if r is not None:
                if r.ok:
                    scores["judge"] = r.value
                    reject = judge.verdict(r.value)
                else:
                    reject = Reject("judge_error", f"judge: no verdict ({r.error})")
                if reject is not None:
                    rejects = [*rejects, reject]
            yield {**p.data, "keep": not rejects, "reasons": [{"code": x.code, "detail": x.detail} for x in rejects],
                   "scores": scores}
        batch.clear()

    for pair in pairs:
        rejects, scores = gate_pair(pair, methods)
        batch.append((pair, rejects, scores))
        if len(batch) >= BATCH:
            yield from flush()
    yield from flush()
