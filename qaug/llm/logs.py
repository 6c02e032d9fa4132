"""llama.cpp's own log: to a file by default, to stderr with --verbose, never over the progress bar."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path
from typing import Any

_INSTALLED: list[Any] = []  # keep the ctypes callback alive for the life of the process


MAX_LOG_BYTES = 10 * 1024 * 1024


def default_log_path() -> Path:
    from qaug.llm.models import state_dir

    return state_dir() / "llama.log"


class LlamaLog:
    """Routes llama.cpp log lines to a file (or stderr when verbose)."""

    def __init__(self, path: Path | None = None, verbose: bool = False) -> None:
        self.verbose = verbose
        self.path = path or default_log_path()
        self._fh: Any = None

    def where(self) -> str:
        return "stderr" if self.verbose else str(self.path)

    def install(self) -> None:
        import llama_cpp

        if not self.verbose:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.exists() and self.path.stat().st_size > MAX_LOG_BYTES:
                    os.replace(self.path, self.path.with_name(self.path.name + ".1"))  # keep one old log
                self._fh = open(self.path, "a", encoding="utf-8", errors="replace")
            except OSError:
                self._fh = None
        fh, verbose = self._fh, self.verbose

        @llama_cpp.llama_log_callback
        def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            line = text.decode("utf-8", "replace")
            if verbose:
                sys.stderr.write(line)
            elif fh is not None:
                fh.write(line)
                if line.endswith("\n"):
                    fh.flush()

        _INSTALLED.append(_callback)
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
