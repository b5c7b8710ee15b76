"""replay: retry dead letters now (after the cause was fixed in Gestionix), and report each one."""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, Failed, State

from flows.deletions import deletion_sync
from flows.orders import order_push
from flows.runs import run_name, tenant_tags
from mappings.bindings import Entity
from mappings.tenant import TenantConfig
from tasks.audit import RunAudit, audited
from tasks.replay import outcomes, select_letters
from tasks.store_calls import store_call


@flow(name="replay", flow_run_name=run_name("replay"))
async def replay(tenant: TenantConfig, key: str | None = None, dry_run: bool = False):
    """Retry the open dead letters (one Handy order id with `key`, else all): pushes through
    order_push, refused deletions through deletion_sync (released for one more attempt, D3)."""
    audit = await store_call(RunAudit(tenant.slug, "replay", dry_run=dry_run).start)
    return await audited(audit, _replay(tenant, key, dry_run, audit))


async def _replay(tenant: TenantConfig, key: str | None, dry_run: bool, audit: RunAudit) -> State:
    selected = await select_letters(tenant, key, release=not dry_run)
    if not selected:
        audit.note(f"no open dead letter{' for ' + key if key else ''}: nothing to replay.")
        return Completed(message=await audit.finish())
    entities = {item["entity"] for item in selected}
    if Entity.ORDER in entities:
        with tenant_tags(tenant.slug, "orders"):  # subflows: found by tenant:<slug> too (X4)
            await order_push(tenant=tenant, dry_run=dry_run)
    if Entity.ORDER_DELETION in entities:
        with tenant_tags(tenant.slug, "deletions"):
            await deletion_sync(tenant=tenant, dry_run=dry_run)
    results = selected if dry_run else await outcomes(tenant, selected)
    for result in results:
        outcome = "would retry" if dry_run else result["outcome"]
        audit.count("read")
        if outcome == "resolved":
            audit.count("updated")
        elif outcome == "still failing":
            audit.count("failed")
        audit.item(result["entity"], result["key"], outcome, result["reason"])
    summary = await audit.finish()
    if audit.counts.get("failed"):
        return Failed(message=summary)
    return Completed(message=summary)
