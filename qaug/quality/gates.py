"""Gates applied to every candidate variant before it is written.

Each gate answers None (keep) or a reason (reject); the pipeline writes the reason to
the rejects file and counts it, so no candidate disappears without a written cause.
"""

from __future__ import annotations

import hashlib


def fingerprint(serialized: bytes) -> bytes:
    """A short digest of a record's exact serialisation (key order included)."""
    return hashlib.blake2b(serialized, digest_size=16).digest()


class SiblingGate:
    """Rejects a variant byte-identical to its parent or to an earlier variant of that parent.

    Key order counts: a key shuffle is a real variant even though the dicts compare equal.
    """

    __slots__ = ("_parent", "_seen")

    def __init__(self, parent_serialized: bytes) -> None:
        self._parent = fingerprint(parent_serialized)
        self._seen: set[bytes] = set()

    def check(self, serialized: bytes) -> str | None:
        fp = fingerprint(serialized)
        if fp == self._parent:
            return "identical to source"
        if fp in self._seen:
            return "duplicate of a sibling variant"
        self._seen.add(fp)
        return None
