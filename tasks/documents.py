"""What order_push and deletion_sync share: the per-tenant lease (S3), the time window over a
cursor (O1, D1), order bindings, and small concurrency/audit helpers.

Order bindings (Entity.ORDER): handy_key = str(Handy order id), gestionix_key =
"<doc_type>:<gestionix id>" (pedidos and ventas number independently), status a BindingStatus
(intent | pushed | deleted | tombstoned | skipped), data {doc_type, reference, folio,
external_id_written}.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import task

from mappings.orders import DocType
from mappings.windows import next_cursor, widened_start
from store import cursors, leases, runs
from store.db import database_time
from tasks.audit import RunAudit, RunSkipped
from tasks.concurrency import run_bounded  # noqa: F401 - orders and deletions import it from here
from tasks.connect import resolve_branch
from tasks.fencing import LeaseGuard, check, fence_for, lease_ttl, when_store_answers
from tasks.options import RETRYING_TASK, STORE_TASK
from tasks.store_calls import store_call

ORDERS_STREAM, DELETIONS_STREAM = "orders", "deletions"

# S3: one lease for both flows of a tenant. Deletions are scheduled 5 minutes after order push
# (mappings/schedules.py); when one still runs the other waits for it (bounded). The TTL (~2 min, tasks/fencing.lease_ttl) frees the tenant soon
# after a holder dies; a live holder's heartbeat renews it (tasks/fencing.LeaseGuard).
LEASE_NAME = leases.ORDERS_LEASE
LEASE_FLOWS = leases.ORDERS_LEASE_FLOWS  # the audit flow names that run under it
LEASE_WAIT = timedelta(minutes=5)
LEASE_POLL_SECONDS = 2.0

SKEW_REPORTED = timedelta(minutes=1)  # a larger gap between Handy's clock and ours is reported

CONCURRENCY = 16  # orders in flight per run; the clients rate-limit each system on their own
BATCH_SIZE = (
    200  # orders per task run; the lease is checked between batches (and before each write)
)


class NoCursor(Exception):
    """A windowed flow ran before activation set its cursor, without `since`."""


class LeaseTimeout(RunSkipped):
    """The tenant's lease stayed taken for the whole wait: this run did nothing (it ends
    Cancelled, its row `skipped`: tasks/audit.audited)."""


# ---------------------------------------------------------------------------------------------
# Lease (S3)
# ---------------------------------------------------------------------------------------------


@asynccontextmanager
async def tenant_lease(
    tenant: str, *, wait: timedelta | None = None, hold: bool = True
) -> AsyncIterator[LeaseGuard | None]:
    """Hold the tenant's "orders" lease for the block, waiting up to `wait` (LEASE_WAIT) without
    blocking the event loop; LeaseTimeout when it never came free. While held, a heartbeat renews
    it and the guard fences every write that matters (tasks/fencing.py). `hold=False` (dry runs)
    takes nothing and yields None: a dry run writes nothing, so it may read alongside a real run.
    Taking the lease closes the audit rows a dead holder left `running` (they are `abandoned`)."""
    if not hold:
        yield None
        return
    wait = LEASE_WAIT if wait is None else wait
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait.total_seconds()
    while True:
        started = time.monotonic()
        try:
            handle = await store_call(leases.acquire, tenant, LEASE_NAME, lease_ttl())
            break
        except leases.LeaseHeld as exc:
            if loop.time() + LEASE_POLL_SECONDS > deadline:
                raise LeaseTimeout(
                    f"tenant {tenant}: waited {wait.total_seconds():.0f} s for the {LEASE_NAME!r} "
                    f"lease shared by order_push and deletion_sync (S3) and it is still taken "
                    f"({exc}); nothing was read or written, the next scheduled run goes on"
                ) from None
            await asyncio.sleep(LEASE_POLL_SECONDS)
    guard = LeaseGuard(handle, acquired_at=started)
    try:
        await store_call(runs.abandon_running, tenant, LEASE_FLOWS)
        yield guard
    finally:
        guard.stop()
        await when_store_answers(lambda: leases.release(handle), until=guard.expires_in_store)


def renew(guard: LeaseGuard | None) -> None:
    """Between batches: LeaseLost (run aborted) if the heartbeat lost the lease meanwhile."""
    check(guard)


# ---------------------------------------------------------------------------------------------
# Window over a cursor (O1: dateCreated; D1: dateDeleted)
# ---------------------------------------------------------------------------------------------


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


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@task(name="measure-handy-clock", **RETRYING_TASK)
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


@task(name="open-window", **STORE_TASK)
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


@task(name="require-cursor", **STORE_TASK)
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


@task(name="close-window", **STORE_TASK)
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


# ---------------------------------------------------------------------------------------------
# Order bindings
# ---------------------------------------------------------------------------------------------


def document_key(doc_type: DocType, document_id: object) -> str:
    return f"{doc_type}:{document_id}"


def split_document_key(binding: Any) -> tuple[DocType | None, str | None]:
    """(doc_type, Gestionix id) of an order binding; data.doc_type wins over the key's prefix."""
    data = binding.data or {}
    key = binding.gestionix_key
    doc_type = data.get("doc_type")
    document_id = None
    if key and ":" in key:
        prefix, document_id = key.split(":", 1)
        doc_type = doc_type or prefix
    elif key:
        document_id = key
    return doc_type, document_id


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@task(name="skip-window", **STORE_TASK)
async def skip_window(tenant_slug: str, stream: str, dry_run: bool) -> None:
    """A switched-off stream keeps its cursor at now (reading nothing), so switching it on later
    does not replay everything that happened while it was off. No cursor yet: left alone."""
    if not dry_run and await store_call(cursors.get, tenant_slug, stream) is not None:
        now = await store_call(database_time)
        await store_call(cursors.advance, tenant_slug, stream, now.replace(microsecond=0))


async def ensure_resolved(connection: Any) -> None:
    """Resolve the Gestionix company and sucursal (A1) on first need, so a run with nothing to
    push or delete never logs in to Gestionix."""
    if connection.branch is None:
        await resolve_branch(connection)
