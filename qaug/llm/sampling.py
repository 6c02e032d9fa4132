"""Token sampling in llama.cpp's order: penalties, top-k, top-p, min-p, temperature.

The result is exactly "mask with the grammar, then sample". Each step's rows go to the compiled
sampler (csample.c, loaded with ctypes) when it was built; this numpy code is its reference, the
fallback where no compiler was available, and the path for rows with a top-k over 256.

With a 152k-262k vocabulary the full-vocabulary passes are what the Python side of a decode step
costs, so here too each logits row is read about once, never copied, and the grammar's bitmask is
never expanded:

- the repeat penalty is applied in place to the few recent tokens and undone afterwards;
- the maxima of 16 interleaved groups of logits bound the k'-th largest logit from below
  (k' = 4k), so the members of the groups whose maximum clears that bound are a superset of
  the top k' tokens: exact, and only ~k'*16 logits are looked at after the one pass;
- the grammar mask is checked on those candidates only: if k of them are allowed, no token
  outside can beat them. A mask that allows few tokens (JSON punctuation) is read directly
  from its non-zero words instead, and anything else falls back to wider exact searches;
- `BatchSampler.sample` does this for every row of a decode step's logits at once.

Every row consumes exactly one number from its generator per step, whichever path samples it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qaug.llm.engine import Sampling

REPEAT_WINDOW = 64  # recent tokens the repeat penalty looks at (llama.cpp's default penalty_last_n)
GROUPS = 16  # interleaved groups whose maxima give the candidate threshold (16 measured fastest)
_SHIFTS = np.arange(32, dtype=np.uint32)
VECTOR_MIN_ROWS = 2  # a single row is quicker through top_candidates (fewer numpy calls)


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
        maxima = np.maximum.reduce(logits[:m * GROUPS].reshape(GROUPS, m))  # the one full pass
        offsets = m * np.arange(GROUPS)
        tail = np.arange(m * GROUPS, n)  # in no group: always looked at
        for want in (4 * k, 32 * k):  # room for disallowed tokens among the best ones
            if want > m:
                break
            thr = np.partition(maxima, -want)[-want]  # >= `want` logits are >= thr; all others are < thr
            ids = (np.flatnonzero(maxima >= thr)[:, None] + offsets).ravel()  # the groups that can hold them
            if tail.size:
                ids = np.concatenate([ids, tail])
            vals = logits[ids]
            keep = vals >= thr
            if mask_row is not None:
                keep &= _is_allowed(mask_row, ids)
            if np.count_nonzero(keep) >= k:
                return _top(ids[keep], vals[keep].astype(np.float64), k)
    ids = allowed_ids(mask_row, n) if mask_row is not None else np.arange(n)
    if not ids.size:
        raise ValueError("grammar allows no token")
    return _top(ids, logits[ids].astype(np.float64), k)


def _k(params: Sampling, n_vocab: int) -> int:
    if params.temperature <= 0:
        return 1
    return params.top_k if 0 < params.top_k < n_vocab else n_vocab


def _draw(cand: np.ndarray, vals: np.ndarray, params: Sampling, u: float) -> int:
    """Top-p, min-p, temperature and the draw, over the (unordered) top-k candidates."""
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
    i = int(np.searchsorted(cum, u * cum[-1], side="right"))
    return int(cand[min(i, keep - 1)])


def _draw_rows(ids: np.ndarray, vals: np.ndarray, params: Sequence[Sampling], u: np.ndarray) -> list[int]:
    """_draw for n rows of k candidates each, sorted best first: the same arithmetic, one call per step."""
    n, k = vals.shape
    temp = np.array([p.temperature for p in params], dtype=np.float64)
    top_p = np.array([p.top_p for p in params], dtype=np.float64)
    min_p = np.array([p.min_p for p in params], dtype=np.float64)
    d = vals - vals[:, :1]
    probs = np.exp(d)
    probs /= probs.sum(axis=1, keepdims=True)
    keep = np.full(n, k)
    use_p = (top_p > 0.0) & (top_p < 1.0)
    if use_p.any():
        keep = np.where(use_p, np.minimum(keep, (np.cumsum(probs, axis=1) < top_p[:, None]).sum(axis=1) + 1), keep)
    use_m = min_p > 0.0
    if use_m.any():
        kept = np.maximum(1, (probs >= min_p[:, None] * probs[:, :1]).sum(axis=1))
        keep = np.where(use_m, np.minimum(keep, kept), keep)
    draw = (temp > 0.0) & (keep > 1)  # the others take the best candidate without using their generator
    weights = np.exp(d / np.where(draw, temp, 1.0)[:, None])
    weights[np.arange(k)[None, :] >= keep[:, None]] = 0.0
    cum = np.cumsum(weights, axis=1)
    pick = np.minimum((cum <= (u * cum[np.arange(n), keep - 1])[:, None]).sum(axis=1), keep - 1)
    return ids[np.arange(n), np.where(draw, pick, 0)].tolist()


def _penalise(logits: np.ndarray, params: Sequence[Sampling], recents: Sequence[Sequence[int]]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Apply each row's repeat penalty in place to its recent tokens; what to put back afterwards."""
    rows: list[int] = []
    ids: list[int] = []
    pens: list[float] = []
    for i, (p, recent) in enumerate(zip(params, recents)):
        if p.repeat_penalty != 1.0 and len(recent):
            u = set(recent)
            rows += [i] * len(u)
            ids += u
            pens += [p.repeat_penalty] * len(u)
    if not rows:
        return None
    r, t, pen = np.array(rows), np.array(ids), np.array(pens, dtype=np.float32)
    saved = logits[r, t]
    logits[r, t] = np.where(saved > 0, saved / pen, saved * pen)
    return r, t, saved


