"""Staggered schedules (RULES S1, S2): every tenant keeps the cadence, N tenants spread evenly
to the second."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import pytest

from mappings.schedules import (
    CADENCE_MINUTES,
    CADENCE_SECONDS,
    assign_offset,
    cron_offset,
    every_cadence,
    flow_offset,
    schedule_offset,
    shifted_cron,
    slug_offset,
)


def _spread(count: int) -> list[int]:
    taken: list[int] = []
    for index in range(count):
        taken.append(assign_offset(f"tenant-{index}", taken))
    return taken


def _run_seconds(offsets: list[int]) -> list[int]:
    """Every second of the cadence at which a run starts: orders, and deletions 300 s later."""
    return sorted(
        [flow_offset("orders", o) for o in offsets] + [flow_offset("deletions", o) for o in offsets]
    )


@pytest.mark.parametrize("count", [1, 7, 10, 23, 150, 300])
def test_s2_n_tenants_spread_evenly_to_the_second(count):
    """150 tenants: a run every ~2 s, never two in one second, never a gap of more than twice
    the even spacing (no burst of runs for the worker to queue)."""
    offsets = _spread(count)
    assert all(0 <= offset < CADENCE_SECONDS for offset in offsets)
    runs = _run_seconds(offsets)
    assert len(set(runs)) == len(runs)  # 2 x 300 tenants fill each second once
    gaps = [b - a for a, b in itertools.pairwise([*runs, runs[0] + CADENCE_SECONDS])]
    assert max(gaps) <= 2 * math.ceil(CADENCE_SECONDS / len(runs)), gaps
    first_half = sum(offset < CADENCE_SECONDS // 2 for offset in offsets)
    assert abs(2 * first_half - count) <= 1  # as many order pushes first as deletions first


def test_assignment_is_deterministic_and_starts_from_the_slugs_own_offset():
    own = slug_offset("abarrotes-lupita", CADENCE_SECONDS)
    assert assign_offset("abarrotes-lupita", []) == own == assign_offset("abarrotes-lupita", [])
    # its own second is taken: half the 5-minute circle away, in the other half of the cadence
    moved = assign_offset("abarrotes-lupita", [own])
    assert (moved - own) % 300 == 150 and moved // 300 != own // 300
    taken = [0, 450, 225, 37, 412]
    assert assign_offset("x", taken) == assign_offset("x", list(reversed(taken)))
    assert len({slug_offset(f"t{i}", CADENCE_SECONDS) for i in range(100)}) > 80  # not all the same


def test_s2_staggered_schedule_keeps_ten_minutes_at_its_second():
    assert every_cadence("*/10 * * * *", 427) == {
        "interval": 600,
        "anchor_date": "2026-01-01T00:07:07+00:00",
    }
    for seconds in range(0, CADENCE_SECONDS, 7):
        schedule = every_cadence("*/10 * * * *", seconds) | {"timezone": "UTC"}
        assert schedule_offset(schedule) == seconds
    # prefect deploy's reader gets an unquoted timestamp as a datetime: read the same
    assert schedule_offset({"interval": 600, "anchor_date": datetime(2026, 1, 1, 0, 2, 5)}) == 125
    assert (
        schedule_offset({"interval": 600, "anchor_date": datetime(2025, 3, 1, 0, 2, 5, tzinfo=UTC)})
        == 125
    )


def test_s2_files_written_before_keep_their_minute_crons():
    """Tenants added before seconds were used carry `7-59/10 * * * *`: read as 420 s."""
    assert shifted_cron("*/10 * * * *", 0) == "*/10 * * * *"
    assert shifted_cron("*/10 * * * *", 7) == "7-59/10 * * * *"
    assert cron_offset("7-59/10 * * * *") == 7 and cron_offset("*/10 * * * *") == 0
    for offset in range(CADENCE_MINUTES):
        assert cron_offset(shifted_cron("*/10 * * * *", offset)) == offset
        assert schedule_offset({"cron": shifted_cron("*/10 * * * *", offset)}) == offset * 60
    assert schedule_offset({"cron": "4 8,16 * * *"}) is None  # not a cadence


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
    with pytest.raises(ValueError, match="not inside its 600-s cadence"):
        every_cadence("*/10 * * * *", 600)
    with pytest.raises(ValueError, match="not an every-N-minutes cadence"):
        every_cadence("0 8,16 * * *", 5)


def test_s3_deletions_run_half_a_cadence_after_the_tenants_order_push():
    for offset in range(0, CADENCE_SECONDS, 13):
        assert flow_offset("orders", offset) == offset
        assert flow_offset("deletions", offset) == (offset + 300) % CADENCE_SECONDS
        assert flow_offset("catalog", offset) == offset
