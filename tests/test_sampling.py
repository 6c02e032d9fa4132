"""The token sampler: the compiled path and the numpy path against a plain reference, and each other."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pytest

from qaug.llm import csample
from qaug.llm.engine import Sampling
from qaug.llm.sampling import REPEAT_WINDOW, BatchSampler, _sample_numpy, allowed_bits, allowed_ids, top_candidates


def sample_batch(logits: np.ndarray, masks: np.ndarray | None, params: Sequence[Sampling],
                 rngs: Sequence[np.random.Generator], recents: Sequence[Sequence[int]]) -> list[int | Exception]:
    """BatchSampler.sample without keeping a sampler (the engine keeps one per context)."""
    return BatchSampler(logits.shape[0]).sample(logits, masks, params, rngs, recents)


def sample_token(logits: np.ndarray, mask_row: np.ndarray | None, params: Sampling, rng: np.random.Generator,
                 recent: Sequence[int] = ()) -> int:
    """One token id from raw logits (float32, one row; left as found), honouring the grammar mask when given."""
    out = sample_batch(logits.reshape(1, -1), None if mask_row is None else mask_row.reshape(1, -1), [params], [rng],
                       [recent])[0]
    if isinstance(out, Exception):
        raise out
    return out


def _pack(bits: np.ndarray) -> np.ndarray:
    pad = np.zeros((-len(bits)) % 32, dtype=bool)
    return np.packbits(np.concatenate([bits, pad]), bitorder="little").view(np.int32)


def reference(x: np.ndarray, bits: np.ndarray | None, p: Sampling, u: float, recent: list[int]) -> int | None:
    """llama.cpp's order written out over the whole vocabulary: the specification both paths must meet."""
    x = x.astype(np.float32).copy()
    for t in set(recent):
        x[t] = x[t] / np.float32(p.repeat_penalty) if x[t] > 0 else x[t] * np.float32(p.repeat_penalty)
    ids = np.flatnonzero(bits) if bits is not None else np.arange(len(x))
    if not ids.size:
        return None
    ids = ids[np.argsort(-x[ids], kind="stable")]
    k = 1 if p.temperature <= 0 else (p.top_k if 0 < p.top_k < len(x) else len(x))
    ids = ids[:k]
    vals = x[ids].astype(np.float64)
    if p.temperature <= 0 or len(ids) == 1:
        return int(ids[0])
    probs = np.exp(vals - vals[0])
    probs /= probs.sum()
    keep = len(ids)
    if 0 < p.top_p < 1:
        keep = min(keep, int((np.cumsum(probs) < p.top_p).sum()) + 1)
    if p.min_p > 0:
        keep = min(keep, max(1, int((probs >= p.min_p * probs[0]).sum())))
    w = np.cumsum(np.exp((vals[:keep] - vals[0]) / p.temperature))
    return int(ids[min(int((w <= u * w[-1]).sum()), keep - 1)])


def _case(rng: np.random.Generator, trial: int) -> tuple:
    n = int(rng.choice([50, 3000, 40000, 151936]))
    x = (rng.standard_normal(n) * rng.uniform(0.5, 4)).astype(np.float32)
    kind = trial % 4
    bits = np.ones(n, dtype=bool)
    if kind == 1:  # JSON punctuation: a handful of tokens allowed
        bits = rng.random(n) < 0.002
        bits[rng.integers(n)] = True
    elif kind == 2:  # the best tokens are forbidden
        bits[np.argsort(x)[-int(rng.integers(1, 300)):]] = False
        bits[0] = True
    p = Sampling(temperature=float(rng.choice([0.0, 0.3, 0.7, 1.5])), top_p=float(rng.choice([0.5, 0.8, 1.0])),
                 top_k=int(rng.choice([0, 1, 5, 20, 40, 200, 300])), min_p=float(rng.choice([0.0, 0.05])),
                 repeat_penalty=float(rng.choice([1.0, 1.05, 1.3])))
    recent = [int(t) for t in rng.integers(0, n, int(rng.integers(0, REPEAT_WINDOW - 3)))]
    recent += [int(t) for t in np.argsort(x)[-3:]]  # penalise some of the best tokens too
    return x, (None if kind == 3 else bits), p, recent


def test_fast_top_k_is_exactly_the_masked_top_k() -> None:
    rng = np.random.default_rng(7)
    for trial in range(120):
        x, bits, _, _ = _case(rng, trial)
        n = len(x)
        mask = None if bits is None else _pack(bits)
        k = int(rng.choice([1, 20]))
        ids, vals = top_candidates(x, mask, k)
        ref = np.where(bits if bits is not None else True, x.astype(np.float64), -np.inf)
        assert np.array_equal(np.sort(vals)[::-1], np.sort(ref)[::-1][:min(k, int(np.isfinite(ref).sum()))])
        assert len(set(ids.tolist())) == len(ids) and np.array_equal(ref[ids], vals)
        if mask is not None:
            assert np.array_equal(np.sort(allowed_ids(mask, n)), np.flatnonzero(allowed_bits(mask, n)))


