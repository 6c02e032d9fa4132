"""Errors that reach the user as one line and an exit code (2: usage, config or model; 1: a run that failed)."""

from __future__ import annotations

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class QaugError(Exception):
    """An expected failure with a message fit for the user; never shown as a traceback."""

    exit_code = EXIT_RUN_FAILED


class UsageError(QaugError):
    """Bad options, config or input paths: exit 2."""

    exit_code = EXIT_USAGE


class ModelError(QaugError):
    """The model file cannot be found, read or loaded: exit 2."""

    exit_code = EXIT_USAGE


class RunFailed(QaugError):
    """A run that started and could not finish (or --strict met a reject): exit 1."""

    exit_code = EXIT_RUN_FAILED


class Interrupted(QaugError):
    """SIGTERM or Ctrl-C: the batch in flight was finished and saved; exit 130 (a stop, not an error)."""

    exit_code = EXIT_INTERRUPTED
