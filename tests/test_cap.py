"""The cap's arithmetic, decided before generating (qaug.cap)."""

from __future__ import annotations

from qaug import cap


def test_share_out_goes_to_the_method_with_the_fewest_variants_so_far() -> None:
    assert cap.share_out(1, [0, 0, 0]) == [1, 0, 0]
    assert cap.share_out(1, [3, 0, 0]) == [0, 1, 0]  # a later batch: the first method already has its share
    assert cap.share_out(4, [1, 0, 0]) == [1, 2, 1]
    assert cap.share_out(0, [0, 0]) == [0, 0]


def test_records_needed_and_max_variants() -> None:
    assert cap.max_variants(2, 0.3) == 0 and cap.max_variants(3, 0.3) == 1
    assert cap.records_needed(0.3) == 3 and cap.records_needed(0.5) == 1 and cap.records_needed(1.0) == 0
    assert cap.max_variants(7, 0.3) == 3  # 7 * 3/7 = 2.9999999999999996 as a float sum


def test_units_to_plan_overplans_only_by_the_yield_seen() -> None:
    assert cap.units_to_plan(3, tried=0, accepted=0, available=100) == 3  # no history: no blind over-planning
    assert cap.units_to_plan(3, tried=9, accepted=4, available=100) == 6  # half kept: twice the units
    assert cap.units_to_plan(3, tried=99, accepted=0, available=100) == 60  # floor of the yield, not every unit
    assert cap.units_to_plan(3, tried=9, accepted=4, available=4) == 4
    assert cap.units_to_plan(0, tried=0, accepted=0, available=9) == 0


def test_pick_units_is_stable_and_spread() -> None:
    keys = [f"r{i}\0{0}" for i in range(100)]
    a = cap.pick_units(keys, 10, 0, "rewrite")
    assert a == cap.pick_units(keys, 10, 0, "rewrite") and len(a) == 10
    assert max(a) > 20  # not simply the first records of the batch
    assert cap.pick_units(keys, 200, 0, "rewrite") == set(range(100))
