"""One run per output: a lock file naming the process that holds it, taken over when that process is gone.

Only a file qaug wrote is ever removed: a lock is recognised by its exact shape (pid, host, start time and, since
issue 11, a `qaug` marker and a token), and a run removes its own lock only while the token in it is still its own.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qaug.errors import RunFailed, UsageError

_LOCK_KEYS = {"qaug", "pid", "host", "started", "token"}
#: errors that mean "you may not write here" (a usage problem) rather than "the disk failed" (a failed run)
_NOT_ALLOWED = {errno.EACCES, errno.EPERM, errno.EROFS}


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


def is_qaug_lock(value: Any) -> bool:
    """Whether parsed lock-file content has the shape qaug writes (so it may be judged stale and replaced)."""
    return (isinstance(value, dict) and {"pid", "host"} <= value.keys() <= _LOCK_KEYS
            and type(value["pid"]) is int and isinstance(value["host"], str))


def write_error(path: Path, exc: OSError, what: str) -> Exception:
    """One-line error for a failed write: exit 2 where writing is not allowed, exit 1 where the disk failed."""
    detail = exc.strerror or str(exc)
    if exc.errno in _NOT_ALLOWED:
        return UsageError(f"cannot write {what} in {path.parent}: {detail}")
    return RunFailed(f"cannot write {what} {path}: {detail}; nothing was written, free some space and rerun")


class OutputLock:
    """`out.jsonl.lock`, created atomically; a stale one (dead pid on this host) is replaced."""

    def __init__(self, output: Path) -> None:
        self.path = output.with_name(output.name + ".lock")
        self.held = False
        self._token = secrets.token_hex(8)

    def acquire(self) -> None:
        """Take the lock or raise UsageError naming its holder.

        The lock file appears with its content already in it (written to a temporary file, then hard-linked
        into place, which fails if the name exists), and the check-and-replace of a stale lock runs under an
        flock of the output's folder, so two runs starting together can never both win. A folder qaug may not
        write in is exit 2, a full disk exit 1; neither leaves a file behind.
        """
        me = {"qaug": "lock", "pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S"), "token": self._token}
        try:
            with _folder_lock(self.path.parent):
                for _ in range(2):
                    if self._create(me):
                        self.held = True
                        return
                    self._judge(self._holder(), me)
                    self.path.unlink(missing_ok=True)  # provably stale: a qaug lock of this host, its process gone
        except OSError as exc:
            raise write_error(self.path, exc, "the lock file") from None
        raise UsageError(f"could not take the lock {self.path}")

    def _judge(self, holder: Any, me: dict[str, Any]) -> None:
        """Raise unless `holder` is a qaug lock of this host whose process is gone."""
        if holder is None:
            raise UsageError(f"{self.path.name}: the lock file cannot be read; if no qaug run is writing this "
                             f"output, delete it")
        if not is_qaug_lock(holder):
            raise UsageError(f"{self.path} is in the way of this run's lock and is not a lock qaug wrote; "
                             f"move it away or choose another -o")
        if holder["host"] != me["host"]:
            raise UsageError(f"{self.path.name}: locked by a qaug run on host {holder['host']} "
                             f"(pid {holder['pid']}); delete the lock file if that run is gone")
        if _alive(holder["pid"]):
            raise UsageError(f"{self.path.name}: another qaug run (pid {holder['pid']}, started "
                             f"{holder.get('started', '?')}) is writing this output")

    def _create(self, me: dict[str, Any]) -> bool:
        """Create the lock file with `me` in it, atomically; False if it exists.

        The temporary file is made with O_EXCL under a random name, so no file of anyone else is written or removed.
        """
        while True:
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                continue
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(me))
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _holder(self) -> Any:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        """Remove the lock, only while it is still this run's own (same token)."""
        if self.held:
            holder = self._holder()
            if is_qaug_lock(holder) and holder.get("token") == self._token:
                self.path.unlink(missing_ok=True)
            self.held = False
