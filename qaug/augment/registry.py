"""Where methods register themselves by name (the `@register` decorator), and groups of them.

Method modules import this and the Augmenter base; nothing here imports a method. qaug.augment.catalog
imports the built-in methods, so that they are registered, and answers what a --methods list means.
"""

from __future__ import annotations

from qaug.augment.base import Augmenter

_REGISTRY: dict[str, type[Augmenter]] = {}
_GROUPS: dict[str, tuple[str, ...]] = {}


def register(cls: type[Augmenter]) -> type[Augmenter]:
    """Class decorator: make a method available by its name."""
    if not cls.name or cls.name in _REGISTRY:
        raise ValueError(f"augmenter name missing or taken: {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def register_group(name: str, members: tuple[str, ...]) -> None:
    """A name that stands for several methods in --methods (e.g. the structural set)."""
    _GROUPS[name] = members


def registered() -> dict[str, type[Augmenter]]:
    """Every method registered so far, by name."""
    return dict(_REGISTRY)


def registered_groups() -> dict[str, tuple[str, ...]]:
    """Every group registered so far, by name."""
    return dict(_GROUPS)
