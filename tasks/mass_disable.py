"""Deletion protection in a run (RULES P7, C3): the planned disables against the tenant's
threshold (mappings/mass_disable.py), recorded in the audit before anything is written.

A real run over the threshold stops before its first write (families, bindings and Handy
records alike) unless the operator confirmed; a dry run lists what it would disable and says
the real run would stop, and completes (it writes nothing anyway).
"""

from __future__ import annotations

from prefect import task

from mappings.mass_disable import PlannedDisables, check_mass_disable
from mappings.tenant import TenantConfig
from tasks.audit import RunAudit
from tasks.options import RUN_ONCE

WITHHELD = "disable withheld"  # audit action of each disable a stopped run did not write


@task(name="check-mass-disable", **RUN_ONCE)
async def guard_mass_disable(
    tenant: TenantConfig,
    planned: PlannedDisables,
    audit: RunAudit,
    *,
    entity: str,
    run_name: str,
    dry_run: bool,
    confirmed: bool,
) -> str | None:
    """The message to end the run Failed with when it must stop before writing; None to go on.
    entity: the audit entity ("product"); run_name: the `hgsync run` name ("catalog")."""
    check = check_mass_disable(
        planned,
        threshold_percent=tenant.mass_disable_threshold_percent,
        tenant=tenant.slug,
        entity=f"{entity}s",
        run_name=run_name,
    )
    if not check.tripped:
        return None
    if confirmed:
        audit.note(f"Operator confirmed the mass disable (confirm_mass_disable): {check.summary}.")
        return None
    if dry_run:  # the plan's items already say "would disable" for each one
        audit.note(f"The real run would stop before writing: {check.message}")
        return None
    for row in planned.disables.itertuples(index=False):
        audit.item(
            entity, row.handy_key, WITHHELD, f"{row.kind}; Gestionix key {row.gestionix_key}"
        )
    audit.count(WITHHELD, planned.total)
    audit.note(check.message)
    return check.message
