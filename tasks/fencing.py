"""The tenant lease while a run holds it (S3, O8): a background heartbeat renews it, and every
write that matters asks first.

- `check()` (no I/O): LeaseLost once the heartbeat learned the lease was taken, or once the
  last successful renewal is older than the TTL minus a margin (the store did not answer, or
  this process was frozen: SIGSTOP, a VM pause). The Gestionix client calls it right before
  every write leaves, after the rate limiter's wait (tasks/connect.Connection.lease), so a run
  that lost its lease stops before its next create or delete.
- `fence(session)`: `check()` plus store.leases.fence in the caller's transaction, so the
  intent and binding rows of an order are written only while the lease is provably ours.

The heartbeat is a thread, not an asyncio task: a busy event loop must not let the lease lapse.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from store import leases
from store.leases import LeaseLost
from tasks.store_calls import store_call

log = logging.getLogger("hgsync.lease")

R = TypeVar("R")


def lease_ttl() -> timedelta:
    """About two minutes: a dead holder frees the tenant long before the next 10-minute run.
    HGSYNC_LEASE_TTL_SECONDS overrides it (tests use a few seconds)."""
    return timedelta(seconds=float(os.environ.get("HGSYNC_LEASE_TTL_SECONDS", "120")))


class LeaseGuard:
    """A held lease, kept alive by a heartbeat thread until `stop()`."""

    BEATS_PER_TTL = 4  # renew every TTL/4: three renewals may fail before the lease lapses
    MARGIN = 0.1  # trust the lease only until 90 % of the TTL after the last renewal began

    def __init__(self, handle: leases.LeaseHandle, *, acquired_at: float) -> None:
        self.handle = handle
        self.ttl = handle.ttl.total_seconds()
        self._valid_until = acquired_at + self.ttl * (1 - self.MARGIN)
        self._lost: str | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{handle.tenant}", daemon=True
        )
        self._thread.start()

    # -- asked before writes ----------------------------------------------------------------
    def check(self) -> None:
        if self._lost is None and time.monotonic() >= self._valid_until:
            self._lost = (
                f"tenant {self.handle.tenant}: lease {self.handle.name!r} not renewed for "
                f"{self.ttl * (1 - self.MARGIN):.0f} s (store unreachable or process paused); "
                "this run stops before writing anything more"
            )
        if self._lost is not None:
            raise LeaseLost(self._lost)

    def fence(self, session: Session) -> None:
        self.check()
        leases.fence(session, self.handle)

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def lapsed(self) -> bool:
        """True when check() would refuse (lost, or not renewed in time)."""
        try:
            self.check()
        except LeaseLost:
            return True
        return False

    @property
    def expires_in_store(self) -> float:
        """Monotonic time by which the store has certainly expired this lease (one TTL after
        the last renewal began): releasing it later is pointless."""
        return self._valid_until + self.ttl * self.MARGIN

    # -- heartbeat ----------------------------------------------------------------------------
    def _beat(self) -> None:
        interval = self.ttl / self.BEATS_PER_TTL
        while not self._stopped.wait(interval):
            started = time.monotonic()
            if (
                started >= self._valid_until
            ):  # lapsed (frozen, or store down too long): never revive
                self.check_quietly()
                return
            try:
                self.handle.renew()
            except LeaseLost as exc:
                self._lost = str(exc)
                log.warning("%s", exc)
                return
            except Exception as exc:  # noqa: BLE001 - store unreachable: try again next beat
                log.warning(
                    "tenant %s: lease renewal failed (%s); retrying",
                    self.handle.tenant,
                    type(exc).__name__,
                )
                continue
            self._valid_until = started + self.ttl * (1 - self.MARGIN)

    def check_quietly(self) -> None:
        try:
            self.check()
        except LeaseLost as exc:
            log.warning("%s", exc)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)


def check(guard: Any) -> None:
    """LeaseLost when the run's lease is gone; nothing for a run without one (dry runs)."""
    if guard is not None:
        guard.check()


def fence_for(guard: Any):
    """The fence to pass to store writes (None without a lease: dry runs, tests of tasks)."""
    return guard.fence if guard is not None else None


async def when_store_answers(write: Callable[[], R], *, until: float) -> R | None:
    """`write()` now, or again every few seconds while the store does not answer, until the
    monotonic time `until`; None when it never answered (a lease then lapses by its TTL, and an
    audit row left `running` is closed as `abandoned` by the next holder of the lease)."""
    pause = 0.5
    while True:
        try:
            return await store_call(write)
        except OperationalError as exc:
            if time.monotonic() + pause >= until:
                log.warning("store unreachable (%s); giving up", type(exc).__name__)
                return None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
