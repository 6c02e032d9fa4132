"""Flags and recipe into one RunConfig: defaults, then the recipe, then the flags that were given.

The defaults live where they are used (the fields of RunConfig, Sampling and EngineSettings), never in
the command line; a flag left out is None and does not count. Method choice has
its own order: --methods, then --task, then the recipe's methods, then its task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from qaug.augment.base import did_you_mean
from qaug.augment.catalog import registry, resolve_methods
from qaug.config import RunConfig, parse_param_args
from qaug.errors import UsageError
from qaug.llm.engine import Sampling
from qaug.llm.options import EngineSettings
from qaug.recipe import methods_for

#: run settings the recipe may set at its top level, under the RunConfig field each one fills
_RECIPE_RUN_KEYS = {"seed": "seed", "format": "fmt", "target": "target", "strict": "strict", "variants": "variants",
                    "max_aug_ratio": "max_aug_ratio", "verify": "verify"}


@dataclass(frozen=True)
class RunFlags:
    """What the command line gave for a run; None means the flag was not given."""

    inputs: tuple[Path, ...]
    output: Path
    methods: str | None = None
    task: str | None = None
    seed: int | None = None
    fmt: str | None = None
    fields: str | None = None
    target: str | None = None
    no_originals: bool | None = None
    strict: bool | None = None
    variants: int | None = None
    max_aug_ratio: float | None = None
    verify: bool | None = None
    params: Sequence[str] = ()
    null_p: float | None = None
    max_line_mb: float | None = None
    window: int | None = None
    checkpoint_every: float = 1.0
    limit: int | None = None
    sample: int | None = None
    stdout: bool = False
    recipe: Path | None = None
    #: engine flags by EngineSettings field, sampling flags by Sampling field
    model: Mapping[str, Any] = field(default_factory=dict)
    sampling: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    config: RunConfig
    needs_model: bool
    #: the model and sampling flags given on the command line, by flag name (for "not used" notes)
    model_flags: dict[str, Any]


def pick(flag: Any, recipe: Mapping[str, Any], key: str, default: Any) -> Any:
    """Command line, then recipe, then default."""
    if flag is not None:
        return flag
    return recipe.get(key, default)


def layered(defaults: Mapping[str, Any], recipe: Mapping[str, Any], flags: Mapping[str, Any]) -> dict[str, Any]:
    """defaults | recipe | the flags that were given."""
    return {k: pick(flags.get(k), recipe, k, v) for k, v in defaults.items()}


def resolve(flags: RunFlags, recipe: Mapping[str, Any]) -> Resolved:
    """The run's configuration; a bad method, parameter, field or value is a UsageError here."""
    if flags.methods or flags.task:
        names = resolve_methods(methods_for(flags.methods, flags.task))
    else:
        names = resolve_methods(methods_for(recipe.get("methods"), recipe.get("task")))
    reg = registry()
    needs_model = any(not reg[n].pure for n in names)
    run_defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)
                    if f.default is not dataclasses.MISSING}
    run = {fname: pick(getattr(flags, fname), recipe, key, run_defaults[fname])
           for key, fname in _RECIPE_RUN_KEYS.items()}
    model = layered(_defaults(EngineSettings), recipe.get("model", {}), flags.model)
    model["n_gpu_layers"] = str(model["n_gpu_layers"])
    model["deterministic"] = bool(model["deterministic"])
    sampling = layered(_defaults(Sampling), recipe.get("sampling", {}), flags.sampling)
    fields = _fields(pick(flags.fields, recipe, "fields", None))
    config = RunConfig(
        inputs=flags.inputs, output=flags.output, methods=tuple(names),
        method_params=_method_params(names, flags, recipe, reg), fields=fields,
        keep_originals=not pick(flags.no_originals, recipe, "no_originals", False),
        max_line_bytes=int(pick(flags.max_line_mb, recipe, "max_line_mb", 8.0) * 1024 * 1024),
        recipe=str(flags.recipe) if flags.recipe else None, window=flags.window,
        checkpoint_every=flags.checkpoint_every, limit=flags.limit, sample=flags.sample, stdout=flags.stdout,
        engine=EngineSettings(**model) if needs_model else None,
        sampling=Sampling(**sampling) if needs_model else None,
        **cast("dict[str, Any]", {k: (bool(v) if k == "verify" else v) for k, v in run.items()}))  # values vary by key
    given: dict[str, Any] = {"--verify/--no-verify": flags.verify}
    given.update({f"--{k.replace('_', '-')}": v for k, v in flags.sampling.items()})
    given.update({_MODEL_FLAG[k]: flags.model.get(k) for k in _MODEL_FLAG})
    return Resolved(config, needs_model, given)


def _defaults(cls: Any) -> dict[str, Any]:
    """A dataclass's field defaults, by field name."""
    return {f.name: f.default for f in dataclasses.fields(cls)}


#: engine settings whose flag is noted when a run without model methods gets it
_MODEL_FLAG = {"ctx": "--ctx", "parallel": "--parallel", "chat_template": "--chat-template",
               "deterministic": "--deterministic"}


def _method_params(names: Sequence[str], flags: RunFlags, recipe: Mapping[str, Any],
                   reg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Recipe gates (for every method that has such a parameter), recipe params, --param, --null-p."""
    params: dict[str, dict[str, Any]] = {}
    for name in names:
        known = {p.name for p in reg[name].PARAMS}
        gates = {k: v for k, v in recipe.get("gates", {}).items() if k in known}
        if gates:
            params.setdefault(name, {}).update(gates)
    for name, values in recipe.get("params", {}).items():
        if name not in reg:
            raise UsageError(f"recipe [params.{name}]: there is no method {name!r}{did_you_mean(name, list(reg))} "
                             "(see `qaug methods`)")
        if name in names:  # a recipe may set parameters for methods this run does not select
            params.setdefault(name, {}).update(values)
    for name, values in parse_param_args(flags.params).items():
        params.setdefault(name, {}).update(values)
    if flags.null_p is not None:
        takers = [n for n in names if n in ("null_inject", "perturb")]
        if not takers:
            raise UsageError("--null-p needs null_inject or perturb in --methods")
        for n in takers:
            params.setdefault(n, {})["p" if n == "null_inject" else "null_p"] = flags.null_p
    return params


def _fields(spec: Any) -> tuple[str, ...] | None:
    """--fields (comma-separated) or the recipe's list, checked against the known field names."""
    if isinstance(spec, str):
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    if not spec:
        return None
    from qaug.records import FIELD_NAMES

    unknown = [f for f in spec if f not in FIELD_NAMES]
    if unknown:
        raise UsageError(f"--fields: unknown field {', '.join(unknown)} (known: {', '.join(FIELD_NAMES)})")
    return tuple(spec)
