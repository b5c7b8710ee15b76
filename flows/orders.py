"""order_push: every new Handy order into Gestionix exactly once (RULES O1-O11, S3, X1, X3).

Orchestration only; the steps live in tasks/orders.py (reading, planning), tasks/order_customers.py
(O3, O4) and tasks/order_push.py (the exactly-once protocol in its docstring),
the lease and window shared with deletion_sync and reconcile in flows/leased.py (which says why
large task arguments are quoted); reconcile pushes the orders it finds missing with push_planned.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.utilities.annotations import quote

from flows.leased import LeasedRun, cursor_window
from flows.runs import run_name
from mappings.tenant import TenantConfig
from tasks.audit import RunAudit, audited
from tasks.documents import BATCH_SIZE
from tasks.lease import renew
from tasks.order_adoption import adopt_pushed_orders
from tasks.order_customers import resolve_customers
from tasks.order_duplicates import settle_stale_creates
from tasks.order_push import push_orders
from tasks.orders import (
    OrderPlan,
    plan_orders,
    read_catalog,
    read_dead_lettered_orders,
    read_new_orders,
)
from tasks.window import ORDERS_STREAM, Window


@flow(name="order_push", flow_run_name=run_name("orders"))
async def order_push(tenant: TenantConfig, since: datetime | None = None, dry_run: bool = False):
    """Push the Handy orders received in [cursor - lookback, now] (or since `since`) and the
    dead-lettered ones to Gestionix. Holds the tenant's lease shared with deletion_sync (S3);
    when it stays taken for the whole wait the run ends Cancelled and says why."""
    audit = RunAudit(tenant.slug, "orders", dry_run=dry_run)
    return await audited(audit, _push(tenant, since, dry_run, audit))


async def _push(
    tenant: TenantConfig, since: datetime | None, dry_run: bool, audit: RunAudit
) -> None:
    async with cursor_window(tenant, ORDERS_STREAM, audit, since, dry_run) as (run, window):
        conn, log = run.conn, run.log
        orders = await read_new_orders(conn, window)  # O1
        retried = await read_dead_lettered_orders(conn, tenant, quote(orders), log, dry_run)  # O6
        await settle_stale_creates(conn, tenant, log, dry_run)  # O8
        plan = await plan_orders(tenant, quote(orders), quote(retried), log)  # D2, O8, O2
        await adopt_pushed_orders(conn, tenant, quote(plan), log, dry_run)  # O8
        await push_planned(run, plan, window)  # O3-O9


async def push_planned(run: LeasedRun, plan: OrderPlan, window: Window) -> None:
    """The catalog and the customers (O3, O4) when an order still needs a document, then the
    orders batch by batch (O5-O9), the lease checked between batches."""
    catalog, customers = None, {}
    if plan.needs_gestionix:
        catalog = await read_catalog(run.conn)
        customers = await resolve_customers(
            run.conn, run.tenant, quote(plan), quote(catalog), run.log, run.dry_run
        )
    for batch in plan.batches(BATCH_SIZE):
        await push_orders(
            run.conn,
            run.tenant,
            quote(batch),
            quote(catalog),
            quote(customers),
            window,
            run.log,
            run.dry_run,
        )
        renew(run.lease)
