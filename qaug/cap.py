"""The --max-aug-ratio cap (RunCap), decided before generating: how many variants a batch may keep, how they are
shared among the methods across the whole run, and how many model units are worth computing for them.

Model work is expensive, so a batch asks a model method only for about as many units as its share of
the cap can keep, over-planned by the reject rate seen so far; pure methods are cheap and run on every
record, the cap choosing among their variants afterwards.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence, Mapping
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from qaug.record_flow import Gated, Method
    from qaug.records import Record
    from qaug.stats import RunStats

C = TypeVar("C", bound=Hashable)

#: the smallest share of a model method's units expected to give a kept variant, so a method whose every
#: variant was rejected so far is not planned for every record of the input at once
MIN_YIELD = 0.05


def per_original(ratio: float) -> float:
    """Variants one original earns: a share r of the output is r / (1 - r) variants per original."""
    return math.inf if ratio >= 1.0 else ratio / (1.0 - ratio)


def allowance(budget: float) -> int:
    """Whole variants a budget lets through (a budget of 2.9999999 is 3: float sums of r/(1-r))."""
    return int(budget + 1e-9)


def max_variants(records: int, ratio: float) -> int:
    """The most variants `records` originals allow under the cap, whatever the batching."""
    return records * 10**9 if ratio >= 1.0 else allowance(records * per_original(ratio))


def records_needed(ratio: float) -> int:
    """The fewest originals that let one variant through (0 when nothing is capped)."""
    if ratio >= 1.0:
        return 0
    return 0 if ratio <= 0.0 else math.ceil((1.0 - 1e-9) / per_original(ratio))


def share_out(allowed: int, written: Sequence[int]) -> list[int]:
    """Split `allowed` among methods, one at a time to the one with the fewest variants so far
    (written before this batch plus shared in it), ties to the earlier method: every method asked
    for gets a share over the run, whatever the batches or files."""
    quota = [0] * len(written)
    for _ in range(allowed):
        i = min(range(len(written)), key=lambda j: (written[j] + quota[j], j))
        quota[i] += 1
    return quota


def units_to_plan(quota: int, tried: int, accepted: int, available: int) -> int:
    """Model units to compute for a quota: the quota over the yield seen so far (accepted variants per
    unit; 1 with no history, so the first batch does not over-plan blindly), never more than there are."""
    if quota <= 0 or available <= 0:
        return 0
    expected = max(MIN_YIELD, (accepted + 1) / (tried + 1))
    return min(available, math.ceil(quota / expected))


def pick_units(keys: Sequence[str], n: int, seed: int, method: str) -> set[int]:
    """Which `n` of the batch's units (by record id and index) to compute: a stable hash order, so the
    choice does not favour the first records of a batch and is the same on a rerun."""
    if n >= len(keys):
        return set(range(len(keys)))

    def order(i: int) -> bytes:
        return hashlib.blake2b(f"{seed}\0{method}\0{keys[i]}".encode("utf-8", "surrogatepass"), digest_size=8).digest()

    return set(sorted(range(len(keys)), key=order)[:n])


def choose(candidates: Sequence[C], allowed: int, method: Callable[[C], str], score: Callable[[C], float | None],
           written: Mapping[str, int]) -> set[C]:
    """The `allowed` candidates (in input order) the cap keeps: best score first; between equal scores
    (pure methods have none) the method with the fewest variants in the run so far, so no method asked
    for is crowded out by the others, in this batch or over the run; then the earlier candidate."""
    seen: Counter[str] = Counter(written)
    turn: dict[C, int] = {}
    for c in candidates:
        name = method(c)
        turn[c] = seen[name]
        seen[name] += 1
    ranked = sorted(range(len(candidates)), key=lambda i: (-(score(candidates[i]) or 0.0), turn[candidates[i]], i))
    return {candidates[i] for i in ranked[:allowed]}


class RunCap:
    """The cap over one run: the budget that batches carry over to the next, checkpointed with the run so a
    resumed run goes on with it. `plan_units` before a batch is computed, `apply` once it is gated."""

    def __init__(self, ratio: float, seed: int, variants: int, budget: float = 0.0) -> None:
        self.ratio, self.seed, self.variants, self.budget = ratio, seed, variants, budget

    def plan_units(self, records: Sequence[Record], methods: Sequence[Method], stats: RunStats) -> dict[str, set[int]]:
        """For each model method, the units of this batch worth computing under the cap; a method absent from
        the answer runs on every unit (pure methods, or no cap).

        Model work goes to the records a method applies to; the units of records it does not apply to are in
        the plan too: they cost nothing (a skip before any model call), and the report gives their reason. The
        expected yield counts the units that were not skips."""
        model = [m for m in methods if not m.augmenter.pure]
        if self.ratio >= 1.0 or not model:
            return {}
        allowed = allowance(self.budget + len(records) * per_original(self.ratio))
        quota = share_out(allowed, [stats.method(m.augmenter.name).written for m in methods])
        v = self.variants
        plan = {}
        for m, q in zip(methods, quota):
            if m.augmenter.pure:
                continue
            name = m.augmenter.name
            ms = stats.method(name)
            live = [i for i, rec in enumerate(records) if m.augmenter.applies(rec)]
            units = [i * v + k for i in live for k in range(v)]
            keys = [f"{records[i].id}\0{k}" for i in live for k in range(v)]
            worked = ms.tried - sum(ms.skipped.values())
            chosen = pick_units(keys, units_to_plan(q, worked, ms.accepted, len(keys)), self.seed, name)
            plan[name] = {units[j] for j in chosen} | (set(range(len(records) * v)) - set(units))
        return plan

    def apply(self, gated: Sequence[Gated], methods: Sequence[Method], stats: RunStats) -> None:
        """Keep augmented records within the ratio of the output, best-scored variants first.

        Each original earns r/(1-r) variants of budget; the choice is made per batch (--window), knowing the
        whole batch, and unused budget carries over, so the share holds at every batch boundary. Where the cap
        binds, ties between equal scores go to the method with the fewest variants in the run so far (across
        batches and files), then to the earlier record. A variant over the cap is counted (per method,
        `capped`), not written: it is no quality reject.
        """
        if self.ratio >= 1.0:
            return
        self.budget += len(gated) * per_original(self.ratio)
        candidates = [(g_i, a_i) for g_i, g in enumerate(gated) for a_i in range(len(g.accepted))]
        allowed = allowance(self.budget)
        if len(candidates) <= allowed:
            self.budget -= len(candidates)
            return
        keep = choose(candidates, allowed,
                      lambda c: gated[c[0]].accepted[c[1]].method.augmenter.name,
                      lambda c: gated[c[0]].accepted[c[1]].outcome.score,
                      {m.augmenter.name: stats.method(m.augmenter.name).written for m in methods})
        self.budget -= allowed
        for g_i, g in enumerate(gated):
            kept = []
            for a_i, entry in enumerate(g.accepted):
                if (g_i, a_i) in keep:
                    kept.append(entry)
                    continue
                stats.cap_dropped += 1
                stats.method(entry.method.augmenter.name).capped += 1
            g.accepted = kept
