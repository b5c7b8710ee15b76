"""deletion_sync: deleted Handy orders delete their Gestionix documents (RULES D1-D4, O10, S3,
X1, X3). Orchestration only; the steps live in tasks/deletions.py."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.utilities.annotations import quote

from flows.leased import cursor_window
from flows.runs import run_name
from mappings.tenant import TenantConfig
from tasks.audit import RunAudit, audited
from tasks.deletions import apply_deletions, plan_deletions, read_deleted_orders
from tasks.documents import BATCH_SIZE
from tasks.lease import renew
from tasks.order_adoption import adopt_deleted_documents
from tasks.window import DELETIONS_STREAM, skip_window


@flow(name="deletion_sync", flow_run_name=run_name("deletions"))
async def deletion_sync(tenant: TenantConfig, since: datetime | None = None, dry_run: bool = False):
    """Apply the Handy deletions of [cursor - lookback, now] (or since `since`) to Gestionix.
    With sync_deletions off nothing is read or deleted (D4). Holds the lease shared with
    order_push (S3); when it stays taken for the whole wait the run ends Cancelled."""
    audit = RunAudit(tenant.slug, "deletions", dry_run=dry_run)
    return await audited(audit, _delete(tenant, since, dry_run, audit))


async def _delete(
    tenant: TenantConfig, since: datetime | None, dry_run: bool, audit: RunAudit
) -> str | None:
    if not tenant.sync_deletions:  # D4
        await skip_window(tenant.slug, DELETIONS_STREAM, dry_run)
        return await audit.switched_off(
            f"sync_deletions is off for tenant {tenant.slug}: nothing read from Handy, "
            "nothing deleted in Gestionix (D4); the deletions cursor moves to now, so switching "
            "it on later does not replay the deletions made meanwhile."
        )
    async with cursor_window(tenant, DELETIONS_STREAM, audit, since, dry_run) as (run, window):
        conn, log = run.conn, run.log
        deleted = await read_deleted_orders(conn, window)
        await adopt_deleted_documents(conn, tenant, quote(deleted), log, dry_run)  # D1
        work = await plan_deletions(tenant, quote(deleted), log)
        for start in range(0, len(work), BATCH_SIZE):  # D1-D3, O10
            await apply_deletions(
                conn, tenant, quote(work[start : start + BATCH_SIZE]), window, log, dry_run
            )
            renew(run.lease)
