"""Importing this module registers every built-in method and group."""

from qaug.augment import (  # noqa: F401
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
