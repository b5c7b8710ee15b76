"""`hgsync run` and `hgsync tenant check` with the demo tenant of prefect.yaml against a sandbox."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli import app
from store import binder, runs
from tests.kit.tenants import save_tenant_blocks

pytestmark = pytest.mark.flow


@pytest.fixture
def demo_blocks(prefect_harness, sandbox):
    save_tenant_blocks(sandbox, "demo")
    return sandbox


def test_x3_hgsync_run_dry_run_writes_nothing_then_a_real_run_writes(demo_blocks):
    """X3 from the command line: --dry-run reports and writes nothing; the same run without it writes."""
    sandbox = demo_blocks
    dry = CliRunner().invoke(app, ["run", "catalog", "--tenant", "demo", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "demo-catalog: Completed" in dry.output
    assert sandbox.handy.stats.writes == 0 and not binder.all_for("demo", "product")
    assert runs.recent("demo", flow="catalog", limit=1)[0].dry_run is True

    real = CliRunner().invoke(app, ["run", "catalog", "--tenant", "demo"])
    assert real.exit_code == 0, real.output
    assert sandbox.handy.products and binder.all_for("demo", "product")


def test_hgsync_run_refuses_an_option_the_flow_does_not_have(demo_blocks):
    result = CliRunner().invoke(
        app, ["run", "catalog", "--tenant", "demo", "--since", "2026-11-01"]
    )
    assert result.exit_code != 0 and "no --since option" in result.output


def test_a4_hgsync_tenant_check_prints_each_check(demo_blocks):
    result = CliRunner().invoke(app, ["tenant", "check", "demo"])
    assert result.exit_code == 0, result.output
    assert "ok   sucursal: 'Matriz'" in result.output and "ready to activate" in result.output


def test_p7_hgsync_run_catalog_confirm_mass_disable_reaches_the_flow(demo_blocks):
    """P7 from the command line: a run over the mass-disable threshold exits 1 and prints how to
    go on; --confirm-mass-disable reaches catalog_pull and the products are disabled."""
    sandbox = demo_blocks
    assert CliRunner().invoke(app, ["run", "catalog", "--tenant", "demo"]).exit_code == 0
    enabled = sorted(
        b.handy_key for b in binder.all_for("demo", "product") if b.status == "enabled"
    )
    company = sandbox.gestionix.companies[sandbox.company_id]
    gone = enabled[: len(enabled) // 3]
    for product in list(company.products.values()):
        if product["key"] in gone:
            sandbox.gestionix.upsert_product(
                company, {"branches": ["Sucursal Norte"]}, product_id=product["product_id"]
            )

    stopped = CliRunner().invoke(app, ["run", "catalog", "--tenant", "demo"])
    assert stopped.exit_code == 1 and "demo-catalog: Failed" in stopped.output
    assert "--confirm-mass-disable" in stopped.output and "threshold 10 %" in stopped.output
    assert all(sandbox.handy.products[code]["enabled"] for code in gone)

    confirmed = CliRunner().invoke(
        app, ["run", "catalog", "--tenant", "demo", "--confirm-mass-disable"]
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert all(sandbox.handy.products[code]["enabled"] is False for code in gone)
    assert "Operator confirmed" in runs.recent("demo", flow="catalog", limit=1)[0].summary


def test_hgsync_run_refuses_confirm_mass_disable_for_a_flow_without_it(demo_blocks):
    result = CliRunner().invoke(
        app, ["run", "orders", "--tenant", "demo", "--confirm-mass-disable"]
    )
    assert result.exit_code != 0 and "no --confirm-mass-disable option" in result.output


def test_x4_hgsync_run_names_and_tags_the_run_after_the_tenant(demo_blocks):
    """X4: a run started by `hgsync run` is named `demo · catalog · …` and tagged `tenant:demo`
    and `catalog`, like the deployment's runs, so the tenant filter finds it."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    def tagged():
        with get_client(sync_client=True) as client:
            flow_runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["tenant:demo"]))
            )
        return {run.id: run for run in flow_runs}

    before = tagged()
    assert (
        CliRunner().invoke(app, ["run", "catalog", "--tenant", "demo", "--dry-run"]).exit_code == 0
    )
    new = [run for key, run in tagged().items() if key not in before]
    assert [run.name.rsplit(" · ", 1)[0] for run in new] == ["demo · catalog"]
    assert {"tenant:demo", "catalog"} <= set(new[0].tags)
