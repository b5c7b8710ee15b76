"""deletion_sync: deleted Handy orders delete their Gestionix documents (RULES D1-D4, O10, S3,
X1, X3). Orchestration only; the steps live in tasks/deletions.py."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.states import Cancelled
from prefect.utilities.annotations import quote

from flows.runs import run_name
from mappings.tenant import TenantConfig
from tasks.audit import RunAudit
from tasks.connect import connect
from tasks.deletions import apply_deletions, plan_deletions, read_deleted_orders
from tasks.documents import (
    BATCH_SIZE,
    DELETIONS_STREAM,
    LeaseTimeout,
    close_window,
    measure_handy_clock,
    require_cursor,
    open_window,
    renew,
    skip_window,
    tenant_lease,
)
from tasks.order_adoption import adopt_deleted_documents
from tasks.store_calls import store_call


@flow(name="deletion_sync", flow_run_name=run_name("deletions"))
async def deletion_sync(tenant: TenantConfig, since: datetime | None = None, dry_run: bool = False):
    """Apply the Handy deletions of [cursor - lookback, now] (or since `since`) to Gestionix.
    With sync_deletions off nothing is read or deleted (D4). Holds the lease shared with
    order_push (S3); when it stays taken for the whole wait the run ends Cancelled."""
    audit = RunAudit(tenant.slug, "deletions", dry_run=dry_run)
    if not tenant.sync_deletions:  # D4
        audit.note(
            f"sync_deletions is off for tenant {tenant.slug}: nothing read from Handy, "
            "nothing deleted in Gestionix (D4); the deletions cursor moves to now, so switching "
            "it on later does not replay the deletions made meanwhile."
        )
        await skip_window(tenant.slug, DELETIONS_STREAM, dry_run)
        return await audit.finish()
    try:
        async with tenant_lease(tenant.slug, hold=not dry_run) as lease:
            await require_cursor(tenant.slug, DELETIONS_STREAM, since)  # A4, before any read
            async with connect(tenant, resolve=False) as connection:
                connection.lease = lease  # every Gestionix write and binding asks it first (O8)
                # quote(): the task gets the object itself, not walked by Prefect (flows/orders.py)
                conn, log = quote(connection), quote(audit)
                skew = await measure_handy_clock(conn, log)  # O1: Handy's clock
                window = await open_window(
                    tenant.slug, DELETIONS_STREAM, tenant.order_lookback_minutes, since, skew
                )
                audit.window_start, audit.window_end = window.start, window.end
                await store_call(audit.start)  # the run's audit row, off the event loop
                deleted = await read_deleted_orders(conn, window)
                await adopt_deleted_documents(conn, tenant, quote(deleted), log, dry_run)  # D1
                work = await plan_deletions(tenant, quote(deleted), log)
                for start in range(0, len(work), BATCH_SIZE):  # D1-D3, O10
                    await apply_deletions(
                        conn, tenant, quote(work[start : start + BATCH_SIZE]), window, log, dry_run
                    )
                    renew(lease)
            await close_window(tenant.slug, window, log, dry_run, lease=lease)
    except LeaseTimeout as exc:
        audit.note(str(exc))
        await audit.finish("skipped")
        return Cancelled(message=str(exc))
    except BaseException as exc:
        audit.note(f"run failed: {exc}")
        await audit.finish("failed")
        raise
    return await audit.conclude()
