"""The compiled token sampler (csample.c) behind ctypes, with its buffers allocated once.

Built by setup.py as the optional extension qaug.llm._csample: plain C with no Python API, so it
needs no Python headers, and an install without a compiler still works (sampling.py's numpy
path takes over; `qaug doctor` says which is in use). QAUG_SAMPLER=numpy turns it off.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qaug.llm.engine import Sampling

#: Rows whose top-k is larger (or the whole vocabulary) get -2: the numpy path samples them.
MAX_K = 256
#: csample.c's QAUG_CSAMPLE_ABI: a build from an older csample.c (an editable install not rebuilt after
#: a pull) is not called with arguments it does not know; `pip install -e .` rebuilds it.
ABI = 1

_LIB: list[Any] = []  # [function or None], filled on first use


def library_path() -> str | None:
    """Where the compiled sampler was loaded from, or None when sampling runs in numpy."""
    fn = _function()
    return None if fn is None else fn.qaug_path


def unavailable_reason() -> str:
    """Why the compiled sampler is not in use (for `qaug doctor`); empty when it is."""
    if _function() is not None:
        return ""
    if os.environ.get("QAUG_SAMPLER", "").lower() == "numpy":
        return "QAUG_SAMPLER=numpy"
    spec = _find()
    if spec is None:
        return "not built (no C compiler at install time?): reinstall qaug where one is"
    return f"{Path(spec).name} is from another version of csample.c: rebuild with `pip install -e .`"


def _find() -> str | None:
    try:
        spec = importlib.util.find_spec("qaug.llm._csample")
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.origin else None


def _function() -> Any:
    if not _LIB:
        _LIB.append(_load())
    return _LIB[0]


def _load() -> Any:
    if os.environ.get("QAUG_SAMPLER", "").lower() == "numpy":
        return None
    origin = _find()
    if origin is None:
        return None
    try:
        lib = ctypes.CDLL(origin)
        lib.qaug_csample_abi.restype = ctypes.c_int
        if lib.qaug_csample_abi() != ABI:
            return None
        fn = lib.qaug_sample_rows
    except (OSError, AttributeError):
        return None
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    fn.argtypes = [p, i64, i64, p, i64, p, p, i64, p, p]
    fn.restype = ctypes.c_int
    fn.qaug_path = origin  # type: ignore[attr-defined]  # ctypes function pointers take attributes
    return fn


class CompiledSampler:
    """Samples up to `rows` rows per call; returns a token per row, -1 (grammar allows nothing) or -2 (use numpy)."""

    def __init__(self, fn: Any, rows: int, window: int) -> None:
        self._fn, self.rows, self.window = fn, rows, window
        self.recent = np.zeros((rows, window), dtype=np.int32)
        self.n_recent = np.zeros(rows, dtype=np.int32)
        self.params = np.zeros((rows, 6), dtype=np.float64)  # temperature, top_p, min_p, repeat_penalty, top_k, u
        self.out = np.zeros(rows, dtype=np.int32)
        self._ptrs = tuple(a.ctypes.data for a in (self.recent, self.n_recent, self.params, self.out))

    @classmethod
    def create(cls, rows: int, window: int) -> CompiledSampler | None:
        fn = _function()
        return None if fn is None else cls(fn, max(1, rows), window)

    def sample(self, logits: np.ndarray, masks: np.ndarray | None, params: Sequence[Sampling], u: Sequence[float],
               recents: Sequence[Sequence[int]]) -> list[int]:
        """logits: (n, vocab) float32, C-contiguous, writable (the penalty is applied and undone in place);
        masks: (n, words) int32 or None; recents: at most `window` tokens per row."""
        n, v = logits.shape
        if n > self.rows or logits.dtype != np.float32 or not logits.flags.c_contiguous or not logits.flags.writeable:
            raise ValueError("logits must be a writable C-contiguous float32 array of at most `rows` rows")
        if masks is not None and (masks.shape[0] < n or masks.shape[1] * 32 < v or masks.dtype != np.int32
                                  or not masks.flags.c_contiguous):
            raise ValueError(f"masks must be C-contiguous int32 rows of at least {(v + 31) // 32} words")
        for i, r in enumerate(recents):  # more than `window` tokens in a row: numpy refuses the assignment
            self.recent[i, :len(r)] = r
        self.n_recent[:n] = [len(r) for r in recents]
        self.params[:n] = [(p.temperature, p.top_p, p.min_p, p.repeat_penalty, p.top_k, x) for p, x in zip(params, u)]
        recent, n_recent, params_p, out = self._ptrs
        self._fn(logits.ctypes.data, n, v, None if masks is None else masks.ctypes.data,
                 0 if masks is None else masks.shape[1], recent, n_recent, self.window, params_p, out)
        return self.out[:n].tolist()
