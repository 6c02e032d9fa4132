"""Fault injection for the crash tests: QAUG_FAULT=point:n kills the process at the n-th `point`.

With QAUG_FAULT_ONCE=PATH only the first process to get there dies (it makes PATH), so a Ray
actor started in a dead one's place runs on: the test of a lost actor needs one death, not a chain.

The resume guarantee is only as good as the test that kills a real run at awkward moments;
this hook lets that test choose the moment. It costs one dict lookup when the variable is unset.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("QAUG_FAULT", "")
_POINT, _, _COUNT = _SPEC.partition(":")
_TARGET = int(_COUNT) if _COUNT.isdigit() else 1
_seen = 0
ACTIVE = bool(_POINT)


def point(name: str) -> None:
    """SIGKILL this process the n-th time `name` is reached, when QAUG_FAULT asks for it."""
    global _seen
    if _POINT != name:
        return
    _seen += 1
    if _seen >= _TARGET:
        once = os.environ.get("QAUG_FAULT_ONCE")
        if once:
            try:
                os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        os.kill(os.getpid(), signal.SIGKILL)
