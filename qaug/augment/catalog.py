"""The methods a run can name: importing this module registers every built-in method and group, and it
answers what is registered (registry, groups) and what a --methods list means (resolve_methods).

Method modules register themselves with qaug.augment.registry.register, which imports no method; this module
imports them all, so there is no import cycle between the registry and the methods.
"""

from collections.abc import Sequence
from typing import Any

from qaug.augment import (  # noqa: F401  (importing them registers the built-in methods and groups)
    backtranslate,
    bugfix,
    classification,
    code,
    rewrite,
    roleplay,
    steps,
    structural,
    swap,
    tables,
    translate,
)
from qaug.augment.base import Augmenter, did_you_mean
from qaug.augment.registry import registered, registered_groups
from qaug.errors import UsageError


def registry() -> dict[str, type[Augmenter]]:
    """Every method by name: the built-ins (imported above) and any registered since."""
    return registered()


def groups() -> dict[str, tuple[str, ...]]:
    """Names that stand for several methods in --methods (the structural set, ...)."""
    return registered_groups()


def build_augmenters(config: Any) -> list[Augmenter]:
    """Every method of a run (qaug.config.RunConfig) with its validated parameters (UsageError on bad ones)."""
    reg = registry()
    out = []
    for name in config.methods:
        if name not in reg:
            if name in groups():
                raise UsageError(f"'{name}' is a group of methods ({', '.join(groups()[name])}): name them, or expand "
                                 "it with qaug.augment.catalog.resolve_methods")
            raise UsageError(f"unknown method '{name}'{did_you_mean(name, list(reg))} (see `qaug methods`)")
        out.append(reg[name](fields=config.fields, target=config.target, **dict(config.method_params.get(name, {}))))
    return out


def resolve_methods(spec: Sequence[str]) -> list[str]:
    """Method names with groups expanded, in order, each once; unknown names are a UsageError."""
    reg, grp = registry(), groups()
    out: list[str] = []
    for raw in spec:
        name = raw.strip()
        if not name:
            continue
        names = grp.get(name, (name,))
        for n in names:
            if n not in reg:
                raise UsageError(f"unknown method '{n}'{did_you_mean(n, [*reg, *grp])} (see `qaug methods`)")
            if n not in out:
                out.append(n)
    if not out:
        raise UsageError("no methods given (see `qaug methods`)")
    return out
