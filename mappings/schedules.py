"""Staggered schedules (RULES S1, S2): each tenant's runs start at its own second inside the
10-minute cadence, so N tenants never start their processes in one burst. Pure functions, no I/O.

A tenant gets an offset of 0-599 s when it is added, placed where the tenants already there leave
the widest gap (so any N spreads evenly, about 300/N s apart), the first such gap at or after a
hash of the slug when several are as wide (deterministic, and independent of the order in which
the others are listed). Its order push runs at that second of every 10 minutes (S2 unchanged:
still every 10 minutes; Prefect's interval schedule anchored at the offset, as cron has no
seconds), its deletion propagation half a cadence later, so the two flows of a tenant do not meet
on the lease they share (S3). Orders and deletions share one 5-minute circle (a tenant's deletion
at +300 s falls where another's order push would), so offsets are spread on it. The twice-daily
catalog and customer syncs (S1) move by the offset's whole minutes past 08:00 and 16:00 (cron).
Files written before (an offset of whole minutes, as a cron `7-59/10 * * * *`) are read as they are.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

CADENCE_MINUTES = 10  # S2
CADENCE_SECONDS = CADENCE_MINUTES * 60
CIRCLE_SECONDS = CADENCE_SECONDS // 2  # orders at the offset, deletions half a cadence later
# Interval schedules count from this instant (a 10-minute boundary) plus the tenant's offset.
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
# flow -> minutes after the tenant's offset (within the cadence)
FLOW_SHIFT = {
    "catalog": 0,
    "customers": CADENCE_MINUTES // 2,
    "orders": 0,
    "deletions": CADENCE_MINUTES // 2,
}

_EVERY = re.compile(r"(?:\*|0|0-59)/(\d+)")  # */10, 0/10, 0-59/10
_FROM = re.compile(r"(\d+)-59/(\d+)")  # 7-59/10


def slug_offset(slug: str, cadence: int = CADENCE_MINUTES) -> int:
    """A stable offset for a slug (sha256, not hash(): the same in every process)."""
    return int.from_bytes(hashlib.sha256(slug.encode("utf-8")).digest()[:4], "big") % cadence


def assign_offset(slug: str, taken: Iterable[int]) -> int:
    """An offset in seconds (0-599) for a new tenant, `taken` the other tenants' offsets: the
    middle of the widest gap they leave on the 5-minute circle (among equally wide gaps, the first
    at or after the slug's own stable point), in the half of the cadence fewer of them use (its
    order push first or its deletions first; ties: the slug's)."""
    taken = list(taken)
    own = slug_offset(slug, CADENCE_SECONDS)
    points = sorted({offset % CIRCLE_SECONDS for offset in taken})
    if not points:
        position = own % CIRCLE_SECONDS
    else:
        gaps = [
            (points[(index + 1) % len(points)] - point) % CIRCLE_SECONDS or CIRCLE_SECONDS
            for index, point in enumerate(points)
        ]
        widest = max(gaps)
        starts = [point for point, gap in zip(points, gaps, strict=True) if gap == widest]
        start = min(starts, key=lambda point: (point - own) % CIRCLE_SECONDS)
        position = (start + widest // 2) % CIRCLE_SECONDS
    halves = Counter(offset % CADENCE_SECONDS // CIRCLE_SECONDS for offset in taken)
    half = min((0, 1), key=lambda h: (halves.get(h, 0), (h - own // CIRCLE_SECONDS) % 2))
    return half * CIRCLE_SECONDS + position


def flow_offset(flow: str, tenant_offset: int) -> int:
    """The offset in seconds of one flow of the tenant (deletions half a cadence after orders)."""
    return (tenant_offset + FLOW_SHIFT.get(flow, 0) * 60) % CADENCE_SECONDS


def every_cadence(cron: str, seconds: int) -> dict[str, int | str]:
    """The interval schedule (`interval`, `anchor_date`) firing at `seconds` past each step of a
    cadence cron (`*/10 * * * *` + 427 -> every 600 s from 00:07:07); other crons raise."""
    match = _EVERY.fullmatch(cron.split(" ", 1)[0])
    if not match or cron.split(" ", 1)[1] != "* * * *":
        raise ValueError(f"cron {cron!r} is not an every-N-minutes cadence")
    step = int(match.group(1)) * 60
    if not 0 <= seconds < step:
        raise ValueError(
            f"cron {cron!r}: an offset of {seconds} s is not inside its {step}-s cadence"
        )
    return {"interval": step, "anchor_date": (ANCHOR + timedelta(seconds=seconds)).isoformat()}


def schedule_offset(schedule: dict) -> int | None:
    """The offset in seconds inside the S2 cadence of a schedule written by `tenant add`: an
    interval schedule from every_cadence, or a cadence cron of whole minutes (shifted_cron, files
    written before); None for other forms."""
    if "interval" in schedule and schedule.get("anchor_date") is not None:
        anchor = schedule["anchor_date"]
        anchor = anchor if isinstance(anchor, datetime) else datetime.fromisoformat(str(anchor))
        anchor = anchor if anchor.tzinfo else anchor.replace(tzinfo=UTC)
        return int((anchor - ANCHOR).total_seconds()) % int(schedule["interval"])
    minutes = cron_offset(str(schedule["cron"])) if "cron" in schedule else None
    return None if minutes is None else minutes * 60


def shifted_cron(cron: str, minutes: int) -> str:
    """`cron` with its minute field moved `minutes` later, the cadence unchanged:
    `*/10 * * * *` + 7 -> `7-59/10 * * * *`; `0 8,16 * * *` + 7 -> `7 8,16 * * *`.
    Only these two minute forms are shifted (a step from 0, or one minute); anything else raises."""
    minute, rest = cron.split(" ", 1)
    if minutes == 0:
        return cron
    if match := _EVERY.fullmatch(minute):
        step = int(match.group(1))
        if not 0 < minutes < step:
            raise ValueError(
                f"cron {cron!r}: an offset of {minutes} min is not inside its {step}-min cadence"
            )
        return f"{minutes}-59/{step} {rest}"
    if minute.isdigit() and int(minute) + minutes < 60:
        return f"{int(minute) + minutes} {rest}"
    raise ValueError(
        f"cron {cron!r}: its minute field {minute!r} cannot be shifted by {minutes} min"
    )


def cron_offset(cron: str, cadence: int = CADENCE_MINUTES) -> int | None:
    """The offset inside the cadence of a cron written by shifted_cron (None for other forms)."""
    minute = cron.split(" ", 1)[0]
    if _EVERY.fullmatch(minute):
        return 0
    if match := _FROM.fullmatch(minute):
        return int(match.group(1)) % cadence
    return None
