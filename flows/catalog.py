"""catalog_pull: Gestionix branch catalog -> Handy products, families, prices and free-use stock
(RULES P1-P8, I1-I3, X1, X3).

Orchestration only; the steps live in tasks/catalog.py (bindings and recovery in its docstring).
"""

from __future__ import annotations

import asyncio

from prefect import flow
from prefect.states import State
from prefect.utilities.annotations import quote

from flows.runs import run_name
from mappings.bindings import Entity
from mappings.tenant import TenantConfig
from tasks.audit import RunAudit, RunRefused, audited
from tasks.catalog import (
    Bindings,
    CatalogPlan,
    HandyCatalog,
    plan_catalog,
    read_bindings,
    read_catalog,
    read_handy_products,
    read_route_stock,
)
from tasks.catalog_writes import bind_adopted, ensure_families, report_plan, write_products
from tasks.connect import Connection, connect
from tasks.left_out import record_left_out
from tasks.mass_disable import guard_mass_disable
from tasks.store_calls import store_call


async def _nothing() -> None:
    """A read that is not needed in this mode (gathered with the others)."""


@flow(name="catalog_pull", flow_run_name=run_name("catalog"))
async def catalog_pull(
    tenant: TenantConfig,
    dry_run: bool = False,
    full: bool = False,
    confirm_mass_disable: bool = False,
) -> str | State:
    """Sync the sucursal's for-sale products to Handy, writing only what changed (P8).

    full=True also reads Handy's products: repairs what was changed by hand in Handy and adopts
    existing Handy products with the same code instead of creating duplicates (first run on an
    account that already has products). dry_run=True reports the plan and writes nothing (X3).
    A plan that would disable more than the tenant's mass_disable_threshold_percent of its
    enabled products ends Failed before writing anything; confirm_mass_disable=True lets an
    operator go on (P7, deletion protection).
    """
    audit = await store_call(RunAudit(tenant.slug, "catalog", dry_run=dry_run).start)
    return await audited(audit, _pull(tenant, dry_run, full, confirm_mass_disable, audit))


async def _read_and_plan(
    connection: Connection, tenant: TenantConfig, full: bool, q_audit: quote[RunAudit]
) -> tuple[Bindings, HandyCatalog | None, CatalogPlan]:
    """Steps 1-3 and 5's plan. The reads are independent: the bindings, and Handy's products
    (full mode) and open routes (inventory) are read while the Gestionix catalog pages arrive
    (paced); the left-out record is stored while planning."""
    catalog, known, handy, routes = await asyncio.gather(
        read_catalog(connection, q_audit),  # 1-2: P1-P6
        read_bindings(tenant.slug),
        read_handy_products(connection) if full else _nothing(),  # P7 drift, adoption
        read_route_stock(connection) if tenant.sync_inventory else _nothing(),  # I1, I3
    )
    _, plan = await asyncio.gather(
        record_left_out(  # X5: why a product is not in Handy, changes only
            tenant.slug,
            quote(catalog),
            quote([binding.gestionix_key for binding in known.products]),
            connection.branch_name,
            q_audit,
        ),
        plan_catalog(  # 3: P7, P8; 5: I2
            quote(catalog),
            quote(known),
            quote(handy),
            quote(routes),
            sync_inventory=tenant.sync_inventory,
            audit=q_audit,
        ),
    )
    return known, handy, plan


async def _pull(
    tenant: TenantConfig, dry_run: bool, full: bool, confirm_mass_disable: bool, audit: RunAudit
) -> None:
    # Big arguments (the audit's items, frames, the plan and its writes) are passed quoted: Prefect
    # would otherwise walk every element twice per task call looking for futures (seconds of
    # CPU at 50 000 products). Nothing here is a future; the tasks get the plain values.
    q_audit = quote(audit)
    async with connect(tenant) as connection:  # A1: the sucursal by name
        known, handy, plan = await _read_and_plan(connection, tenant, full, q_audit)
        stop = await guard_mass_disable(  # before the first write, families included
            tenant,
            quote(plan.disables),
            q_audit,
            entity=Entity.PRODUCT,
            run_name="catalog",
            dry_run=dry_run,
            confirmed=confirm_mass_disable,
        )
        if stop:
            raise RunRefused(stop)
        families = await ensure_families(  # 4: P5, families first
            connection,
            tenant.slug,
            plan.families_needed,
            quote(known),
            q_audit,
            full=full,
            dry_run=dry_run,
        )
        if dry_run:
            report_plan(plan, audit)  # X3
        else:
            await bind_adopted(tenant.slug, quote(plan), q_audit)
            for chunk in plan.chunks():  # 4-5: concurrent writes, bound as they succeed
                await write_products(
                    connection, tenant.slug, quote(chunk), families, quote(handy), q_audit
                )
