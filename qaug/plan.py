"""What a run will do, known before any model work: records read, model units and calls per method
(the judge included), tokens, and what the cap lets through.

The CLI prints it as one line before a model run (and in full for --dry-run), so a user learns that a
run takes a night, or that the input is too small for any variant, before paying for it.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qaug import cap
from qaug.readers import InputReject
from qaug.records import Record
from qaug.rng import Rng

#: characters per token, roughly, for the prompt estimate (CJK is about one character a token)
_CHARS_PER_TOKEN = 3.5
#: the support check's instruction and system text around the two texts it scores
_SUPPORT_PROMPT_CHARS = 200
#: tokens one judge answer generates: a few booleans under the grammar
_JUDGE_TOKENS = 48
#: records planned in full for the estimate; the rest is scaled from them
SAMPLE = 256


@dataclass
class MethodPlan:
    """One method's share of the run."""

    name: str
    pure: bool
    units: int = 0
    #: model calls: the method's jobs (both hops of a back-translation), then the judge's, one per variant
    calls: int = 0
    judge_calls: int = 0
    #: teacher-forced scorings of the support check (two per variant): prompt evaluation only, no generation
    support_scorings: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class RunPlan:
    """The whole run, as the CLI shows it."""

    records: int
    rejects: int
    ratio: float
    cap_allows: int | None
    methods: list[MethodPlan] = field(default_factory=list)
    formats: Counter = field(default_factory=Counter)

    @property
    def model_calls(self) -> int:
        return sum(m.calls + m.judge_calls for m in self.methods)

    @property
    def tokens(self) -> tuple[int, int]:
        return (sum(m.prompt_tokens for m in self.methods), sum(m.completion_tokens for m in self.methods))


def too_small_note(records: int, ratio: float) -> str | None:
    """The note for an input that the cap allows no variant at all, or None."""
    if records == 0 or cap.max_variants(records, ratio) > 0:
        return None
    need = cap.records_needed(ratio)
    return (f"note: {records:,} record{'' if records == 1 else 's'} allow{'s' if records == 1 else ''} "
            f"no variant at --max-aug-ratio {ratio:g} "
            f"(a variant needs at least {need:,} originals); no model work will be done. "
            f"Raise --max-aug-ratio (e.g. 0.5) or give more records")


def make_plan(items: Iterable[Record | InputReject], augmenters: Sequence[Any], ratio: float, variants: int,
              seed: int, verify: bool, max_tokens: int = 512) -> RunPlan:
    """Count the records (streaming), and for each model method plan its jobs as a run would, without a
    model, on a seeded sample of the records, scaled to the units the run computes: calls and prompt size
    are those of the prompts themselves, generated tokens are bounded by each job's budget. Under the cap
    a model method is planned only for its share of what the cap lets through."""
    from qaug.sample import Reservoir

    reservoir: Reservoir[Record] = Reservoir(SAMPLE, seed)
    records = rejects = 0
    formats: Counter = Counter()
    for item in items:
        if isinstance(item, Record):
            records += 1
            formats[item.fmt] += 1
            reservoir.add(item)
        else:
            rejects += 1
    sample = reservoir.items()
    allows = None if ratio >= 1.0 else cap.max_variants(records, ratio)
    plan = RunPlan(records, rejects, ratio, allows, formats=formats)
    total_units = records * variants
    quota = cap.share_out(min(allows, total_units * len(augmenters)), [0] * len(augmenters)) \
        if allows is not None else [total_units] * len(augmenters)
    for aug, q in zip(augmenters, quota):
        mp = MethodPlan(aug.name, aug.pure, units=total_units)
        plan.methods.append(mp)
        if aug.pure or not sample:
            continue
        units = [(rec, Rng.for_unit(seed, rec.id, aug.name, k)) for rec in sample for k in range(variants)]
        live = _plan_model(aug, units, mp, verify, max_tokens)
        if allows is None:  # every unit is computed: the sample's calls and tokens per unit, times all units
            scale = total_units / len(units)
        else:  # the cap's share goes to units the method applies to (qaug.cap.RunCap.plan_units)
            mp.units = round(min(q, total_units * live / len(units)))
            scale = mp.units / live if live else 0.0
        mp.calls, mp.judge_calls = round(mp.calls * scale), round(mp.judge_calls * scale)
        mp.support_scorings = round(mp.support_scorings * scale)
        mp.prompt_tokens, mp.completion_tokens = round(mp.prompt_tokens * scale), round(mp.completion_tokens * scale)
    return plan


def _plan_model(aug: Any, units: list[tuple[Record, Rng]], mp: MethodPlan, verify: bool, max_tokens: int) -> int:
    """The method's own planning, job by job: calls and prompt characters, without an engine; returns how many
    units it applies to (not skipped)."""
    hops = 2 if aug.name == "backtranslate" else 1  # the second hop is planned from the first's answers
    live = 0
    for i, unit in enumerate(aug.units(units)):
        if unit.skip is not None:
            continue
        try:
            aug.plan(unit, i)
        except Exception:  # noqa: BLE001 - a unit the run would report as a failure costs nothing here
            continue
        if unit.skip is not None:
            continue
        live += 1
        for job in unit.jobs:
            chars = sum(len(m.get("content", "")) for m in job.messages)
            budget = min(job.sampling.max_tokens, max_tokens)
            mp.calls += hops
            mp.prompt_tokens += hops * math.ceil(chars / _CHARS_PER_TOKEN)
            mp.completion_tokens += hops * budget
        if verify and getattr(aug, "verifiable", False) and unit.jobs:
            judged = _variants_per_unit(aug, unit.lang)  # the judge answers once per variant: at most this many
            mp.judge_calls += judged
            source = sum(len(t) for _, t in unit.texts)
            mp.prompt_tokens += judged * math.ceil((600 + 3 * source) / _CHARS_PER_TOKEN)
            mp.completion_tokens += judged * _JUDGE_TOKENS
            if getattr(aug, "support_check", False):  # the source given the variant, the variant given the source
                mp.support_scorings += 2 * judged
                mp.prompt_tokens += 2 * judged * math.ceil((_SUPPORT_PROMPT_CHARS + 2 * source) / _CHARS_PER_TOKEN)
    return live


