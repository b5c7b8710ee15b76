"""Time as the clients see it: every wait of the clients goes through a Clock.

Production uses SystemClock. Tests pass a FakeClock, whose sleep() returns at once and
moves its time forward, so rate-limit waits and backoffs are checked without real sleeping.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals and token buckets)."""

    def time(self) -> float:
        """Unix seconds (to compare with X-RateLimit-Reset)."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock for tests: sleep() advances time instantly and records what was asked."""

    def __init__(self, start_unix: float = 1_700_000_000.0) -> None:
        self._offset = 0.0
        self._start_unix = start_unix
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._offset

    def time(self) -> float:
        return self._start_unix + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        # Let other tasks run, as a real sleep would.
        await asyncio.sleep(0)

    @property
    def slept(self) -> float:
        """Total seconds slept so far."""
        return sum(max(0.0, s) for s in self.sleeps)


SYSTEM_CLOCK = SystemClock()
