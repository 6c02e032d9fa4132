"""One run per output: a lock file naming the process that holds it, taken over when that process is gone."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from qaug.errors import UsageError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """`out.jsonl.lock`, created atomically; a stale one (dead pid on this host) is replaced."""

    def __init__(self, output: Path) -> None:
        self.path = output.with_name(output.name + ".lock")
        self.held = False

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and holder.get("host") == me["host"] and _alive(int(holder.get("pid", -1))):
                    raise UsageError(f"{self.path.name}: another qaug run (pid {holder['pid']}, started "
                                     f"{holder.get('started', '?')}) is writing this output") from None
                if holder and holder.get("host") != me["host"]:
                    raise UsageError(f"{self.path.name}: locked by a qaug run on host {holder.get('host')} "
                                     f"(pid {holder.get('pid')}); delete the lock file if that run is gone") from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            self.held = True
            return
        raise UsageError(f"could not take the lock {self.path}")

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
