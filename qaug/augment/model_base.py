"""Model augmenters: a method defines its prompts, answer schema and how answers become variants.

The base does the rest once for every method: language choice, messages from the prompt data
files, job seeds from (run seed, record id, method, variant index), one engine call for a whole
window of records, and the text gates every model variant passes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from qaug.augment.base import Augmenter, Failure, Outcome, Param, Skip, Variant
from qaug.errors import UsageError
from qaug.llm.engine import Engine, Job, Result, Sampling
from qaug.quality import filters
from qaug.quality.lang import NAMES, NAMES_ZH, detect
from qaug import jsonio
from qaug.records import Path, Record, with_texts
from qaug.rng import Rng

GATE_PARAMS = (
    Param("min_len_ratio", float, 0.3, "shortest variant, as a share of the source length", min=0.0),
    Param("max_len_ratio", float, 3.0, "longest variant, as a multiple of the source length", min=0.1),
    Param("max_similarity", float, 0.95, "reject variants whose character 3-gram overlap with the source or a sibling "
          "is above this", min=0.0, max=1.0),
    Param("min_similarity", float, 0.1, "reject variants sharing less than this character 3-gram overlap with the "
          "source: off-topic output", min=0.0, max=1.0),
)


VERIFY_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["same_meaning", "score", "reason"],
    "properties": {"same_meaning": {"type": "boolean"}, "score": {"type": "integer", "minimum": 1, "maximum": 5},
                   "reason": {"type": "string", "maxLength": 200}},
}


@functools.lru_cache(maxsize=None)
def prompt_file(name: str) -> dict[str, dict[str, str]]:
    """Prompt templates of one method, per language, from qaug/augment/prompts/<name>.json."""
    text = resources.files("qaug.augment").joinpath("prompts", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass
class Unit:
    """One (record, variant index) of a window, with the jobs planned for it."""

    record: Record
    rng: Rng
    texts: list[tuple[Path, str]]
    lang: str
    jobs: list[Job]
    skip: Outcome | None = None


class ModelAugmenter(Augmenter):
    """Base for methods whose variants come from the model engine."""

    pure = False
    default_fields = "prompt"
    #: which prompt file and whether numbers must survive the method (False for methods that change them)
    prompt_name = ""
    keep_numbers = True

    #: whether a variant must stay in its source's language (False for translation)
    same_language = True
    #: whether --verify can judge this method's variants against their source (same fields, same meaning)
    verifiable = True

    def setup(self) -> None:
        self.engine: Engine | None = None
        self.sampling = Sampling()
        self.verify = False

    def bind(self, engine: Engine, sampling: Sampling | None = None, verify: bool = False) -> None:
        """Attach the run's engine; the pipeline does this before the first window."""
        self.engine, self.sampling, self.verify = engine, sampling or Sampling(), verify

    # -- prompts ---------------------------------------------------------------------------
    def messages(self, lang: str, prompt: str | None = None, **fields: Any) -> tuple[dict[str, str], ...]:
        prompts = prompt_file(prompt or self.prompt_name)
        p = prompts.get("zh" if lang == "zh" else "en")
        names = NAMES_ZH if lang == "zh" else NAMES
        fmt = {k: (names.get(v, v) if k in ("language", "source", "target") else v) for k, v in fields.items()}
        return ({"role": "system", "content": p["system"]}, {"role": "user", "content": p["user"].format(**fmt)})

    def job(self, key: str, messages: tuple[dict[str, str], ...], schema: dict[str, Any], rng: Rng,
            max_tokens: int | None = None) -> Job:
        sampling = self.sampling
        if max_tokens is not None and max_tokens < sampling.max_tokens:
            from dataclasses import replace

            sampling = replace(sampling, max_tokens=max_tokens)
        return Job(key=key, messages=messages, schema=schema, seed=rng.next64() & 0x7FFFFFFF, sampling=sampling)

    # -- planning and building, per method -------------------------------------------------
    def plan(self, unit: Unit, index: int) -> None:
        """Fill unit.jobs (or unit.skip) for one record."""
        raise NotImplementedError

    def build(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        """Turn the unit's results into variants or failures."""
        raise NotImplementedError

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

    def produce(self, planned: list[Unit]) -> list[list[Outcome]]:
        """One engine call for the whole window's jobs; methods with several hops override this.

        A bug in one unit's plan or build becomes that unit's Failure; the other units go on.
        """
        for i, unit in enumerate(planned):
            if unit.skip is None:
                try:
                    self.plan(unit, i)
                except (UsageError, KeyboardInterrupt):
                    raise
                except Exception as exc:  # noqa: BLE001 - reported per unit, with its type
                    unit.jobs.clear()
                    unit.skip = self._internal(exc)
        results = self.run_jobs([j for u in planned if u.skip is None for j in u.jobs])
        return [[u.skip] if u.skip is not None else self._build_guarded(u, results) for u in planned]

    def _build_guarded(self, unit: Unit, results: dict[str, Result]) -> list[Outcome]:
        try:
            return self.build(unit, results)
        except (UsageError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001
            return [self._internal(exc)]

    def _internal(self, exc: Exception) -> Failure:
        return Failure(f"internal error in {self.name}: {type(exc).__name__}: {exc}")

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

    # -- optional self-verification --------------------------------------------------------
    def verify_outcomes(self, planned: list[Unit], outcomes: list[list[Outcome]]) -> list[list[Outcome]]:
        """The model judges each variant against its source: failures rejected, borderline marked for review."""
        jobs, where = [], {}
        for u_i, (unit, outs) in enumerate(zip(planned, outcomes)):
            for o_i, out in enumerate(outs):
                if not isinstance(out, Variant):
                    continue
                variant_texts = [text_at(out.data, path) for path, _ in unit.texts]
                source = "\n".join(t for _, t in unit.texts)
                msgs = self.messages(unit.lang, prompt="verify", source=source, variant="\n".join(variant_texts))
                key = f"verify/{u_i}/{o_i}"
                jobs.append(self.job(key, msgs, VERIFY_SCHEMA, unit.rng, max_tokens=160))
                where[key] = (u_i, o_i)
        results = self.run_jobs(jobs)
        checked = [list(outs) for outs in outcomes]
        for key, (u_i, o_i) in where.items():
            r = results.get(key)
            variant = checked[u_i][o_i]
            assert isinstance(variant, Variant)
            if r is None or not r.ok:
                checked[u_i][o_i] = Failure(f"verify: no judgement ({r.error if r else 'no result'})", stage="verify")
                continue
            v = r.value
            if not v["same_meaning"] or v["score"] <= 2:
                checked[u_i][o_i] = Failure(f"verify: meaning changed (score {v['score']}): {v['reason']}",
                                            stage="verify", text=jsonio.dumps_str(variant.data))
                continue
            info = {**variant.info, "verify": {"score": v["score"], "reason": v["reason"]}}
            checked[u_i][o_i] = Variant(variant.data, info, score=float(v["score"]), review=v["score"] == 3)
        return checked

    # -- shared gates ----------------------------------------------------------------------
    def text_gate(self, source: str, variant: str, siblings: list[str]) -> str | None:
        """Reason to reject a variant text, or None. Methods adjust it through the three hooks below."""
        if not variant.strip():
            return "empty variant"
        norm = filters.normalize(variant)
        if norm == filters.normalize(source):
            return "identical to source after normalisation"
        if any(norm == filters.normalize(s) for s in siblings):
            return "duplicate of a sibling variant"
        reason = filters.length_ratio_reason(source, variant, self.min_len_ratio, self.max_len_ratio)
        if reason:
            return reason
        sim = self.closeness(source, variant)
        if sim > self.max_similarity:
            return f"near-duplicate of source (similarity {sim:.2f})"
        reason = self.floor_reason(source, variant)
        if reason:
            return reason
        if self.same_language and detect(variant) != detect(source):
            return f"variant is in {detect(variant)}, the source in {detect(source)}"
        if any(self.closeness(variant, s) > self.max_similarity for s in siblings):
            return "near-duplicate of a sibling variant"
        return self.kept_reason(source, variant)

    def closeness(self, a: str, b: str) -> float:
        """How alike two texts are for the near-duplicate gates: character 3-gram overlap (order-blind)."""
        return filters.similarity(a, b)

    def floor_reason(self, source: str, variant: str) -> str | None:
        """Too far from the source: off-topic output."""
        sim = filters.similarity(source, variant)
        if sim < self.min_similarity:
            return f"off-topic: similarity {sim:.2f} to the source is below {self.min_similarity:g}"
        return None

    def kept_reason(self, source: str, variant: str) -> str | None:
        """Placeholders, URLs, e-mails, inline code and (unless the method changes them) numbers survive."""
        return filters.preservation_reason(source, variant, numbers=self.keep_numbers)

    def variant_from(self, unit: Unit, replacements: list[str], info: dict[str, Any],
                     siblings: dict[int, list[str]]) -> Outcome:
        """A variant replacing each selected text with its counterpart, after every text passes the gates."""
        changes: dict[Path, str] = {}
        for k, ((path, source), new) in enumerate(zip(unit.texts, replacements)):
            reason = self.text_gate(source, new, siblings.setdefault(k, []))
            if reason:
                return Failure(reason, stage="gate", text=new)
            changes[path] = new
        for k, new in enumerate(replacements):
            siblings[k].append(new)
        return Variant(with_texts(unit.record.data, changes), info=info)


def text_at(data: Any, path: Path) -> str:
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
        return Failure("no result from the engine", stage="model")
    return Failure(result.error or "model failed", stage="model", text=result.text or None)