def _variants_per_unit(aug: Any, lang: str) -> int:
    """The most variants one unit of a model method gives: n paraphrases, one per pivot or per persona."""
    params = aug.params()
    if isinstance(params.get("n"), int):
        return params["n"]
    if aug.name == "backtranslate":
        return max(1, len(aug._pivots(lang)))
    if isinstance(params.get("personas"), tuple):
        return max(1, len(params["personas"]))
    return 1


def seconds_for(plan: RunPlan, seconds_per_call: float | None) -> float | None:
    """Expected model seconds at a measured speed (model seconds per computed answer), or None."""
    if not seconds_per_call or not plan.model_calls:
        return None
    return plan.model_calls * seconds_per_call


#: the probe's prompt: about as long as a method's request, so its prompt speed is the one a run sees
_PROBE_TEXT = ("Rewrite the following instruction in three different ways, keeping every detail: Extract the company "
               "name, fiscal year, revenue, revenue growth, operating income (current and prior year), headcount "
               "and number of countries from the press release below, and return a single JSON object with amounts "
               "in millions of USD. Keep the units, keep the field order, and do not add fields of your own.")
_PROBE_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
                 "additionalProperties": False}


@dataclass(frozen=True)
class SpeedProbe:
    """Single-stream prompt and generation speed of a model, measured now in a few seconds."""

    prompt_tps: float
    generate_tps: float

    def seconds(self, plan: RunPlan) -> float | None:
        """At most this many model seconds for the plan: every call generating its whole budget, one at a time."""
        prompt, completion = plan.tokens
        if not plan.model_calls or self.prompt_tps <= 0 or self.generate_tps <= 0:
            return None
        return prompt / self.prompt_tps + completion / self.generate_tps


def probe_speed(engine: Any, new_tokens: int = 32) -> SpeedProbe:
    """Time one prompt alone (1 token generated) and another of the same length with `new_tokens` generated,
    bypassing any cache and any shared prompt prefix, so --dry-run can give a time before this model's first
    run has recorded one."""
    from qaug.llm.engine import Job, Sampling

    inner = getattr(engine, "inner", engine)  # a cached engine would answer from the cache, timing nothing

    def timed(first: str, max_tokens: int) -> tuple[float, int, int]:
        # the system texts differ from their first word on, so the second prompt reuses nothing of the first
        msgs = ({"role": "system", "content": f"{first} You rewrite instructions."},
                {"role": "user", "content": _PROBE_TEXT})
        job = Job("speed-probe", msgs, _PROBE_SCHEMA, seed=1, sampling=Sampling(max_tokens=max_tokens))
        t0 = time.perf_counter()
        result = next(iter(inner.generate([job])))
        return time.perf_counter() - t0, result.prompt_tokens, result.completion_tokens

    attempts = inner.max_attempts
    inner.max_attempts = 1  # the 1-token answer is cut off by design: no retry
    try:
        alone, prompt_tokens, _ = timed("Briefly.", 1)
        both, _, generated = timed("Carefully.", new_tokens)
    finally:
        inner.max_attempts = attempts
    generating = both - alone
    if generating < 0.1 * both:  # within the noise of the prompt's own time (a tiny model): the whole second call
        generating = both
    return SpeedProbe(prompt_tokens / max(alone, 1e-6), max(generated - 1, 1) / max(generating, 1e-6))


def plan_line(plan: RunPlan, seconds: float | None = None) -> str:
    """One line: records, model calls and the cap, with an ETA where a speed is known."""
    model = [m for m in plan.methods if not m.pure]
    parts = [f"plan: {plan.records:,} record{'' if plan.records == 1 else 's'}"]
    if model:
        per = ", ".join(f"{m.name} {m.calls:,}" + (f" + judge {m.judge_calls:,}" if m.judge_calls else "")
                        + (f" + {m.support_scorings:,} support scorings" if m.support_scorings else "")
                        for m in model)
        prompt, completion = plan.tokens
        parts.append(f"{counted(plan.model_calls, 'model call')} ({per}), about {prompt:,} prompt + up to "
                     f"{completion:,} generated tokens before retries")
    if plan.cap_allows is not None:
        parts.append(f"the cap (--max-aug-ratio {plan.ratio:g}) lets through at most "
                     f"{counted(plan.cap_allows, 'variant')}")
    if seconds is not None:
        parts.append(f"ETA {format_seconds(seconds)} at the measured speed")
    elif model:
        parts.append("no measured speed for this model yet (a run records it)")
    return "; ".join(parts)


def counted(n: int, noun: str) -> str:
    """'1 variant', '2 variants', '1,024 model calls'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def format_seconds(seconds: float) -> str:
    """3 min, 2.5 h: the scale a person plans by."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
