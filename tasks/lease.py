"""The per-tenant lease order_push and deletion_sync share (S3): taken for the whole run, renewed
by a heartbeat, checked between batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from store import leases, runs
from tasks.audit import RunSkipped
from tasks.fencing import LeaseGuard, check, lease_ttl, when_store_answers
from tasks.store_calls import store_call

# S3: one lease for both flows of a tenant. Deletions are scheduled 5 minutes after order push
# (mappings/schedules.py); when one still runs the other waits for it (bounded). The TTL (~2 min, tasks/fencing.lease_ttl) frees the tenant soon
# after a holder dies; a live holder's heartbeat renews it (tasks/fencing.LeaseGuard).
LEASE_NAME = leases.ORDERS_LEASE
LEASE_FLOWS = leases.ORDERS_LEASE_FLOWS  # the audit flow names that run under it
LEASE_WAIT = timedelta(minutes=5)
LEASE_POLL_SECONDS = 2.0


class LeaseTimeout(RunSkipped):
    """The tenant's lease stayed taken for the whole wait: this run did nothing (it ends
    Cancelled, its row `skipped`: tasks/audit.audited)."""


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
