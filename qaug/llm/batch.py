"""Batching pieces of the llama.cpp engine: a numpy-backed llama_batch and the shared-prompt-prefix
cache (the default number of parallel sequences is qaug.llm.hardware's).

Kept apart from llamacpp.py so the engine reads as the job loop; everything here is about
getting tokens into llama_decode cheaply and evaluating each prompt token once.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

# -- the batch -----------------------------------------------------------------------------------

class TokenBatch:
    """A llama_batch whose arrays are numpy arrays we own, so filling it is a few vectorised stores.

    llama_batch_init's arrays can only be written one ctypes store per field per token; here
    a whole prompt chunk or decode step is written with slice assignments. llama.cpp only
    reads the struct during llama_decode, so it never frees or keeps these arrays.
    """

    def __init__(self, L: Any, capacity: int) -> None:
        self._L = L
        self.capacity = capacity
        self.token = np.zeros(capacity, dtype=np.int32)
        self.pos = np.zeros(capacity, dtype=np.int32)
        self.n_seq_id = np.ones(capacity, dtype=np.int32)
        self.seq = np.zeros((capacity, 1), dtype=np.int32)
        self.logits = np.zeros(capacity, dtype=np.int8)
        seq_p = ctypes.POINTER(L.llama_seq_id)
        base = self.seq.ctypes.data
        self._seq_ptrs = (seq_p * (capacity + 1))(*[ctypes.cast(base + 4 * i, seq_p) for i in range(capacity)])
        b = self.struct = L.llama_batch()
        b.token = self.token.ctypes.data_as(ctypes.POINTER(L.llama_token))
        b.pos = self.pos.ctypes.data_as(ctypes.POINTER(L.llama_pos))
        b.n_seq_id = self.n_seq_id.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        b.seq_id = ctypes.cast(self._seq_ptrs, ctypes.POINTER(seq_p))
        b.logits = self.logits.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
        self.seconds = 0.0  # time inside llama_decode
        self.calls = 0

    def decode(self, ctx: Any, runs: Sequence[tuple[Sequence[int], int, int]],
               steps: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        """Decode prompt runs (tokens, first position, seq; no logits), then one step token per
        sequence (tokens, positions, seqs; with logits, rows in this order). Prompt tokens go in
        full chunks first so that every step token lands in the last llama_decode call."""
        if not runs and steps is not None and 0 < len(steps[0]) <= self.capacity:  # the usual decode step
            self.run(ctx, steps[0], steps[1], steps[2], n_out=len(steps[0]))
            return
        if runs:
            tok = np.concatenate([np.asarray(t, dtype=np.int32) for t, _, _ in runs])
            pos = np.concatenate([np.arange(p0, p0 + len(t), dtype=np.int32) for t, p0, _ in runs])
            seq = np.concatenate([np.full(len(t), s, dtype=np.int32) for t, _, s in runs])
        else:
            tok = pos = seq = np.zeros(0, dtype=np.int32)
        n_steps = 0 if steps is None else len(steps[0])
        start, total = 0, len(tok)
        while total - start + n_steps > self.capacity:
            n = min(self.capacity, total - start)
            self.run(ctx, tok[start:start + n], pos[start:start + n], seq[start:start + n], n_out=0)
            start += n
        if steps is not None and n_steps:
            tok = np.concatenate([tok[start:], steps[0]])
            pos = np.concatenate([pos[start:], steps[1]])
            seq = np.concatenate([seq[start:], steps[2]])
            self.run(ctx, tok, pos, seq, n_out=n_steps)
        elif total > start:
            self.run(ctx, tok[start:], pos[start:], seq[start:], n_out=0)

    def run(self, ctx: Any, tok: np.ndarray, pos: np.ndarray, seq: np.ndarray, n_out: int) -> None:
        n = len(tok)
        self.token[:n] = tok
        self.pos[:n] = pos
        self.seq[:n, 0] = seq
        self.logits[:n - n_out] = 0
        self.logits[n - n_out:n] = 1
        self.struct.n_tokens = n
        t0 = time.perf_counter()
        rc = self._L.llama_decode(ctx, self.struct)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        if rc != 0:
            raise RuntimeError(f"llama_decode failed with code {rc}")


# -- the shared prefix ---------------------------------------------------------------------------

def common_prefix(a: np.ndarray, b: Sequence[int]) -> int:
    """Length of the common prefix of two token sequences."""
    m = min(len(a), len(b))
    if m == 0:
        return 0
    diff = np.flatnonzero(a[:m] != np.asarray(b[:m], dtype=np.int32))
    return int(diff[0]) if diff.size else m


class PrefixCache:
    """A reserved sequence holding the KV of a recent prompt, copied into slots by llama_memory_seq_cp.

    A job whose prompt shares at least `min_tokens` leading tokens with it gets those cells
    (no compute) and evaluates only the rest; a job that shares fewer is a new kind of prompt:
    the engine evaluates it and it becomes the prefix. Copies only add the slot to cells'
    sequence sets, so shared cells are stored once.

    Sliding-window models (gemma 2/3): llama.cpp may reuse cells that fell out of a sequence's
    window, and a sequence then holds only positions >= seq_pos_min. A copy is taken only while
    the prefix still holds position 0 onwards, and is verified after copying.
    """

    def __init__(self, L: Any, mem: Any, seq: int, min_tokens: int) -> None:
        self._L, self._mem, self.seq, self.min_tokens = L, mem, seq, min_tokens
        self.tokens = np.zeros(0, dtype=np.int32)
        self.swa_fallbacks = 0

    def copy_to(self, dst: int, prompt: Sequence[int]) -> int:
        """Copy the shared part of `prompt` (never its last token) into seq `dst`; return its length (0: none)."""
        L, mem = self._L, self._mem
        n = common_prefix(self.tokens, prompt[:-1])
        if n < self.min_tokens:
            return 0
        if L.llama_memory_seq_pos_min(mem, self.seq) != 0 or L.llama_memory_seq_pos_max(mem, self.seq) < n - 1:
            self.swa_fallbacks += 1  # cells were reused by the sliding window: the prefix is incomplete
            self.clear()
            return 0
        L.llama_memory_seq_cp(mem, self.seq, dst, 0, n)
        if L.llama_memory_seq_pos_min(mem, dst) != 0 or L.llama_memory_seq_pos_max(mem, dst) != n - 1:
            L.llama_memory_seq_rm(mem, dst, -1, -1)
            raise RuntimeError("llama_memory_seq_cp did not copy the prefix")
        return n

    def set_from(self, src: int, tokens: Sequence[int]) -> None:
        """Make the first len(tokens) cells of seq `src` (just decoded) the prefix."""
        L, mem = self._L, self._mem
        self.clear()
        if len(tokens) < self.min_tokens or L.llama_memory_seq_pos_min(mem, src) != 0:
            return
        L.llama_memory_seq_cp(mem, src, self.seq, 0, len(tokens))
        self.tokens = np.asarray(tokens, dtype=np.int32)

    def clear(self) -> None:
        self._L.llama_memory_seq_rm(self._mem, self.seq, -1, -1)
        self.tokens = np.zeros(0, dtype=np.int32)
