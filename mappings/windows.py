"""Time windows as Handy reads them (RULES O1, D1): whole seconds, inclusive bounds, sent as wall
times of the tenant's zone. Pure functions, no I/O.

A wall time is ambiguous in the hour a DST change repeats, and Handy may read it either way: a
bound is therefore sent as a wall time whose every reading still covers the window (the start is
moved earlier, the end later, by the DST jump). The overlap costs a few re-read orders, which the
bindings skip; the alternative is an hour of orders never read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SECOND = timedelta(seconds=1)


def _readings(wall: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants a naive wall time can mean in `zone` (equal unless it is ambiguous)."""
    return (
        wall.replace(tzinfo=zone, fold=0).astimezone(UTC),
        wall.replace(tzinfo=zone, fold=1).astimezone(UTC),
    )


def _require_aware(moment: datetime) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"naive datetime {moment.isoformat()} given; pass an aware (UTC) datetime")


def wall_time_not_after(moment: datetime, zone: ZoneInfo) -> datetime:
    """The latest naive wall time in `zone` that, however it is read, means `moment` or earlier:
    the wall time of a window's start."""
    _require_aware(moment)
    candidate = moment
    for _ in range(4):  # one step per DST jump in the way; zones never stack more than two
        wall = candidate.astimezone(zone).replace(tzinfo=None)
        latest = max(_readings(wall, zone))
        if latest <= moment:
            return wall
        candidate -= latest - moment
    raise ValueError(f"no unambiguous wall time at or before {moment.isoformat()} in {zone.key}")


def wall_time_not_before(moment: datetime, zone: ZoneInfo) -> datetime:
    """The earliest naive wall time in `zone` that, however it is read, means `moment` or later:
    the wall time of a window's end."""
    _require_aware(moment)
    candidate = moment
    for _ in range(4):
        wall = candidate.astimezone(zone).replace(tzinfo=None)
        earliest = min(_readings(wall, zone))
        if earliest >= moment:
            return wall
        candidate += moment - earliest
    raise ValueError(f"no unambiguous wall time at or after {moment.isoformat()} in {zone.key}")


def widest_reading(start: datetime, end: datetime, zone: ZoneInfo) -> timedelta:
    """The longest span Handy may read for [start, end] sent as the wall times above: longer
    than the window by up to a DST jump at each bound."""
    wall_start = wall_time_not_after(start, zone)
    wall_end = wall_time_not_before(end, zone)
    return max(_readings(wall_end, zone)) - min(_readings(wall_start, zone))


def whole_seconds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end] widened to whole seconds (Handy's resolution), start floored, end ceiled."""
    _require_aware(start)
    _require_aware(end)
    if end < start:
        raise ValueError(f"window end {end.isoformat()} is before its start {start.isoformat()}")
    floor = start.replace(microsecond=0)
    ceil = end.replace(microsecond=0) + (SECOND if end.microsecond else timedelta(0))
    return floor, ceil


def split_window(start: datetime, end: datetime, parts: int) -> list[tuple[datetime, datetime]]:
    """[start, end] (whole seconds) cut into at most `parts` consecutive slices that share their
    boundary second, oldest first. Handy stamps orders finer than the second its filters take:
    an order at 10:00:05.7 is in neither [..., 10:00:05] nor [10:00:06, ...], so slices
    overlap by that second (an order read twice is read once: ids are de-duplicated)."""
    seconds = int((end - start).total_seconds())
    parts = max(1, min(parts, seconds))
    bounds = [start + SECOND * (i * seconds // parts) for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


def widened_start(start: datetime, skew_seconds: float, lookback: timedelta) -> datetime:
    """A window start moved back by the lookback and by the measured distance between Handy's
    clock and ours (either way): orders Handy stamps with its own clock are still covered."""
    return start - lookback - timedelta(seconds=abs(skew_seconds))


def next_cursor(start: datetime, end: datetime, retry_from: datetime | None) -> datetime:
    """Where a stream's cursor moves after reading [start, end] (O1, D1): to `end`, or, when a
    record at `retry_from` failed temporarily, to the second before it (never before `start`),
    so the next run reads that record again."""
    if retry_from is None:
        return end
    return max(start, min(end, retry_from - SECOND))


def day_bounds(day: date, zone_name: str) -> tuple[datetime, datetime]:
    """The tenant's local calendar day as an aware [start, end) pair (X1 reconciliation)."""
    start = datetime.combine(day, time.min, tzinfo=ZoneInfo(zone_name))
    return start, start + timedelta(days=1)


def parse_timestamp(value: str | None) -> datetime | None:
    """An API timestamp ('2023-02-26T07:14:32Z') as an aware UTC datetime; a zone-less value is
    read as UTC (Handy documents UTC)."""
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
