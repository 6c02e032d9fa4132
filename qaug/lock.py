"""One run per output: a lock file naming the process that holds it, taken over when that process is gone."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
import socket
import time
from pathlib import Path

from qaug.errors import UsageError


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive flock on a folder while a lock is checked and taken (a no-op where flock is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the flock


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
        """Take the lock or raise UsageError naming its holder.

        The lock file appears with its content already in it (written to a temporary file, then hard-linked
        into place, which fails if the name exists), and the check-and-replace of a stale lock runs under an
        flock of the output's folder, so two runs starting together can never both win.
        """
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        with _folder_lock(self.path.parent):
            for _ in range(2):
                if self._create(me):
                    self.held = True
                    return
                holder = self._holder()
                if holder is None:
                    raise UsageError(f"{self.path.name}: the lock file cannot be read; if no qaug run is writing this "
                                     f"output, delete it") from None
                if holder.get("host") == me["host"] and _alive(int(holder.get("pid", -1))):
                    raise UsageError(f"{self.path.name}: another qaug run (pid {holder['pid']}, started "
                                     f"{holder.get('started', '?')}) is writing this output") from None
                if holder.get("host") != me["host"]:
                    raise UsageError(f"{self.path.name}: locked by a qaug run on host {holder.get('host')} "
                                     f"(pid {holder.get('pid')}); delete the lock file if that run is gone") from None
                self.path.unlink(missing_ok=True)  # provably stale: same host, its process is gone
        raise UsageError(f"could not take the lock {self.path}")

    def _create(self, me: dict) -> bool:
        """Create the lock file with `me` in it, atomically; False if it exists."""
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(me))
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