@pytest.mark.parametrize("path", ["compiled", "numpy"])
def test_each_path_samples_exactly_what_the_reference_does(path: str) -> None:
    if path == "compiled" and csample.library_path() is None:
        if os.environ.get("QAUG_SAMPLER", "").lower() == "numpy":
            pytest.skip("QAUG_SAMPLER=numpy")
        pytest.fail(f"compiled sampler: {csample.unavailable_reason()} (scripts/setup.sh builds it)")
    rng = np.random.default_rng(11)
    for trial in range(160):
        rows = [_case(rng, trial) for _ in range(int(rng.integers(1, 4)))]
        n = max(len(r[0]) for r in rows)
        rows = [r for r in rows if len(r[0]) == n] or rows[:1]
        x = np.stack([r[0] for r in rows])
        masks = None if any(r[1] is None for r in rows) else np.stack([_pack(r[1]) for r in rows])
        params = [r[2] for r in rows]
        recents = [r[3] for r in rows]
        u = rng.random(len(rows))
        before = x.copy()
        if path == "compiled":
            got = BatchSampler(len(rows)).compiled.sample(x, masks, params, list(u), recents)  # type: ignore[union-attr]
            got = [None if t == -1 else t for t in got]
        else:
            got = [None if isinstance(t, Exception) else t for t in _sample_numpy(x, masks, params, u, recents)]
        assert np.array_equal(x, before)  # the penalty was undone: logits left as found
        for i, r in enumerate(rows):
            want = reference(r[0], None if masks is None else r[1], r[2], float(u[i]), r[3])
            k = params[i].top_k if 0 < params[i].top_k < n else n
            if path == "compiled" and k > csample.MAX_K and params[i].temperature > 0:
                assert got[i] == -2  # handed to the numpy path
            else:
                assert got[i] == want, (trial, i, params[i])


def test_batch_sampler_routes_large_top_k_to_numpy_and_reports_an_empty_grammar() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5000)).astype(np.float32)
    bits = np.ones((3, 5000), dtype=bool)
    bits[2] = False  # row 2: the grammar allows nothing
    masks = np.stack([_pack(b) for b in bits])
    params = [Sampling(top_k=1000), Sampling(), Sampling()]
    gens = [np.random.default_rng(s) for s in (1, 2, 3)]
    out = BatchSampler(3).sample(x, masks, params, gens, [[], [5, 6], []])
    twins = [np.random.default_rng(s) for s in (1, 2, 3)]
    u = [g.random() for g in twins]
    assert out[0] == reference(x[0], bits[0], params[0], u[0], [])
    assert out[1] == reference(x[1], bits[1], params[1], u[1], [5, 6])
    assert isinstance(out[2], ValueError)
    # every row took exactly one number from its generator
    assert [g.random() for g in gens] == [g.random() for g in twins]


def test_sample_token_honours_the_mask_and_leaves_read_only_logits_alone() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal(40000).astype(np.float32)
    bits = rng.random(40000) < 0.01
    x.flags.writeable = False
    for _ in range(20):
        tok = sample_token(x, _pack(bits), Sampling(repeat_penalty=1.3), rng, list(rng.integers(0, 40000, 64)))
        assert bits[tok]
    none = _pack(np.zeros(40000, dtype=bool))
    assert isinstance(sample_batch(x.reshape(1, -1), none.reshape(1, -1), [Sampling()], [rng], [[]])[0], ValueError)
    with pytest.raises(ValueError, match="allows no token"):
        sample_token(x, none, Sampling(), rng)


def test_a_compiled_sampler_from_another_csample_version_is_not_called(monkeypatch: pytest.MonkeyPatch) -> None:
    if csample.library_path() is None:
        pytest.skip("compiled sampler not in use")
    monkeypatch.setattr(csample, "ABI", csample.ABI + 1)
    monkeypatch.setattr(csample, "_LIB", [])
    assert csample.library_path() is None and "another version" in csample.unavailable_reason()
    assert BatchSampler(2).compiled is None  # numpy samples instead


def test_masks_narrower_than_the_vocabulary_are_refused() -> None:
    x = np.zeros((2, 100), dtype=np.float32)
    with pytest.raises(ValueError, match="masks"):
        BatchSampler(2).sample(x, np.zeros((2, 3), dtype=np.int32), [Sampling()] * 2,
                               [np.random.default_rng(0)] * 2, [[], []])
