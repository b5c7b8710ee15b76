"""prefect.yaml: one deployment per tenant x flow, schedules S1/S2, no overlap S3, no secrets A2."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from datetime import UTC, datetime

import pytest
from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
from prefect.server.schemas import schedules as server_schedules

from mappings.tenant import TenantConfig
from ops import deployments


@pytest.fixture
def yaml_copy(tmp_path):
    path = tmp_path / "prefect.yaml"
    shutil.copy(deployments.DEFAULT_PREFECT_YAML, path)
    return path


def test_s1_catalog_and_customers_run_at_8_and_16_utc():
    """S1 (staggered inside the first 10 minutes: demo's catalog at 08:00, its customers at 08:05)."""
    crons = {
        spec.name: spec.schedules
        for spec in deployments.deployments()
        if spec.flow_key in ("catalog", "customers")
    }
    assert crons["demo-catalog"] == [{"cron": "0 8,16 * * *", "timezone": "UTC", "active": False}]
    assert crons["demo-customers"] == [{"cron": "5 8,16 * * *", "timezone": "UTC", "active": False}]


def test_s2_orders_and_deletions_run_every_ten_minutes():
    """S2 (staggered: demo's order push at :00, its deletions at :05, of every 10 minutes)."""
    crons = {
        spec.name: spec.schedules
        for spec in deployments.deployments()
        if spec.flow_key in ("orders", "deletions")
    }
    assert crons["demo-orders"] == [{"cron": "*/10 * * * *", "timezone": "UTC", "active": False}]
    assert crons["demo-deletions"] == [
        {"cron": "5-59/10 * * * *", "timezone": "UTC", "active": False}
    ]


def _fires(schedule: dict, count: int, start: datetime) -> list[datetime]:
    """The next `count` fire times of a prefect.yaml schedule as `prefect deploy` reads it and the
    Prefect server computes them (a cron, or the interval schedule of a staggered second)."""
    deployed = _schedule_config_to_deployment_schedule(dict(schedule))["schedule"]
    kind = getattr(server_schedules, type(deployed).__name__)
    reading = kind.model_validate(deployed.model_dump())
    return asyncio.run(reading.get_dates(n=count, start=start))


def _seconds_into_cadence(when: datetime) -> int:
    return (when.minute * 60 + when.second) % 600


def _add(path, *slugs):
    return [
        deployments.add_tenant(
            TenantConfig(
                slug=slug,
                gestionix_branch="Norte",
                handy_credentials=f"{slug}-handy",
                gestionix_credentials=f"{slug}-gestionix",
            ),
            path,
        )
        for slug in slugs
    ]


def test_s2_added_tenants_are_staggered_every_ten_minutes_and_spread_evenly(yaml_copy):
    """S2: each tenant's order push and deletion runs still fire every 10 minutes (Prefect's own
    reading of the file), at the tenant's own second; 30 tenants (31 with demo) start a run every
    ~10 s, never two in the same second."""
    offsets = _add(yaml_copy, *(f"tienda-{i}" for i in range(30)))
    assert deployments.schedule_offsets(yaml_copy) == {"demo": 0} | {
        f"tienda-{i}": o for i, o in enumerate(offsets)
    }
    start = datetime(2026, 11, 30, 0, 0, 30, tzinfo=UTC)
    run_seconds = []
    for spec in deployments.deployments(yaml_copy):
        if spec.flow_key not in ("orders", "deletions"):
            continue
        (schedule,) = spec.schedules
        assert schedule["timezone"] == "UTC" and schedule["active"] is False, spec.name
        fires = _fires(schedule, 7, start)
        assert all((b - a).total_seconds() == 600 for a, b in itertools.pairwise(fires)), (
            spec.name,
            fires,
        )
        offset = deployments.schedule_offsets(yaml_copy)[spec.parameters["tenant"]["slug"]]
        assert _seconds_into_cadence(fires[0]) == (
            offset if spec.flow_key == "orders" else (offset + 300) % 600
        ), spec.name
        run_seconds.append(_seconds_into_cadence(fires[0]))
    assert len(set(run_seconds)) == len(run_seconds) == 62
    ordered = sorted(run_seconds)
    gaps = [b - a for a, b in itertools.pairwise([*ordered, ordered[0] + 600])]
    assert max(gaps) <= 2 * 600 // 62 + 1, gaps


def test_s2_a_file_written_before_keeps_its_minute_crons(yaml_copy):
    """A tenant added before offsets had seconds (`7-59/10 * * * *`) keeps working: read as its
    offset (420 s), still every 10 minutes, and the next tenant is placed around it."""
    _add(yaml_copy, "vieja")
    text = yaml_copy.read_text()
    for flow, minute in (("orders", 7), ("deletions", 2)):
        block = text.index(f"- name: vieja-{flow}")
        start, end = text.index("- interval", block), text.index("timezone", block)
        text = text[:start] + f'- cron: "{minute}-59/10 * * * *"\n        ' + text[end:]
    yaml_copy.write_text(text)
    assert deployments.schedule_offsets(yaml_copy) == {"demo": 0, "vieja": 420}
    spec = deployments.find("vieja", "orders", yaml_copy)
    fires = _fires(spec.schedules[0], 3, datetime(2026, 11, 30, tzinfo=UTC))
    assert [_seconds_into_cadence(f) for f in fires] == [420] * 3
    assert [s.schedule.cron for s in deployments.to_runner_deployment(spec).schedules] == [
        "7-59/10 * * * *"
    ]
    (placed,) = _add(yaml_copy, "nueva")
    assert placed % 300 not in (0, 120)  # neither demo's second nor vieja's


def test_s1_added_tenants_sync_catalog_and_customers_twice_a_day_in_the_first_ten_minutes(
    yaml_copy,
):
    _add(yaml_copy, *(f"tienda-{i}" for i in range(10)))
    minutes = set()
    for spec in deployments.deployments(yaml_copy):
        if spec.flow_key in ("catalog", "customers"):
            fires = _fires(spec.schedules[0], 4, datetime(2026, 11, 30, tzinfo=UTC))
            assert [(f.hour, f.minute // 10) for f in fires] == [(8, 0), (16, 0)] * 2, spec.name
            minutes.add(fires[0].minute)
    assert len(minutes) >= 8  # not every tenant at 08:00 sharp


def test_s2_served_staggered_deployment_carries_its_own_second(yaml_copy):
    (offset,) = _add(yaml_copy, "lupita")
    spec = deployments.find("lupita", "orders", yaml_copy)
    (served,) = deployments.to_runner_deployment(spec).schedules
    assert served.schedule.interval.total_seconds() == 600 and served.active is False
    fires = asyncio.run(
        server_schedules.IntervalSchedule.model_validate(served.schedule.model_dump()).get_dates(
            n=2, start=datetime(2026, 11, 30, tzinfo=UTC)
        )
    )
    assert [_seconds_into_cadence(f) for f in fires] == [offset] * 2
    assert deployments.schedule_offsets(yaml_copy)["lupita"] == offset


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
    assert all(
        spec.schedules == [{"cron": "30 7 * * *", "timezone": "UTC", "active": False}]
        for spec in specs
        if spec.flow_key == "reconcile"
    )


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
    deployments.add_tenant(
        TenantConfig(
            slug="lupita",
            gestionix_branch="Norte",
            handy_credentials="lupita-handy",
            gestionix_credentials="lupita-gestionix",
        ),
        yaml_copy,
    )
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
        slug="lupita",
        gestionix_branch="Sucursal Norte",
        handy_credentials="lupita-handy",
        gestionix_credentials="lupita-gestionix",
        sync_inventory=False,
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


def test_a7_removing_the_last_tenant_leaves_a_file_prefect_reads_and_a_tenant_can_be_added_again(
    yaml_copy,
):
    removed = deployments.remove_tenant("demo", yaml_copy)
    assert len(removed) == len(deployments.FLOWS)
    as_prefect = deployments.read_as_prefect(yaml_copy)  # the loader `prefect deploy` uses
    assert as_prefect["deployments"] == [] and as_prefect["definitions"]["tenants"] == {}
    assert "demo" not in yaml_copy.read_text().split("tenants:")[1]  # no orphaned demo comment
    assert deployments.tenants(yaml_copy) == {} and deployments.deployments(yaml_copy) == []
    tenant = TenantConfig(
        slug="lupita",
        gestionix_branch="Sucursal Norte",
        handy_credentials="lupita-handy",
        gestionix_credentials="lupita-gestionix",
    )
    deployments.add_tenant(tenant, yaml_copy)
    assert deployments.find("lupita", "orders", yaml_copy).tenant == tenant
    assert len(deployments.read_as_prefect(yaml_copy)["deployments"]) == len(deployments.FLOWS)


def test_a7_removing_a_tenant_takes_its_marker_comment_and_keeps_the_others_deployments(yaml_copy):
    for slug in ("lupita", "pepe"):
        deployments.add_tenant(
            TenantConfig(
                slug=slug,
                gestionix_branch="Norte",
                handy_credentials=f"{slug}-h",
                gestionix_credentials=f"{slug}-g",
            ),
            yaml_copy,
        )
    deployments.remove_tenant("demo", yaml_copy)
    deployments.remove_tenant("pepe", yaml_copy)
    text = yaml_copy.read_text()
    assert "--- tenant demo ---" not in text and "--- tenant pepe ---" not in text
    assert "--- tenant lupita ---" in text
    names = [d["name"] for d in deployments.read_as_prefect(yaml_copy)["deployments"]]
    assert names == [f"lupita-{key}" for key in deployments.FLOWS]
