"""X4: a problem is seen without looking for it — run states, run names and tags, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows.orders import order_push
from store import cursors
from tasks import alerts
from tasks.audit import ISSUES_STATE
from tests.kit.sandbox_orders import activate, company, customer, handy_product, order, seed_catalog

pytestmark = pytest.mark.flow


@pytest.fixture
def events(monkeypatch):
    """Every hgsync event the flows emit, as (event, resource id, related ids, payload)."""
    seen: list[tuple[str, str, list[str], dict]] = []

    def record(event, resource, related=None, payload=None, **_):
        seen.append(
            (
                event,
                resource["prefect.resource.id"],
                [r["prefect.resource.id"] for r in related or []],
                payload or {},
            )
        )

    monkeypatch.setattr(alerts, "emit_event", record)
    return seen


async def test_x4_held_orders_end_completed_with_issues_and_emit_held_then_resolved(
    sandbox, tenant, events
):
    """X4: a run that held two orders ends in the named state "Completed with issues" (type
    Completed, told apart in the runs list), its message leads with "2 orders held"; one
    hgsync.order.held event per order the first time only, hgsync.order.resolved when it goes
    through, one hgsync.run.issues per run with issues; every event names the tenant."""
    sb = sandbox
    codes = seed_catalog(sb, 1)
    handy_product(sb, "REF-9", 20.0)  # in Handy, not in Gestionix: the order is held (O6)
    customer(sb, "C-1", "Depósito El Sol")
    order(sb, "C-1", [(codes[0], 1)])
    held = [order(sb, "C-1", [("REF-9", n)]) for n in (1, 2)]
    activate(tenant.slug)

    state = await order_push(tenant, return_state=True)

    assert state.is_completed() and state.name == ISSUES_STATE
    assert state.message.startswith("2 orders held — 3 read, 1 created, 2 failed")
    assert await state.result() in state.message  # the summary is still the run's result
    held_events = sorted(key for name, key, _, _ in events if name == alerts.ORDER_HELD)
    assert held_events == sorted(f"hgsync.order.{tenant.slug}.{o['id']}" for o in held)
    assert [name for name, *_ in events].count(alerts.RUN_ISSUES) == 1
    assert all(f"hgsync.tenant.{tenant.slug}" in related for _, _, related, _ in events)
    assert all(
        "REF-9" in payload["reason"] for name, _, _, payload in events if name == alerts.ORDER_HELD
    )

    events.clear()
    await order_push(tenant)  # still held: no second "held"
    assert alerts.ORDER_HELD not in [name for name, *_ in events]

    sb.gestionix.upsert_product(
        company(sb),
        {
            "key": "REF-9",
            "name": "Refresco 9",
            "price": 17.2414,
            "taxes": [1],
            "branches": ["Matriz"],
        },
    )
    cursors.set(tenant.slug, "orders", datetime.now(UTC) + timedelta(hours=1))
    events.clear()
    state = await order_push(tenant, return_state=True)

    assert state.name == "Completed" and "2 created" in state.message
    resolved = sorted(key for name, key, _, _ in events if name == alerts.ORDER_RESOLVED)
    assert resolved == sorted(f"hgsync.order.{tenant.slug}.{o['id']}" for o in held)
    assert alerts.RUN_ISSUES not in [name for name, *_ in events]


async def _runs_tagged(tag: str):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    async with get_client() as client:
        return await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]))
        )


async def test_x4_runs_and_subflows_named_after_tenant_and_flow_and_found_by_tenant_tag(
    sandbox, tenant
):
    """X4: activate started from code (as `hgsync run` and the demo do) and its catalog and
    customer subflows are named `<slug> · <flow> · <local time>` and all carry `tenant:<slug>`
    and their flow's tag, so the UI's filter by tag finds every one of them."""
    from flows.activate import activate
    from flows.runs import tenant_tags

    with tenant_tags(tenant.slug, "activate"):
        await activate(tenant)

    found = await _runs_tagged(f"tenant:{tenant.slug}")
    by_flow = {run.name.split(" · ")[1]: run for run in found}
    assert sorted(by_flow) == ["activate", "catalog", "customers"]
    for key, run in by_flow.items():
        slug, _, when = run.name.split(" · ")
        assert slug == tenant.slug and key in run.tags
        datetime.strptime(when, "%Y-%m-%d %H:%M")
    assert [r.name for r in await _runs_tagged("catalog") if f"tenant:{tenant.slug}" in r.tags] == [
        by_flow["catalog"].name
    ]


async def test_x4_reconcile_difference_emits_one_event_per_difference(sandbox, tenant, events):
    """X4: a document deleted by hand in Gestionix is a difference: reconcile ends Failed and
    emits hgsync.reconcile.difference for that order, with the tenant, the day and the outcome."""
    from flows.reconcile import reconcile
    from tests.kit.sandbox_orders import document_of, local_day

    codes = seed_catalog(sandbox, 1)
    customer(sandbox, "C-1", "Depósito El Sol")
    kept, lost = order(sandbox, "C-1", [(codes[0], 2)]), order(sandbox, "C-1", [(codes[0], 3)])
    activate(tenant.slug)
    await order_push(tenant)
    gone = document_of(sandbox, lost["id"])
    sandbox.gestionix.delete_document(
        company(sandbox), "sales_order", gone["sales_order_id"], force=True
    )
    events.clear()

    state = await reconcile(tenant, day=local_day(tenant, kept), return_state=True)

    assert state.is_failed()
    differences = [
        (key, payload) for name, key, _, payload in events if name == alerts.RECONCILE_DIFFERENCE
    ]
    assert [key for key, _ in differences] == [f"hgsync.order.{tenant.slug}.{lost['id']}"]
    assert differences[0][1]["outcome"] == "missing" and differences[0][1]["tenant"] == tenant.slug


def test_x4_alerts_install_creates_the_file_automations_on_the_block_and_replaces_them(
    prefect_harness,
):
    """X4: `hgsync alerts install --block custom-webhook/NAME` creates the four automations of
    automations.yaml sending through that block (the held limit changed), and running it again
    replaces them instead of doubling them; an unknown block is refused with what to do."""
    from prefect import get_client
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from typer.testing import CliRunner

    from cli import app

    block_id = CustomWebhookNotificationBlock(name="x4", url="http://127.0.0.1:9/hook").save(
        "x4-alerts", overwrite=True, _sync=True
    )
    args = [
        "alerts",
        "install",
        "--block",
        "custom-webhook/x4-alerts",
        "--held-limit-minutes",
        "30",
    ]
    for _ in range(2):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output

    with get_client(sync_client=True) as client:
        mine = [a for a in client.read_automations() if a.name.startswith("hgsync: ")]
    assert sorted(a.name for a in mine) == sorted(
        [
            "hgsync: flow run failed or crashed",
            "hgsync: order held too long",
            "hgsync: reconciliation difference",
            "hgsync: orders run not completed",
        ]
    )
    assert all(action.block_document_id == block_id for a in mine for action in a.actions)
    held = next(a for a in mine if a.name == "hgsync: order held too long")
    assert held.trigger.within.total_seconds() == 1800 and held.trigger.after == {
        "hgsync.order.held"
    }

    refused = CliRunner().invoke(app, ["alerts", "install", "--block", "custom-webhook/nope"])
    assert refused.exit_code == 1 and "not found on the Prefect server" in refused.output
