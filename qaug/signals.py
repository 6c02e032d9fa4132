"""Stopping a run cleanly: the first Ctrl-C or SIGTERM lets the batch in flight finish and checkpoint."""

from __future__ import annotations

import signal
import threading
from typing import Any


class StopOnSignal:
    """SIGTERM / first Ctrl-C: finish the batch in flight, checkpoint, then stop (exit 130).

    A second Ctrl-C stops at once; the journal is still consistent, since a checkpoint is only
    written after the lines it covers are on disk.
    """

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline  # its `notice` (a callable or None) tells the user the stop is coming
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        if self.pipeline.notice is not None:
            self.pipeline.notice("stopping after the current batch (Ctrl-C again to stop now)")

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