def _candidates_rows(x: np.ndarray, masks: np.ndarray | None, ks: list[int]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                dict[int, tuple[np.ndarray, np.ndarray] | Exception]]:
    """The top-k allowed candidates of every row.

    Returns (rows, ids, vals, rest): for the usual rows, ids and vals are (len(rows), k) matrices sorted
    best first; `rest` holds the other rows' (ids, vals), unordered, or their ValueError. The one full
    pass over the matrix is the group maxima: the members of the groups whose maximum clears a row's
    threshold hold all of that row's candidates."""
    n, v = x.shape
    m = v // GROUPS
    k = ks[0]
    full = np.zeros(0, dtype=np.int64)
    ids_m = vals_m = np.zeros((0, max(k, 1)))
    if masks is None:
        sparse = np.zeros(n, dtype=bool)
    else:  # per row: count_nonzero's fast path, much quicker than axis=1
        sparse = np.fromiter((np.count_nonzero(r) for r in masks[:n]), dtype=np.int64, count=n) * 16 < masks.shape[1]
    if VECTOR_MIN_ROWS <= n and m and all(kk == k for kk in ks) and 4 * k <= m and not sparse.all():
        x = np.ascontiguousarray(x)
        maxima = np.maximum.reduce(x[:, :m * GROUPS].reshape(n, GROUPS, m), axis=1)
        thr = np.partition(maxima, -4 * k, axis=1)[:, -4 * k]
        hit = np.flatnonzero(maxima >= thr[:, None])  # (row, column-in-group) pairs, row-major
        flat = (((hit // m) * v + hit % m)[:, None] + m * np.arange(GROUPS)).ravel()  # indices into x.ravel()
        if v % GROUPS:  # the last v % GROUPS columns are in no group: always look at them
            flat = np.sort(np.concatenate([flat, np.add.outer(np.arange(n) * v, np.arange(m * GROUPS, v)).ravel()]))
        rows = flat // v
        cols = flat - rows * v
        vals = x.reshape(-1)[flat]
        keep = vals >= thr[rows]
        if masks is not None:
            words = masks.reshape(-1)[rows * masks.shape[1] + (cols >> 5)].view(np.uint32)
            keep &= ((words >> (cols & 31).astype(np.uint32)) & 1).astype(bool)
        rows, cols, vals = rows[keep], cols[keep], vals[keep].astype(np.float64)
        order = np.lexsort((-vals, rows))  # by row, best first
        cols, vals = cols[order], vals[order]
        bounds = np.searchsorted(rows[order], np.arange(n + 1))
        # a row is usual when k allowed candidates cleared its threshold: no token outside can beat them
        full = np.flatnonzero(~sparse & (np.diff(bounds) >= k))
        take = (bounds[full][:, None] + np.arange(k)).ravel()
        ids_m, vals_m = cols[take].reshape(-1, k), vals[take].reshape(-1, k)
    rest: dict[int, tuple[np.ndarray, np.ndarray] | Exception] = {}
    for i in sorted(set(range(n)) - set(full.tolist())):
        try:
            rest[int(i)] = top_candidates(x[i], None if masks is None else masks[i], ks[i])
        except ValueError as exc:
            rest[int(i)] = exc
    return full, ids_m, vals_m, rest


class BatchSampler:
    """Samples every row of a decode step: the compiled sampler when it was built, numpy otherwise.

    Holds the compiled sampler's buffers for up to `rows` rows, so the engine makes one per context."""

    def __init__(self, rows: int) -> None:
        from qaug.llm.csample import CompiledSampler

        self.compiled = CompiledSampler.create(rows, REPEAT_WINDOW)

    def sample(self, logits: np.ndarray, masks: np.ndarray | None, params: Sequence[Sampling],
               rngs: Sequence[np.random.Generator], recents: Sequence[Sequence[int]]) -> list[int | Exception]:
        """One token id per row of an (n, vocab) float32 logits matrix (left as found), or the ValueError of
        a row whose grammar allows nothing. Row i uses masks[i], params[i], rngs[i] and recents[i] (its last
        REPEAT_WINDOW tokens count for the repeat penalty). Each row takes one number from its generator."""
        n = logits.shape[0]
        if not logits.flags.writeable or not logits.flags.c_contiguous or logits.dtype != np.float32:
            logits = np.array(logits, dtype=np.float32)
        if masks is not None:
            if masks.shape[0] < n or masks.shape[1] * 32 < logits.shape[1]:
                raise ValueError(f"{masks.shape} grammar masks for {logits.shape} logits")
            masks = np.ascontiguousarray(masks[:n], dtype=np.int32)
        u = [g.random() for g in rngs]
        recents = [r[-REPEAT_WINDOW:] for r in recents]
        if self.compiled is None or n > self.compiled.rows:
            return _sample_numpy(logits, masks, params, np.array(u), recents)
        out: list[int | Exception] = []
        general = []
        for i, tok in enumerate(self.compiled.sample(logits, masks, params, u, recents)):
            if tok == -2:
                general.append(i)
            out.append(ValueError("grammar allows no token") if tok == -1 else tok)
        if general:  # top-k over the compiled sampler's limit
            rows = np.array(general)
            picked = _sample_numpy(logits[rows], None if masks is None else masks[rows], [params[i] for i in general],
                                   np.array(u)[rows], [recents[i] for i in general])
            for i, got in zip(general, picked):
                out[i] = got
        return out


def _sample_numpy(logits: np.ndarray, masks: np.ndarray | None, params: Sequence[Sampling], u: np.ndarray,
                  recents: Sequence[Sequence[int]]) -> list[int | Exception]:
    """The reference: every row in numpy, with the uniform numbers u (one per row)."""
    n, v = logits.shape
    saved = _penalise(logits, params, recents)
    try:
        full, ids, vals, rest = _candidates_rows(logits, masks, [_k(p, v) for p in params])
    finally:
        if saved is not None:
            logits[saved[0], saved[1]] = saved[2]
    out: list[int | Exception] = [0] * n
    if full.size:
        picked = _draw_rows(ids, vals, [params[i] for i in full], u[full])
        for i, tok in zip(full.tolist(), picked):
            out[i] = tok
    for i, c in rest.items():
        out[i] = c if isinstance(c, Exception) else _draw(c[0], c[1], params[i], float(u[i]))
    return out
