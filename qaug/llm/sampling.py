"""Token sampling in numpy, in llama.cpp's order: penalties, top-k, top-p, min-p, temperature.

The result is exactly "mask with the grammar, then sample", but the full vocabulary is
scanned only about twice per token, never copied, and the grammar's bitmask is never
expanded, because with a 152k-262k vocabulary those passes are what the Python side of
a decode step costs:

- the repeat penalty is applied in place to the few recent tokens and undone afterwards;
- the maxima of 32 interleaved groups of logits bound the k'-th largest logit from below,
  so the tokens at or above the k'-th largest maximum are a superset of the top k' (exact);
- the grammar mask is checked on those candidates only: if k of them are allowed, no token
  outside can beat them. A mask that allows few tokens (JSON punctuation) is read directly
  from its non-zero words instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qaug.llm.engine import Sampling

GROUPS = 32  # interleaved groups whose maxima give the candidate threshold
_SHIFTS = np.arange(32, dtype=np.uint32)


def allowed_bits(mask_row: np.ndarray, n_vocab: int) -> np.ndarray:
    """A boolean array over the vocabulary from llguidance's 32-bit little-endian bitmask row."""
    return np.unpackbits(mask_row.view(np.uint8), bitorder="little")[:n_vocab].astype(bool)


def allowed_ids(mask_row: np.ndarray, n_vocab: int) -> np.ndarray:
    """Token ids the mask allows, reading only its non-zero words (cheap when few tokens are allowed)."""
    words = np.flatnonzero(mask_row)
    if words.size * 4 > mask_row.size:
        return np.flatnonzero(allowed_bits(mask_row, n_vocab))
    return _ids_in_words(mask_row, words, n_vocab)


def _is_allowed(mask_row: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    words = mask_row[tokens >> 5].view(np.uint32)
    return ((words >> (tokens & 31).astype(np.uint32)) & 1).astype(bool)


def _top(ids: np.ndarray, vals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if ids.size > k:
        part = np.argpartition(vals, -k)[-k:]
        ids, vals = ids[part], vals[part]
    return ids, vals


def _ids_in_words(mask_row: np.ndarray, words: np.ndarray, n_vocab: int) -> np.ndarray:
    bits = (mask_row[words].view(np.uint32)[:, None] >> _SHIFTS) & 1
    rows, cols = np.nonzero(bits)
    ids = words[rows].astype(np.int64) * 32 + cols
    return ids[ids < n_vocab]


def top_candidates(logits: np.ndarray, mask_row: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest allowed logits (float64) and their token ids, unordered."""
    n = logits.shape[0]
    if mask_row is not None:
        words = np.flatnonzero(mask_row)
        if not words.size:
            raise ValueError("grammar allows no token")
        if words.size * 16 < mask_row.size:  # few allowed tokens: take them straight from the mask
            ids = _ids_in_words(mask_row, words, n)
            return _top(ids, logits[ids].astype(np.float64), k)
    m = n // GROUPS
    if m:
        maxima = np.maximum.reduce(logits[:m * GROUPS].reshape(GROUPS, m))
        for want in (4 * k, 32 * k):  # room for disallowed tokens among the best ones
            if want > m:
                break
            thr = np.partition(maxima, -want)[-want]  # >= `want` logits are >= thr; all others are < thr
            ids = np.flatnonzero(logits >= thr)
            if mask_row is not None:
                ids = ids[_is_allowed(mask_row, ids)]
            if ids.size >= k:
                return _top(ids, logits[ids].astype(np.float64), k)
    ids = allowed_ids(mask_row, n) if mask_row is not None else np.arange(n)
    if not ids.size:
        raise ValueError("grammar allows no token")
    return _top(ids, logits[ids].astype(np.float64), k)


def sample_token(logits: np.ndarray, mask_row: np.ndarray | None, params: Sampling, rng: np.random.Generator,
                 recent: Sequence[int] = ()) -> int:
    """One token id from raw logits (float32, one row; left as found), honouring the grammar mask when given."""
    n_vocab = logits.shape[0]
    k = params.top_k if 0 < params.top_k < n_vocab else n_vocab
    if params.temperature <= 0:
        k = 1
    recent_ids = None
    if params.repeat_penalty != 1.0 and len(recent):
        recent_ids = np.fromiter(set(recent), dtype=np.int64)
        if not logits.flags.writeable:
            logits = logits.copy()
        saved = logits[recent_ids]
        logits[recent_ids] = np.where(saved > 0, saved / params.repeat_penalty, saved * params.repeat_penalty)
    try:
        cand, vals = top_candidates(logits, mask_row, k)
    finally:
        if recent_ids is not None:
            logits[recent_ids] = saved
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
