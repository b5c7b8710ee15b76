"""`hgsync run` and `hgsync tenant check` with the demo tenant of prefect.yaml against a sandbox."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli import app
from store import binder, runs
from tests.flows.conftest import save_tenant_blocks

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
    result = CliRunner().invoke(app, ["run", "catalog", "--tenant", "demo", "--since", "2026-11-01"])
    assert result.exit_code != 0 and "no --since option" in result.output


def test_a4_hgsync_tenant_check_prints_each_check(demo_blocks):
    result = CliRunner().invoke(app, ["tenant", "check", "demo"])
    assert result.exit_code == 0, result.output
    assert "ok   sucursal: 'Matriz'" in result.output and "ready to activate" in result.output
