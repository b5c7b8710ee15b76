"""activate: checks (A4), the first full catalog and customer sync, then the order cursors."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.states import State

from flows.catalog import catalog_pull
from flows.customers import customer_sync
from flows.runs import run_name, tenant_tags
from mappings.tenant import TenantConfig
from tasks.activation import check_tenant, run_activation_checks, set_order_cursors
from tasks.audit import RunAudit, RunFailedExplained, audited
from tasks.store_calls import store_call
from tasks.tenant_deployments import resume_schedules

__all__ = ["activate", "check_tenant"]


class ActivationFailed(RunFailedExplained):
    """An A4 check failed; the message lists what to fix (the run's audit says it too)."""


STAY_PAUSED = "its schedules stay paused until an activation succeeds"


@flow(name="activate", flow_run_name=run_name("activate"))
async def activate(tenant: TenantConfig, backfill_from: datetime | None = None) -> State:
    """Check the tenant (A4), run the first full catalog (and customer) sync, start the order
    and deletion cursors now — or at `backfill_from` to push older orders too —, and then resume
    the schedules of the tenant's deployments (created paused, so nothing runs before this)."""
    audit = await store_call(RunAudit(tenant.slug, "activate").start)
    return await audited(audit, _activate(tenant, backfill_from, audit))


async def _activate(tenant: TenantConfig, backfill_from: datetime | None, audit: RunAudit) -> None:
    logger = get_run_logger()
    report = await run_activation_checks(tenant)
    for line in report.lines():
        logger.info(line)
    if not report.ok:
        audit.fail("tenant", tenant.slug, f"{report.failure()}; {STAY_PAUSED}")
        raise ActivationFailed(
            f"tenant {tenant.slug} cannot be activated: {report.failure()}; {STAY_PAUSED}"
        )
    try:
        await _first_sync(tenant, backfill_from, audit)
    except Exception as error:
        logger.error(
            "tenant %s: activation did not complete (%s); %s", tenant.slug, error, STAY_PAUSED
        )
        raise
    resumed = await resume_schedules(tenant.slug)
    note = (
        f"schedules resumed: {', '.join(resumed)}."
        if resumed
        else "no scheduled deployment of this tenant on the Prefect server: no schedule to resume."
    )
    logger.info(note)
    audit.note(note)


async def _first_sync(
    tenant: TenantConfig, backfill_from: datetime | None, audit: RunAudit
) -> None:
    with tenant_tags(tenant.slug, "catalog"):  # subflows: found by tenant:<slug> too (X4)
        catalog_summary = await catalog_pull(tenant=tenant, full=True)
    audit.note(f"catalog: {catalog_summary}.")
    if tenant.sync_customers:
        with tenant_tags(tenant.slug, "customers"):
            customers_summary = await customer_sync(tenant=tenant, full=True)
        audit.note(f"customers: {customers_summary}.")
    else:
        audit.note("customers: sync_customers is off.")

    start = backfill_from or datetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    await set_order_cursors(tenant, start)
    audit.note(f"orders pushed from {start:%Y-%m-%d %H:%M:%S} UTC on.")
