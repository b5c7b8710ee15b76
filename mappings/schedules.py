"""Staggered schedule minutes (RULES S1, S2): each tenant's runs start at its own minute inside the
10-minute cadence, so N tenants do not all start their processes at :00. Pure functions, no I/O.

A tenant gets a minute offset 0-9 when it is added: the least used offset among the tenants
already there (so N tenants spread evenly), ties broken by a hash of the slug (deterministic, and
independent of the order in which equal offsets are listed). Its order push runs at that minute of
every 10 (S2 unchanged: still every 10 minutes), its deletion propagation half a cadence later, so
the two flows of a tenant do not meet on the lease they share (S3). The twice-daily catalog and
customer syncs (S1) move by the same few minutes past 08:00 and 16:00.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

CADENCE_MINUTES = 10  # S2
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


def assign_offset(slug: str, taken: Iterable[int], cadence: int = CADENCE_MINUTES) -> int:
    """The least used offset among `taken` (the other tenants'); among equally used ones, the
    first at or after the slug's own stable offset."""
    used = Counter(offset % cadence for offset in taken)
    fewest = min(used.get(offset, 0) for offset in range(cadence))
    start = slug_offset(slug, cadence)
    for step in range(cadence):
        offset = (start + step) % cadence
        if used.get(offset, 0) == fewest:
            return offset
    raise AssertionError("unreachable: some offset has the fewest uses")


def flow_offset(flow: str, tenant_offset: int, cadence: int = CADENCE_MINUTES) -> int:
    """The minute offset of one flow of the tenant (deletions half a cadence after orders)."""
    return (tenant_offset + FLOW_SHIFT.get(flow, 0)) % cadence


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
