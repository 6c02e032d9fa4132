"""Model augmenters: a method defines its prompts, answer schema and how answers become variants.

The base does the rest once for every method: language choice, messages from the prompt data
files, job seeds from (run seed, record id, method, variant index), one engine call for a whole
window of records, and the text gates every model variant passes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from qaug.augment.base import Augmenter, Failure, Outcome, Param, Skip, Variant
from qaug.errors import ModelError, UsageError
from qaug.llm.engine import Engine, Job, Result, Sampling
from qaug.quality import judge, support, textgates
from qaug.llm.prompts import Messages, chat
from qaug.quality.lang import detect
from qaug.quality.terms import must_keep
from qaug.quality.textgates import GateInput, GateSettings, Reject
from qaug import jsonio
from qaug.records import FieldPath, Record, answer_to, context_of, text_role, with_texts
from qaug.rng import Rng

#: the answer of every translation job (translate, and both hops of backtranslate)
TRANSLATION_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["translation"],
    "properties": {"translation": {"type": "string", "minLength": 1}},
}

GATE_PARAMS = (
    Param("min_len_ratio", float, 0.3, "shortest variant, as a share of the source length", min=0.0),
    Param("max_len_ratio", float, 3.0, "longest variant, as a multiple of the source length", min=0.1),
    Param("max_similarity", float, 0.85, "reject variants whose character 3-gram overlap with the source or a sibling "
          "is above this", min=0.0, max=1.0),
    Param("min_overlap", float, 0.15, "reject variants whose content overlap with the source (Dice of CJK "
          "characters and English word stems, function words out) is below this: off-topic output", min=0.0, max=1.0),
)


@dataclass
class Unit:
    """One (record, variant index) of a window, with the jobs planned for it."""

    record: Record
    rng: Rng
    texts: list[tuple[FieldPath, str]]
    lang: str
    jobs: list[Job]
    skip: Outcome | None = None
    #: the unit's place in its window (job keys start with it)
    index: int = -1


class ModelAugmenter(Augmenter):
    """Base for methods whose variants come from the model engine."""

    pure = False
    default_fields = "prompt"
    #: which prompt file and whether numbers must survive the method (False for methods that change them)
    prompt_name = ""
    keep_numbers = True

    #: whether a variant must stay in its source's language (False for translation)
    same_language = True
    #: the text gates (qaug.quality.textgates.GATES) every variant text passes, in order
    gates: tuple[str, ...] = textgates.REWRITE_GATES
    #: whether --verify can judge this method's variants against their source (same fields, same meaning)
    verifiable = True
    #: whether --verify also runs the model support check (qaug.quality.support): for methods whose variant must
    #: carry every word of its source and add none (a paraphrase), measured on labelled output before it is turned on
    support_check = False

    def setup(self) -> None:
        self.engine: Engine | None = None
        self.sampling = Sampling()
        self.verify = False
        self.judge_usage: Counter = Counter()

    def bind(self, engine: Engine, sampling: Sampling | None = None, verify: bool = False) -> None:
        """Attach the run's engine; the pipeline does this before the first window."""
        self.engine, self.sampling, self.verify = engine, sampling or Sampling(), verify

    # -- prompts ---------------------------------------------------------------------------
    def messages(self, lang: str, prompt: str | None = None, **fields: Any) -> Messages:
        return chat(prompt or self.prompt_name, lang, **fields)

    def job(self, key: str, messages: tuple[dict[str, str], ...], schema: dict[str, Any], rng: Rng,
            max_tokens: int | None = None, tag: tuple[Any, ...] = ()) -> Job:
        """A job of this method; `tag` routes its result back (which text, pivot, kind), outside the key."""
        sampling = self.sampling
        if max_tokens is not None and max_tokens < sampling.max_tokens:
            from dataclasses import replace

            sampling = replace(sampling, max_tokens=max_tokens)
        return Job(key=key, messages=messages, schema=schema, seed=rng.next64() & 0x7FFFFFFF, sampling=sampling,
                   tag=tag)

    # -- planning and building, per method -------------------------------------------------
    def plan(self, unit: Unit, index: int) -> None:
        """Fill unit.jobs (or unit.skip) for one record."""
        raise NotImplementedError

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        """Turn the unit's results into variants or failures."""
        raise NotImplementedError

    def one_answer(self, unit: Unit, results: dict[str, Result]) -> Result | Failure:
        """The result of a unit planned as one job, or that job's failure."""
        result = results.get(unit.jobs[0].key)
        if result is None or not result.ok:
            return failure_of(result)
        return result

    def answers(self, unit: Unit, results: dict[str, Result], field: str) -> list[Any] | Failure:
        """`field` of each of the unit's answers, in job order, or the first job's failure."""
        out = []
        for job in unit.jobs:
            result = results.get(job.key)
            if result is None or not result.ok:
                return failure_of(result)
            out.append(result.value[field])
        return out

    def run_jobs(self, jobs: Sequence[Job]) -> dict[str, Result]:
        if self.engine is None:
            raise UsageError(f"{self.name} needs a model (pass --gguf or see `qaug models`)")
        return {r.job.key: r for r in self.engine.generate(jobs)}

    def augment(self, record: Record, rng: Rng) -> Any:
        return iter(self.augment_many([(record, rng)])[0])

    def units(self, units: Sequence[tuple[Record, Rng]]) -> list[Unit]:
        """Units with their selected texts and language; Skip those with nothing to work on."""
        planned = []
        for record, rng in units:
            texts = record.texts(self.fields_for(record))
            unit = Unit(record, rng, texts, detect(" ".join(t for _, t in texts)) if texts else "en", [])
            if not texts:
                unit.skip = Skip("no text in the selected fields")
            planned.append(unit)
        return planned

    def applies(self, record: Record) -> bool:
        """Planned without the model (prompts built, nothing asked): a record this method skips is not one the cap
        should spend its model work on."""
        (unit,) = self.units([(record, Rng(0))])
        self.plan_all([unit], self.plan)
        return unit.skip is None

    def produce(self, planned: list[Unit]) -> list[list[Outcome]]:
        """One engine call for the whole window's jobs; methods with several hops override this.

        A bug in one unit's plan or build becomes that unit's Failure; the other units go on.
        """
        self.plan_all(planned, self.plan)
        results = self.run_jobs([j for u in planned if u.skip is None for j in u.jobs])
        return [[u.skip] if u.skip is not None else self._build_guarded(u, results) for u in planned]

    def plan_all(self, planned: list[Unit], stage: Callable[[Unit, int], None]) -> None:
        """Run one planning stage over every unit still live; a bug in one unit skips that unit alone."""
        for i, unit in enumerate(planned):
            unit.index = i
            if unit.skip is None:
                try:
                    stage(unit, i)
                except (UsageError, KeyboardInterrupt):
                    raise
                except Exception as exc:  # noqa: BLE001 - reported per unit, with its type
                    unit.jobs.clear()
                    unit.skip = self._internal(exc)

    def _build_guarded(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        try:
            return self.build(unit, results)
        except (UsageError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001
            return [self._internal(exc)]

    def _internal(self, exc: Exception) -> Failure:
        return Failure(f"internal error in {self.name}: {type(exc).__name__}: {exc}", code="internal_error")

    def augment_many(self, units: Sequence[tuple[Record, Rng]]) -> list[list[Outcome]]:
        planned = self.units(units)
        try:
            outcomes = self.produce(planned)
        except UsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in one method must not end the run; it is reported
            return [[self._internal(exc)] for _ in planned]
        if self.verify and self.verifiable:
            outcomes = self.verify_outcomes(planned, outcomes)
        return outcomes

    # -- the judge --------------------------------------------------------------------------
    def verify_outcomes(self, planned: list[Unit], outcomes: list[list[Outcome]]) -> list[list[Outcome]]:
        """The model judges each variant that passed the gates (qaug.quality.judge); a verdict against it
        rejects it with the judge's code, and every kept variant carries the judge's answers.

        Judge jobs are greedy with a fixed seed, so adding the judge to a finished run finds the method's
        own answers in the cache and computes only the judge's.
        """
        checked = self.support_outcomes(planned, outcomes)
        jobs, where = [], {}
        for u_i, unit, o_i, source, variant_text in self._verifiable(planned, checked):
            key = f"judge/{u_i}/{o_i}"
            answer = answer_to(unit.record, unit.texts[0][0])
            jobs.append(judge.job(key, unit.lang, source, variant_text, answer, 0, self.sampling))
            where[key] = (u_i, o_i)
        t0 = time.perf_counter()
        results = self.run_jobs(jobs)
        if jobs:
            self.judge_usage["seconds_ms"] += int((time.perf_counter() - t0) * 1000)
        for key, (u_i, o_i) in where.items():
            r = results.get(key)
            variant = checked[u_i][o_i]
            assert isinstance(variant, Variant)
            if r is not None:
                self.judge_usage.update({"jobs": 1, "prompt_tokens": r.prompt_tokens, "cached": int(r.cached),
                                         "completion_tokens": r.completion_tokens})
            if r is None or not r.ok:
                checked[u_i][o_i] = Failure(f"judge: no verdict ({r.error if r else 'no result'})", stage="verify",
                                            text=jsonio.dumps_str(variant.data), code="judge_error")
                continue
            reject = judge.verdict(r.value)
            if reject is not None:
                checked[u_i][o_i] = Failure(reject.detail, stage="verify", text=jsonio.dumps_str(variant.data),
                                            code=reject.code)
                continue
            checked[u_i][o_i] = Variant(variant.data, {**variant.info, "judge": r.value}, score=variant.score,
                                        review=variant.review)
        return checked

    @staticmethod
    def _verifiable(planned: list[Unit], outcomes: list[list[Outcome]]) -> Iterator[tuple[int, Unit, int, str, str]]:
        """(unit index, unit, outcome index, source text, variant text) of every variant still kept."""
        for u_i, (unit, outs) in enumerate(zip(planned, outcomes)):
            if not unit.texts:
                continue
            source = "\n".join(t for _, t in unit.texts)
            for o_i, out in enumerate(outs):
                if isinstance(out, Variant):
                    yield u_i, unit, o_i, source, "\n".join(text_at(out.data, p) for p, _ in unit.texts)

    def support_outcomes(self, planned: list[Unit], outcomes: list[list[Outcome]]) -> list[list[Outcome]]:
        """The model's support check (qaug.quality.support) on each variant that passed the gates: a source
        word the variant does not carry, or a word it adds, rejects it before the judge is asked.

        An engine that cannot score (a scripted engine in tests) skips the check and says so in the usage."""
        checked = [list(outs) for outs in outcomes]
        todo = list(self._verifiable(planned, checked))
        if not todo or not self.support_check:
            return checked
        t0 = time.perf_counter()
        try:
            # variants are the engine's answers, so it is bound here
            verdicts = support.check_pairs(cast(Engine, self.engine), [(src, var) for _, _, _, src, var in todo])
        except ModelError:
            self.judge_usage["support_unavailable"] += len(todo)
            return checked
        self.judge_usage["support_pairs"] += len(todo)
        self.judge_usage["support_seconds_ms"] += int((time.perf_counter() - t0) * 1000)
        for (u_i, _, o_i, _, _), (reject, _summary) in zip(todo, verdicts):
            if reject is not None:
                variant = checked[u_i][o_i]
                assert isinstance(variant, Variant)
                checked[u_i][o_i] = Failure(reject.detail, stage="verify", text=jsonio.dumps_str(variant.data),
                                            code=reject.code)
        return checked

    def take_judge_usage(self) -> Counter:
        """The judge's jobs, tokens and milliseconds since the last call (the pipeline adds them to the report)."""
        usage, self.judge_usage = self.judge_usage, Counter()
        return usage

    # -- shared gates ----------------------------------------------------------------------
    def gate_settings(self) -> GateSettings:
        """The gate thresholds from this method's parameters (a method without one keeps the default)."""
        p = self._params
        d = GateSettings()
        return GateSettings(min_len_ratio=p.get("min_len_ratio", d.min_len_ratio),
                            max_len_ratio=p.get("max_len_ratio", d.max_len_ratio),
                            max_similarity=p.get("max_similarity", d.max_similarity),
                            min_overlap=p.get("min_overlap", d.min_overlap),
                            keep_numbers=self.keep_numbers, same_language=self.same_language)

    def gate_input(self, record: Record, path: FieldPath, source: str, variant: str,
                   siblings: Sequence[str]) -> GateInput:
        """What the gates see of one text: its role in the sample, the sample's answer and the prompt's rest."""
        return GateInput(source, variant, answer=answer_to(record, path), siblings=tuple(siblings),
                         role=text_role(record, path), context=context_of(record, path))

    def text_gate(self, g: GateInput) -> Reject | None:
        """The first gate that rejects the variant text, or None; methods add checks through extra_gate."""
        return textgates.check(g, self.gate_settings(), self.gates) or self.extra_gate(g)

    def text_rejects(self, g: GateInput) -> list[Reject]:
        """Every gate's Reject of a variant text, extra_gate's last: what `qaug score` reports."""
        rejects = textgates.all_rejects(g, self.gate_settings(), self.gates)
        extra = self.extra_gate(g)
        return rejects + [extra] if extra is not None else rejects

    def keep_list(self, text: str, lang: str) -> str:
        """The prompt's "must keep" line: what the gates will check (terms.must_keep), or a dash for none."""
        return ", ".join(must_keep(text)) or ("（无）" if lang == "zh" else "-")

    def extra_gate(self, g: GateInput) -> Reject | None:
        """A method's own check after the shared gates (word overlap for synonym, step order for steps)."""
        return None

    def variant_from(self, unit: Unit, replacements: list[str], info: dict[str, Any],
                     siblings: dict[int, list[str]]) -> Outcome:
        """A variant replacing each selected text with its counterpart, after every text passes the gates."""
        changes: dict[FieldPath, str] = {}
        for k, ((path, source), new) in enumerate(zip(unit.texts, replacements)):
            reject = self.text_gate(self.gate_input(unit.record, path, source, new, siblings.setdefault(k, [])))
            if reject is not None:
                return Failure(reject.detail, stage="gate", text=new, code=reject.code)
            changes[path] = new
        for k, new in enumerate(replacements):
            siblings[k].append(new)
        return Variant(with_texts(unit.record.data, changes), info=info)


def text_at(data: Any, path: FieldPath) -> str:
    """The text at a record path (as produced by Record.texts), or "" when the variant has none there."""
    node = data
    try:
        for step in path:
            node = node[step]
    except (KeyError, IndexError, TypeError):
        return ""
    return node if isinstance(node, str) else ""


def failure_of(result: Result | None) -> Failure:
    if result is None:
        return Failure("no result from the engine", stage="model", code="model_error")
    return Failure(result.error or "model failed", stage="model", text=result.text or None, code="model_error")
