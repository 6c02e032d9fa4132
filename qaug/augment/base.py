"""The Augmenter contract, its outcomes and the registry of methods.

An augmenter says *what* changes; engines (later) say *how* a model computes it.
`augment()` never mutates its input and never echoes it back as a variant: when it
cannot produce a variant it says why, as a Skip (the method does not apply) or a
Failure (it tried and failed; the candidate goes to the rejects file).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from qaug.errors import UsageError
from qaug.records import Record
from qaug.rng import Rng


@dataclass(frozen=True, slots=True)
class Variant:
    """A new record in its parent's format, with method-specific provenance in `info`."""

    data: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    review: bool = False


@dataclass(frozen=True, slots=True)
class Skip:
    """The method does not apply to this record (no JSON in it, code that is not Python...)."""

    reason: str
    #: a stable name for the kind of skip, counted in the report ("" : derived from the reason)
    code: str = ""


@dataclass(frozen=True, slots=True)
class Failure:
    """The method tried and failed; `text` keeps the candidate for the rejects file."""

    reason: str
    stage: str = "augment"
    text: str | None = None
    #: a stable name for the kind of failure (a text gate's code, "judge_answered"...), written to the rejects
    #: file and counted in the report; "" when the reason's wording is the only name it has
    code: str = ""


Outcome = Union[Variant, Skip, Failure]

#: parameters that were renamed when one name meant several measures, with what to use instead
RENAMED = {"min_similarity": "min_similarity was split by measure: min_overlap (content overlap, rewrite-style "
                             "methods), min_word_overlap (synonym); bugfix keeps min_similarity"}


@dataclass(frozen=True, slots=True)
class Param:
    """One keyword-only parameter of a method, validated at construction."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None

    def coerce(self, method: str, value: Any) -> Any:
        """The value as this parameter's type, or a UsageError naming method and parameter."""
        where = f"{method}.{self.name}"
        try:
            if self.type is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                        raise ValueError(value)
                    value = low in ("true", "1", "yes", "on")
                elif not isinstance(value, bool):
                    raise ValueError(value)
            elif self.type is tuple:
                if isinstance(value, str):
                    value = tuple(v.strip() for v in value.split(",") if v.strip())
                else:
                    value = tuple(str(v) for v in value)
            elif self.type is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError(value)
                value = int(value)
            elif self.type is float:
                if isinstance(value, bool):
                    raise ValueError(value)
                value = float(value)
            else:
                value = self.type(value)
        except (TypeError, ValueError):
            raise UsageError(f"{where}: expected {self.type.__name__}, got {value!r}") from None
        if self.choices is not None and value not in self.choices:
            raise UsageError(f"{where}: {value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.min is not None and value < self.min:
            raise UsageError(f"{where}: {value!r} is below the minimum {self.min}")
        if self.max is not None and value > self.max:
            raise UsageError(f"{where}: {value!r} is above the maximum {self.max}")
        return value


class Augmenter:
    """Base class: declare `name`, `description`, `PARAMS`; implement `augment`."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    #: "all": every text of the record by default; "prompt": the instruction / user turns.
    default_fields: ClassVar[str] = "all"
    #: False for methods that need a model engine.
    pure: ClassVar[bool] = True

    def __init__(self, *, fields: Sequence[str] | None = None, target: str = "texts", **params: Any) -> None:
        known = {p.name: p for p in self.PARAMS}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise UsageError(
                f"{self.name}: unknown parameter {', '.join(unknown)}"
                + (did_you_mean(unknown[0], list(known)) if len(unknown) == 1 else "")
                + (f" (known: {', '.join(known)})" if known else " (it takes none)")
                + "".join(f"; {RENAMED[u]}" for u in unknown if u in RENAMED)
            )
        self._params = {name: p.coerce(self.name, params[name]) if name in params else p.default
                        for name, p in known.items()}
        self.fields = tuple(fields) if fields is not None else None
        if target not in ("texts", "record"):
            raise UsageError(f"--target must be 'texts' or 'record', not {target!r}")
        self.target = target
        self.setup()

    def setup(self) -> None:
        """Hook for subclasses to precompute from their validated parameters."""

    def __getattr__(self, name: str) -> Any:
        params = self.__dict__.get("_params")
        if params is not None and name in params:
            return params[name]
        raise AttributeError(name)

    def params(self) -> dict[str, Any]:
        """The effective parameters; `type(self)(**self.params())` builds an equal augmenter."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._params.items()}

    def fields_for(self, record: Record) -> Sequence[str] | None:
        """The texts this method may change in `record` (None means every text)."""
        if self.fields is not None:
            return self.fields
        if self.default_fields == "prompt":
            from qaug.records import DEFAULT_FIELDS

            return DEFAULT_FIELDS[record.fmt]
        return None

    def augment(self, record: Record, rng: Rng) -> Iterator[Outcome]:
        """Yield outcomes for one record; `rng` is keyed by (seed, record id, method, index)."""
        raise NotImplementedError

    def applies(self, record: Record) -> bool:
        """Whether the method would work on `record` at all (a model method: ask the model anything). The cap
        plans model work among the records it applies to; this default says yes to every record."""
        return True

    def augment_many(self, units: Sequence[tuple[Record, Rng]]) -> list[list[Outcome]]:
        """Outcomes for many (record, rng) units, aligned with `units`.

        Model augmenters override this to send all the window's jobs to the engine at once.
        A bug in a method becomes a Failure for that unit, so one bad record never ends a run.
        """
        results: list[list[Outcome]] = []
        for record, rng in units:
            try:
                results.append(list(self.augment(record, rng)))
            except Exception as exc:  # noqa: BLE001 - reported per unit, with its type
                results.append([Failure(f"internal error in {self.name}: {type(exc).__name__}: {exc}")])
        return results


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """'; did you mean backtranslate?' for the closest known name, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""
