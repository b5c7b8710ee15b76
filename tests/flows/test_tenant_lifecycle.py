"""A tenant's life on a Prefect server (RULES A4, A7): schedules paused until activation, then
`hgsync tenant set / pause / resume / credentials / remove / list`, each reaching all of the
tenant's deployments at once and keeping the store's history."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC

import pytest
from prefect.client.orchestration import get_client
from typer.testing import CliRunner

from cli import app
from clients.credentials import HandyCredentials
from flows.activate import activate
from ops import deployments
from store import cursors, runs
from tasks.tenant_deployments import tenant_status
from tests.kit.tenants import make_tenant

pytestmark = pytest.mark.flow


def _deploy(tenant, path):
    """The tenant's deployments of `path`, created on the test server as `hgsync deploy` would."""
    deployments.add_tenant(tenant, path)
    for spec in deployments.deployments(path):
        if spec.name.startswith(f"{tenant.slug}-"):
            deployments.to_runner_deployment(spec).apply()


def _server(slug):
    return {status.name: status for status in asyncio.run(tenant_status(slug))}


async def _scheduled_runs(slug):
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterTags,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    async with get_client() as client:
        return await client.read_flow_runs(
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[f"tenant:{slug}"])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
        )


@pytest.fixture
def yaml_copy(tmp_path):
    path = tmp_path / "prefect.yaml"
    shutil.copy(deployments.DEFAULT_PREFECT_YAML, path)
    return path


def test_a4_schedules_stay_paused_until_an_activation_succeeds(prefect_harness, sandbox, yaml_copy):
    """A4: deployed paused; a failed activation leaves them paused and says why; a successful
    one resumes the schedules of every scheduled deployment of the tenant."""
    tenant = make_tenant(sandbox)
    _deploy(tenant, yaml_copy)
    before = _server(tenant.slug)
    assert len(before) == len(deployments.FLOWS)
    assert [name for name, status in before.items() if status.active] == []

    wrong = tenant.model_copy(update={"gestionix_branch": "No Existe"})
    state = asyncio.run(activate(tenant=wrong, return_state=True))
    assert state.is_failed() and "schedules stay paused" in state.message
    assert not any(status.active for status in _server(tenant.slug).values())

    state = asyncio.run(activate(tenant=tenant, return_state=True))
    assert state.is_completed(), state.message
    after = _server(tenant.slug)
    scheduled = {name for name, status in after.items() if status.scheduled}
    assert scheduled == {
        f"{tenant.slug}-{key}"
        for key in ("catalog", "customers", "orders", "deletions", "reconcile")
    }
    assert all(after[name].active for name in scheduled)
    assert "schedules resumed" in runs.recent(tenant.slug, flow="activate", limit=1)[0].summary


def test_a7_set_pause_resume_list_remove_reach_every_deployment(
    prefect_harness, sandbox, yaml_copy
):
    tenant = make_tenant(sandbox)
    slug = tenant.slug
    _deploy(tenant, yaml_copy)
    cli = CliRunner()
    file = ["--file", str(yaml_copy)]

    listed = cli.invoke(app, ["tenant", "list", *file])
    assert listed.exit_code == 0, listed.output
    assert (
        f"{slug}: awaiting activation — customers on, inventory on, deletions on" in listed.output
    )

    refused = cli.invoke(app, ["tenant", "resume", slug, *file])
    assert refused.exit_code == 1 and "was never activated" in refused.output

    changed = cli.invoke(app, ["tenant", "set", slug, "--no-sync-deletions", *file])
    assert changed.exit_code == 0, changed.output
    assert f"tenant {slug}: sync_deletions True -> False" in changed.output
    assert deployments.tenant(slug, yaml_copy).sync_deletions is False
    assert all(s.parameters["tenant"]["sync_deletions"] is False for s in _server(slug).values())
    assert all(
        s.tenant.sync_deletions is False
        for s in deployments.deployments(yaml_copy)
        if s.name.startswith(slug)
    )

    assert asyncio.run(
        activate(tenant=deployments.tenant(slug, yaml_copy), return_state=True)
    ).is_completed()
    assert cli.invoke(app, ["tenant", "list", *file]).output.count(f"{slug}: active") == 1

    paused = cli.invoke(app, ["tenant", "pause", slug, *file])
    assert paused.exit_code == 0 and "schedules paused on 5 deployments" in paused.output
    assert not any(status.active for status in _server(slug).values())
    assert asyncio.run(_scheduled_runs(slug)) == []
    assert f"{slug}: paused" in cli.invoke(app, ["tenant", "list", *file]).output

    resumed = cli.invoke(app, ["tenant", "resume", slug, *file])
    assert resumed.exit_code == 0 and "schedules resumed on 5 deployments" in resumed.output
    assert all(status.active for status in _server(slug).values() if status.scheduled)

    removed = cli.invoke(app, ["tenant", "remove", slug, "--yes", *file])
    assert removed.exit_code == 0, removed.output
    assert _server(slug) == {}
    with pytest.raises(ValueError):
        HandyCredentials.load(tenant.handy_credentials, _sync=True)
    assert slug not in deployments.tenants(yaml_copy)
    assert not [s for s in deployments.deployments(yaml_copy) if s.name.startswith(slug)]
    assert (
        runs.recent(slug, flow="activate") and cursors.get(slug, "orders") is not None
    )  # history kept


def test_a7_remove_with_purge_store_forgets_the_tenant_and_only_it(
    prefect_harness, sandbox, yaml_copy
):
    from datetime import datetime

    from store import binder

    tenant = make_tenant(sandbox)
    _deploy(tenant, yaml_copy)
    for slug in (tenant.slug, "neighbour"):
        run_id = runs.start(slug, "orders")
        runs.add_items(
            slug, run_id, [{"entity": "order", "key": "1", "action": "pushed", "reason": ""}]
        )
        runs.finish(slug, run_id, counts={"read": 1}, status="completed")
        cursors.set(slug, "orders", datetime.now(UTC))
        binder.bind(slug, "order", "1", "GX-1", status="pushed")
    result = CliRunner().invoke(
        app, ["tenant", "remove", tenant.slug, "--yes", "--purge-store", "--file", str(yaml_copy)]
    )
    assert result.exit_code == 0, result.output
    assert runs.recent(tenant.slug) == [] and cursors.get(tenant.slug, "orders") is None
    assert binder.all_for(tenant.slug, "order") == []
    assert (
        runs.recent("neighbour")
        and cursors.get("neighbour", "orders")
        and binder.all_for("neighbour", "order")
    )


def test_a7_credentials_replaces_the_secret_and_checks_it(
    prefect_harness, sandbox, yaml_copy, monkeypatch
):
    tenant = make_tenant(sandbox)
    deployments.add_tenant(tenant, yaml_copy)
    HandyCredentials(base_url=sandbox.handy_url, api_token="expired-token").save(
        tenant.handy_credentials, overwrite=True, _sync=True
    )
    monkeypatch.setenv("HGSYNC_HANDY_TOKEN", sandbox.handy_token)
    result = CliRunner().invoke(
        app, ["tenant", "credentials", tenant.slug, "--which", "handy", "--file", str(yaml_copy)]
    )
    assert result.exit_code == 0, result.output
    assert "ok   Handy credentials" in result.output and "ready to activate" in result.output
    assert sandbox.handy_token not in result.output
    saved = HandyCredentials.load(tenant.handy_credentials, _sync=True)
    assert (
        saved.api_token.get_secret_value() == sandbox.handy_token
        and saved.base_url == sandbox.handy_url
    )
