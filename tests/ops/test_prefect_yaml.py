"""prefect.yaml: one deployment per tenant x flow, schedules S1/S2, no overlap S3, no secrets A2."""

from __future__ import annotations

import shutil

import pytest

from flows import deployments
from mappings.tenant import TenantConfig


@pytest.fixture
def yaml_copy(tmp_path):
    path = tmp_path / "prefect.yaml"
    shutil.copy(deployments.DEFAULT_PREFECT_YAML, path)
    return path


def test_s1_catalog_and_customers_run_at_8_and_16_utc():
    for spec in deployments.deployments():
        if spec.flow_key in ("catalog", "customers"):
            assert spec.schedules == [{"cron": "0 8,16 * * *", "timezone": "UTC", "active": False}], spec.name


def test_s2_orders_and_deletions_run_every_ten_minutes():
    for spec in deployments.deployments():
        if spec.flow_key in ("orders", "deletions"):
            assert spec.schedules == [{"cron": "*/10 * * * *", "timezone": "UTC", "active": False}], spec.name


def test_s3_every_deployment_refuses_to_overlap_itself():
    """S3: concurrency limit 1 with CANCEL_NEW on every deployment (order push vs deletion sync
    of one tenant is the store lease's job, tested with the flows)."""
    for spec in deployments.deployments():
        assert spec.concurrency_limit == {"limit": 1, "collision_strategy": "CANCEL_NEW"}, spec.name


def test_manual_flows_have_no_schedule_and_every_tenant_has_every_deployment():
    specs = deployments.deployments()
    names = {spec.name for spec in specs}
    for slug in deployments.tenants():
        assert {f"{slug}-{key}" for key in deployments.FLOWS} <= names
    assert all(not spec.schedules for spec in specs if spec.flow_key in ("activate", "replay"))
    assert all(spec.schedules == [{"cron": "30 7 * * *", "timezone": "UTC", "active": False}]
               for spec in specs if spec.flow_key == "reconcile")


def test_s1_s2_s3_served_deployments_carry_the_same_schedules_and_limits():
    """`hgsync serve` builds the same deployments from prefect.yaml (no server needed to build)."""
    for spec in deployments.deployments():
        served = deployments.to_runner_deployment(spec)
        assert served.name == spec.name and served.tags == spec.tags
        assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in served.schedules] == [
            (s["cron"], s["timezone"], False) for s in spec.schedules
        ]
        assert served.concurrency_limit == 1
        assert str(served.concurrency_options.collision_strategy).endswith("CANCEL_NEW")
        assert served.parameters["tenant"]["slug"] == spec.parameters["tenant"]["slug"]


def test_a4_every_schedule_is_created_paused_and_a_new_tenant_too(yaml_copy):
    """A4: before activation no run is scheduled, so none fails for want of it."""
    deployments.add_tenant(TenantConfig(slug="lupita", gestionix_branch="Norte", handy_credentials="lupita-handy",
                                        gestionix_credentials="lupita-gestionix"), yaml_copy)
    scheduled = [spec for spec in deployments.deployments(yaml_copy) if spec.schedules]
    assert {spec.name for spec in scheduled} >= {"lupita-orders", "demo-orders", "lupita-catalog"}
    assert all(schedule["active"] is False for spec in scheduled for schedule in spec.schedules)


def test_a2_deployment_parameters_hold_no_secret():
    """A2: parameters name credential blocks; no token or password field anywhere."""
    lines = deployments.DEFAULT_PREFECT_YAML.read_text().lower().splitlines()
    content = [line for line in lines if not line.strip().startswith("#")]
    for word in ("token", "password", "secret"):
        assert not [line for line in content if word in line]
    for spec in deployments.deployments():
        assert set(spec.parameters) == {"tenant"}
        TenantConfig(**spec.parameters["tenant"])  # validates


def test_entrypoints_point_at_the_flows_and_tags_name_tenant_and_flow():
    for spec in deployments.deployments():
        assert spec.entrypoint == deployments.FLOWS[spec.flow_key][0]
        slug = spec.parameters["tenant"]["slug"]
        assert spec.tags == [f"tenant:{slug}", spec.flow_key]
        assert spec.name == f"{slug}-{spec.flow_key}" and spec.description


def test_adding_a_tenant_keeps_comments_and_existing_deployments(yaml_copy):
    before = yaml_copy.read_text()
    tenant = TenantConfig(
        slug="lupita", gestionix_branch="Sucursal Norte", handy_credentials="lupita-handy",
        gestionix_credentials="lupita-gestionix", sync_inventory=False,
    )
    deployments.add_tenant(tenant, yaml_copy)
    after = yaml_copy.read_text()
    for line in before.splitlines():
        if line.strip().startswith("#"):
            assert line in after
    assert "&tenant_lupita" in after and after.count("*tenant_lupita") == len(deployments.FLOWS)
    assert deployments.find("lupita", "orders", yaml_copy).tenant == tenant
    assert deployments.find("demo", "catalog", yaml_copy).tenant.slug == "demo"
    with pytest.raises(deployments.DeploymentFileError, match="already"):
        deployments.add_tenant(tenant, yaml_copy)


def test_unknown_tenant_lists_the_known_ones():
    with pytest.raises(deployments.DeploymentFileError, match="known tenants: demo"):
        deployments.tenant("nope")
