"""Staggered schedule minutes (RULES S1, S2): every tenant keeps the cadence, N tenants spread evenly."""

from __future__ import annotations

from collections import Counter

import pytest

from mappings.schedules import (
    CADENCE_MINUTES,
    assign_offset,
    cron_offset,
    flow_offset,
    shifted_cron,
    slug_offset,
)


def _spread(count: int) -> Counter:
    taken: list[int] = []
    for index in range(count):
        taken.append(assign_offset(f"tenant-{index}", taken))
    return Counter(taken)


@pytest.mark.parametrize("count", [1, 7, 10, 23, 150])
def test_s2_n_tenants_spread_evenly_over_the_ten_minutes(count):
    per_minute = _spread(count)
    assert set(per_minute) <= set(range(CADENCE_MINUTES))
    assert sum(per_minute.values()) == count
    full, extra = divmod(count, CADENCE_MINUTES)
    assert (
        sorted(per_minute.get(m, 0) for m in range(CADENCE_MINUTES))
        == [full] * (CADENCE_MINUTES - extra) + [full + 1] * extra
    )


def test_assignment_is_deterministic_and_starts_from_the_slugs_own_offset():
    assert (
        assign_offset("abarrotes-lupita", [])
        == slug_offset("abarrotes-lupita")
        == assign_offset("abarrotes-lupita", [])
    )
    own = slug_offset("abarrotes-lupita")
    # its own offset is taken once, every other is free: it moves to the next one
    assert assign_offset("abarrotes-lupita", [own]) == (own + 1) % CADENCE_MINUTES
    assert len({slug_offset(f"t{i}") for i in range(100)}) == CADENCE_MINUTES  # not all the same


def test_s2_shifted_order_cron_keeps_ten_minutes():
    assert shifted_cron("*/10 * * * *", 0) == "*/10 * * * *"
    assert shifted_cron("*/10 * * * *", 7) == "7-59/10 * * * *"
    assert cron_offset("7-59/10 * * * *") == 7 and cron_offset("*/10 * * * *") == 0
    for offset in range(CADENCE_MINUTES):
        assert cron_offset(shifted_cron("*/10 * * * *", offset)) == offset


def test_s1_shifted_daily_cron_stays_in_the_same_hours():
    assert shifted_cron("0 8,16 * * *", 4) == "4 8,16 * * *"
    assert shifted_cron("30 7 * * *", 9) == "39 7 * * *"
    assert cron_offset("4 8,16 * * *") is None  # not a cadence cron: not read as an offset


def test_an_offset_that_would_break_the_cadence_is_refused():
    with pytest.raises(ValueError, match="not inside its 10-min cadence"):
        shifted_cron("*/10 * * * *", 10)
    with pytest.raises(ValueError, match="cannot be shifted"):
        shifted_cron("55 7 * * *", 9)
    with pytest.raises(ValueError, match="cannot be shifted"):
        shifted_cron("1,31 * * * *", 2)


def test_s3_deletions_run_half_a_cadence_after_the_tenants_order_push():
    for offset in range(CADENCE_MINUTES):
        assert flow_offset("orders", offset) == offset
        assert flow_offset("deletions", offset) == (offset + 5) % CADENCE_MINUTES
        assert flow_offset("catalog", offset) == offset
