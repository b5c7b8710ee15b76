"""A tenant's deployments on the Prefect server (RULES A4, A7): find them by their `tenant:<slug>`
tag, pause or resume their schedules, give them new parameters, delete them. Each action reaches
all of the tenant's deployments at once; none touches the store (its history stays)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import task
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import DeploymentUpdate
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    DeploymentFilterTags,
    FlowRunFilter,
    FlowRunFilterStartTime,
)
from prefect.client.schemas.sorting import FlowRunSort

from tasks.options import RUN_ONCE


def tenant_tag(slug: str) -> str:
    return f"tenant:{slug}"


PAGE = 200  # the server's default and maximum page of deployments


async def _all_deployments(
    client: PrefectClient, deployment_filter: DeploymentFilter | None = None
) -> list[Any]:
    found: list[Any] = []
    while True:
        page = await client.read_deployments(
            deployment_filter=deployment_filter, limit=PAGE, offset=len(found)
        )
        found += page
        if len(page) < PAGE:
            return found


async def _deployments(client: PrefectClient, slug: str) -> list[Any]:
    found = await _all_deployments(
        client, DeploymentFilter(tags=DeploymentFilterTags(all_=[tenant_tag(slug)]))
    )
    return sorted(found, key=lambda deployment: deployment.name)


async def set_schedules_active(slug: str, active: bool) -> list[str]:
    """Resume (active) or pause every schedule of the tenant's deployments; the names of the
    deployments that have schedules. Pausing also drops the runs already scheduled."""
    changed = []
    async with get_client() as client:
        for deployment in await _deployments(client, slug):
            for schedule in deployment.schedules:
                if schedule.active != active:
                    await client.update_deployment_schedule(
                        deployment.id, schedule.id, active=active
                    )
            if deployment.schedules:
                changed.append(deployment.name)
    return changed


@task(name="resume-tenant-schedules", **RUN_ONCE)
async def resume_schedules(slug: str) -> list[str]:
    """A4: after a successful activation the tenant's schedules start (they were created paused)."""
    return await set_schedules_active(slug, True)


async def set_tenant_parameters(slug: str, tenant: dict[str, Any]) -> list[str]:
    """Give every deployment of the tenant the new `tenant` parameter (the other parameters stay)."""
    updated = []
    async with get_client() as client:
        for deployment in await _deployments(client, slug):
            parameters = {**(deployment.parameters or {}), "tenant": tenant}
            await client.update_deployment(deployment.id, DeploymentUpdate(parameters=parameters))
            updated.append(deployment.name)
    return updated


async def delete_deployments(slug: str) -> list[str]:
    """Delete the tenant's deployments (their scheduled runs go with them; past runs stay)."""
    async with get_client() as client:
        found = await _deployments(client, slug)
        for deployment in found:
            await client.delete_deployment(deployment.id)
    return [deployment.name for deployment in found]


@dataclass
class DeploymentStatus:
    name: str
    scheduled: bool  # has schedules at all (activate, replay are manual)
    active: bool  # every schedule is active
    parameters: dict[str, Any]
    last_run: str  # "Completed 2026-11-29 16:00 UTC", or "never"


async def tenant_status(slug: str) -> list[DeploymentStatus]:
    """Each of the tenant's deployments: its schedules' state and its last started run."""
    statuses = []
    async with get_client() as client:
        for deployment in await _deployments(client, slug):
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(is_null_=False)),
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
            last = "never"
            if runs and runs[0].state is not None:
                last = f"{runs[0].state.name} {runs[0].start_time:%Y-%m-%d %H:%M} UTC"
            statuses.append(
                DeploymentStatus(
                    name=deployment.name,
                    scheduled=bool(deployment.schedules),
                    active=bool(deployment.schedules)
                    and all(s.active for s in deployment.schedules),
                    parameters=dict(deployment.parameters or {}),
                    last_run=last,
                )
            )
    return statuses


async def schedule_states() -> dict[str, bool]:
    """Deployment name -> all its schedules active, for every scheduled deployment on the server
    (so a redeploy can put back what activation, pause and resume decided)."""
    async with get_client() as client:
        return {
            deployment.name: all(s.active for s in deployment.schedules)
            for deployment in await _all_deployments(client)
            if deployment.schedules
        }


async def restore_schedule_states(states: dict[str, bool]) -> list[str]:
    """Set each named deployment's schedules back to its recorded state; the names changed."""
    changed = []
    async with get_client() as client:
        for deployment in await _all_deployments(client):
            wanted = states.get(deployment.name)
            if wanted is None:
                continue
            for schedule in deployment.schedules:
                if schedule.active != wanted:
                    await client.update_deployment_schedule(
                        deployment.id, schedule.id, active=wanted
                    )
                    if deployment.name not in changed:
                        changed.append(deployment.name)
    return changed
