"""customer_sync: the sucursal's Gestionix clients into Handy (RULES C1-C7, X1, X3).

Orchestration only; the steps and the binding conventions live in tasks/customers.py.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows.runs import run_name
from mappings.bindings import Entity
from mappings.tenant import TenantConfig
from tasks.audit import RunAudit, RunRefused, audited
from tasks.connect import connect
from tasks.customer_writes import (
    ZoneGeneral,
    batches,
    bind_without_writing,
    ensure_zone,
    write_customers,
    write_rows,
)
from tasks.customers import plan_customers, read_sources
from tasks.mass_disable import guard_mass_disable
from tasks.store_calls import store_call

SWITCHED_OFF = "sync_customers is off: no customer was read or written (C7)."


@flow(name="customer_sync", flow_run_name=run_name("customers"))
async def customer_sync(
    tenant: TenantConfig,
    dry_run: bool = False,
    full: bool = False,
    confirm_mass_disable: bool = False,
) -> str | State:
    """Copy the sucursal's clients to Handy: create, update, enable/disable (C1-C3), zone General
    for new customers (C4), the matched Handy seller (C5), bound customers updated in place (C6).
    `full` also reads Handy's customers: drift is repaired and unbound customers with a unique
    matching name are adopted. `dry_run` reports the plan and writes nothing (X3). A plan that
    would disable more than the tenant's mass_disable_threshold_percent of its enabled customers
    ends Failed before writing anything; `confirm_mass_disable` lets an operator go on (C3)."""
    audit = RunAudit(tenant.slug, "customers", dry_run=dry_run)
    return await audited(audit, _sync(tenant, dry_run, full, confirm_mass_disable, audit))


async def _sync(
    tenant: TenantConfig, dry_run: bool, full: bool, confirm_mass_disable: bool, audit: RunAudit
) -> str | None:
    if not tenant.sync_customers:  # C7
        return await audit.switched_off(SWITCHED_OFF)
    await store_call(audit.start)
    async with connect(tenant) as connection:
        sources = await read_sources(connection, full)
        customer_plan = await plan_customers(tenant, sources, audit)
        stop = await guard_mass_disable(  # before the first write, bindings included
            tenant,
            customer_plan.disables,
            audit,
            entity=Entity.CUSTOMER,
            run_name="customers",
            dry_run=dry_run,
            confirmed=confirm_mass_disable,
        )
        if stop:
            raise RunRefused(stop)
        await bind_without_writing(tenant, customer_plan, audit, dry_run)
        zone = ZoneGeneral(connection, tenant, audit, dry_run)
        if customer_plan.needs_zone:
            await ensure_zone(zone)  # C4
        for batch in batches(write_rows(customer_plan)):
            await write_customers(connection, tenant, batch, zone, customer_plan, audit, dry_run)
    return None
