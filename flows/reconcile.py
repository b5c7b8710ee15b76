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
from prefect.states import Cancelled, Completed, Failed
from prefect.utilities.annotations import quote

from mappings.reconcile import ReconcileRow, plan_repairs, problems, reconcile_day
from flows.runs import run_name
from mappings.bindings import Entity
from mappings.tenant import TenantConfig
from tasks import alerts
from tasks.audit import RunAudit
from tasks.connect import Connection, connect
from tasks.deletions import apply_deletions
from tasks.documents import BATCH_SIZE, LeaseTimeout, Window, renew, tenant_lease
from tasks.fencing import LeaseGuard
from tasks.orders import plan_orders, push_orders, read_catalog, resolve_customers
from tasks.reconcile import (
    DayData,
    document_in_day,
    heal_day_duplicates,
    known_reasons,
    prepare_repair_deletions,
    read_day,
)
from tasks.store_calls import store_call


@flow(name="reconcile", flow_run_name=run_name("reconcile"))
async def reconcile(tenant: TenantConfig, day: date | None = None, dry_run: bool = False):
    """Compare one local day (default: yesterday in the tenant's time zone) of Handy orders with
    the bindings and the Gestionix documents found by reference, then repair what can be: missing
    live orders are pushed, documents of deleted orders deleted. Holds the tenant's order lease
    (S3) while it writes. Any difference ends the run Failed with the list and what was repaired;
    `dry_run` lists the repairs it would make and writes nothing (X3)."""
    day = day or (datetime.now(ZoneInfo(tenant.handy_timezone)).date() - timedelta(days=1))
    audit = RunAudit(tenant.slug, "reconcile", dry_run=dry_run)
    try:
        async with (
            tenant_lease(tenant.slug, hold=not dry_run) as lease,
            connect(tenant) as connection,
        ):
            connection.lease = lease  # its pushes and deletions ask the lease first (O8)
            data = await read_day(quote(connection), day)
            audit.window_start, audit.window_end = data.start, data.end
            await store_call(audit.start)  # the run's audit row, off the event loop
            before = dict(audit.counts)
            data.documents, healed = await heal_day_duplicates(  # O8
                connection, tenant, data, audit, dry_run
            )
            rows = _compare(data, audit, healed, await known_reasons(tenant))
            repairs = plan_repairs(rows, data.live, [str(o.get("id")) for o in data.deleted])
            if repairs.push:
                await _push_missing(connection, tenant, repairs.push, data, audit, dry_run, lease)
            if repairs.delete:
                work = await prepare_repair_deletions(tenant, quote(repairs.delete), dry_run)
                window = Window(stream="reconcile", start=data.start, end=data.end)
                await apply_deletions(
                    quote(connection), tenant, quote(work), window, quote(audit), dry_run
                )
    except LeaseTimeout as exc:
        audit.note(str(exc))
        await audit.finish("skipped")
        return Cancelled(message=str(exc))
    except BaseException as exc:
        audit.note(f"run failed: {exc}")
        await audit.finish("failed")
        raise
    await acreate_table_artifact(
        key=f"{tenant.slug}-reconcile-day",
        table=[row.as_dict() for row in rows] or [{"order_id": "-", "outcome": "no orders that day"}],
        description=f"{tenant.slug} reconciliation of {day.isoformat()}",
    )
    bad = problems(rows)
    repaired = {name: audit.counts[name] - before.get(name, 0) for name in ("created", "deleted")}
    if not bad:
        summary = await audit.finish()
        return Completed(message=f"{day}: clean — {summary}")
    audit.count("failed", len(bad))
    if not dry_run:
        for row in bad:  # X4: one event per difference, the tenant related
            alerts.reconcile_difference(tenant.slug, day.isoformat(), row.order_id, row.outcome, row.reason)
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


async def _push_missing(
    connection: Connection,
    tenant: TenantConfig,
    orders: list,
    data: DayData,
    audit: RunAudit,
    dry_run: bool,
    lease: LeaseGuard | None,
) -> None:
    """O1/O8 repair: the same plan → catalog → customers → push as order_push, so a missing
    order is pushed exactly once even if order_push reaches it too (bindings, intents). Large
    arguments are quoted: the task gets the object itself, not walked by Prefect (flows/orders.py)."""
    conn, log = quote(connection), quote(audit)
    plan = await plan_orders(tenant, quote(orders), [], log)
    if not plan.work:
        return
    catalog = await read_catalog(conn)
    customers = await resolve_customers(conn, tenant, quote(plan), quote(catalog), log, dry_run)
    window = Window(stream="reconcile", start=data.start, end=data.end)
    for batch in plan.batches(BATCH_SIZE):
        await push_orders(
            conn, tenant, quote(batch), quote(catalog), quote(customers), window, log, dry_run
        )
        renew(lease)
