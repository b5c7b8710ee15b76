"""X1: every flow's run row is closed however the run ends (tasks/audit.audited): a failure inside
any of the seven flows leaves no row `running` (which `hgsync report` would show forever), a run
whose lease stayed taken ends Cancelled with its row `skipped`, a switched-off flow `skipped`."""

from __future__ import annotations

from datetime import timedelta

import pytest

import flows.activate
import flows.catalog
import flows.customers
import flows.deletions
import flows.orders
import flows.reconcile
import flows.replay
import tasks.lease
from store import runs
from store.leases import acquire, release
from tests.kit.sandbox_orders import activate as set_cursors
from tests.kit.tenants import make_tenant

pytestmark = pytest.mark.flow


class Crash(RuntimeError):
    """A failure no handler expects (a bug, a lost process resource)."""


# flow -> (module, its flow function, a step it takes after its run row is started)
INSIDE = {
    "catalog": (flows.catalog, "catalog_pull", "read_bindings"),
    "customers": (flows.customers, "customer_sync", "read_sources"),
    "orders": (flows.orders, "order_push", "read_new_orders"),
    "deletions": (flows.deletions, "deletion_sync", "read_deleted_orders"),
    "activate": (flows.activate, "activate", "catalog_pull"),  # the first sync, checks passed
    "reconcile": (flows.reconcile, "reconcile", "heal_day_duplicates"),
    "replay": (flows.replay, "replay", "select_letters"),
}


def _statuses(slug: str) -> list[str]:
    return [run.status for run in runs.recent(slug)]


@pytest.mark.parametrize("flow_key", list(INSIDE))
async def test_x1_a_failure_inside_any_flow_ends_its_run_failed_never_running(
    sandbox, tenant, monkeypatch, flow_key
):
    """X1: the step fails inside the run: the flow run ends Failed with the error, its one row is
    `failed` with the reason in its summary, and no row of the tenant stays `running`."""
    module, flow_name, step = INSIDE[flow_key]
    set_cursors(tenant.slug)

    def crash(*args, **kwargs):
        raise Crash(f"{step} broke")

    async def crash_async(*args, **kwargs):
        crash()

    monkeypatch.setattr(module, step, crash if step == "select_letters" else crash_async)
    state = await getattr(module, flow_name)(tenant, return_state=True)

    assert state.is_failed(), state
    assert f"{step} broke" in state.message
    (run,) = runs.recent(tenant.slug, flow=flow_key)
    assert run.status == "failed" and run.finished_at is not None
    assert f"run failed: Crash: {step} broke" in run.summary
    assert "running" not in _statuses(tenant.slug)


@pytest.mark.parametrize("flow_key", ["orders", "deletions", "reconcile"])
async def test_s3_lease_taken_for_the_whole_wait_ends_cancelled_and_skipped(
    sandbox, tenant, monkeypatch, flow_key
):
    """S3: the tenant's lease stays taken: the run reads and writes nothing, ends Cancelled
    saying why, and its row is `skipped`."""
    module, flow_name, _ = INSIDE[flow_key]
    set_cursors(tenant.slug)
    monkeypatch.setattr(tasks.lease, "LEASE_WAIT", timedelta(seconds=0.2))
    holder = acquire(tenant.slug, "orders", timedelta(minutes=5))
    try:
        state = await getattr(module, flow_name)(tenant, return_state=True)
    finally:
        release(holder)

    assert state.is_cancelled() and "still taken" in state.message
    (run,) = runs.recent(tenant.slug, flow=flow_key)
    assert run.status == "skipped" and "still taken" in run.summary
    assert sandbox.handy.stats.reads == 0


@pytest.mark.parametrize(
    ("flow_key", "switch", "says"),
    [("customers", "sync_customers", "C7"), ("deletions", "sync_deletions", "D4")],
)
async def test_c7_d4_switched_off_flow_completes_with_its_row_skipped(
    sandbox, prefect_harness, flow_key, switch, says
):
    """C7, D4: a flow whose switch is off reads nothing, completes saying so, its row `skipped`
    (the status the README gives a switched-off run)."""
    tenant = make_tenant(sandbox, **{switch: False})
    set_cursors(tenant.slug)
    module, flow_name, _ = INSIDE[flow_key]

    state = await getattr(module, flow_name)(tenant, return_state=True)

    assert state.is_completed() and f"{switch} is off" in await state.result()
    (run,) = runs.recent(tenant.slug, flow=flow_key)
    assert run.status == "skipped" and says in run.summary
    assert sandbox.handy.stats.reads == 0
