"""`backtranslate`: source -> pivot -> source, one variant per pivot language.

Each hop is its own schema-constrained call; the pivot text and language stay in provenance,
and each hop must really be in the language it claims.
"""

from __future__ import annotations

from qaug.augment.base import Failure, Outcome, Param, Skip, Variant
from qaug.augment.registry import register
from qaug.augment.model_base import GATE_PARAMS, TRANSLATION_SCHEMA, ModelAugmenter, Unit, failure_of
from qaug.llm.engine import Job, Result
from qaug.errors import UsageError
from qaug.quality.lang import NAMES, detect
from qaug.quality import textgates
from qaug.quality.textgates import Reject
from qaug.rng import Rng

def chrf(hypothesis: str, reference: str) -> float:
    """sacrebleu's sentence chrF (character n-grams, so it works for Chinese), 0..100."""
    from sacrebleu.metrics import CHRF

    return float(CHRF().sentence_score(hypothesis, [reference]).score)



@register
class BackTranslate(ModelAugmenter):
    name = "backtranslate"
    description = "round trip through pivot languages (zh->en->zh, en->zh->en; --param backtranslate.pivots=fr,de,ja)"
    prompt_name = "backtranslate"
    gates = textgates.PARAPHRASE_GATES
    support_check = True  # the round trip must carry every word of its source and add none
    PARAMS = (
        Param("pivots", tuple, (), "pivot languages (default: en for Chinese sources, zh otherwise)"),
        Param("min_chrf", float, 15.0, "reject round trips that drifted below this chrF to the source", min=0, max=100),
        Param("max_chrf", float, 92.0, "reject round trips above this chrF: near-copies teach nothing", min=0, max=100),
    ) + GATE_PARAMS

    def setup(self) -> None:
        super().setup()
        unknown = [p for p in self.pivots if p not in NAMES]
        if unknown:  # found before the model loads, not after every round trip failed
            raise UsageError(f"backtranslate.pivots: unknown language {', '.join(map(repr, unknown))} "
                             f"(known: {', '.join(NAMES)})")

    def _pivots(self, lang: str) -> list[str]:
        pivots = [p for p in self.pivots if p != lang] if self.pivots else ["en" if lang == "zh" else "zh"]
        return pivots

    def _translate_job(self, key: str, text: str, source: str, target: str, rng: Rng,
                       tag: tuple[int, int]) -> Job:
        msgs = self.messages(source, text=text, source=source, target=target)
        budget = min(self.sampling.max_tokens, 48 + 3 * len(text))
        return self.job(key, msgs, TRANSLATION_SCHEMA, rng, max_tokens=budget, tag=tag)

    def plan(self, unit: Unit, index: int) -> None:
        """The first hop: every selected text into every pivot (a skip where the only pivots are its language)."""
        if not self._pivots(unit.lang):
            unit.skip = Skip(f"the record is in {unit.lang}, the only pivot language given "
                             f"(backtranslate.pivots={','.join(self.pivots)})", code="pivot_is_source")
            return
        for p, pivot in enumerate(self._pivots(unit.lang)):
            for k, (_, text) in enumerate(unit.texts):
                unit.jobs.append(self._translate_job(f"{index}/{p}/{k}/out", text, unit.lang, pivot, unit.rng, (p, k)))

    def produce(self, planned: list[Unit]) -> list[list[Outcome]]:
        """Two stages with the same per-unit guard: out to each pivot, then back from each hop that worked."""
        self.plan_all(planned, self.plan)
        results = self.run_jobs([j for u in planned if u.skip is None for j in u.jobs])
        back_jobs: list[Job] = []

        def plan_back(unit: Unit, index: int) -> None:
            jobs = []
            for job in unit.jobs:
                r = results.get(job.key)
                if r is not None and r.ok:
                    p, k = job.tag
                    pivot = self._pivots(unit.lang)[p]
                    jobs.append(self._translate_job(f"{index}/{p}/{k}/back", r.value["translation"], pivot,
                                                    unit.lang, unit.rng, (p, k)))
            back_jobs.extend(jobs)

        self.plan_all(planned, plan_back)
        results.update(self.run_jobs(back_jobs))
        return [[u.skip] if u.skip is not None else self._build_guarded(u, results) for u in planned]

    def chrf_reject(self, score: float) -> Reject | None:
        """A round trip's chrF to its source outside [min_chrf, max_chrf]: drifted, or a near-copy (qaug score too)."""
        if score < self.min_chrf:
            return Reject("chrf_low", f"round trip drifted: chrF {score:.1f} below {self.min_chrf:g}")
        if score > self.max_chrf:
            return Reject("chrf_high", f"round trip is a near-copy: chrF {score:.1f} above {self.max_chrf:g}")
        return None

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        """One variant per pivot: the round trip of every text, checked for language and drift."""
        i = unit.index
        out: list[Outcome] = []
        siblings: dict[int, list[str]] = {}
        for p, pivot in enumerate(self._pivots(unit.lang)):
            pivots, backs = [], []
            failed: Outcome | None = None
            for k in range(len(unit.texts)):
                r1, r2 = results.get(f"{i}/{p}/{k}/out"), results.get(f"{i}/{p}/{k}/back")
                if r1 is None or not r1.ok:
                    failed = failure_of(r1)
                    break
                got = detect(r1.value["translation"])
                if got != pivot:
                    failed = Failure(f"pivot hop is in {got}, not {pivot}", stage="gate", text=r1.value["translation"],
                                     code="pivot_language")
                    break
                if r2 is None or not r2.ok:
                    failed = failure_of(r2)
                    break
                back = r2.value["translation"]
                if detect(back) != unit.lang:
                    failed = Failure(f"back-translation is in {detect(back)}, not {unit.lang}", stage="gate", text=back,
                                     code="language_changed")
                    break
                pivots.append(r1.value["translation"])
                backs.append(back)
            if failed is not None:
                out.append(failed)
                continue
            score = round(sum(chrf(b, t) for b, (_, t) in zip(backs, unit.texts)) / len(backs), 2)
            band = self.chrf_reject(score)
            if band is not None:
                out.append(Failure(band.detail, stage="gate", text=backs[0], code=band.code))
                continue
            variant = self.variant_from(unit, backs, {"pivot_lang": pivot, "pivot": pivots, "lang": unit.lang,
                                                      "chrf": score}, siblings)
            if isinstance(variant, Variant):
                variant = Variant(variant.data, variant.info, score=score / 20.0)
            out.append(variant)
        return out
