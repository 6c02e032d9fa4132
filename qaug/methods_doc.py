"""`qaug methods NAME`: one method's parameters with their types, defaults, limits and a ready example."""

from __future__ import annotations

from typing import Any

from qaug.augment.base import Param, did_you_mean
from qaug.augment.catalog import groups, registry
from qaug.errors import UsageError


def _default(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "auto"
    return str(value).lower() if isinstance(value, bool) else (str(value) if value != "" else "auto")


#: example values for list parameters that have no default to show
_EXAMPLES = {"pivots": "en,fr,ja", "protect": "id,label", "labels": "positive,negative", "personas": "student,teacher",
             "glossary": "terms.tsv"}


def _example(p: Param) -> str:
    """A value worth showing: another choice, a value inside the range, or the default."""
    if p.name in _EXAMPLES:
        return _EXAMPLES[p.name]
    if p.choices:
        other = [c for c in p.choices if c not in ("", p.default)]
        if other:
            return str(other[0])
    if p.type is bool:
        return "false" if p.default else "true"
    if p.type in (int, float) and isinstance(p.default, (int, float)):
        value = p.default * 2 if p.default else 1
        if p.max is not None and value > p.max:
            value = (p.default + p.max) / 2 if p.type is float else p.max
        return f"{value:g}" if p.type is float else str(int(value))
    if p.type is tuple:
        return _default(p.default) if p.default else "a,b"
    return _default(p.default) if p.default not in ("", None) else "VALUE"


def method_detail(name: str) -> list[str]:
    """Lines describing one method (or a group's members), or a UsageError naming the closest method."""
    reg, grp = registry(), groups()
    if name in grp:
        return [f"group {name}: {', '.join(grp[name])}", "(see `qaug methods NAME` for each)"]
    if name not in reg:
        raise UsageError(f"unknown method '{name}'{did_you_mean(name, [*reg, *grp])} (see `qaug methods`)")
    cls = reg[name]
    out = [f"{name} (v{cls.version}, {'pure Python' if cls.pure else 'needs a model'}): {cls.description}"]
    if not cls.PARAMS:
        out.append("no parameters")
        return out
    out.append("parameters:")
    for p in cls.PARAMS:
        limits = []
        if p.choices:
            limits.append("one of " + ", ".join(repr(c) if c == "" else str(c) for c in p.choices))
        if p.min is not None:
            limits.append(f">= {p.min:g}")
        if p.max is not None:
            limits.append(f"<= {p.max:g}")
        kind = "comma-separated list" if p.type is tuple else p.type.__name__
        extra = f"; {', '.join(limits)}" if limits else ""
        out.append(f"  {p.name} ({kind}{extra}) [default: {_default(p.default)}]: {p.help}")
    first = cls.PARAMS[0]
    out.append(f"example: qaug run data.jsonl -o out.jsonl -m {name} --param {name}.{first.name}={_example(first)}")
    return out
