"""Client limiters on a fake clock, so fault tests pay no real time for backoffs and 429 waits."""

from __future__ import annotations

from clients.clock import FakeClock
from clients.ratelimit import shared_limiter

FAST = 60_000  # requests/min: fault tests check outcomes, not pacing


def fast_clients(slug: str, clock: FakeClock | None = None) -> FakeClock:
    """Pre-create the (tenant, system) limiters of the running event loop on a FakeClock, so
    every client wait (token bucket, 429 pause, retry backoff) of `slug` returns at once."""
    clock = clock or FakeClock()
    shared_limiter(slug, "handy", FAST, clock=clock)
    shared_limiter(slug, "gestionix", FAST, clock=clock)
    return clock
