"""The time window a cursor-driven flow reads (O1: dateCreated for order_push; D1: dateDeleted
for deletion_sync): opened from the cursor, widened by Handy's clock skew, closed by advancing the
cursor past what is done."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import task

from mappings.bindings import Entity
from mappings.windows import next_cursor, widened_start
from store import cursors
from store.db import database_time
from tasks.audit import RunAudit
from tasks.fencing import LeaseGuard, fence_for
from tasks.options import RETRY_ON_OUTAGE, RUN_ONCE
from tasks.store_calls import store_call

ORDERS_STREAM, DELETIONS_STREAM = "orders", "deletions"

SKEW_REPORTED = timedelta(minutes=1)  # a larger gap between Handy's clock and ours is reported


class NoCursor(Exception):
    """A windowed flow ran before activation set its cursor, without `since`."""


@dataclass
class Window:
    stream: str
    start: datetime
    end: datetime
    retry_from: datetime | None = (
        None  # oldest record that failed temporarily: cursor stops before it
    )

    def hold_back(self, moment: datetime | None) -> None:
        """A record at `moment` failed temporarily: the next run must read it again."""
        if moment is not None and (self.retry_from is None or moment < self.retry_from):
            self.retry_from = moment

    @property
    def next_cursor(self) -> datetime:
        return next_cursor(self.start, self.end, self.retry_from)


def fail_temporarily(
    window: Window,
    audit: RunAudit,
    key: str,
    reason: str,
    *,
    at: datetime | None,
    from_window: bool,
) -> None:
    """A record failed temporarily after the retry budget: no dead letter; the cursor stays
    before it (a record of the window, received or deleted `at`) or its dead letter stays open
    (a retried one)."""
    audit.fail(Entity.ORDER, key, f"temporary: {reason}; retried next run")
    if from_window:
        window.hold_back(at or window.start)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@task(name="measure-handy-clock", **RETRY_ON_OUTAGE)
async def measure_handy_clock(connection: Any, audit: RunAudit) -> float:
    """Seconds between Handy's clock and ours (its `Date` header), to widen the window by:
    Handy stamps dateCreated with its own clock, so a Handy clock behind ours by more than the
    lookback would otherwise hide orders. A skew over SKEW_REPORTED is reported in the audit."""
    offset = await connection.handy.measure_clock()
    if offset is None:
        audit.note("Handy sent no Date header: its clock could not be checked against ours.")
        return 0.0
    if abs(offset) > SKEW_REPORTED.total_seconds():
        side = "ahead of" if offset > 0 else "behind"
        audit.note(
            f"Handy's clock is {abs(offset):.0f} s {side} this worker's (its Date header): "
            f"the window was widened by {abs(offset):.0f} s; check the worker's NTP."
        )
    return offset


@task(name="open-window", **RUN_ONCE)
async def open_window(
    tenant_slug: str,
    stream: str,
    lookback_minutes: int,
    since: datetime | None = None,
    skew_seconds: float = 0.0,
) -> Window:
    """[cursor - lookback - |Handy clock skew|, now]; `since` (operator backfill) replaces the
    start. No cursor and no since: NoCursor (activation sets the cursors, RULES A4). `now` is the
    store's clock (one clock for every worker); `skew_seconds` is Handy's clock against this
    worker's, so the widening is Handy's distance from the store's clock."""
    now = (await store_call(database_time)).replace(microsecond=0)  # one clock: the store's
    skew_seconds += time.time() - now.timestamp()  # Handy - store = (Handy - us) + (us - store)
    if since is not None:
        start = _aware(since)
    else:
        cursor = await store_call(_cursor, tenant_slug, stream)
        start = widened_start(cursor, skew_seconds, timedelta(minutes=lookback_minutes))
    return Window(stream=stream, start=min(start, now), end=now)


@task(name="require-cursor", **RUN_ONCE)
async def require_cursor(tenant_slug: str, stream: str, since: datetime | None) -> None:
    """NoCursor before anything is read from Handy: a tenant not yet activated fails at once,
    naming the reason, without depending on Handy being reachable."""
    if since is None:
        await store_call(_cursor, tenant_slug, stream)


def _cursor(tenant_slug: str, stream: str) -> datetime:
    cursor = cursors.get(tenant_slug, stream)
    if cursor is None:
        raise NoCursor(
            f"tenant {tenant_slug} has no {stream} cursor: run activate first (RULES A4), "
            "or pass since (a backfill start date)"
        )
    return cursor


@task(name="close-window", **RUN_ONCE)
async def close_window(
    tenant_slug: str,
    window: Window,
    audit: RunAudit,
    dry_run: bool,
    lease: LeaseGuard | None = None,
) -> None:
    """Advance the cursor past what is done: to the window end, or to just before the oldest
    record that failed temporarily (it is read again next run). Never backwards. Fenced by the
    run's lease: a run that lost it must not move the cursor past what its successor held back."""
    target = window.next_cursor
    if window.retry_from is not None:
        audit.note(
            f"{window.stream} cursor held at {target:%Y-%m-%d %H:%M:%S} UTC: some records failed "
            "temporarily and are read again next run."
        )
    if not dry_run:
        await store_call(
            cursors.advance, tenant_slug, window.stream, target, fence=fence_for(lease)
        )


@task(name="skip-window", **RUN_ONCE)
async def skip_window(tenant_slug: str, stream: str, dry_run: bool) -> None:
    """A switched-off stream keeps its cursor at now (reading nothing), so switching it on later
    does not replay everything that happened while it was off. No cursor yet: left alone."""
    if not dry_run and await store_call(cursors.get, tenant_slug, stream) is not None:
        now = await store_call(database_time)
        await store_call(cursors.advance, tenant_slug, stream, now.replace(microsecond=0))
