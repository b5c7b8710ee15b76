"""The instant the sandbox tests freeze the sandbox's clock at, and the clients' clock linked to it
(waiting for a rate-limit reset moves the sandbox's minute window too; nothing really sleeps)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sandbox.common import Clock as SandboxClock

FROZEN_AT = datetime(2026, 11, 27, 18, 0, 30, tzinfo=UTC).timestamp()


class LinkedClock:
    """The clients' clock, moving the sandbox's clock when the clients wait."""

    def __init__(self, sandbox_clock: SandboxClock) -> None:
        self.sandbox_clock = sandbox_clock
        self._monotonic = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._monotonic

    def time(self) -> float:
        return self.sandbox_clock.now()

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        self._monotonic += seconds
        self.sandbox_clock.advance(seconds)
        await asyncio.sleep(0)
