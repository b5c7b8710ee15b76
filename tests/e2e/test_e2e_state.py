"""Assertions of scripts/e2e.sh, run after it deployed prefect.yaml on a real Prefect server and ran
demo-activate and demo-orders through a process worker (skipped unless the script set the env)."""

from __future__ import annotations

import os

import httpx
import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.environ.get("E2E_HANDY_CONTROL"), reason="run by scripts/e2e.sh"),
]


@pytest.fixture(scope="module")
def server_deployments():
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {d.name: d for d in client.read_deployments()}


def test_s1_s2_schedules_on_the_server(server_deployments):
    """S1/S2 as the server holds them after `prefect deploy --all`."""
    crons = {
        name: [(s.schedule.cron, s.schedule.timezone) for s in d.schedules]
        for name, d in server_deployments.items()
    }
    assert crons["demo-catalog"] == [("0 8,16 * * *", "UTC")]
    assert crons["demo-customers"] == [("5 8,16 * * *", "UTC")]  # staggered (mappings/schedules.py)
    assert crons["demo-orders"] == [("*/10 * * * *", "UTC")]
    assert crons["demo-deletions"] == [("5-59/10 * * * *", "UTC")]
    assert crons["demo-activate"] == []


def test_s3_concurrency_limit_on_the_server(server_deployments):
    for name, deployment in server_deployments.items():
        # Prefect 3.x keeps a deployment's limit as a global concurrency limit it manages.
        limit = (
            deployment.global_concurrency_limit.limit
            if deployment.global_concurrency_limit
            else None
        )
        assert limit == 1 or deployment.concurrency_limit == 1, name
        assert str(deployment.concurrency_options.collision_strategy).endswith("CANCEL_NEW"), name


def test_a2_no_secret_in_server_parameters(server_deployments):
    for deployment in server_deployments.values():
        text = str(deployment.parameters)
        assert "demo-handy-token" not in text and "demo-password" not in text


def test_a4_activation_and_order_push_reached_the_sandbox():
    """A4 then O1/O8/O9: the catalog reached Handy and every live order has exactly one document."""
    handy = httpx.get(
        os.environ["E2E_HANDY_CONTROL"] + "/state", params={"only": "products,salesOrders"}
    ).json()
    gestionix = httpx.get(os.environ["E2E_GESTIONIX_CONTROL"] + "/state").json()
    assert handy["products"], "activation created no Handy product"
    company = gestionix["companies"]["92"]
    references = [d["reference"] for kind in ("sales_orders", "sales") for d in company[kind]]
    live = [o for o in handy["salesOrders"] if not o["deleted"]]
    assert live
    for order in live:
        assert references.count(f"HANDY-{order['id']}") == 1, order["id"]
        assert order["externalId"], order["id"]


def test_x1_store_on_postgresql_has_the_runs():
    from store import binder, runs

    assert os.environ["HGSYNC_DATABASE_URL"].startswith("postgresql")
    flows = {run.flow for run in runs.recent("demo", limit=100)}
    assert {"activate", "catalog", "orders"} <= flows
    assert len(binder.all_for("demo", "order", status="pushed")) >= 6
