"""What order_push, deletion_sync and reconcile share: the tenant's lease (S3) with a connection
fenced by it, and the window over a cursor (O1, D1). (Pushing planned orders, shared by order_push
and reconcile, is flows/orders.push_planned: deletion_sync need not import the order tasks.)

Large task arguments (orders, plans, the catalog, the audit, live clients) are passed as
`quote(...)`: Prefect would otherwise walk every nested dict of them looking for futures, on the
event loop, at every task call (seconds per 2 000 orders). The task receives the value itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect.utilities.annotations import quote

from mappings.tenant import TenantConfig
from tasks.audit import RunAudit
from tasks.connect import Connection, connect
from tasks.fencing import LeaseGuard
from tasks.lease import tenant_lease
from tasks.store_calls import store_call
from tasks.window import Window, close_window, measure_handy_clock, open_window, require_cursor


@dataclass
class LeasedRun:
    """One run holding the tenant's lease (None in a dry run, which writes nothing)."""

    tenant: TenantConfig
    connection: Connection  # every Gestionix write and binding asks connection.lease first (O8)
    lease: LeaseGuard | None
    audit: RunAudit
    dry_run: bool

    @property
    def conn(self) -> Any:
        return quote(self.connection)

    @property
    def log(self) -> Any:
        return quote(self.audit)  # the audit, unwalked


@asynccontextmanager
async def leased(tenant: TenantConfig, audit: RunAudit, dry_run: bool) -> AsyncIterator[LeasedRun]:
    """The lease, then a connection fenced by it (the sucursal resolved at once, A1)."""
    async with (
        tenant_lease(tenant.slug, hold=not dry_run) as lease,
        connect(tenant) as connection,
    ):
        connection.lease = lease
        yield LeasedRun(tenant, connection, lease, audit, dry_run)


@asynccontextmanager
async def cursor_window(
    tenant: TenantConfig, stream: str, audit: RunAudit, since: datetime | None, dry_run: bool
) -> AsyncIterator[tuple[LeasedRun, Window]]:
    """The lease, the cursor checked (A4, before any read), a connection fenced by the lease, the
    window [cursor - lookback - Handy's clock skew, now] and the run's audit row started with it;
    the cursor advances past the window when the block ends without an error."""
    async with tenant_lease(tenant.slug, hold=not dry_run) as lease:
        await require_cursor(tenant.slug, stream, since)
        async with connect(tenant, resolve=False) as connection:  # Gestionix resolved on need
            connection.lease = lease
            run = LeasedRun(tenant, connection, lease, audit, dry_run)
            skew = await measure_handy_clock(run.conn, run.log)  # O1: Handy's clock
            window = await open_window(
                tenant.slug, stream, tenant.order_lookback_minutes, since, skew
            )
            audit.window_start, audit.window_end = window.start, window.end
            await store_call(audit.start)  # the run's audit row, off the event loop
            yield run, window
        await close_window(tenant.slug, window, run.log, dry_run, lease=lease)
