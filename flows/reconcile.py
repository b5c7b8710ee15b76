"""reconcile: did every Handy order of a day reach Gestionix, and if not, why? And repair it.
(X1, O1, O8, D1, X3)

A run can miss an order it could not see (it became visible in Handy after the lookback, a clock
far off, a list that lied and slipped past): the daily reconcile reads the whole day again,
pushes every live order that has no document through the same exactly-once protocol as
order_push, and deletes the document of an order deleted in Handy through deletion_sync's path.
A day with any difference, repaired or not, never ends as a clean run.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.artifacts import acreate_table_artifact
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote

from flows.leased import leased
from flows.orders import push_planned
from flows.runs import run_name
from mappings.bindings import Entity
from mappings.reconcile import ReconcileRow, document_in_day, plan_repairs, problems, reconcile_day
from mappings.tenant import TenantConfig
from tasks import alerts
from tasks.audit import RunAudit, audited
from tasks.deletions import apply_deletions
from tasks.orders import plan_orders
from tasks.reconcile import (
    DayData,
    heal_day_duplicates,
    known_reasons,
    prepare_repair_deletions,
    read_day,
)
from tasks.store_calls import store_call
from tasks.window import Window


@flow(name="reconcile", flow_run_name=run_name("reconcile"))
async def reconcile(tenant: TenantConfig, day: date | None = None, dry_run: bool = False):
    """Compare one local day (default: yesterday in the tenant's time zone) of Handy orders with
    the bindings and the Gestionix documents found by reference, then repair what can be: missing
    live orders are pushed, documents of deleted orders deleted. Holds the tenant's order lease
    (S3) while it writes. Any difference ends the run Failed with the list and what was repaired;
    `dry_run` lists the repairs it would make and writes nothing (X3)."""
    day = day or (datetime.now(ZoneInfo(tenant.handy_timezone)).date() - timedelta(days=1))
    audit = RunAudit(tenant.slug, "reconcile", dry_run=dry_run)
    return await audited(audit, _reconcile(tenant, day, dry_run, audit))


async def _reconcile(tenant: TenantConfig, day: date, dry_run: bool, audit: RunAudit) -> State:
    async with leased(tenant, audit, dry_run) as run:  # its pushes and deletions ask the lease (O8)
        data = await read_day(run.conn, day)
        audit.window_start, audit.window_end = data.start, data.end
        await store_call(audit.start)  # the run's audit row, off the event loop
        before = dict(audit.counts)
        data.documents, healed = await heal_day_duplicates(  # O8
            run.connection, tenant, data, audit, dry_run
        )
        rows = _compare(data, audit, healed, await known_reasons(tenant))
        repairs = plan_repairs(rows, data.live, [str(o.get("id")) for o in data.deleted])
        window = Window(stream="reconcile", start=data.start, end=data.end)
        if repairs.push:  # O1/O8: the same path as order_push, so pushed exactly once
            await push_planned(
                run, await plan_orders(tenant, quote(repairs.push), [], run.log), window
            )
        if repairs.delete:
            work = await prepare_repair_deletions(tenant, quote(repairs.delete), dry_run)
            await apply_deletions(run.conn, tenant, quote(work), window, run.log, dry_run)
    await acreate_table_artifact(
        key=f"{tenant.slug}-reconcile-day",
        table=[row.as_dict() for row in rows]
        or [{"order_id": "-", "outcome": "no orders that day"}],
        description=f"{tenant.slug} reconciliation of {day.isoformat()}",
    )
    return await _conclude(tenant, day, rows, audit, before, dry_run)


async def _conclude(
    tenant: TenantConfig,
    day: date,
    rows: list[ReconcileRow],
    audit: RunAudit,
    before: dict,
    dry_run: bool,
) -> State:
    """Clean, or Failed with the differences and what was repaired (a day with any difference
    never ends as a clean run); the audit row is finished here."""
    bad = problems(rows)
    repaired = {name: audit.counts[name] - before.get(name, 0) for name in ("created", "deleted")}
    if not bad:
        summary = await audit.finish()
        return Completed(message=f"{day}: clean — {summary}")
    audit.count("failed", len(bad))
    if not dry_run:
        for row in bad:  # X4: one event per difference, the tenant related
            alerts.reconcile_difference(
                tenant.slug, day.isoformat(), row.order_id, row.outcome, row.reason
            )
    summary = await audit.finish("completed_with_issues")
    verb = "would repair" if dry_run else "repaired"
    listing = "; ".join(f"{r.order_id} {r.outcome}: {r.reason}" for r in bad[:20])
    return Failed(
        message=(
            f"{day}: {len(bad)} differences ({verb}: {repaired['created']} pushed, "
            f"{repaired['deleted']} deleted; see the run's items) — {listing} — {summary}"
        )
    )


def _compare(
    data: DayData, audit: RunAudit, healed: list[ReconcileRow], reasons: dict[str, str]
) -> list[ReconcileRow]:
    rows = healed + reconcile_day(
        data.live,
        data.documents,
        reasons=reasons,
        deleted_ids=[str(o.get("id")) for o in data.deleted],
        document_in_day=document_in_day(data.documents, data.start, data.end),
    )
    audit.count("read", len(data.live) + len(data.deleted))
    for row in rows:
        audit.count(row.outcome)
        if row.outcome not in ("ok", "duplicate"):  # a healed duplicate is itemised by its repair
            audit.item(Entity.ORDER, row.order_id, row.outcome, row.reason)
    return rows
