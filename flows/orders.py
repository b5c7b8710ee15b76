"""order_push: every new Handy order into Gestionix exactly once (RULES O1-O11, S3, X1, X3).

Orchestration only; the steps live in tasks/orders.py (exactly-once protocol in its docstring).
Large task arguments (orders, plans, the catalog, the audit, live clients) are passed as
`quote(...)`: Prefect would otherwise walk every nested dict of them looking for futures, on the
event loop, at every task call (seconds per 2 000 orders). The task receives the value itself.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.states import Cancelled
from prefect.utilities.annotations import quote

from flows.runs import run_name
from mappings.tenant import TenantConfig
from tasks.audit import RunAudit
from tasks.connect import connect
from tasks.documents import (
    BATCH_SIZE,
    ORDERS_STREAM,
    LeaseTimeout,
    close_window,
    measure_handy_clock,
    require_cursor,
    open_window,
    renew,
    tenant_lease,
)
from tasks.order_adoption import adopt_pushed_orders, settle_stale_creates
from tasks.orders import (
    plan_orders,
    push_orders,
    read_catalog,
    read_dead_lettered_orders,
    read_new_orders,
    resolve_customers,
)
from tasks.store_calls import store_call


@flow(name="order_push", flow_run_name=run_name("orders"))
async def order_push(tenant: TenantConfig, since: datetime | None = None, dry_run: bool = False):
    """Push the Handy orders received in [cursor - lookback, now] (or since `since`) and the
    dead-lettered ones to Gestionix. Holds the tenant's lease shared with deletion_sync (S3);
    when it stays taken for the whole wait the run ends Cancelled and says why."""
    audit = RunAudit(tenant.slug, "orders", dry_run=dry_run)
    try:
        async with tenant_lease(tenant.slug, hold=not dry_run) as lease:
            await require_cursor(tenant.slug, ORDERS_STREAM, since)  # A4, before any read
            async with connect(tenant, resolve=False) as connection:
                connection.lease = lease  # every Gestionix write and binding asks it first (O8)
                conn, log = quote(connection), quote(audit)  # log: the audit, unwalked (see above)
                skew = await measure_handy_clock(conn, log)  # O1: Handy's clock
                window = await open_window(
                    tenant.slug, ORDERS_STREAM, tenant.order_lookback_minutes, since, skew
                )
                audit.window_start, audit.window_end = window.start, window.end
                await store_call(audit.start)  # the run's audit row, off the event loop
                orders = await read_new_orders(conn, window)  # O1
                retried = await read_dead_lettered_orders(  # O6
                    conn, tenant, quote(orders), log, dry_run
                )
                await settle_stale_creates(conn, tenant, log, dry_run)  # O8
                plan = await plan_orders(tenant, quote(orders), quote(retried), log)  # D2, O8, O2
                await adopt_pushed_orders(conn, tenant, quote(plan), log, dry_run)  # O8
                catalog, customers = None, {}
                if plan.needs_gestionix:
                    catalog = await read_catalog(conn)
                    customers = await resolve_customers(  # O3, O4
                        conn, tenant, quote(plan), quote(catalog), log, dry_run
                    )
                for batch in plan.batches(BATCH_SIZE):  # O5-O9
                    await push_orders(
                        conn, tenant, quote(batch), quote(catalog), quote(customers), window, log,
                        dry_run,
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
