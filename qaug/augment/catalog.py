"""Importing this module registers every built-in method and group."""

from qaug.augment import code, structural  # noqa: F401
