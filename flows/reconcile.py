"""reconcile: did every Handy order of a day reach Gestionix, and if not, why? (X1)"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.artifacts import acreate_table_artifact
from prefect.states import Completed, Failed

from mappings.reconcile import problems, reconcile_day
from mappings.tenant import TenantConfig
from tasks.audit import RunAudit
from tasks.connect import connect
from tasks.reconcile import document_in_day, known_reasons, read_day


@flow(name="reconcile")
async def reconcile(tenant: TenantConfig, day: date | None = None):
    """Compare one local day (default: yesterday in the tenant's time zone) of Handy orders with the
    bindings and the Gestionix documents found by reference. Differences end the run Failed, listed."""
    day = day or (datetime.now(ZoneInfo(tenant.handy_timezone)).date() - timedelta(days=1))
    audit = RunAudit(tenant.slug, "reconcile")
    async with connect(tenant) as connection:
        data = await read_day(connection, day)
    audit.window_start, audit.window_end = data.start, data.end
    audit.start()
    rows = reconcile_day(
        data.live,
        data.documents,
        reasons=known_reasons(tenant),
        deleted_ids=[str(o.get("id")) for o in data.deleted],
        document_in_day=document_in_day(data.documents, data.start, data.end),
    )
    audit.count("read", len(data.live) + len(data.deleted))
    for row in rows:
        audit.count(row.outcome)
        if row.outcome != "ok":
            audit.item("order", row.order_id, row.outcome, row.reason)
    await acreate_table_artifact(
        key=f"{tenant.slug}-reconcile-day",
        table=[row.as_dict() for row in rows] or [{"order_id": "-", "outcome": "no orders that day"}],
        description=f"{tenant.slug} reconciliation of {day.isoformat()}",
    )
    bad = problems(rows)
    if bad:
        audit.count("failed", len(bad))
        summary = await audit.finish("completed_with_issues")
        listing = "; ".join(f"{r.order_id} {r.outcome}: {r.reason}" for r in bad[:20])
        return Failed(message=f"{day}: {len(bad)} differences — {listing}")
    summary = await audit.finish()
    return Completed(message=f"{day}: clean — {summary}")
