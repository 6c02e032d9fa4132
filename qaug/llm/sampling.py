"""Token sampling in numpy, in llama.cpp's order: penalties, top-k, top-p, min-p, temperature.

The grammar's mask is applied lazily: if every unconstrained top-k candidate is allowed,
the masked top-k set is the same set, so the full-vocabulary mask never has to be built;
otherwise the disallowed logits are set to -inf and top-k is taken again. Either way the
result is exactly "mask, then sample" — the same distribution over valid outputs — at
close to the cost of free sampling.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qaug.llm.engine import Sampling


def allowed_bits(mask_row: np.ndarray, n_vocab: int) -> np.ndarray:
    """A boolean array over the vocabulary from llguidance's 32-bit little-endian bitmask row."""
    return np.unpackbits(mask_row.view(np.uint8), bitorder="little")[:n_vocab].astype(bool)


def _is_allowed(mask_row: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    words = mask_row[tokens >> 5].view(np.uint32)
    return ((words >> (tokens & 31).astype(np.uint32)) & 1).astype(bool)


def sample_token(logits: np.ndarray, mask_row: np.ndarray | None, params: Sampling, rng: np.random.Generator,
                 recent: Sequence[int] = ()) -> int:
    """One token id from raw logits (float32, one row), honouring the grammar mask when given."""
    x = logits
    if params.repeat_penalty != 1.0 and recent:
        x = x.copy()
        idx = np.fromiter(set(recent), dtype=np.int64)
        vals = x[idx]
        x[idx] = np.where(vals > 0, vals / params.repeat_penalty, vals * params.repeat_penalty)
    n_vocab = x.shape[0]
    k = params.top_k if 0 < params.top_k < n_vocab else n_vocab
    if params.temperature <= 0:
        k = 1
    cand = _top_k(x, k)
    if mask_row is not None and not _is_allowed(mask_row, cand).all():
        bits = allowed_bits(mask_row, n_vocab)
        if not bits.any():
            raise ValueError("grammar allows no token")
        x = np.where(bits, x, -np.inf).astype(np.float32, copy=False)
        cand = _top_k(x, min(k, int(bits.sum())))
    vals = x[cand].astype(np.float64)
    order = np.argsort(-vals, kind="stable")
    cand, vals = cand[order], vals[order]
    if params.temperature <= 0 or len(cand) == 1:
        return int(cand[0])
    probs = np.exp(vals - vals[0])
    probs /= probs.sum()
    keep = len(probs)
    if 0.0 < params.top_p < 1.0:
        keep = int(np.searchsorted(np.cumsum(probs), params.top_p) + 1)
    if params.min_p > 0.0:
        keep = min(keep, max(1, int((probs >= params.min_p * probs[0]).sum())))
    vals = vals[:keep] / params.temperature
    probs = np.exp(vals - vals[0])
    probs /= probs.sum()
    return int(cand[rng.choice(keep, p=probs)])


def _top_k(x: np.ndarray, k: int) -> np.ndarray:
    if k >= x.shape[0]:
        return np.arange(x.shape[0])
    return np.argpartition(x, -k)[-k:]
