"""Importing this module registers every built-in method and group."""

from qaug.augment import backtranslate, code, rewrite, structural, tables  # noqa: F401
