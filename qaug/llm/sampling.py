"""Token sampling in numpy, in llama.cpp's order: penalties, top-k, top-p, min-p, temperature.

The result is exactly "mask with the grammar, then sample", but the full vocabulary is
scanned only about twice per token, never copied, and the grammar's bitmask is never
expanded, because with a 152k-262k vocabulary those passes are what the Python side of
a decode step costs:

- a threshold from a strided sample of the logits bounds the k-th largest logit from
  below, so every token at or above it is a superset of the top k (exact, no guess);
- the repeat penalty only touches the recent tokens, which join the candidate set;
- the grammar mask is checked on the candidates only. If at least k allowed candidates
  clear the threshold, no token outside the set can beat them; otherwise (few allowed
  tokens, e.g. JSON punctuation) the allowed ids are read from the mask's non-zero words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qaug.llm.engine import Sampling

STRIDE = 32  # one logit in STRIDE goes into the threshold sample
_SHIFTS = np.arange(32, dtype=np.uint32)


def allowed_bits(mask_row: np.ndarray, n_vocab: int) -> np.ndarray:
    """A boolean array over the vocabulary from llguidance's 32-bit little-endian bitmask row."""
    return np.unpackbits(mask_row.view(np.uint8), bitorder="little")[:n_vocab].astype(bool)


def allowed_ids(mask_row: np.ndarray, n_vocab: int) -> np.ndarray:
    """Token ids the mask allows, reading only its non-zero words (cheap when few tokens are allowed)."""
    words = np.flatnonzero(mask_row)
    if words.size * 4 > mask_row.size:
        return np.flatnonzero(allowed_bits(mask_row, n_vocab))
    bits = (mask_row[words].view(np.uint32)[:, None] >> _SHIFTS) & 1
    rows, cols = np.nonzero(bits)
    ids = words[rows].astype(np.int64) * 32 + cols
    return ids[ids < n_vocab]


def _is_allowed(mask_row: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    words = mask_row[tokens >> 5].view(np.uint32)
    return ((words >> (tokens & 31).astype(np.uint32)) & 1).astype(bool)


def _penalised(logits: np.ndarray, ids: np.ndarray, penalty: float, recent: np.ndarray | None) -> np.ndarray:
    vals = logits[ids].astype(np.float64)
    if recent is not None:
        hit = np.isin(ids, recent, assume_unique=True)
        v = vals[hit]
        vals[hit] = np.where(v > 0, v / penalty, v * penalty)
    return vals


def _top(ids: np.ndarray, vals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if ids.size > k:
        part = np.argpartition(vals, -k)[-k:]
        ids, vals = ids[part], vals[part]
    return ids, vals


def top_candidates(logits: np.ndarray, mask_row: np.ndarray | None, k: int, penalty: float = 1.0,
                   recent: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k best allowed tokens after the repeat penalty, and their (penalised) logits, unordered."""
    n = logits.shape[0]
    if k * STRIDE * 2 <= n:
        thr = np.partition(logits[::STRIDE], -k)[-k]  # k-th largest of a subset <= k-th largest of all
        ids = np.flatnonzero(logits >= thr)
        if recent is not None:
            ids = np.union1d(ids, recent)
        if mask_row is not None:
            ids = ids[_is_allowed(mask_row, ids)]
        vals = _penalised(logits, ids, penalty, recent)
        if np.count_nonzero(vals >= thr) >= k:  # everything outside the set is < thr
            return _top(ids, vals, k)
    ids = allowed_ids(mask_row, n) if mask_row is not None else np.arange(n)
    if not ids.size:
        raise ValueError("grammar allows no token")
    return _top(ids, _penalised(logits, ids, penalty, recent), k)


def sample_token(logits: np.ndarray, mask_row: np.ndarray | None, params: Sampling, rng: np.random.Generator,
                 recent: Sequence[int] = ()) -> int:
    """One token id from raw logits (float32, one row, not modified), honouring the grammar mask when given."""
    n_vocab = logits.shape[0]
    k = params.top_k if 0 < params.top_k < n_vocab else n_vocab
    if params.temperature <= 0:
        k = 1
    rec = None
    if params.repeat_penalty != 1.0 and len(recent):
        rec = np.unique(np.asarray(recent, dtype=np.int64))
    cand, vals = top_candidates(logits, mask_row, k, params.repeat_penalty, rec)
    order = np.argsort(-vals, kind="stable")
    cand, vals = cand[order], vals[order]
    if params.temperature <= 0 or len(cand) == 1:
        return int(cand[0])
    probs = np.exp(vals - vals[0])
    probs /= probs.sum()
    keep = len(probs)
    if 0.0 < params.top_p < 1.0:
        keep = min(keep, int(np.searchsorted(np.cumsum(probs), params.top_p) + 1))
    if params.min_p > 0.0:
        keep = min(keep, max(1, int((probs >= params.min_p * probs[0]).sum())))
    if keep == 1:
        return int(cand[0])
    weights = np.exp((vals[:keep] - vals[0]) / params.temperature)
    cum = np.cumsum(weights)
    i = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
    return int(cand[min(i, keep - 1)])
